// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "UnifiedNormalizationToolkit",
    products: [
        .library(name: "UnifiedNormalization", targets: ["UnifiedNormalization"]),
        .library(name: "GradientCheck", targets: ["GradientCheck"]),
        .library(name: "GradientCheckTesting", targets: ["GradientCheckTesting"]),
        .library(name: "UNVerification", targets: ["UNVerification"]),
        .library(name: "UNStatistics", targets: ["UNStatistics"]),
        .library(name: "UNParity", targets: ["UNParity"]),
        .library(name: "UNClaims", targets: ["UNClaims"]),
        .library(name: "ExactArithmetic", targets: ["ExactArithmetic"]),
        .library(name: "Interchange", targets: ["Interchange"]),
        .library(name: "UNLab", targets: ["UNLab"]),
        .executable(name: "unverify", targets: ["unverify"]),
        .executable(name: "unverify-parity", targets: ["unverify-parity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // The normalization layers, their hand-derived backward passes and inference-time fusion.
        .target(
            name: "UnifiedNormalization",
            dependencies: [.product(name: "RealModule", package: "swift-numerics"), "CVectorKernels"],
            exclude: ["README.md"],
            swiftSettings: strict),
        // 256-bit forms of the normalization kernels' fast paths, chosen at run time (AVX2 through a
        // function attribute: no build flag), bit-identical to the Swift forms.
        .target(name: "CVectorKernels", exclude: ["README.md"]),
        // Finite-difference derivative checking; depends on nothing of this project.
        .target(name: "GradientCheck", exclude: ["README.md"], swiftSettings: strict),
        // One-call integration of GradientCheck with Swift Testing.
        .target(
            name: "GradientCheckTesting", dependencies: ["GradientCheck"], exclude: ["README.md"], swiftSettings: strict
        ),
        // GSL, found with pkg-config (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "CGSL", pkgConfig: "gsl", providers: [.apt(["libgsl-dev"])]),
        // A C error handler that records GSL errors instead of aborting.
        .target(name: "GSLShim", dependencies: ["CGSL"]),
        // Statistical tests and samplers on GSL; no C type in its API.
        .target(
            name: "UNStatistics", dependencies: ["CGSL", "GSLShim"], exclude: ["README.md"], swiftSettings: strict),
        // GPU-vs-CPU parity: kernels per backend, loaded with dlopen (no GPU headers or libraries
        // to build), compared with the numeric module. No system library dependency.
        .target(
            name: "UNParity",
            dependencies: ["UnifiedNormalization", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            exclude: ["README.md"], swiftSettings: strict),
        .executableTarget(
            name: "unverify-parity",
            dependencies: ["UNParity", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // Exact rational arithmetic for claims over the reals.
        .target(
            name: "ExactArithmetic", dependencies: [.product(name: "BigInt", package: "BigInt")],
            exclude: ["README.md"], swiftSettings: strict),
        // BLAS: Debian's OpenBLAS, found with pkg-config (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The training lab: a small pre-norm Transformer with hand-derived backward passes, its
        // matrix products through BLAS, any layer of the numeric module as its normalization.
        .target(
            name: "UNLab",
            dependencies: [
                "UnifiedNormalization", "GradientCheck", "COpenBLAS", "Interchange",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict),
        // Writes the lab's PyTorch interchange fixtures and times the lab's training step.
        .executableTarget(
            name: "lab-interchange", dependencies: ["UNLab", "Interchange", "UnifiedNormalization"],
            swiftSettings: strict),
        // The claims catalogue: one definition per claim, shared by the tests and the report.
        .target(
            name: "UNClaims",
            dependencies: [
                "UnifiedNormalization", "GradientCheck", "ExactArithmetic", "UNStatistics",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict),
        // File formats shared with other tools: safetensors, and duplicate-key detection for JSON.
        .target(name: "Interchange", exclude: ["README.md"], swiftSettings: strict),
        // Trace replay, the gradient map and the report model (no printing, no CLI).
        .target(
            name: "UNVerification",
            dependencies: [
                "UnifiedNormalization", "GradientCheck", "UNClaims", "UNStatistics", "UNParity", "Interchange", "UNLab",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict),
        .executableTarget(
            name: "unverify",
            dependencies: [
                "UNVerification", "UnifiedNormalization", "GradientCheck", "UNClaims", "UNParity", "UNLab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // Internal test support (not a product): fixture paths, the catalogue's generators as
        // shrinking property-test generators, the NaN-aware normwise error.
        .target(
            name: "_TestSupport",
            dependencies: [
                "UNClaims", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "UnifiedNormalizationTests",
            dependencies: ["UnifiedNormalization", "_TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "GradientCheckTests",
            dependencies: ["GradientCheck", "GradientCheckTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "UNVerificationTests",
            dependencies: [
                "UNVerification", "UNClaims", "UnifiedNormalization", "GradientCheck", "GradientCheckTesting",
                "_TestSupport", "Interchange", "UNLab",
            ],
            swiftSettings: strict),
        .testTarget(name: "InterchangeTests", dependencies: ["Interchange", "_TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "UNParityTests",
            dependencies: ["UNParity", "UnifiedNormalization"],
            swiftSettings: strict),
        .testTarget(
            name: "UNStatisticsTests",
            dependencies: ["UNStatistics", "GradientCheck", "_TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "UNLabTests",
            dependencies: [
                "UNLab", "UnifiedNormalization", "GradientCheck", "GradientCheckTesting", "_TestSupport", "Interchange",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "UNClaimsTests",
            dependencies: [
                "UNClaims", "ExactArithmetic", "UnifiedNormalization", "GradientCheck", "_TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict),
    ]
)
