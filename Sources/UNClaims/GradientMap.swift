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

    /// One cell of the map: a layer in a mode and regime, padded or not, in one precision; `seed`
    /// draws the cell's history and probe (each cell is built on its own, so any cell can be
    /// checked alone and the generator can draw cells at random).
    public struct Cell: Sendable, Codable, CustomStringConvertible, Equatable {
        public enum Kind: String, Sendable, Codable, CaseIterable {
            case layerNorm, rmsNorm, batchNorm, powerNormWarmup, powerNormAfterWarmup
            case unReferenceWarmup, unCalibratedWarmup, unExactWarmup
            case unReferenceSmoothed, unCalibratedSmoothed, unExactSmoothed
            case unCalibratedWindow1, unExactWindow1
            case unReferenceFiltrationSkip, unReferenceWindow1, unReferenceCompensation
        }
        public enum Precision: String, Sendable, Codable, CaseIterable { case double = "Double", float = "Float" }
        public var kind: Kind
        public var padded: Bool
        public var precision: Precision
        public var seed: UInt64
        public var description: String {
            "\(kind.rawValue), \(padded ? "padded" : "not padded"), \(precision.rawValue), seed \(seed)"
        }
        public init(kind: Kind, padded: Bool, precision: Precision, seed: UInt64) {
            self.kind = kind
            self.padded = padded
            self.precision = precision
            self.seed = seed
        }
    }

    /// Every cell of the map, in the report's order, with data seeds derived from `seed`.
    public static func cells(seed: UInt64) -> [Cell] {
        var cells: [Cell] = []
        for precision in Cell.Precision.allCases {
            for padded in [false, true] {
                for kind in Cell.Kind.allCases {
                    let k = UInt64(cells.count)
                    cells.append(Cell(kind: kind, padded: padded, precision: precision, seed: seed &+ k &* 0x9E37))
                }
            }
        }
        return cells
    }

    /// Measures one cell (`nil`: the cell's regime did not occur, which happens only for the
    /// filtration skip when the probe's spike does not make the filter fire).
    public static func measure(_ cell: Cell, checker: GradientChecker? = nil) throws -> Row? {
        switch cell.precision {
        case .double: return try measure(cell, Double.self, checker: checker ?? Self.checker(for: Double.self))
        case .float: return try measure(cell, Float.self, checker: checker ?? Self.checker(for: Float.self))
        }
    }

    static func measure<S: NormScalar & CheckScalar>(_ cell: Cell, _: S.Type, checker: GradientChecker) throws
        -> Row?
    {
        var rng = SeededGenerator(seed: cell.seed)
        let padded = cell.padded
        let c = shape.channels
        let w = (0..<c).map { S(1 + 0.2 * Double($0)) }
        let b = (0..<c).map { S(0.1 * Double($0) - 0.1) }
        func un(_ mode: UnifiedNormMode, _ cfg: UnifiedNormConfiguration, steps: Int, scale: Double = 1) throws
            -> UnifiedNorm<S>
        {
            var u = try UnifiedNorm<S>(configuration: cfg, mode: mode, weight: w, bias: b)
            try advance(&u, steps: steps, &rng, padded: padded, scale: scale)
            return u
        }
        func row<L: NormalizationLayer>(_ layer: L, _ regime: String, exact: Bool, probeScale: Double = 1) throws
            -> Row where L.Scalar == S
        {
            try measure(
                Case(layer: layer, regime: regime, designedExact: exact), padded: padded, probeScale: probeScale,
                &rng, checker: checker)
        }
        let warm = UnifiedNormConfiguration(channels: c, forwardWindow: 3, warmupIters: 100)
        let smooth = UnifiedNormConfiguration(channels: c, forwardWindow: 3, warmupIters: 2)
        let one = UnifiedNormConfiguration(channels: c, forwardWindow: 1, warmupIters: 1)
        let reference = UnifiedNormMode.referenceCompatible
        switch cell.kind {
        case .layerNorm: return try row(LayerNorm<S>(channels: c, weight: w, bias: b), "per token", exact: true)
        case .rmsNorm: return try row(RMSNorm<S>(channels: c, weight: w, bias: b), "per token", exact: true)
        case .batchNorm:
            var bn = try BatchNorm<S>(channels: c, weight: w, bias: b)
            try advance(&bn, steps: 2, &rng, padded: padded)
            return try row(bn, "training", exact: true)
        case .powerNormWarmup, .powerNormAfterWarmup:
            // PowerNorm: warm-up (current statistics) and after warm-up (running φ).
            var pn = try PowerNorm<S>(channels: c, warmupIters: 3, weight: w, bias: b)
            let after = cell.kind == .powerNormAfterWarmup
            try advance(&pn, steps: after ? 5 : 1, &rng, padded: padded)
            return try row(pn, after ? "after warm-up" : "warm-up", exact: false)
        // Paper mode: warm-up uses ψ = g_σ, the exact gradient of the current-statistics forward.
        case .unReferenceWarmup: return try row(un(reference, warm, steps: 2), "warm-up", exact: false)
        case .unCalibratedWarmup: return try row(un(.paper(.calibrated), warm, steps: 2), "warm-up", exact: true)
        case .unExactWarmup: return try row(un(.paper(.exact), warm, steps: 2), "warm-up", exact: true)
        case .unReferenceSmoothed: return try row(un(reference, smooth, steps: 5), "smoothed", exact: false)
        case .unCalibratedSmoothed:
            return try row(un(.paper(.calibrated), smooth, steps: 5), "smoothed", exact: false)
        case .unExactSmoothed: return try row(un(.paper(.exact), smooth, steps: 5), "smoothed", exact: true)
        // Skip with window 1 (the paper's test never fires; window 1 is its skip-like regime).
        case .unCalibratedWindow1:
            return try row(un(.paper(.calibrated), one, steps: 3), "skip (window 1)", exact: true)
        case .unExactWindow1: return try row(un(.paper(.exact), one, steps: 3), "skip (window 1)", exact: true)
        case .unReferenceFiltrationSkip:
            let filt = UnifiedNormConfiguration(channels: c, forwardWindow: 3, warmupIters: 2, outlierFiltration: true)
            let uf = try un(reference, filt, steps: 6, scale: 0.2)
            var probe = uf
            let spike: TokenBatch<S> = try batch(&rng, scale: 30, padded: padded)
            _ = try probe.forwardTraining(spike)
            guard probe.lastRegime == .skip else { return nil }
            // On a skip the correction is the current mean of g⊙z over all positions: the exact
            // gradient of the current-statistics forward when nothing is padded.
            return try row(uf, "skip (filtration)", exact: !padded, probeScale: 30)
        case .unReferenceWindow1: return try row(un(reference, one, steps: 3), "skip (window 1)", exact: !padded)
        case .unReferenceCompensation:
            // Compensation factor r ≠ 1 after max(1000, warm-up) steps.
            var ur = try un(reference, smooth, steps: 4)
            try ur.setState(
                runningVar: ur.runningVar.map { $0 * 4 }, emaGz: ur.emaGz, bufferX2: ur.bufferX2,
                bufferGz: ur.bufferGz, iters: 1001)
            return try row(ur, "smoothed, r ≠ 1 (t > 1000)", exact: false)
        }
    }

    /// Every layer, mode and regime in precision `S`.
    public static func run<S: NormScalar & CheckScalar>(_: S.Type, seed: UInt64, checker: GradientChecker? = nil) throws
        -> [Row]
    {
        let precision: Cell.Precision = S.self == Float.self ? .float : .double
        return try cells(seed: seed).filter { $0.precision == precision }.compactMap {
            try measure($0, S.self, checker: checker ?? Self.checker(for: S.self))
        }
    }

    /// The cell's outcome for claim G5: a backward meant to be exact is tested (it must not fail;
    /// an undecided check is counted as undecided); one that is an approximation by design is a
    /// measurement of its deviation.
    public static func judge(_ cell: Cell) throws -> ClaimOutcome {
        guard let r = try measure(cell) else { return .notApplicable("the spike did not make the filter fire") }
        let notes = [
            "∂X deviation": r.inputDeviation, "∂γ deviation": r.weightDeviation, "∂β deviation": r.biasDeviation,
            "checker outcome (0 pass, 1 fail, 2 inconclusive)": r.outcome == .pass ? 0 : (r.outcome == .fail ? 1 : 2),
            "meant exact": r.designedExact ? 1 : 0,
        ]
        let labels = ["layer": r.layer, "regime": r.regime, "precision": r.precision]
        guard r.designedExact else { return .measurement(notes, labels: labels) }
        return ClaimOutcome(
            [
                ClaimCheck(
                    "\(r.layer) [\(r.regime)] backward is the gradient", holds: r.outcome == .pass,
                    margin: r.outcome == .fail ? -1 : 1, decided: r.outcome != .inconclusive)
            ], notes: notes, labels: labels)
    }

    /// Claim G5 as one catalogue entry: the whole map (every cell, both precisions) is pinned, so
    /// every run covers it; generated cases draw cells at random with fresh data.
    public static let g5 = Claim<Cell>(
        id: "G5", title: "Each backward is the gradient of its forward exactly where designed",
        statement:
            """
            A measured map: for every layer, mode and regime (warm-up, smoothed, skip; with and without \
            padding; Double and Float), the hand-written backward is compared with the numerical gradient of \
            `x ↦ ⟨∂L/∂Y, forward(x)⟩` at the same state. Where the backward is meant to be exact it must agree \
            within the checker's bound; where it is an approximation by design its deviation is measured.
            """,
        symbols: "‖backward − ∇⟨∂L/∂Y, N(·)⟩‖∞ / ‖∇‖∞ ≤ checker bound  (meant-exact cells)",
        proof: "proofs/gradient-calibration.md#g5",
        examples: cells(seed: 0x6_5EED), relativeCost: 20,
        generate: { rng in
            Cell(
                kind: Cell.Kind.allCases[Int.random(in: 0..<Cell.Kind.allCases.count, using: &rng)],
                padded: Bool.random(using: &rng), precision: Bool.random(using: &rng) ? .double : .float,
                seed: rng.next())
        }, check: judge)

    /// The map's rows from a run of ``g5``: its pinned examples, in order (a cell whose regime did
    /// not occur is left out).
    public static func rows(_ run: ClaimRun) -> [Row] {
        run.pinned.compactMap { r -> Row? in
            guard !r.notApplicable, r.index < g5.examples.count, let layer = r.labels["layer"],
                let regime = r.labels["regime"]
            else { return nil }
            let cell = g5.examples[r.index]
            let code = r.notes["checker outcome (0 pass, 1 fail, 2 inconclusive)"]
            return Row(
                layer: layer, regime: regime, padded: cell.padded, precision: cell.precision.rawValue,
                inputDeviation: r.notes["∂X deviation"] ?? .nan, weightDeviation: r.notes["∂γ deviation"] ?? .nan,
                biasDeviation: r.notes["∂β deviation"] ?? .nan,
                outcome: code == 0 ? .pass : (code == 1 ? .fail : .inconclusive),
                designedExact: r.notes["meant exact"] == 1)
        }
    }
}
