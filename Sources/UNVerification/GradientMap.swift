import GradientCheck
import UnifiedNormalization

/// Spec claim G5: for every layer, mode and regime (warm-up, smoothed, skip; with and without
/// padding) and both precisions, is the hand-written backward the exact gradient of the
/// forward at that state, and if not, how far from it is it?
///
/// "The forward at that state" is `x ↦ ⟨∂L/∂Y, forward(x)⟩` evaluated on a *copy* of the layer
/// prepared in the regime, so moving averages and buffers are the same for every evaluation
/// (the history is held fixed, as it is at one training step). Its gradient is estimated by
/// the ``GradientChecker``; the backward runs on another copy.
public enum GradientMap {
    public struct Row: Sendable, Codable, Equatable {
        public var layer: String
        public var regime: String
        public var padded: Bool
        public var precision: String
        /// `max|backward − numerical| / max|numerical|` for ∂L/∂X.
        public var inputDeviation: Double
        public var weightDeviation: Double
        public var biasDeviation: Double
        /// The checker's outcome over all three gradients: `pass` (every entry agreed within its
        /// band at the map's resolution), `fail` (an entry resolved off), or `inconclusive`.
        public var outcome: CheckOutcome
        /// The backward is meant to be the exact gradient in this case.
        public var designedExact: Bool
        /// Every entry of all three gradients agreed, with evidence.
        public var exact: Bool { outcome == .pass }
        /// A backward meant to be exact that fails is a bug; one that is undecided is not evidence.
        public var consistent: Bool { !designedExact || outcome != .fail }
    }

    /// A layer prepared in a regime, and the probe it is measured at.
    struct Case<L: NormalizationLayer> {
        var layer: L
        var regime: String
        var designedExact: Bool
    }

    static let shape = (batch: 2, tokens: 4, channels: 3)

    static func batch<S: NormScalar>(_ rng: inout SeededGenerator, scale: Double = 1, padded: Bool) throws
        -> TokenBatch<S>
    {
        let n = shape.batch * shape.tokens * shape.channels
        let mask: [Bool]? = padded ? [false, false, false, true, false, false, true, true] : nil
        return try TokenBatch(
            batch: shape.batch, tokens: shape.tokens, channels: shape.channels,
            values: (0..<n).map { _ in S(scale * (rng.normal() + 0.3)) }, padMask: mask)
    }

    /// Runs training steps (forward and backward with random gradients) to move a layer's state.
    static func advance<L: NormalizationLayer>(
        _ layer: inout L, steps: Int, _ rng: inout SeededGenerator, padded: Bool, scale: Double = 1
    ) throws {
        for _ in 0..<steps {
            let x: TokenBatch<L.Scalar> = try batch(&rng, scale: scale, padded: padded)
            let (_, cache) = try layer.forwardTraining(x)
            let dy: TokenBatch<L.Scalar> = try batch(&rng, padded: padded)
            _ = try layer.backward(dy, cache: cache)
        }
    }

