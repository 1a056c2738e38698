#!/usr/bin/env bash
# One training step (forward, backward, AdamW) of the interchange models (Tests/Fixtures/lab/),
# the Swift lab (release build; BLAS threads by OPENBLAS_NUM_THREADS, the rest single-threaded)
# beside PyTorch (float64; torch.set_num_threads), at 1 and 2 threads. Needs torch (see
# scripts/lab_torch_reference.py). Run from anywhere; prints one line per task, norm and threads.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lab-interchange >/dev/null
for n in 1 2; do OPENBLAS_NUM_THREADS=$n .build/release/lab-interchange bench Tests/Fixtures/lab "${1:-50}"; done
python3 scripts/lab_torch_reference.py --bench 1 2
