import GradientCheck
import UnifiedNormalization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Claim N1: scale invariance across the exponent range (issue "every input", kind 1).
///
/// Over the reals every layer here normalizes `k·x` like `x`: with `σ²` the group's (centered or
/// uncentered) variance, `N_ε(k x) = N₀(x) / sqrt(1 + ε/(k²σ²))`, so only ε tells the scales
/// apart, and by at most `|N₀| · ε/(2k²σ²)` (`1 − 1/√(1+a) ≤ a/2`). The claim is that the
/// floating-point layers keep this for every `k` that leaves the input representable, in Float and
/// Double: no overflowing sum of squares, no flush to zero, no NaN, and a typed error only where
/// the true statistic itself (a BatchNorm or UN channel variance, which the layer stores) is
/// beyond the type's range. Proof and bound: `proofs/scale-invariance.md#n1`.
public enum ScaleInvarianceClaims {
    public enum Layer: String, Sendable, CaseIterable {
        case layerNorm = "LayerNorm", rmsNorm = "RMSNorm", batchNorm = "BatchNorm", unifiedNorm = "UN (M = 1)"
        /// Statistics over the channels of a token (else over the tokens of a channel).
        var tokenwise: Bool { self == .layerNorm || self == .rmsNorm }
        var centered: Bool { self == .layerNorm || self == .batchNorm }
    }

    public enum Precision: String, Sendable { case float = "Float", double = "Double" }

    /// A `tokens × channels` batch `x = fl(k · b)`, `k = m · 2^e`, `m ∈ [1, 2)`.
    public struct ScaleCase: Sendable, CustomStringConvertible {
        public var layer: Layer
        public var precision: Precision
        public var tokens: Int
        public var channels: Int
        public var base: [Double]
        public var multiplier: Double
        public var exponent: Int
        public var description: String {
            "\(layer.rawValue) \(precision.rawValue) \(tokens)×\(channels), k = \(multiplier)·2^\(exponent), "
                + "b = \(base)"
        }
        /// The input the layer sees, in Double (exactly representable in the precision).
        public var input: [Double] {
            base.map { b in
                let v = Double(sign: .plus, exponent: exponent, significand: multiplier * b)
                return precision == .float ? Double(Float(v)) : v
            }
        }

        /// Draws a case; a quarter of the exponents at the edges of the range where `x` stays
        /// finite and normal.
        public static func random(_ rng: inout ClaimRandom) -> ScaleCase {
            let layer = Layer.allCases[Int.random(in: 0..<4, using: &rng)]
            let precision: Precision = Bool.random(using: &rng) ? .float : .double
            let tokens = layer.tokenwise ? Int.random(in: 1...4, using: &rng) : Int.random(in: 2...8, using: &rng)
            let channels = layer.tokenwise ? Int.random(in: 2...16, using: &rng) : Int.random(in: 1...4, using: &rng)
            let offset = Double.random(in: -2...2, using: &rng)
            let round: (Double) -> Double = { precision == .float ? Double(Float($0)) : $0 }
            var base = (0..<(tokens * channels)).map { _ in round(Double.random(in: -3...3, using: &rng) + offset) }
            // No exactly zero entry (it has no exponent to bound) and no constant group.
            base = base.map { $0 == 0 ? 0.5 : $0 }
            if let first = base.first, base.allSatisfy({ $0 == first }) { base[0] = first + 1 }
            let multiplier = round(Double.random(in: 1..<2, using: &rng))
            let (lo, hi) = exponentRange(base, multiplier: multiplier, precision: precision)
            let e: Int
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: e = Int.random(in: lo...min(lo + 3, hi), using: &rng)
            case 1: e = Int.random(in: max(hi - 3, lo)...hi, using: &rng)
            default: e = Int.random(in: lo...hi, using: &rng)
            }
            return ScaleCase(
                layer: layer, precision: precision, tokens: tokens, channels: channels, base: base,
                multiplier: multiplier, exponent: e)
        }

