#!/usr/bin/env bash
# One short device check for a session that is lent a GPU (run from the repository root):
# the CUDA tests, then the GPU figures of both benchmarks. About 5 minutes on an H100.
# Record what it prints in docs/benchmarks.md with the date and the card.
set -uo pipefail
PY=${PY:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
$PY -m pytest -q -p no:cacheprovider -m cuda tests
$PY bench/lowrank.py --device cuda --cases a,c
$PY bench/lowrank.py --device cuda --cases b
$PY bench/isac.py --device cuda --dtype complex64 --quick --parts runtime
$PY bench/ecog.py --quick --device cuda   # ecog: LSTM-CNN/CNN folds and transfer on the GPU (~2 min)
# mri: CUDA tests ran above (-m cuda); the full profile (320 x 320, 15 coils) trains and times the operator and VarNet
$PY bench/mri.py --device cuda --profile full --threads 4 --no-native-2x --set model.steps=400 --set model.adapt_steps=50
$PY bench/geo.py --quick --device cuda --parts kmeans,scene   # geo: torch k-means vs sklearn and the 2048^2 scene with AE/k-means on the GPU