    static func measure<L: NormalizationLayer>(
        _ c: Case<L>, padded: Bool, probeScale: Double = 1, _ rng: inout SeededGenerator,
        checker: GradientChecker
    ) throws -> Row where L.Scalar: CheckScalar {
        typealias S = L.Scalar
        let x: TokenBatch<S> = try batch(&rng, scale: probeScale, padded: padded)
        let dy: TokenBatch<S> = try batch(&rng, padded: padded)
        var analyticLayer = c.layer
        let (_, cache) = try analyticLayer.forwardTraining(x)
        let g = try analyticLayer.backward(dy, cache: cache)
        func loss(_ layer: L, _ input: TokenBatch<S>) throws -> S {
            var copy = layer
            let y = try copy.forwardTraining(input).output
            return zip(y.values, dy.values).reduce(S(0)) { $0 + $1.0 * $1.1 }
        }
        // G5 asks a normwise question (is the backward the gradient, up to rounding?), so each
        // entry is judged against the largest entry of its gradient: that magnitude is given as
        // every entry's term magnitude (rounding allowance and resolution both scale with it).
        func normwise(_ v: [L.Scalar]) -> [L.Scalar] {
            [L.Scalar](repeating: v.map { abs($0) }.max() ?? 0, count: v.count)
        }
        let rx = try checker.checkGradient(
            of: { v in try loss(c.layer, x.with(values: v)) }, at: x.values, gradient: g.input.values,
            termMagnitudes: normwise(g.input.values))
        let rw = try checker.checkGradient(
            of: { w in
                var l = c.layer
                try l.setAffine(weight: w, bias: l.bias)
                return try loss(l, x)
            }, at: c.layer.weight, gradient: g.weight, termMagnitudes: normwise(g.weight))
        let rb = try checker.checkGradient(
            of: { b in
                var l = c.layer
                try l.setAffine(weight: l.weight, bias: b)
                return try loss(l, x)
            }, at: c.layer.bias, gradient: g.bias, termMagnitudes: normwise(g.bias))
        func dev(_ r: CheckResult) -> Double {
            let den = r.entries.map { abs($0.numerical) }.max() ?? 0
            return (r.entries.map(\.absoluteError).max() ?? 0) / max(den, .leastNormalMagnitude)
        }
        return Row(
            layer: c.layer.name, regime: c.regime, padded: padded, precision: "\(S.self)",
            inputDeviation: dev(rx), weightDeviation: dev(rw), biasDeviation: dev(rb),
            outcome: [rx, rw, rb].contains { $0.failed }
                ? .fail
                : ([rx, rw, rb].allSatisfy(\.passed) ? .pass : .inconclusive),
            designedExact: c.designedExact)
    }

    /// The map's checker: default settings, except that in Float an entry needs only be resolved
    /// to 1e-2 (of the gradient's largest entry) to count as agreeing. Why that suffices: the
    /// approximate backward passes this map must tell apart deviate by 0.1 or more (the table in
    /// the report), while Float's finite differences of these 24-entry losses resolve entries to
    /// about 1e-4 to 1e-3.
    public static func checker<S: CheckScalar>(for _: S.Type) -> GradientChecker {
        var c = GradientChecker()
        if S.self == Float.self { c.resolution = 1e-2 }
        return c
    }

