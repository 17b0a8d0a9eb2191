#!/usr/bin/env bash
# The device check for a session that is lent a GPU (the H200 machine of /work/.library/device/): the
# CUDA tests, each domain's quick flow on cuda, then the GPU cases of the benchmarks, in two parts that
# each fit one `run` command (600 s at most) and together about 11 minutes of device time, the
# machine's start (1-2 min) included. Record what they print in docs/benchmarks.md (date, card).
#
# That machine has no network and no venv: python3 (3.12, torch 2.11+cu130) and the packages of
# KINDS.md; the rest travels as wheels, one bundle per part (bench/gpu_wheels.sh). Here, BEFORE the
# session's first device call (seconds, needs PyPI):
#
#     bench/gpu_wheels.sh           # -> .whl_a/ (~30 MiB, part1) and .whl_b/ (~52 MiB, part2), gitignored
#
# Then the two calls of the `run` tool, back to back (the machine stays warm only 30 s after a call;
# a later part2 pays another 1-2 min start):
#
#     run(command="bash bench/gpu_check.sh part1", carry=[".whl_a"], timeout_s=390)
#     run(command="bash bench/gpu_check.sh part2", carry=[".whl_b"], timeout_s=280)
#
# and give_back right after part2. Each part holds its steps to GPU_CHECK_BUDGET seconds counted from
# its start, the bundle's install included (part1 330 s, part2 240 s): a step gets at most what is
# left (cut by `timeout`), later ones are listed as skipped, so the call returns inside timeout_s with
# its log; steps run in priority order (tests first). Device time: ~1.5 min start + 5.5 + 4 min + the
# transfers, about 11.5 of the session's 15 min. The full log comes back as $OUT/gpu_check_<part>.log.
#
#   part1 (.whl_a: lowrank, isac, mri)
#     CUDA tests: tests/shared/lowrank/* (cuda-marked), tests/domains/{lowrank,isac,mri}/*_cuda.py
#       (incl. each domain's quick flow end to end on cuda, with the CPU flow test's thresholds)
#     bench/lowrank.py --device cuda: cases a+c (HOSVD 256^3 and the ISAC-like tensor), b (rank-50
#       SVDs of 20000 x 2000), the solver crossover (auto's pick on this device)
#     bench/isac.py --device cuda --dtype complex64 --quick --parts runtime
#     bench/mri.py --device cuda --profile full, sized to ~2.5 min (MRI_SETS below says what it measures)
#   part2 (.whl_b: geo, ecog)
#     CUDA tests: tests/domains/{geo,ecog}/*_cuda.py (incl. the quick flows on cuda)
#     bench/geo.py --quick --device cuda --parts kmeans,scene, then --parts restarts (one seed, 2 starts)
#     bench/ecog.py --quick --device cuda (LSTM-CNN/CNN folds and transfer on the GPU)
#
# Here, on a CPU machine, `--dry` installs the bundle the same way, collects the tests, imports what
# each part loads and runs each bench command's --help, so a missing wheel shows before device time is
# spent. With a bare venv that holds only torch (CPU) and the image's packages that we use:
#
#     python3.11 -m venv /tmp/dev && /tmp/dev/bin/pip install 'torch>=2.8,<=2.13.0' numpy scipy \
#         scikit-learn scikit-image h5py matplotlib pandas numba pyyaml tqdm psutil pytest pytest-xdist \
#         requests jinja2 packaging threadpoolctl joblib rich typer && \
#         /tmp/dev/bin/pip uninstall -y pydantic pydantic-core annotated-types typing-inspection
#     bench/gpu_wheels.sh --python-version 3.11 --dest /tmp/w311      # the bundles' cp311 twins
#     PY=/tmp/dev/bin/python WHL=/tmp/w311/.whl_a bash bench/gpu_check.sh part1 --dry   # and part2, .whl_b
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PART=${1:-}
DRY=0; [ "${2:-}" = "--dry" ] && DRY=1
case "$PART" in
    part1) WHL=${WHL:-.whl_a}; BUDGET=${GPU_CHECK_BUDGET:-330} ;;
    part2) WHL=${WHL:-.whl_b}; BUDGET=${GPU_CHECK_BUDGET:-240} ;;
    *) echo "usage: bench/gpu_check.sh part1|part2 [--dry]" >&2; exit 2 ;;
esac
PY=${PY:-python3}
SITE=${SITE:-/tmp/site_$PART}
LOG=${OUT:-/tmp}/gpu_check_$PART.log
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PY DRY

# the MRI full profile (320 x 320, 15 coils, NO-MRI's widths), cut to what fits in ~2.5 min: no
# L1-wavelet baseline (PyWavelets FISTA runs on the CPU: ~2000 s at full size), plain masks only
# (the zoomed masks of the larger grids took minutes to draw on the CPU; these 32 take ~2 s), no 480
# training grid, two accelerations, every 2nd training position (~29 slices; the simulation is on
# the CPU: all 57 plus the tests took 525 s on one loaded core here), 6 test / 4 validation slices,
# 150 training steps per model, a short adaptation. It still measures, at paper size on the GPU:
# PSNR/SSIM per family x acceleration of the operator, VarNet (same budget), CS-TV and zero-filled,
# the 2x-resolution zero-shot test (640 x 640), FLoRA against full fine-tuning, time per slice of
# each method, and the virtual-coil sweep; 150 steps are far from converged (quality is not NO-MRI's).
MRI_SETS=(--set evaluate.cs_wavelet=false --set model.mask_zooms=[1.0] --set ingest.extra_train_sizes=[]
          --set model.train_accelerations=[4.0,8.0] --set evaluate.accelerations=[4.0,8.0]
          --set model.mask_seeds=4 --set ingest.slice_step=2 --set ingest.max_test_slices=6
          --set ingest.max_val_slices=4 --set evaluate.cs_lambdas=[0.003,0.01,0.03,0.1]
          --set evaluate.cs_iterations=100 --set model.steps=150 --set model.adapt_steps=30
          --set ingest.adapt_train_slices=8)

