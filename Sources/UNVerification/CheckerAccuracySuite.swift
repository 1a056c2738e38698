import GradientCheck
import RealModule
import UnifiedNormalization

/// Functions with known derivatives, used to measure the gradient checker's accuracy: the true
/// error of the numerical derivative, its error estimate, and the evaluations spent.
public enum CheckerAccuracySuite {
    public struct Function: Sendable {
        public var name: String
        /// Counted in the "smooth" targets (median relative error ≤ 1e-13 in Double).
        public var smooth: Bool
        public var dimension: Int
        /// Points to evaluate at, drawn from the seed.
        public var domain: @Sendable (inout SeededGenerator) -> [Double]
        public var valueDouble: @Sendable ([Double]) -> Double
        public var valueFloat: @Sendable ([Float]) -> Float
        /// The exact gradient, in Double.
        public var gradient: @Sendable ([Double]) -> [Double]
    }

    static func scalar(
        _ name: String, smooth: Bool = true, _ lo: Double, _ hi: Double,
        _ f: @escaping @Sendable (Double) -> Double, _ ff: @escaping @Sendable (Float) -> Float,
        _ d: @escaping @Sendable (Double) -> Double
    ) -> Function {
        Function(
            name: name, smooth: smooth, dimension: 1, domain: { [Double.random(in: lo...hi, using: &$0)] },
            valueDouble: { f($0[0]) }, valueFloat: { ff($0[0]) }, gradient: { [d($0[0])] })
    }

    /// `Σ_i w_i LN(x)_i` with `ε = 1e-5`, `w_i = sin(i + 1)`: a LayerNorm of size 64.
    static func layerNorm<S: Real & BinaryFloatingPoint>(_ x: [S]) -> S {
        let n = S(x.count)
        let m = x.reduce(0, +) / n
        let v = x.reduce(S(0)) { $0 + ($1 - m) * ($1 - m) } / n
        let s = (v + S(1e-5)).squareRoot()
        // The weights sin(k + 1), computed once (the power study evaluates this ~4 million times).
        let w = layerNormWeights
        return x.indices.reduce(S(0)) { $0 + S($1 < w.count ? w[$1] : Double.sin(Double($1 + 1))) * (x[$1] - m) / s }
    }

    /// `sin(k + 1)` for `k` in `0..<64`, in Double: the weights of ``layerNorm(_:)``'s output.
    static let layerNormWeights: [Double] = (0..<64).map { Double.sin(Double($0 + 1)) }

    /// The reference gradient, in extended precision where the platform has it, so that the
    /// measured error is the estimator's and not the reference's own rounding (a 64-term sum).
    static func layerNormGradient(_ x: [Double]) -> [Double] {
        #if arch(x86_64) && !os(Windows)
        return layerNormGradient(x.map { Float80($0) }).map { Double($0) }
        #else
        return layerNormGradient(x)
        #endif
    }

    static func layerNormGradient<S: Real & BinaryFloatingPoint>(_ x: [S]) -> [S] {
        let n = S(x.count)
        let m = x.reduce(0, +) / n
        let v = x.reduce(S(0)) { $0 + ($1 - m) * ($1 - m) } / n
        let s = (v + S(1e-5)).squareRoot()
        let z = x.map { ($0 - m) / s }
        let g = x.indices.map { S.sin(S($0 + 1)) }
        let mg = g.reduce(0, +) / n
        let mgz = zip(g, z).reduce(S(0)) { $0 + $1.0 * $1.1 } / n
        return x.indices.map { (g[$0] - mg - z[$0] * mgz) / s }
    }

