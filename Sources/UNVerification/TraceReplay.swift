import UnifiedNormalization

/// Runs the reference-compatible UN through a trace and compares every recorded quantity.
public enum TraceReplay {
    /// Normwise relative error tolerance for float64 replay.
    ///
    /// Why this value: each recorded quantity is a short chain of float64 operations (sums of at
    /// most `B·N·C ≤ 36` terms, a square root, a log-domain mean, moving averages that contract
    /// with factor `α = 0.9`), so a port that only reorders reductions differs by at most a few
    /// hundred units of roundoff `u ≈ 1.1e-16` of the quantity's magnitude, even compounded over
    /// 1010 steps, because every recursion is a contraction. `1e-12 ≈ 9000 u` leaves a wide
    /// margin for that and still catches any formula error, which shows at 1e-3 or more. The
    /// worst error measured on the five traces is printed by `unverify replay` (≈1e-15).
    public static let tolerance = 1e-12

    public static let quantities = [
        "y", "gradInput", "gradWeight", "gradBias", "runningVar", "emaGz",
        "bufferX2", "bufferGz", "skipCounter", "iters", "evalY",
    ]

    public struct QuantityResult: Sendable, Codable, Equatable {
        public var name: String
        /// Worst normwise relative error `max|a − e| / max|e|` over the steps (absolute when `e = 0`).
        public var worstRelativeError: Double
        public var worstStep: Int
        public var comparisons: Int
    }

    public struct Result: Sendable, Codable, Equatable {
        public var trace: String
        public var path: String
        public var steps: Int
        public var skips: Int
        public var quantities: [QuantityResult]
        /// First step (0-based) where any quantity exceeds the tolerance.
        public var firstDivergentStep: Int?
        public var firstDivergentQuantity: String?
        public var tolerance: Double
        /// Every step with a quantity beyond the tolerance, and those quantities.
        public var divergences: [StepDivergence] = []
        /// Per step, the worst normwise relative error of `y` (or `evalY`) and of `gradInput`
        /// (`nan` where the step has none), for the per-step figure.
        public var perStep: [[Double]] = []
        public var withinTolerance: Bool { firstDivergentStep == nil }
        public var worst: Double { quantities.map(\.worstRelativeError).max() ?? 0 }
    }

    public struct StepDivergence: Sendable, Codable, Equatable {
        public var step: Int
        public var quantities: [String]
    }

    /// `max|a − e| / max|e|`, or the absolute error when `e` is all zeros.
    public static func normwiseRelativeError(_ a: [Double], _ e: [Double]) -> Double {
        var num = 0.0
        var den = 0.0
        for i in e.indices {
            let d = abs(a[i] - e[i])
            num = max(num, d.isNaN ? .infinity : d)
            den = max(den, abs(e[i]))
        }
        return den > 0 ? num / den : num
    }

    /// Replays `trace` through UN in `mode` (the reference-compatible mode by default, with the
    /// named `deviations` of the conformance catalogue, none by default) and compares every
    /// quantity the trace records. `stopAtFirstDivergence` ends the replay at the first step beyond
    /// the tolerance (the diagnosis's search only needs to know whether a candidate reproduces).
    ///
    /// - Throws: ``TraceError`` or ``NormalizationError`` if a step cannot be run.
    public static func replay(
        _ trace: UNTrace, tolerance: Double = tolerance, mode: UnifiedNormMode = .referenceCompatible,
        deviations: Set<ReferenceDeviation> = [], stopAtFirstDivergence: Bool = false
    ) throws -> Result {
        var layer = try UnifiedNorm<Double>(
            configuration: trace.unifiedNormConfiguration, mode: mode,
            weight: trace.initial.weight, bias: trace.initial.bias)
        layer.deviations = deviations
        var worst: [String: (Double, Int, Int)] = [:]
        var firstStep: Int?
        var firstQuantity: String?
        var divergences: [StepDivergence] = []
        var perStep: [[Double]] = []
        func record(_ name: String, _ err: Double, _ step: Int) {
            if perStep.count <= step { perStep.append([.nan, .nan]) }
            if name == "y" || name == "evalY" { perStep[step][0] = err }
            if name == "gradInput" { perStep[step][1] = err }
            var w = worst[name] ?? (0, 0, 0)
            if err > w.0 || (err.isNaN && !w.0.isNaN) {
                w.0 = err
                w.1 = step
            }
            w.2 += 1
            worst[name] = w
            if !(err <= tolerance) {
                if firstStep == nil {
                    firstStep = step
                    firstQuantity = name
                }
                if divergences.last?.step == step {
                    divergences[divergences.count - 1].quantities.append(name)
                } else {
                    divergences.append(StepDivergence(step: step, quantities: [name]))
                }
            }
        }
        // Version 2 leaves internal state out where an implementation cannot show it.
        func compare(_ name: String, _ a: [Double], _ e: [Double]?, _ k: Int) {
            if let e { record(name, normwiseRelativeError(a, e), k) }
        }
        for (k, s) in trace.steps.enumerated() {
            if stopAtFirstDivergence && firstStep != nil { break }
            let x = try trace.batch(s.x, padMask: s.padMask)
            let e = s.expected
            if s.mode == "train" {
                let (y, cache) = try layer.forwardTraining(x)
                record("y", normwiseRelativeError(y.values, e.y), k)
                let dy = try trace.batch(s.gradOutput ?? [], padMask: s.padMask)
                let g = try layer.backward(dy, cache: cache)
                compare("gradInput", g.input.values, e.gradInput, k)
                compare("gradWeight", g.weight, e.gradWeight, k)
                compare("gradBias", g.bias, e.gradBias, k)
                compare("runningVar", layer.runningVar, e.runningVar, k)
                compare("emaGz", layer.emaGz, e.emaGz, k)
                compare("bufferX2", layer.bufferX2, e.bufferX2, k)
                compare("bufferGz", layer.bufferGz, e.bufferGz, k)
                if let sc = e.skipCounter { record("skipCounter", layer.skipCounter == sc ? 0 : .infinity, k) }
                if let it = e.iters { record("iters", layer.iters == it ? 0 : .infinity, k) }
            } else {
                let y = try layer.forwardInference(x)
                record("evalY", normwiseRelativeError(y.values, e.y), k)
            }
        }
        let qs = quantities.compactMap { n in
            worst[n].map { QuantityResult(name: n, worstRelativeError: $0.0, worstStep: $0.1, comparisons: $0.2) }
        }
        return Result(
            trace: trace.name, path: trace.path, steps: trace.steps.count, skips: layer.skipCounter,
            quantities: qs, firstDivergentStep: firstStep, firstDivergentQuantity: firstQuantity, tolerance: tolerance,
            divergences: divergences, perStep: perStep)
    }
}
