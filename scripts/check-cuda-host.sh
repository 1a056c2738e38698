#!/usr/bin/env bash
# Checks unverify-parity's CUDA host path on a machine without a GPU: builds the stand-in driver
# and cuBLAS of scripts/cuda-stub/cuda.c (kernels emulated on the CPU), runs the block timing on
# "cuda" and "cuda+cublas" through it, and checks that a driver refusing the PTX is reported as a
# failure (exit 1) with the driver's error name. It cannot check the kernels' PTX on hardware:
# that needs a GPU machine (README, "GPU parity on a GPU machine").
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -o "$tmp/libcuda.so.1" scripts/cuda-stub/cuda.c -lm
cp "$tmp/libcuda.so.1" "$tmp/libcublas.so"
swift build --product unverify-parity >&2
bin=.build/debug/unverify-parity
args=(--backend cuda --block-timing-only --block-batch 1 --block-repetitions 2)
set +e
LD_LIBRARY_PATH="$tmp" "$bin" "${args[@]}" --json >"$tmp/ok.json"
rc=$?
LD_LIBRARY_PATH="$tmp" STUB_LOADFAIL=1 "$bin" "${args[@]}" >"$tmp/fail.txt"
rc_fail=$?
set -e
python3 - "$tmp/ok.json" "$rc" "$tmp/fail.txt" "$rc_fail" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rc, rc_fail, fail = int(sys.argv[2]), int(sys.argv[4]), open(sys.argv[3]).read()
runs = [(r["backend"], r["gemmPath"], r["shape"]["batch"], r["validated"]) for r in doc["runs"]]
print("stub runs:", runs, "exit", rc)
assert rc == 0 and doc["allHeld"], "the stub run should hold"
assert sorted((b, g, n) for b, g, n, _ in runs) == [("cuda", "cublas", 1), ("cuda", "kernel", 1)], runs
assert all(r["schedules"][0]["deviceMedianSeconds"] is not None for r in doc["runs"]), "device time missing"
print("driver refusing the PTX: exit", rc_fail)
assert rc_fail == 1 and "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" in fail, fail
print("check-cuda-host: the CUDA host path holds against the stand-in driver")
PY
