#!/usr/bin/env bash
# On the GPU machine, in one call: configure and build the kernels-only tree (core, model, backends) with all
# cores, run the CUDA kernel tests (and compute-sanitizer memcheck on them where it is installed), the PyTorch
# peers (bench/cuda/peers.py) and the kernel benchmarks. Logs go to $OUT (or logs/gpu); the summary is printed.
# BALEEN_GPU_SANITIZE=0 skips compute-sanitizer, BALEEN_GPU_BENCH=0 the benchmarks (a quicker correctness run).
# Debian packages the build needs but the machine lacks (gtest, benchmark, fmt, nlohmann-json) may be carried
# as .deb files in deps/ (scripts/gpu_carry.sh puts them there); they are unpacked beside the tree, never into /.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/logs/gpu}"
mkdir -p "$out"
prefix=()
if compgen -G "deps/*.deb" >/dev/null; then
  rm -rf .deps && mkdir -p .deps
  for f in deps/*.deb; do dpkg-deb -x "$f" .deps; done
  prefix=(-DCMAKE_PREFIX_PATH="$PWD/.deps/usr")
  export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/device.txt"
nvcc --version | tail -2 | tee -a "$out/device.txt"

if ! cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DBALEEN_KERNELS_ONLY=ON -DBALEEN_CUDA=ON \
  "${prefix[@]}" >"$out/configure.log" 2>&1; then
  tail -40 "$out/configure.log"
  exit 1
fi
start=$(date +%s)
if ! ninja -C build/gpu -j "$(nproc)" backend_cuda_tests backend_conformance_tests cuda_model_tests cuda_kernels_bench context_bench >"$out/build.log" 2>&1; then
  grep -E "error|FAILED" -A4 "$out/build.log" | head -80
  exit 1
fi
echo "build: $(($(date +%s) - start)) s"

tests=build/gpu/tests/backend/cuda/backend_cuda_tests
"$tests" 2>&1 | tee "$out/tests.log" | grep -E "rel L2|OK \]|FAILED|PASSED|SKIPPED|Failure|error|Expected|Which is|actual" | head -80
# The conformance suite: every backend op against its float64 truth, on the CPU and CUDA backends both.
conformance=build/gpu/tests/backend/conformance/backend_conformance_tests
BALEEN_REQUIRE_BACKENDS=cpu,cuda "$conformance" 2>&1 | tee "$out/conformance.log" |
  grep -E "OK \]|FAILED|PASSED|SKIPPED|Failure|Expected|Which is|actual" | head -60
sanitize=${BALEEN_GPU_SANITIZE:-1}
if [ "$sanitize" = 1 ] && command -v compute-sanitizer >/dev/null; then
  for t in "$tests" "$conformance"; do
    log="$out/memcheck_$(basename "$t").log"
    timeout 100 compute-sanitizer --tool memcheck --error-exitcode 3 "$t" --gtest_brief=1 --gtest_filter='-*/cpu' \
      >"$log" 2>&1
    echo "compute-sanitizer memcheck on $(basename "$t"): exit $? (0 clean; 3 errors found; 124 timed out)"
    grep -E "ERROR SUMMARY|Invalid|out of bounds" "$log" | head -10
  done
fi

# Whole models through the CUDA backend: the fixtures and baleen-nano (its shards unpacked here).
for gz in models/baleen-nano/*.safetensors.gz; do [ -f "${gz%.gz}" ] || gunzip -kf "$gz"; done
models=build/gpu/tests/backend/cuda/cuda_model_tests
timeout 300 "$models" 2>&1 | tee "$out/models.log" | grep -E "^cuda|OK \]|FAILED|PASSED|SKIPPED|Failure|Expected|Which is|actual|error" | head -80
if [ "$sanitize" = 1 ] && command -v compute-sanitizer >/dev/null; then
  # racecheck runs every block's shared-memory accesses through the tool: whole models take minutes under
  # it (nano's batch of three sessions outlasted 100 s), so it checks the conformance suite's CUDA cases,
  # which run every session kernel (attention, indexer, compressor, ring) and token op on small shapes.
  sanitize_run() {  # tool, test binary, gtest filter
    local log="$out/$1_$(basename "$2").log"
    timeout 200 compute-sanitizer --tool "$1" --error-exitcode 3 "$2" --gtest_brief=1 --gtest_filter="$3" \
      >"$log" 2>&1
    echo "compute-sanitizer $1 on $(basename "$2") $3: exit $? (0 clean; 3 errors found; 124 timed out)"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|out of bounds|hazard" "$log" | head -6
  }
  sanitize_run memcheck "$models" 'CudaModel.*'
  sanitize_run racecheck "$conformance" '*/cuda'
fi

[ "${BALEEN_GPU_BENCH:-1}" = 1 ] || exit 0
PYTHONUNBUFFERED=1 timeout 60 python3 bench/cuda/peers.py 2>&1 | tee "$out/peers.log"
peak=$(awk '/^fp8_peak_tflops/ {print $2}' "$out/peers.log")
sdpa=$(awk '/^sdpa_decode_us/ {printf "%s%s:%s", sep, $2, $3; sep=","}' "$out/peers.log")
timeout 120 build/gpu/bench/cuda/cuda_kernels_bench --fp8-peak-tflops "${peak:-0}" --sdpa-us "${sdpa:-}" 2>&1 |
  tee "$out/bench.log"

# baleen-nano through the CUDA backend: prefill and decode against context and batch, beside the byte floor
# at the read bandwidth the kernel benchmark measured in this run.
tbps=$(awk '/read bandwidth/ {for (i = 1; i <= NF; ++i) if ($i == "bandwidth") print $(i + 1)}' "$out/bench.log")
timeout 150 build/gpu/bench/context_bench --backend cuda --bandwidth "$(awk -v t="${tbps:-4.4}" 'BEGIN {print t * 1000}')" \
  --model models/baleen-nano --contexts 1024,16384 --batch 1,8,32 --decode 32 --repeat 3 2>&1 | tee "$out/context.log"