T0=$SECONDS
SUMMARY=()
FAILED=0
step() {  # NAME LIMIT_S CMD...: run CMD under `timeout`, within what is left of the part's budget
    local name=$1 limit=$2; shift 2
    local left=$((BUDGET - (SECONDS - T0)))
    if [ "$left" -lt 15 ]; then
        echo "=== $name: SKIPPED (part budget of ${BUDGET}s spent)"; SUMMARY+=("$name: skipped"); return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo; echo "=== $name (limit ${limit}s, $((SECONDS - T0))s into $PART): $*"
    local t=$SECONDS rc
    timeout -k 5 "$limit" bash -c '"$@"' _ "$@"; rc=$?  # bash -c: CMD may be one of the functions below
    [ $rc -ne 0 ] && FAILED=1
    SUMMARY+=("$name: rc=$rc, $((SECONDS - t))s$([ $rc -eq 124 ] && echo ' (cut at its limit)')")
}
tests() {  # FILE...: the cuda-marked tests of these files (--collect-only in a dry run)
    # 4 pytest-xdist workers (the image has it) share the GPU: the flows are mostly host-bound
    local par=; $PY -c "import xdist" 2>/dev/null && par="-n 4 --dist loadfile"
    if [ $DRY = 1 ]; then $PY -m pytest -q -p no:cacheprovider -m cuda --collect-only "$@"
    else $PY -m pytest -q -p no:cacheprovider -m cuda -rs --durations=10 $par "$@"; fi
}
bench() {  # SCRIPT ARGS...: a benchmark (its --help in a dry run)
    if [ $DRY = 1 ]; then $PY "$1" --help >/dev/null && echo "$1 --help: ok"; else $PY "$@"; fi
}
export -f tests bench

main() {

echo "# bench/gpu_check.sh $PART$([ $DRY = 1 ] && echo ' (dry)'), $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
# the wheels this part needs (the device has no index: --no-index; --no-deps: the bundle names them all)
ls "$WHL"/*.whl >/dev/null 2>&1 || { echo "no wheels in $WHL: run bench/gpu_wheels.sh here and carry $WHL"; return 3; }
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHL"/*.whl \
    2>&1 | grep -v "^WARNING: Target directory" || true
# the project is not installed there: its root goes on the path, after the bundle
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
$PY -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda,
'|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'NO CUDA DEVICE')"

if [ "$PART" = part1 ]; then
    step imports 60 $PY -c "import pydantic, tensorly, monai, pywt, nilearn, nibabel
import domains.lowrank.steps, domains.isac.steps, domains.mri.steps, domains.mri.varnet, pipelines.flowkit
from monai.apps.reconstruction.networks.nets.varnet import VariationalNetworkModel
from domains.mri.embedded import mni_volume
from pipelines.registry import REGISTRY
REGISTRY['mri'].resolve_config('full', [s for s in '''${MRI_SETS[*]}'''.split() if s != '--set'])
print('imports and the MRI sets: ok')"
    step tests 120 tests tests/shared/lowrank/test_lowrank_adapters.py tests/shared/lowrank/test_lowrank_intrinsic.py \
        tests/shared/lowrank/test_lowrank_pca.py tests/shared/lowrank/test_lowrank_sampling.py \
        tests/shared/lowrank/test_lowrank_svd.py tests/shared/lowrank/test_lowrank_tucker.py \
        tests/domains/lowrank/test_lowrank_flow_cuda.py tests/domains/isac/test_isac_cuda.py \
        tests/domains/isac/test_isac_flow_cuda.py tests/domains/mri/test_mri_cuda.py \
        tests/domains/mri/test_mri_flow_cuda.py
    step mri 150 bench bench/mri.py --device cuda --profile full --threads 8 --no-native-2x "${MRI_SETS[@]}"
    step lowrank-ac 40 bench bench/lowrank.py --device cuda --cases ac
    step lowrank-b 30 bench bench/lowrank.py --device cuda --cases b
    step isac-runtime 30 bench bench/isac.py --device cuda --dtype complex64 --quick --parts runtime
    step lowrank-crossover 30 bench bench/lowrank.py --device cuda --crossover
else
    # umap's import compiles pynndescent's numba kernels (cached in $SITE for the later steps)
    step imports 60 $PY -c "import pydantic, tensorly, rasterio, mne, pyriemann, umap
import domains.geo.steps, domains.ecog.steps, pipelines.flowkit
from pyriemann.tangentspace import TangentSpace
print('imports: ok, rasterio', rasterio.__version__, 'GDAL', rasterio.__gdal_version__)"
    step tests 120 tests tests/domains/geo/test_geo_cuda.py tests/domains/geo/test_geo_flow_cuda.py \
        tests/domains/ecog/test_ecog_cuda.py tests/domains/ecog/test_ecog_flow_cuda.py
    step geo 60 bench bench/geo.py --quick --device cuda --parts kmeans,scene --threads 8
    step ecog 100 bench bench/ecog.py --quick --device cuda
    step geo-restarts 40 bench bench/geo.py --quick --device cuda --parts restarts --seeds 0 --restarts 2 --threads 8
fi

echo; echo "## $PART summary ($((SECONDS - T0))s of a ${BUDGET}s budget; log $LOG)"
printf '  %s\n' "${SUMMARY[@]}"
return $FAILED
}

main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
