#!/usr/bin/env bash
# Runs every benchmark from a client's point of view and writes the results beside this script:
#   Benchmarks/run.sh            # about 4 minutes on a 2-core machine
# - unbench (plain `swift build -c release` of this client package): each kernel against a memory
#   copy in the same run, with 1 and with 2 threads (UN_THREADS), and the gradient checker;
# - the same source built with -cross-module-optimization, only to show that the plain client
#   build is as fast as a fully specialized one (that flag is never needed by a client);
# - ordo-one/benchmark's suite (throughput, allocations, percentiles);
# - PyTorch on the same workload, when `import torch` works (pip install torch numpy).
set -euo pipefail
cd "$(dirname "$0")"
out=results
mkdir -p "$out"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) online)"
    echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "swift: $(swift --version 2>&1 | head -1)"
    echo "kernel: $(uname -sr)"
} > "$out/machine.txt"
swift build -c release --product unbench >/dev/null
for t in 1 2; do
    UN_THREADS=$t .build/release/unbench --json "$out/unbench-${t}thread.json" > "$out/unbench-${t}thread.md"
done
# The same binary with glibc told to keep freed memory (no page faults on the next allocation):
# what the kernels cost once allocation is out of the way (see README, "Page faults").
UN_THREADS=1 MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=1000000000 \
    .build/release/unbench --json "$out/unbench-keepmem-1thread.json" > "$out/unbench-keepmem-1thread.md"
swift build -c release --product unbench --scratch-path .build-cmo -Xswiftc -cross-module-optimization >/dev/null
UN_THREADS=1 .build-cmo/release/unbench --json "$out/unbench-cmo-1thread.json" > "$out/unbench-cmo-1thread.md"
UN_THREADS=1 MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=1000000000 \
    .build-cmo/release/unbench --json "$out/unbench-cmo-keepmem-1thread.json" > "$out/unbench-cmo-keepmem-1thread.md"
# Plain and CMO binaries alternately, five times each: the time ratio of the two builds from pairs
# measured minutes apart, not from two runs far apart on a machine whose load drifts.
for i in 1 2 3 4 5; do
    UN_THREADS=1 .build/release/unbench --json "$out/pair-plain-$i.json" > /dev/null
    UN_THREADS=1 .build-cmo/release/unbench --json "$out/pair-cmo-$i.json" > /dev/null
done
# The checker beside torch's gradcheck, alternately, five times each (1 thread: concurrentColumns 1 against
# torch with 1 thread; concurrentColumns 2 against torch with 2 threads).
if python3 -c "import torch" 2>/dev/null; then
    for i in 1 2 3 4 5; do
        UN_THREADS=1 .build/release/unbench --only checker --json "$out/pair-checker-$i.json" > /dev/null
        python3 torch/torch_bench.py --only-gradcheck --threads 1 --json "$out/pair-torch1-$i.json" > /dev/null
        python3 torch/torch_bench.py --only-gradcheck --threads 2 --json "$out/pair-torch2-$i.json" > /dev/null
    done
fi
swift package benchmark --no-progress > "$out/ordo-benchmark.txt" 2>&1 || echo "ordo-one/benchmark failed: see $out/ordo-benchmark.txt"
if python3 -c "import torch" 2>/dev/null; then
    for t in 1 2; do
        python3 torch/torch_bench.py --threads $t --json "$out/torch-${t}thread.json" > "$out/torch-${t}thread.md"
    done
else
    echo "torch not installed: skipped (pip install torch numpy)" > "$out/torch-skipped.txt"
fi
python3 summarize.py "$out" > "$out/SUMMARY.md"
cat "$out/SUMMARY.md"
