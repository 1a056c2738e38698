import GradientCheck
import Testing
import UnifiedNormalization

@testable import UNClaims

/// Claim N1 through the catalogue's own generator (the report runs the same definition on more
/// cases), and the issue's pinned examples with their right values.
@Suite("Claim N1: scale invariance across the exponent range")
struct ScaleInvarianceClaimTests {
    /// 600 generated cases (seed printed on failure), every layer and both precisions, a quarter of
    /// the exponents at the edges of the representable range.
    @Test func holdsOnGeneratedCases() {
        let seed: UInt64 = 0x5CA1E
        let run = ScaleInvarianceClaims.n1.run(cases: 600, seed: seed)
        #expect(run.failures == 0 && run.undecided == 0, "seed \(seed): \(run.counterexample ?? "") \(run)")
        #expect(run.smallestMargin >= 0, "seed \(seed): \(run.smallestMarginCheck) at \(run.smallestMarginInput)")
    }

    /// The generator reaches both ends of the range in both precisions, for every layer.
    @Test func generatorReachesTheEdges() {
        var rng = ClaimRandom(seed: 7)
        var seen = Set<String>()
        for _ in 0..<2000 {
            let c = ScaleInvarianceClaims.ScaleCase.random(&rng)
            let big = c.input.map(abs).max()!
            let limit = c.precision == .float ? Double(Float.greatestFiniteMagnitude) : .greatestFiniteMagnitude
            let tiny = c.precision == .float ? Double(Float.leastNormalMagnitude) : .leastNormalMagnitude
            if big > limit / 64 { seen.insert("\(c.layer) \(c.precision) high") }
            if c.input.map(abs).min()! < 64 * tiny { seen.insert("\(c.layer) \(c.precision) low") }
        }
        #expect(seen.count == 16, "\(seen.sorted())")
    }

    /// The issue's example: LayerNorm<Float> on [1e30, −2e30, 3e30, −0.5e30] returned zeros; the
    /// right output (mpmath, 30 digits: (x − μ)/sqrt(σ² + 1e-5)) is [0.3379, −1.2839, 1.4190, −0.4730].
    @Test func pinnedLayerNormFloatAt1e30() throws {
        let c = ScaleInvarianceClaims.ScaleCase(
            layer: .layerNorm, precision: .float, tokens: 1, channels: 4, base: [1, -2, 3, -0.5],
            multiplier: 1e30 / 0x1p99,
            exponent: 99)
        let o = try ScaleInvarianceClaims.check(c)
        #expect(o.holds, "\(o.checks)")
        let y = try ScaleInvarianceClaims.output(c, Float.self)
        let want = [0.3379, -1.2839, 1.4190, -0.4730]
        #expect(zip(y, want).allSatisfy { abs($0 - $1) < 5e-5 }, "\(y)")
    }

    /// A BN channel whose variance (≈ 9e38) is beyond Float: a typed error is the claim's answer.
    @Test func storedVarianceBeyondTheRangeIsATypedError() throws {
        let c = ScaleInvarianceClaims.ScaleCase(
            layer: .batchNorm, precision: .float, tokens: 4, channels: 1, base: [1, -1, 1, -1], multiplier: 1.5,
            exponent: 64)
        let o = try ScaleInvarianceClaims.check(c)
        #expect(o.holds && o.checks[0].name.hasPrefix("typed error"), "\(o.checks)")
    }
}