    /// Every layer, mode and regime in precision `S`.
    public static func run<S: NormScalar & CheckScalar>(_: S.Type, seed: UInt64, checker: GradientChecker? = nil) throws
        -> [Row]
    {
        let checker = checker ?? Self.checker(for: S.self)
        var rows: [Row] = []
        var rng = SeededGenerator(seed: seed)
        let c = shape.channels
        let w = (0..<c).map { S(1 + 0.2 * Double($0)) }
        let b = (0..<c).map { S(0.1 * Double($0) - 0.1) }
        for padded in [false, true] {
            rows.append(
                try measure(
                    Case(
                        layer: try LayerNorm<S>(channels: c, weight: w, bias: b), regime: "per token",
                        designedExact: true), padded: padded, &rng, checker: checker))
            rows.append(
                try measure(
                    Case(
                        layer: try RMSNorm<S>(channels: c, weight: w, bias: b), regime: "per token", designedExact: true
                    ), padded: padded, &rng, checker: checker))
            var bn = try BatchNorm<S>(channels: c, weight: w, bias: b)
            try advance(&bn, steps: 2, &rng, padded: padded)
            rows.append(
                try measure(
                    Case(layer: bn, regime: "training", designedExact: true), padded: padded, &rng, checker: checker))

            // PowerNorm: warm-up (current statistics) and after warm-up (running φ).
            var pn = try PowerNorm<S>(channels: c, warmupIters: 3, weight: w, bias: b)
            try advance(&pn, steps: 1, &rng, padded: padded)
            rows.append(
                try measure(
                    Case(layer: pn, regime: "warm-up", designedExact: false), padded: padded, &rng, checker: checker))
            try advance(&pn, steps: 4, &rng, padded: padded)
            rows.append(
                try measure(
                    Case(layer: pn, regime: "after warm-up", designedExact: false), padded: padded, &rng,
                    checker: checker))

            // UN, every mode, every regime.
            let modes: [(UnifiedNormMode, Bool)] = [
                (.referenceCompatible, false), (.paper(.calibrated), false), (.paper(.exact), true),
            ]
            for (mode, exactMode) in modes {
                let isPaper = mode != .referenceCompatible
                let warm = UnifiedNormConfiguration(channels: c, forwardWindow: 3, warmupIters: 100)
                var un = try UnifiedNorm<S>(configuration: warm, mode: mode, weight: w, bias: b)
                try advance(&un, steps: 2, &rng, padded: padded)
                // Paper mode: warm-up uses ψ = g_σ, the exact gradient of the current-statistics forward.
                rows.append(
                    try measure(
                        Case(layer: un, regime: "warm-up", designedExact: isPaper), padded: padded, &rng,
                        checker: checker))

                let smooth = UnifiedNormConfiguration(channels: c, forwardWindow: 3, warmupIters: 2)
                var us = try UnifiedNorm<S>(configuration: smooth, mode: mode, weight: w, bias: b)
                try advance(&us, steps: 5, &rng, padded: padded)
                rows.append(
                    try measure(
                        Case(layer: us, regime: "smoothed", designedExact: exactMode), padded: padded, &rng,
                        checker: checker))

                // Skip: filtration fires on a spike (reference) / window 1 (paper: its test never fires).
                if isPaper {
                    let one = UnifiedNormConfiguration(channels: c, forwardWindow: 1, warmupIters: 1)
                    var u1 = try UnifiedNorm<S>(configuration: one, mode: mode, weight: w, bias: b)
                    try advance(&u1, steps: 3, &rng, padded: padded)
                    rows.append(
                        try measure(
                            Case(layer: u1, regime: "skip (window 1)", designedExact: true), padded: padded, &rng,
                            checker: checker))
                } else {
                    let filt = UnifiedNormConfiguration(
                        channels: c, forwardWindow: 3, warmupIters: 2, outlierFiltration: true)
                    var uf = try UnifiedNorm<S>(configuration: filt, mode: mode, weight: w, bias: b)
                    try advance(&uf, steps: 6, &rng, padded: padded, scale: 0.2)
                    var probe = uf
                    let spike: TokenBatch<S> = try batch(&rng, scale: 30, padded: padded)
                    _ = try probe.forwardTraining(spike)
                    if probe.lastRegime == .skip {
                        // On a skip the correction is the current mean of g⊙z over all positions: the
                        // exact gradient of the current-statistics forward when nothing is padded.
                        rows.append(
                            try measure(
                                Case(layer: uf, regime: "skip (filtration)", designedExact: !padded), padded: padded,
                                probeScale: 30, &rng, checker: checker))
                    }
                    let one = UnifiedNormConfiguration(channels: c, forwardWindow: 1, warmupIters: 1)
                    var u1 = try UnifiedNorm<S>(configuration: one, mode: mode, weight: w, bias: b)
                    try advance(&u1, steps: 3, &rng, padded: padded)
                    rows.append(
                        try measure(
                            Case(layer: u1, regime: "skip (window 1)", designedExact: !padded), padded: padded, &rng,
                            checker: checker))
                    // Compensation factor r ≠ 1 after max(1000, warm-up) steps.
                    var ur = try UnifiedNorm<S>(configuration: smooth, mode: mode, weight: w, bias: b)
                    try advance(&ur, steps: 4, &rng, padded: padded)
                    try ur.setState(
                        runningVar: ur.runningVar.map { $0 * 4 }, emaGz: ur.emaGz, bufferX2: ur.bufferX2,
                        bufferGz: ur.bufferGz, iters: 1001)
                    rows.append(
                        try measure(
                            Case(layer: ur, regime: "smoothed, r ≠ 1 (t > 1000)", designedExact: false), padded: padded,
                            &rng, checker: checker))
                }
            }
        }
        return rows
    }
}
