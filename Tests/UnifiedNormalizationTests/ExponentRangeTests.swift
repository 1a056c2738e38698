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

/// The layers with statistics over tokens (BatchNorm, UN) across the exponent range: their
/// per-channel sums must not overflow where the statistic itself is representable, a statistic
/// that is not representable is a typed error with the state unchanged, and a running statistic
/// is never infinite.
@Suite("Token-statistics layers across the exponent range")
struct TokenStatisticsRangeTests {
    /// Generated: `T × C` batches `x = b·2^j`, `b` uniform in (−3, 3), for `j` every 5 steps
    /// across the range where `x` and its variance are representable; BatchNorm's `z` and UN's
    /// `σ²` against a Double (Float80 where available) reference on `b` with `ε·2^{−2j}`.
    /// Bound: sums of `T ≤ 12` terms in Double for Float (`γ_T` in Double, then one rounding to
    /// Float) and in Double for Double: `(2T + 8)·u` relative for `σ²`; `z` adds the square root
    /// and the division: `(2T + 12)·u·max(1, |z|)`, with a factor 4 for the second-order terms.
    func run<S: NormScalar>(_: S.Type, range: ClosedRange<Int>) throws {
        var seed: UInt64 = 0x5151
        func uniform() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53) * 6 - 3
        }
        let u = Double(S.ulpOfOne) / 2
        var tried = 0
        for j in stride(from: range.lowerBound, through: range.upperBound, by: 5) {
            let (t, c) = (Int(uniform() + 3) * 2 + 1, 9)
            let b = (0..<(t * c)).map { _ in Double(S(uniform())) }
            let x = b.map { S(Double(sign: .plus, exponent: j, significand: $0)) }
            guard x.allSatisfy({ $0.isFinite && ($0 == 0 || abs($0) >= S.leastNormalMagnitude) }) else { continue }
            let input = try TokenBatch<S>(batch: 1, tokens: t, channels: c, values: x)
            var bn = try BatchNorm<S>(channels: c, eps: 1e-5)
            var un = try UnifiedNorm<S>(
                configuration: .init(channels: c, warmupIters: 0), mode: .paper(.calibrated))
            // Where a channel's variance or mean square is beyond the type's range, a typed error.
            let maxVar = (0..<c).map { k -> Double in
                let col = (0..<t).map { b[$0 * c + k] }
                let mu = col.reduce(0, +) / Double(t)
                let v = col.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(t)
                return max(v, col.reduce(0.0) { $0 + $1 * $1 } / Double(t)) * pow(2.0, Double(2 * j))
            }.max()!
            if maxVar > Double(S.greatestFiniteMagnitude) * 0.99 {
                if maxVar > Double(S.greatestFiniteMagnitude) * 1.01 {
                    #expect(throws: NormalizationError.self, "\(S.self) j=\(j)") {
                        _ = try bn.forwardTraining(input)
                        _ = try un.forwardTraining(input)
                    }
                }
                continue
            }
            let z = try bn.forwardTraining(input).output.values
            _ = try un.forwardTraining(input)
            #expect(
                bn.runningVar.allSatisfy { $0.isFinite } && bn.runningMean.allSatisfy { $0.isFinite },
                "\(S.self) j=\(j)")
            let epsScaled = 1e-5 * pow(2.0, Double(-2 * j))
            for k in 0..<c {
                let col = (0..<t).map { b[$0 * c + k] }
                let mu = col.reduce(0, +) / Double(t)
                let v = col.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(t)
                let s = (v + epsScaled).squareRoot()
                for r in 0..<t {
                    let want = (col[r] - mu) / s
                    let tol = 4 * Double(2 * t + 12) * u * max(1, abs(want))
                    #expect(abs(Double(z[r * c + k]) - want) <= tol, "\(S.self) j=\(j) BN z[\(r),\(k)]")
                }
            }
            tried += 1
        }
        #expect(tried >= range.count / 5 / 2, "\(tried) exponents tried")
    }

    /// Up to 2^63: there `Σ x²` over 12 tokens exceeds Float's range while the variance does not.
    @Test func batchNormAndUNFloat() throws { try run(Float.self, range: -122...63) }
    @Test func batchNormAndUNDouble() throws { try run(Double.self, range: -500...500) }

    /// Float channels of size 1e19 over 4 tokens: `Σ x² = 4e38` overflows Float, the mean square
    /// (1e38) does not; both layers must return it. At 3e19 the variance (≈ 9e38) is beyond Float:
    /// a typed error, and the running statistics keep their previous, finite values.
    @Test func floatStatisticsNearTheOverflowThreshold() throws {
        let ok = try TokenBatch<Float>(batch: 1, tokens: 4, channels: 1, values: [1e19, -1e19, 1e19, -1e19])
        var un = try UnifiedNorm<Float>(configuration: .init(channels: 1, warmupIters: 0), mode: .referenceCompatible)
        let r = try un.forwardTraining(ok)
        #expect(r.output.values.map { ($0 * 1e4).rounded() / 1e4 } == [1, -1, 1, -1])
        var bn = try BatchNorm<Float>(channels: 1)
        let z = try bn.forwardTraining(ok).output.values
        #expect(z.map { ($0 * 1e4).rounded() / 1e4 } == [1, -1, 1, -1])
        #expect(bn.runningVar.allSatisfy { $0.isFinite })
        let before = bn.runningVar
        let huge = try TokenBatch<Float>(batch: 1, tokens: 4, channels: 1, values: [3e19, -3e19, 3e19, -3e19])
        #expect(throws: NormalizationError.self) { try bn.forwardTraining(huge) }
        #expect(bn.runningVar == before)
        #expect(throws: NormalizationError.self) { try un.forwardTraining(huge) }
    }
}