    public static let functions: [Function] = [
        scalar("sin", -3, 3, { .sin($0) }, { .sin($0) }, { .cos($0) }),
        scalar("exp", -5, 5, { .exp($0) }, { .exp($0) }, { .exp($0) }),
        scalar("log(1+x²)", -4, 4, { .log(1 + $0 * $0) }, { .log(1 + $0 * $0) }, { 2 * $0 / (1 + $0 * $0) }),
        scalar("atan", -10, 10, { .atan($0) }, { .atan($0) }, { 1 / (1 + $0 * $0) }),
        scalar(
            "x⁵−3x³+x", -2, 2, { $0 * $0 * $0 * $0 * $0 - 3 * $0 * $0 * $0 + $0 },
            { $0 * $0 * $0 * $0 * $0 - 3 * $0 * $0 * $0 + $0 },
            { 5 * $0 * $0 * $0 * $0 - 9 * $0 * $0 + 1 }),
        scalar(
            "x·exp(−x²)", -2, 2, { $0 * .exp(-$0 * $0) }, { $0 * .exp(-$0 * $0) },
            { (1 - 2 * $0 * $0) * .exp(-$0 * $0) }),
        scalar(
            "1e12·sin(1e-6 x) (large x)", 1e6, 3e6, { 1e12 * .sin(1e-6 * $0) }, { 1e12 * .sin(1e-6 * $0) },
            { 1e6 * .cos(1e-6 * $0) }),
        scalar("sin(1e6 x) (tiny x)", 1e-6, 3e-6, { .sin(1e6 * $0) }, { .sin(1e6 * $0) }, { 1e6 * .cos(1e6 * $0) }),
        scalar(
            "cos x − 1 + x²/2 (cancellation)", smooth: false, 0.01, 0.1, { .cos($0) - 1 + $0 * $0 / 2 },
            { .cos($0) - 1 + $0 * $0 / 2 },
            { -.sin($0) + $0 }),
        Function(
            name: "Rosenbrock (4)", smooth: true, dimension: 4,
            domain: { g in (0..<4).map { _ in Double.random(in: -2...2, using: &g) } },
            valueDouble: rosenbrock, valueFloat: rosenbrock,
            gradient: { x in
                x.indices.map { i in
                    var d = 0.0
                    if i < x.count - 1 { d += -400 * x[i] * (x[i + 1] - x[i] * x[i]) - 2 * (1 - x[i]) }
                    if i > 0 { d += 200 * (x[i] - x[i - 1] * x[i - 1]) }
                    return d
                }
            }),
        Function(
            name: "LayerNorm (64)", smooth: true, dimension: 64,
            domain: { g in (0..<64).map { _ in Double.random(in: -3...3, using: &g) } },
            valueDouble: layerNorm, valueFloat: layerNorm, gradient: layerNormGradient),
    ]

    static func rosenbrock<S: BinaryFloatingPoint>(_ x: [S]) -> S {
        (0..<(x.count - 1)).reduce(S(0)) { s, i in
            let a = x[i + 1] - x[i] * x[i]
            let b = 1 - x[i]
            return s + 100 * a * a + b * b
        }
    }

    public struct Row: Sendable, Codable {
        public var function: String
        public var precision: String
        public var smooth: Bool
        public var entries: Int
        public var medianRelativeError: Double
        public var maxRelativeError: Double
        public var medianEstimatedRelativeError: Double
        /// Fraction of entries whose error estimate is at least the true error.
        public var estimateCoversTrueError: Double
        public var evaluationsPerEntry: Double
        /// Checks of the right gradient (one per point) and how they ended: a `fail` is a false alarm.
        public var rightChecks: Int
        public var rightPassed: Int
        public var rightInconclusive: Int
        public var falseAlarms: Int
        /// Up to 60 entries' `[true relative error, estimated relative error]` (every k-th entry),
        /// for the figure of the estimate against the truth.
        public var samples: [[Double]] = []
    }

    /// Runs every function at `points` random points in one precision.
    public static func run<S: CheckScalar>(
        _: S.Type, points: Int, seed: UInt64, checker: GradientChecker = GradientChecker()
    ) throws -> [Row] {
        var rng = SeededGenerator(seed: seed)
        return try functions.map { fn in
            var rel: [Double] = []
            var est: [Double] = []
            var covered = 0
            var evals = 0
            var total = 0
            var passed = 0
            var undecided = 0
            var alarms = 0
            for _ in 0..<points {
                let x = fn.domain(&rng)
                let xs = x.map { S($0) }
                let truth = fn.gradient(xs.map(Double.init))
                let value: ([S]) -> S =
                    S.self == Double.self
                    ? { fn.valueDouble($0.map(Double.init)) as! S } : { S(fn.valueFloat($0.map(Float.init))) }
                let num = try checker.numericalGradient(of: value, at: xs)
                let scale = truth.map(abs).max() ?? 0
                for i in truth.indices {
                    let err = abs(num.value[i] - truth[i])
                    let den = max(abs(truth[i]), 1e-300)
                    rel.append(err / den)
                    est.append(num.error[i] / den)
                    // The estimate covers the truth, up to the rounding of the Double reference itself.
                    if num.error[i] + 4 * Double.ulpOfOne * scale >= err { covered += 1 }
                    total += 1
                }
                evals += num.evaluations
                let r = try checker.checkGradient(of: value, at: xs, gradient: truth.map { S($0) })
                switch r.outcome {
                case .pass: passed += 1
                case .inconclusive: undecided += 1
                case .fail: alarms += 1
                }
            }
            func median(_ a: [Double]) -> Double {
                let s = a.sorted()
                return s[s.count / 2]
            }
            let stride = max(1, rel.count / 60)
            return Row(
                function: fn.name, precision: "\(S.self)", smooth: fn.smooth, entries: total,
                medianRelativeError: median(rel), maxRelativeError: rel.max() ?? 0,
                medianEstimatedRelativeError: median(est),
                estimateCoversTrueError: Double(covered) / Double(total),
                evaluationsPerEntry: Double(evals) / Double(total), rightChecks: points, rightPassed: passed,
                rightInconclusive: undecided, falseAlarms: alarms,
                samples: Swift.stride(from: 0, to: rel.count, by: stride).map { [rel[$0], est[$0]] })
        }
    }
}
