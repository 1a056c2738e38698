#!/usr/bin/env bash
# Fuzzes the trace reader and replay with libFuzzer for a given time (default 1800 s).
#   scripts/fuzz-trace.sh [SECONDS]
# Seeds: Tests/Fixtures/fuzz/corpus (kept small on purpose) and the regression inputs. The
# working corpus grows in .build-fuzz/corpus (not committed). A crash is written to
# Tests/Fixtures/fuzz/regressions/crash-*; fix it and keep the file: `swift test` replays every
# file there (UNVerificationTests, "Fuzz regressions") and fails on a trap.
# SWIFT_BACKTRACE=enable=no keeps Swift's backtracer from taking over the crash, so libFuzzer
# writes its artifact.
set -euo pipefail
seconds="${1:-1800}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/.build-fuzz"
mkdir -p "$work/pkg/Sources/fuzz-trace" "$work/corpus"
cp "$root/fuzz/TraceFuzz.swift" "$work/pkg/Sources/fuzz-trace/TraceFuzz.swift"
cat > "$work/pkg/Package.swift" <<PKG
// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "fuzz-trace", dependencies: [.package(path: "$root")],
    targets: [.executableTarget(name: "fuzz-trace",
        dependencies: [.product(name: "UNVerification", package: "$(basename "$root")")],
        swiftSettings: [.unsafeFlags(["-parse-as-library"])])])
PKG
(cd "$work/pkg" && swift build -c release --sanitize=fuzzer >/dev/null)
cp -n "$root"/Tests/Fixtures/fuzz/corpus/* "$work/corpus/" 2>/dev/null || true
cd "$work"
SWIFT_BACKTRACE=enable=no "$work/pkg/.build/release/fuzz-trace" "$work/corpus" "$root/Tests/Fixtures/fuzz/regressions" \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=20 \
    -artifact_prefix="$root/Tests/Fixtures/fuzz/regressions/crash-" -print_final_stats=1
