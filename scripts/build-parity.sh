#!/usr/bin/env bash
# Builds the self-contained GPU-vs-CPU parity runner: one static binary (Swift runtime and
# Foundation linked in; only libc-family libraries dynamic) that runs on a GPU machine with
# NVIDIA's driver and no Swift toolchain. Prints its size, its dynamic dependencies, and the
# command to run it there.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product unverify-parity --scratch-path .build-static >&2
bin=".build-static/release/unverify-parity"
mkdir -p dist
cp "$bin" dist/unverify-parity
strip dist/unverify-parity 2>/dev/null || true
echo "binary: dist/unverify-parity ($(du -h dist/unverify-parity | cut -f1))"
echo "dynamic dependencies:"
ldd dist/unverify-parity | sed 's/^/  /'
echo
echo "on the GPU machine:"
echo "  ./dist/unverify-parity --backend all --out parity-results/\$(hostname) --block-timing"
