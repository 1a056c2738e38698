#!/usr/bin/env bash
# Times the gradient checker from a client's point of view: a separate package that depends on
# this repository's GradientCheck product, built with a plain `swift build -c release` (no unsafe
# flags). The check: the full 256 × 256 Jacobian of a LayerNorm over 4 tokens × 64 channels, Double.
#   benchmarks/checker-client/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
mkdir -p "$work/Sources/lnbench"
cp "$(dirname "$0")/main.swift" "$work/Sources/lnbench/main.swift"
cat > "$work/Package.swift" <<PKG
// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "lnbench", dependencies: [.package(path: "$root")],
    targets: [.executableTarget(name: "lnbench", dependencies: [.product(name: "GradientCheck", package: "$(basename "$root")")])])
PKG
(cd "$work" && swift build -c release >/dev/null 2>&1 && .build/release/lnbench)
