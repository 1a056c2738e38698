#!/usr/bin/env bash
# Records the fixture ports' traces on the reference conformance vectors (PyTorch needed: pip install torch numpy).
#   Tests/Fixtures/conformance/ports/record.sh
set -euo pipefail
cd "$(dirname "$0")/../../../.."
v=Tests/Fixtures/conformance/reference
o=Tests/Fixtures/conformance/ports
for f in make:faithful make_torch_habits:torch-habits make_counter_after:counter-after; do
    python3 scripts/record_trace.py --factory "$o/un1d_port.py:${f%%:*}" --vectors $v --out "$o/${f##*:}" \
        --implementation "un1d_port.py ${f%%:*}"
done
python3 scripts/record_trace.py --factory "$o/un_paper_port.py:make" --vectors $v --out "$o/paper-text" \
    --implementation "un_paper_port.py (from the paper's text)"
