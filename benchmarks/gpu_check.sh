#!/bin/bash
# The GPU checks of issue 9 as one device-machine call (see ../README.md, "GPU"):
#   build the core there, run the CPU-against-GPU equivalence suite on the device (the "cuda"
#   parameter of tests/test_gpu_*.py), then the GPU benchmark. Logs and the benchmark's JSON go
#   to $OUT (the device tool's output folder; /tmp/rpu-gpu-check elsewhere).
# The device image has CuPy, Cython, NumPy and pytest; nothing is installed here.
set -uo pipefail
OUT=${OUT:-/tmp/rpu-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import cupy; print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())"
if ! python3 setup.py build_ext --inplace > "$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log"
    exit 1
fi
timeout 300 python3 -m pytest -q -p no:cacheprovider -k cuda tests/test_cuda_host.py \
    tests/test_gpu_update.py tests/test_gpu_mvm.py tests/test_gpu_tiles.py \
    tests/test_gpu_compounds.py tests/test_gpu_inference.py > "$OUT/gpu-tests.log" 2>&1
echo "equivalence suite: exit $?"; tail -25 "$OUT/gpu-tests.log"
timeout 300 python3 -m benchmarks.bench_gpu --cpu-max-size 1024 --json "$OUT/bench_gpu.json" \
    > "$OUT/bench_gpu.log" 2>&1
echo "benchmark: exit $?"; cat "$OUT/bench_gpu.log"
