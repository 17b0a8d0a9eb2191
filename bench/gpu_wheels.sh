#!/usr/bin/env bash
# Download, HERE (a machine that reaches PyPI), the wheels that the lent GPU machine lacks, so that
# bench/gpu_check.sh can install them there (it has no network). Run from the repository root:
#
#     bench/gpu_wheels.sh                      # cp312 bundles .whl_a/ (part1) and .whl_b/ (part2)
#     bench/gpu_wheels.sh --python-version 3.11 --dest /tmp/gpuprep/w311   # cp311 copies, to validate here
#
# Why these packages: the device image (docs: /work/.library/device/KINDS.md, "Python packages already
# there") has torch, numpy, scipy, scikit-learn, scikit-image, h5py, matplotlib, pandas, numba, pyyaml,
# tqdm, psutil, pytest, jinja2, requests, joblib, lxml, lazy-loader, attrs, click, ... but not what our
# imports need beyond that (domains/*, shared/, the CUDA tests and bench/*.py; Prefect is not needed:
# the GPU check runs the flows through pipelines.flowkit.call_directly, and no CUDA test module imports it):
#   every domain      pydantic (+ pydantic-core, annotated-types, typing-inspection; typing-extensions
#                     >= 4.16 that pydantic 2.14 requires, carried in case the image's is older)
#   lowrank/geo/core  tensorly
#   ecog              mne (+ pooch, platformdirs, decorator), pyriemann (+ array-api-compat,
#                     array-api-extra), umap-learn (+ pynndescent)
#   mri               monai, PyWavelets, nilearn (+ nibabel; the embedded MNI152 template)
#   geo               rasterio (+ affine, cligj, click-plugins)
# Each wheel's Requires-Dist (skipping extras) is covered by this list or the image's; the script checks
# the names it saved against the list. Versions are pinned to this checkout's venv (`.venv/bin/pip freeze`).
#
# The bundles: the working tree travels with its carried paths, at most 64 MiB per call. All wheels
# together are ~75 MB (rasterio alone 36 MB), so they are split by part of bench/gpu_check.sh, each
# bundle holding all that its part imports: .whl_a/ (pydantic, tensorly, monai, PyWavelets, nilearn;
# part1: lowrank, isac, mri) and .whl_b/ (pydantic, tensorly, rasterio's and ecog's stacks; part2: geo,
# ecog). Each part carries one bundle; the script refuses a bundle that would not fit beside the tree.
#
# Pure-python wheels (py3-none-any) match with the manylinux --platform flags: pip always accepts the
# 'any' platform, so one `pip download --no-deps --only-binary=:all:` call fetches both kinds; --no-deps
# fetches none of their needs, so every needed dependency is named below.
set -euo pipefail
cd "$(dirname "$0")/.."

PYV=3.12
DEST=.
while [ $# -gt 0 ]; do
    case "$1" in
        --python-version) PYV=$2; shift 2 ;;
        --dest) DEST=$2; shift 2 ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
PIP=${PIP:-python3 -m pip}
FREEZE=${FREEZE:-.venv/bin/pip freeze}
LIMIT=$((64 * 1024 * 1024))

CORE="pydantic pydantic-core annotated-types typing-inspection typing-extensions tensorly"
A="$CORE monai PyWavelets nilearn nibabel"
B="$CORE rasterio affine cligj click-plugins mne pooch platformdirs decorator pyriemann array-api-compat
   array-api-extra umap-learn pynndescent"
# nibabel needs importlib-resources below Python 3.12 only (a validation run here on 3.11)
case "$PYV" in 3.8|3.9|3.10|3.11) A="$A importlib-resources" ;; esac

FROZEN=$($FREEZE)
pins() {  # NAME... -> NAME==VERSION... from the venv's freeze (names compared as PEP 503 normalises them)
    python3 - "$FROZEN" "$@" <<'EOF'
import re, sys
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
frozen = {}
for line in sys.argv[1].splitlines():
    if "==" in line and not line.startswith("#"):
        n, v = line.split("==", 1)
        frozen[norm(n)] = v.strip()
missing = [n for n in sys.argv[2:] if norm(n) not in frozen]
if missing:
    sys.exit(f"not in the venv's freeze: {missing}")
print(" ".join(f"{n}=={frozen[norm(n)]}" for n in sys.argv[2:]))
EOF
}

TREE=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64"
for part in a b; do
    names=$([ $part = a ] && echo $A || echo $B)
    dir="$DEST/.whl_$part"
    rm -rf "$dir"; mkdir -p "$dir"
    # shellcheck disable=SC2046,SC2086
    $PIP download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp $PLATFORMS \
        -d "$dir" $(pins $names)
    # one wheel per name, nothing else (two versions of one package stop the whole install there)
    python3 - "$dir" $names <<'EOF'
import pathlib, re, sys
norm = lambda s: re.sub(r"[-_.]+", "_", s).lower()
got = sorted(norm(p.name.split("-")[0]) for p in pathlib.Path(sys.argv[1]).glob("*.whl"))
want = sorted(norm(n) for n in sys.argv[2:])
if got != want:
    sys.exit(f"{sys.argv[1]}: wheels {got} != wanted {want}")
EOF
    size=$(du -cb "$dir"/*.whl | tail -1 | cut -f1)
    printf '%s: %d wheels, %.1f MiB; with the tracked tree (%.1f MiB): %.1f MiB of 64\n' "$dir" \
        "$(ls "$dir"/*.whl | wc -l)" "$(echo "$size/1048576" | bc -l)" "$(echo "$TREE/1048576" | bc -l)" \
        "$(echo "($size+$TREE)/1048576" | bc -l)"
    if [ $((size + TREE)) -ge $((LIMIT - 2 * 1024 * 1024)) ]; then
        echo "$dir does not fit beside the tree with 2 MiB to spare (untracked files travel too)" >&2; exit 1
    fi
done
