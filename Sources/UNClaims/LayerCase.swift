import GradientCheck
import UnifiedNormalization

/// A small batch and upstream gradient, aimed at the edges: one token, one channel, padding
/// that leaves one real token, wide scales.
public struct LayerCase: Sendable, CustomStringConvertible {
    public var batch: Int
    public var tokens: Int
    public var channels: Int
    public var x: [Double]
    public var dy: [Double]
    public var padMask: [Bool]?
    public var eps: Double

    public var description: String {
        "B×N×C = \(batch)×\(tokens)×\(channels), eps \(eps), pad \(padMask.map { "\($0)" } ?? "none"), x \(x), dy \(dy)"
    }

    public func input<S: NormScalar>(_: S.Type = S.self) throws -> TokenBatch<S> {
        try TokenBatch(batch: batch, tokens: tokens, channels: channels, values: x.map { S($0) }, padMask: padMask)
    }
    public func gradient<S: NormScalar>(_: S.Type = S.self) throws -> TokenBatch<S> {
        try TokenBatch(batch: batch, tokens: tokens, channels: channels, values: dy.map { S($0) }, padMask: padMask)
    }

    /// Builds a case from raw draws: sizes (clamped to 1…2, 1…4, 1…5), a scale index
    /// (1e-3, 1, 1e3), a common shift, standard-normal-like values, a padding pattern (the last
    /// real token is always kept; all-but-one padded when `padAllButOne`), and an ε index
    /// (1e-5, 1e-3, 1e-8). Property tests shrink the raw draws towards one token, one channel.
    public static func build(
        batch: Int, tokens: Int, channels: Int, scaleIndex: Int, shift: Double,
        values: [Double], gradients: [Double], pad: [Bool]?, padAllButOne: Bool, epsIndex: Int
    ) -> LayerCase {
        let b = max(1, min(2, batch))
        let n = max(1, min(4, tokens))
        let c = max(1, min(5, channels))
        let count = b * n * c
        let scale = [1e-3, 1, 1e3][abs(scaleIndex) % 3]
        let x = (0..<count).map { scale * (values[$0 % values.count] + shift) }
        let dy = (0..<count).map { gradients[$0 % gradients.count] }
        var mask: [Bool]?
        if let p = pad, b * n > 1 {
            var m = (0..<(b * n)).map { padAllButOne ? true : p[$0 % p.count] }
            m[(b * n) / 2] = false
            mask = m
        }
        return LayerCase(
            batch: b, tokens: n, channels: c, x: x, dy: dy, padMask: mask, eps: [1e-5, 1e-3, 1e-8][abs(epsIndex) % 3])
    }

    public static func random(_ rng: inout ClaimRandom, padded: Bool? = nil) -> LayerCase {
        let pad = padded ?? Bool.random(using: &rng)
        return build(
            batch: Int.random(in: 1...2, using: &rng), tokens: Int.random(in: 1...4, using: &rng),
            channels: Int.random(in: 1...5, using: &rng), scaleIndex: Int.random(in: 0..<3, using: &rng),
            shift: Bool.random(using: &rng) ? 0 : rng.normal(),
            values: (0..<40).map { _ in rng.normal() }, gradients: (0..<40).map { _ in rng.normal() },
            pad: pad ? (0..<8).map { _ in Bool.random(using: &rng) } : nil,
            padAllButOne: Bool.random(using: &rng), epsIndex: Int.random(in: 0..<3, using: &rng))
    }
}

/// The layers the gradient claims quantify over, in their exact-gradient configurations.
public enum ExactLayer: String, CaseIterable, Sendable {
    case layerNorm = "LayerNorm"
    case batchNorm = "BatchNorm"
    case rmsNorm = "RMSNorm"
    case unWindow1 = "UN (paper, exact, window 1)"
    case unCalibratedWindow1 = "UN (paper, calibrated, window 1)"

    /// The hand backward and the numerical gradient of `x ↦ ⟨dy, forward(x)⟩` at the case.
    func gradients(_ c: LayerCase, checker: GradientChecker) throws -> CheckResult {
        switch self {
        case .layerNorm: return try check(LayerNorm<Double>(channels: c.channels, eps: c.eps), c, checker)
        case .batchNorm: return try check(BatchNorm<Double>(channels: c.channels, eps: c.eps), c, checker)
        case .rmsNorm: return try check(RMSNorm<Double>(channels: c.channels, eps: c.eps), c, checker)
        case .unWindow1, .unCalibratedWindow1:
            let cfg = UnifiedNormConfiguration(
                channels: c.channels, forwardWindow: 1, warmupIters: 0, eps: c.eps, momentum: 0.9)
            return try check(
                UnifiedNorm<Double>(configuration: cfg, mode: .paper(self == .unWindow1 ? .exact : .calibrated)), c,
                checker)
        }
    }

    func check<L: NormalizationLayer>(_ layer: L, _ c: LayerCase, _ checker: GradientChecker) throws -> CheckResult
    where L.Scalar == Double {
        let x: TokenBatch<Double> = try c.input()
        let dy: TokenBatch<Double> = try c.gradient()
        var l = layer
        let (y, cache) = try l.forwardTraining(x)
        let g = try l.backward(dy, cache: cache)
        return try checker.checkGradient(
            of: { v in
                var copy = layer
                let y = try copy.forwardTraining(x.with(values: v)).output
                return zip(y.values, dy.values).reduce(0.0) { $0 + $1.0 * $1.1 }
            }, at: x.values, gradient: g.input.values,
            termMagnitudes: termMagnitudes(x, dy: dy, z: y.values, eps: c.eps))
    }

    /// `(|G_i| + mean|G| + |z_i| mean|G z| + zShift·(…))/s` over the normalization group of each
    /// entry (per token for LayerNorm and RMSNorm, per channel over the real rows otherwise),
    /// plus the shift of every centred value by the mean's rounding (`mean|x|/s`).
    func termMagnitudes(_ x: TokenBatch<Double>, dy: TokenBatch<Double>, z: [Double], eps: Double) -> [Double] {
        let ch = x.channels
        let perToken = self == .layerNorm || self == .rmsNorm
        let centered = self == .layerNorm || self == .batchNorm
        let groups: [[Int]] =
            perToken
            ? (0..<x.rows).map { r in (0..<ch).map { r * ch + $0 } }
            : (0..<ch).map { j in (0..<x.rows).map { $0 * ch + j } }
        var out = [Double](repeating: 0, count: x.values.count)
        for idx in groups {
            let stat = perToken ? idx : idx.filter { x.isReal(row: $0 / ch) }
            let n = Double(stat.count)
            let mu = centered ? stat.reduce(0.0) { $0 + x.values[$1] } / n : 0
            let v = stat.reduce(0.0) { $0 + (x.values[$1] - mu) * (x.values[$1] - mu) } / n
            let s = (v + eps).squareRoot()
            let mg = idx.reduce(0.0) { $0 + abs(dy.values[$1]) } / n
            let mgz = idx.reduce(0.0) { $0 + abs(dy.values[$1] * z[$1]) } / n
            let shift = centered ? stat.reduce(0.0) { $0 + abs(x.values[$1]) } / n / s : 0
            for i in idx {
                out[i] = (abs(dy.values[i]) + mg + abs(z[i]) * mgz + shift * (mgz + abs(z[i]) * mg)) / s
            }
        }
        return out
    }
}
