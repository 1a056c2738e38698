// swift-tools-version:6.1
// Benchmarks, measured from a client's point of view: this package depends on the toolkit by
// path, exactly as any client would, and is built with a plain `swift build -c release`.
import PackageDescription

let package = Package(
    name: "UNBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: "toolkit"),  // a link to the repository root: the identity does not depend on its folder name
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Side-by-side ratios in one run: each kernel against a memory copy of the same bytes.
        .executableTarget(
            name: "unbench",
            dependencies: [
                .product(name: "UnifiedNormalization", package: "toolkit"),
                .product(name: "GradientCheck", package: "toolkit"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        // The same kernels under ordo-one/benchmark (throughput, allocations, percentiles).
        .executableTarget(
            name: "Kernels",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "UnifiedNormalization", package: "toolkit"),
                .product(name: "GradientCheck", package: "toolkit"),
            ],
            path: "Benchmarks/Kernels",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