        /// The exponents `e` for which every `m · b · 2^e` is finite and normal in the precision.
        static func exponentRange(_ b: [Double], multiplier m: Double, precision: Precision) -> (Int, Int) {
            let big = b.map { abs($0 * m) }.max() ?? 1
            let small = b.map { abs($0 * m) }.filter { $0 > 0 }.min() ?? 1
            let maxE = precision == .float ? 127 : 1023
            let minE = precision == .float ? -126 : -1022
            // big·2^e < 2^(maxE+1) and small·2^e ≥ 2^minE.
            return (minE - small.exponent, maxE - big.exponent - 1)
        }
    }

    /// The groups a layer normalizes over: per token (LN, RMSNorm) or per channel (BN, UN).
    static func groups(_ c: ScaleCase) -> [[Int]] {
        c.layer.tokenwise
            ? (0..<c.tokens).map { t in (0..<c.channels).map { t * c.channels + $0 } }
            : (0..<c.channels).map { k in (0..<c.tokens).map { $0 * c.channels + k } }
    }

    /// The layer's output on the case's input, or the error it threw.
    static func output<S: NormScalar>(_ c: ScaleCase, _: S.Type) throws -> [Double] {
        let x = try TokenBatch<S>(batch: 1, tokens: c.tokens, channels: c.channels, values: c.input.map { S($0) })
        let y: TokenBatch<S>
        switch c.layer {
        case .layerNorm:
            var l = try LayerNorm<S>(channels: c.channels)
            y = try l.forwardTraining(x).output
        case .rmsNorm:
            var l = try RMSNorm<S>(channels: c.channels)
            y = try l.forwardTraining(x).output
        case .batchNorm:
            var l = try BatchNorm<S>(channels: c.channels)
            y = try l.forwardTraining(x).output
        case .unifiedNorm:
            var l = try UnifiedNorm<S>(
                configuration: .init(channels: c.channels, forwardWindow: 1, warmupIters: 0), mode: .paper(.calibrated))
            y = try l.forwardTraining(x).output
        }
        return y.values.map { Double($0) }
    }

    #if arch(x86_64) && !os(Windows)
    typealias Wide = Float80
    #else
    typealias Wide = Double
    #endif

    /// Per group, in extended precision on the input scaled by an exact power of two (so that no
    /// intermediate leaves the range): mean, variance `σ²` (centered or not), and per entry
    /// `N₀ = (x − μ)/σ` and `N_ε = (x − μ)/sqrt(σ² + ε)`, all in the unscaled units of the output.
    struct Reference {
        var exact: [Double]
        var epsilonFree: [Double]
        /// Per entry: `|μ|/σ` and `ε/σ²` of its group.
        var offset: [Double]
        var epsilonRatio: [Double]
        /// Per group: `log₂` of the statistic a BN or UN layer stores (the unbiased variance, the
        /// mean square), of the unscaled input: it may be beyond any type's range.
        var log2Variance: [Double]
    }

    static func reference(_ c: ScaleCase, eps: Double) -> Reference {
        let x = c.input
        var exact = [Double](repeating: 0, count: x.count)
        var free = exact
        var offset = exact
        var ratio = exact
        var logVar: [Double] = []
        for g in groups(c) {
            let big = g.map { abs(x[$0]) }.max() ?? 1
            let shift = big > 0 ? -big.exponent : 0
            let w = g.map { Wide(sign: .plus, exponent: Int(shift), significand: Wide(x[$0])) }
            let n = Wide(g.count)
            let mu = c.layer.centered ? w.reduce(0, +) / n : 0
            let v = w.reduce(Wide(0)) { $0 + ($1 - mu) * ($1 - mu) } / n
            // ε in the scaled units: ε · 2^(2·shift).
            let epsW = Wide(sign: .plus, exponent: 2 * Int(shift), significand: Wide(eps))
            let s = (v + epsW).squareRoot()
            let s0 = v.squareRoot()
            // The statistic the layer stores: BN's unbiased variance, UN's mean square.
            let stored = c.layer == .batchNorm && g.count > 1 ? v * n / (n - 1) : v
            logVar.append(log2(Double(stored)) - 2 * Double(shift))
            for (k, i) in g.enumerated() {
                exact[i] = Double((w[k] - mu) / s)
                free[i] = Double((w[k] - mu) / s0)
                offset[i] = Double(abs(mu) / s0)
                ratio[i] = Double(epsW / v)
            }
        }
        return Reference(exact: exact, epsilonFree: free, offset: offset, epsilonRatio: ratio, log2Variance: logVar)
    }

    /// `γ_m = m u / (1 − m u)`.
    static func gamma(_ m: Int, _ u: Double) -> Double { RoundingError.gamma(m, unitRoundoff: u) }

    public static func check(_ c: ScaleCase) throws -> ClaimOutcome {
        let u = c.precision == .float ? Double(Float.unitRoundoff) : Double.unitRoundoff
        let uRef = Double(Wide.ulpOfOne) / 2
        let eps = c.precision == .float ? Double(Float(1e-5)) : 1e-5
        let ref = reference(c, eps: eps)
        let n = c.layer.tokenwise ? c.channels : c.tokens
        // A BN or UN channel variance beyond the type's range is stored by the layer: a typed error
        // is the right answer there (and only there; within a factor 2 of the threshold either is).
        let maxLog2 = c.precision == .float ? 128.0 : 1024.0
        let worst = ref.log2Variance.max() ?? 0
        let result: Result<[Double], any Error> = Result {
            c.precision == .float ? try output(c, Float.self) : try output(c, Double.self)
        }
        if !c.layer.tokenwise && worst > maxLog2 - 1 {
            switch result {
            case .failure(let e as NormalizationError):
                return ClaimOutcome([ClaimCheck("typed error for a variance beyond the range (\(e))", margin: 1)])
            case .failure(let e):
                return ClaimOutcome([ClaimCheck("untyped error \(e)", holds: false, margin: -1)])
            case .success(let y) where worst > maxLog2 + 1:
                return ClaimOutcome([
                    ClaimCheck(
                        "a variance of 2^\(worst) was not reported (output \(y.prefix(4)))", holds: false, margin: -1)
                ])
            case .success:
                break
            }
        }
        let y: [Double]
        switch result {
        case .success(let v): y = v
        case .failure(let e):
            return ClaimOutcome([ClaimCheck("threw \(e) on a representable case", holds: false, margin: -1)])
        }
        var worstExact = Double.infinity
        var worstInvariance = Double.infinity
        for i in y.indices {
            guard y[i].isFinite else {
                return ClaimOutcome([ClaimCheck("non-finite output at \(i): \(y[i])", holds: false, margin: -1)])
            }
            // Rounding bound (proofs/scale-invariance.md#n1): mean γ_n(|μ|/σ + 1), the variance's
            // sum γ_{n+2}, square root and division: within γ_{2n+8}(1 + |μ|/σ + |z|) in the layer's
            // precision, plus the same in the reference's.
            let scale = 1 + ref.offset[i] + abs(ref.exact[i])
            let bound = (gamma(2 * n + 8, u) + gamma(2 * n + 8, uRef)) * scale
            let e1 = abs(y[i] - ref.exact[i])
            worstExact = min(worstExact, 1 - e1 / bound)
            // Against the ε-free normalization, which no scale changes: ε's effect is at most
            // |N₀| · ε/(2σ²) (and never more than |N₀|).
            let epsEffect = abs(ref.epsilonFree[i]) * min(1, ref.epsilonRatio[i] / 2)
            let e2 = abs(y[i] - ref.epsilonFree[i])
            worstInvariance = min(worstInvariance, 1 - e2 / (bound + epsEffect))
        }
        return ClaimOutcome([
            ClaimCheck("|N(kx) − N_ε(kx) exact| within the rounding bound", margin: worstExact),
            ClaimCheck("|N(kx) − N₀(x)| within rounding + ε's effect", margin: worstInvariance),
        ])
    }

    public static let n1 = Claim<ScaleCase>(
        id: "N1", title: "Scale invariance across the exponent range",
        statement:
            "LayerNorm, RMSNorm, BatchNorm and UN (window 1) normalize k·x like x for every k that leaves x "
            + "representable, in Float and Double: each output is within a derived rounding bound of the exact "
            + "N_ε(kx), and within that bound plus ε's effect (|N₀|·ε/(2k²σ²)) of the ε-free N₀(x); a typed error "
            + "only where a stored channel variance is beyond the type's range.",
        symbols: "N_ε(k x) = N₀(x) / sqrt(1 + ε/(k²σ²)),  |N_ε(kx) − N₀(x)| ≤ |N₀(x)| ε/(2k²σ²)",
        proof: "proofs/scale-invariance.md#n1",
        examples: [
            // The LayerNorm<Float> token of size 1e30 (it returned zeros).
            ScaleCase(
                layer: .layerNorm, precision: .float, tokens: 1, channels: 4, base: [1, -2, 3, -0.5],
                multiplier: 1e30 / 0x1p99, exponent: 99),
            // A BatchNorm channel whose variance (≈ 9e38) is beyond Float: a typed error.
            ScaleCase(
                layer: .batchNorm, precision: .float, tokens: 4, channels: 1, base: [1, -1, 1, -1], multiplier: 1.5,
                exponent: 64),
        ],
        generate: { rng in ScaleCase.random(&rng) }, check: check)
}
