#!/usr/bin/env bash
# Regenerates Sources/UNParity/PrecompiledPTX+Entries.swift: the CUDA kernels compiled to PTX by
# NVRTC 12.0 (PTX ISA 8.0, loadable by any driver of CUDA 12.0 or later), so the CUDA path runs
# on a GPU machine that has the driver but no NVRTC. NVRTC comes from NVIDIA's PyPI wheel
# (nvidia-cuda-nvrtc-cu12), unpacked into a temporary directory; nothing is installed.
# Run it after changing KernelSources or BlockKernelSource (a test fails while the PTX is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
version=12.0.76
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip download --quiet --no-deps "nvidia-cuda-nvrtc-cu12==$version" -d "$tmp/wheel"
(cd "$tmp" && python3 -m zipfile -e wheel/*.whl nvrtc)
out="Sources/UNParity/PrecompiledPTX+Entries.swift"
# An empty table first, so that the package builds whatever state the old table is in.
printf 'extension PrecompiledPTX {\n    static let compiler = "none"\n    static let options = ""\n    static let entries: [Entry] = []\n}\n' >"$out"
swift build --product unverify-parity >&2
.build/debug/unverify-parity --emit-sources "$tmp/src" >&2
python3 scripts/nvrtc_ptx.py "$tmp/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" \
    "$out" "$version" \
    "$tmp/src/block_kernels.cu" "$tmp/src/un_kernels_float.cu" "$tmp/src/un_kernels_double.cu"
