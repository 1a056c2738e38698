import Testing

@testable import UnifiedNormalization

#if canImport(Glibc)
import Glibc
#endif

/// Tokenwise layers (LayerNorm, RMSNorm) across the whole exponent range: `LN_ε(2^j x)` is
/// `LN_{ε·2^{−2j}}(x)` exactly in real arithmetic, and its backward is `2^{−j}` times that of
/// `x`; both are compared with a Double reference computed on `x` with the rescaled ε.
@Suite("Tokenwise layers across the exponent range")
struct ExponentRangeTests {
    /// The example: a Float token of size 1e30 (its sum of squares overflows Float).
    @Test func layerNormFloatAt1e30() throws {
        var ln = try LayerNorm<Float>(channels: 4)
        let x = try TokenBatch<Float>(tokens: 1, channels: 4, values: [1e30, -2e30, 3e30, -0.5e30])
        let y = try ln.forwardTraining(x).output.values
        let want: [Float] = [0.3379, -1.2839, 1.4190, -0.4730]
        #expect(zip(y, want).allSatisfy { abs($0 - $1) < 1e-4 }, "\(y)")
    }

    /// Reference in Double: z = (b − μ)/sqrt(var_b + ε') and dx = (G − mean G − z mean(Gz))/s,
    /// with ε' = ε·2^{−2j}; then the output scale 2^{−j} for dx.
    static func reference(_ b: [Double], _ gz: [Double], eps: Double, j: Int, centered: Bool) -> (
        z: [Double], dx: [Double]
    ) {
        let n = Double(b.count)
        let mu = centered ? b.reduce(0, +) / n : 0
        let v = b.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / n
        let epsScaled = scalbn(eps, Int32(-2 * j))
        let s = (v + epsScaled).squareRoot()
        let z = b.map { ($0 - mu) / s }
        let mg = centered ? gz.reduce(0, +) / n : 0
        let mgz = zip(gz, z).reduce(0.0) { $0 + $1.0 * $1.1 } / n
        return (z, gz.indices.map { scalbn((gz[$0] - mg - z[$0] * mgz) / s, Int32(-j)) })
    }

    /// Generated: 16-channel tokens `x = b·2^j` for j every 7 steps over the whole exponent range
    /// of the precision (b ~ N(0, 1), so x stays representable), both layers, both precisions.
    /// Bound per entry: each output is a length-16 sum (mean, variance, mean(Gz): γ₁₆ ≈ 16u
    /// each), a square root, a division and an exact power-of-two scaling, in the layer's
    /// precision, against a Double reference: `(4·16 + 16)·u·max(1, |value|)` for z, and for dx
    /// the same relative to `max|dx|` (the backward's terms are of that size).
    @Test(arguments: ["Float", "Double"]) func scaleInvariance(precision: String) throws {
        if precision == "Float" {
            try run(Float.self, range: -120...120)
        } else {
            try run(Double.self, range: -1000...1000)
        }
    }

    func run<S: NormScalar>(_: S.Type, range: ClosedRange<Int>) throws {
        var seed: UInt64 = 0x1234
        func normal() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u1 = Double(seed >> 11) / Double(1 << 53) + 1e-18
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u2 = Double(seed >> 11) / Double(1 << 53)
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        let u = Double(S.ulpOfOne) / 2
        var tried = 0
        for j in stride(from: range.lowerBound, through: range.upperBound, by: 7) {
            let b = (0..<16).map { _ in Double(S(normal())) }
            let g = (0..<16).map { _ in Double(S(normal())) }
            let x = b.map { S(scalbn($0, Int32(j))) }
            guard x.allSatisfy({ $0.isFinite && abs($0) >= S.leastNormalMagnitude }) else { continue }
            let bx = x.map { scalbn(Double($0), Int32(-j)) }
            for centered in [true, false] {
                let eps: S = 1e-5
                var ln = try LayerNorm<S>(channels: 16, eps: eps)
                var rms = try RMSNorm<S>(channels: 16, eps: eps)
                let input = try TokenBatch<S>(tokens: 1, channels: 16, values: x)
                let dy = try TokenBatch<S>(tokens: 1, channels: 16, values: g.map { S($0) })
                let out: TokenBatch<S>
                let dx: [S]
                if centered {
                    let r = try ln.forwardTraining(input)
                    out = r.output
                    dx = try ln.backward(dy, cache: r.cache).input.values
                } else {
                    let r = try rms.forwardTraining(input)
                    out = r.output
                    dx = try rms.backward(dy, cache: r.cache).input.values
                }
                let ref = Self.reference(bx, g, eps: Double(eps), j: j, centered: centered)
                let zb = 80 * u
                for k in 0..<16 {
                    let bz = zb * max(1, abs(ref.z[k]))
                    #expect(
                        abs(Double(out.values[k]) - ref.z[k]) <= bz, "\(S.self) j=\(j) centered=\(centered) z[\(k)]")
                }
                let dmax = ref.dx.map(abs).max() ?? 0
                if dmax.isFinite && dmax > Double(S.leastNormalMagnitude) / u
                    && dmax < Double(S.greatestFiniteMagnitude)
                {
                    for k in 0..<16 {
                        #expect(
                            abs(Double(dx[k]) - ref.dx[k]) <= zb * dmax,
                            "\(S.self) j=\(j) centered=\(centered) dx[\(k)]")
                    }
                }
                tried += 1
            }
        }
        #expect(tried >= 60)
    }
}
