import Foundation
import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The second probe campaign's findings in the layers (issue 10, kinds 1, 2 and 6): each example
/// with its right value (mpmath, 50 digits, by the commands in the comments) or typed error, and
/// generated tests for the kind.
@Suite("Layers: probe campaign (range-safe statistics and gradients, bounded sizes)")
struct LayerProbeCampaignTests {
    static let x6: [Double] = [1, 2, -1, 3, 0.5, -2]

    /// Were traps: `Array(repeating:count: Int.max)`, `inputs * outputs` overflowing, the
    /// iteration counter overflowing after `setState(iters: Int.max)`.
    @Test func hugeSizesAreTypedErrors() throws {
        #expect(throws: NormalizationError.self) { _ = try LayerNorm<Double>(channels: .max) }
        #expect(throws: NormalizationError.self) { _ = try RMSNorm<Double>(channels: .max) }
        #expect(throws: NormalizationError.self) { _ = try BatchNorm<Double>(channels: .max) }
        #expect(throws: NormalizationError.self) { _ = try PowerNorm<Double>(channels: .max) }
        #expect(throws: NormalizationError.self) { _ = try LayerNorm<Float>(channels: 1 << 40) }
        #expect(throws: NormalizationError.self) {
            _ = try LinearLayer<Double>(inputs: .max, outputs: 2, weight: [], bias: [0, 0])
        }
        #expect(throws: NormalizationError.self) {
            _ = try LinearLayer<Double>(inputs: 1 << 32, outputs: 1 << 32, weight: [], bias: [])
        }
        var u = try UnifiedNorm<Double>(configuration: .init(channels: 1), mode: .paper(.exact))
        #expect(throws: NormalizationError.self) {
            try u.setState(runningVar: [1], emaGz: [0], bufferX2: u.bufferX2, bufferGz: u.bufferGz, iters: .max)
        }
    }

    /// Were spurious errors or zeros: statistics that are representable although their sums are not.
    /// Right values: y = x/sqrt(mean x² + ε) (and (x − μ)/sqrt(σ² + ε) for BN), by hand.
    @Test func representableStatisticsAreComputed() throws {
        var un = try UnifiedNorm<Double>(configuration: .init(channels: 1), mode: .paper(.exact))
        let y = try un.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [1.3e154, 1.3e154])).output.values
        #expect(y.allSatisfy { abs($0 - 1) < 1e-15 }, "\(y)")
        var bn = try BatchNorm<Double>(channels: 1)
        let yb = try bn.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [1.3e154, -1.3e154])).output.values
        #expect(abs(yb[0] - 1) < 1e-15 && abs(yb[1] + 1) < 1e-15, "\(yb)")
        // PowerNorm without group scaling returned zeros where Σx² overflows but the mean square
        // (1.69e308) does not: y = x/sqrt(mean x² + ε) = [1, 1].
        var pn = try PowerNorm<Double>(channels: 1, groups: 0)
        let yp = try pn.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [1.3e154, 1.3e154])).output.values
        #expect(yp.allSatisfy { abs($0 - 1) < 1e-15 }, "\(yp)")
        // At 1e160 the mean square itself (2.5e320) is beyond Double: a typed error, never zeros.
        var p2 = try PowerNorm<Double>(channels: 1, groups: 0)
        #expect(throws: NormalizationError.self) {
            _ = try p2.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [1e160, -2e160]))
        }
        // In Float the mean square 2.5e40 cannot be stored: a typed error, not zeros.
        var pf = try PowerNorm<Float>(channels: 1, groups: 0)
        #expect(throws: NormalizationError.self) {
            _ = try pf.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [1e20, -2e20]))
        }
    }

    /// A BatchNorm channel whose variance is subnormal: the scale is formed from the unrounded
    /// variance. mpmath: x = [1e-160, −1e-160, 5e-161] per channel 0, ε = 5e-324:
    /// (1e-160 − μ)/sqrt(σ² + ε) = 0.98024544451... (`mp.mpf` of the Double inputs).
    @Test func subnormalBatchVarianceIsAccurate() throws {
        let x: [Double] = [1e-160, 2e-160, -1e-160, 3e-160, 5e-161, -2e-160]
        var bn = try BatchNorm<Double>(channels: 2, eps: .leastNonzeroMagnitude)
        let y = try bn.forwardTraining(TokenBatch(tokens: 3, channels: 2, values: x)).output.values
        #expect(abs(y[0] - 0.9802454445) < 1e-9, "\(y[0])")
    }

    /// The kind in the backward: gradients whose sums overflow although every true entry
    /// is finite. mpmath (x = [1, 2, −1, 3, 0.5, −2], 3 tokens × 2 channels, ε = 1e-5, BatchNorm):
    /// ∂L/∂X = [1.086e308, −5.511e307, 3.621e307, 4.409e307, −1.448e308, 1.102e307].
    @Test func batchNormBackwardAtTheEdgeOfTheRange() throws {
        var bn = try BatchNorm<Double>(channels: 2)
        let (_, c) = try bn.forwardTraining(TokenBatch(tokens: 3, channels: 2, values: Self.x6))
        let dy: [Double] = [1e308, -1e308, 1e308, 1e308, -1e308, 1e308]
        let g = try bn.backward(TokenBatch(tokens: 3, channels: 2, values: dy), cache: c).input.values
        let want = [1.086e308, -5.511e307, 3.621e307, 4.409e307, -1.448e308, 1.102e307]
        #expect(zip(g, want).allSatisfy { abs($0 - $1) <= 1e-3 * abs($1) }, "\(g)")
    }

    /// Generated: every backward is linear in ∂L/∂Y, so at ∂L/∂Y·2^k it must give the gradients
    /// at ∂L/∂Y times 2^k, exactly (powers of two), for every k where they are representable, and
    /// a typed error beyond; all five layers (UN in its three modes), Float and Double, k across the
    /// exponent range: 8 layers × 2 precisions × 12 seeds × ~40 exponents.
    @Test func backwardIsHomogeneousAcrossTheExponentRange() throws {
        for seed in 0..<12 {
            try homogeneity(Double.self, seed: UInt64(seed))
            try homogeneity(Float.self, seed: UInt64(seed))
        }
    }

    func homogeneity<S: NormScalar>(_: S.Type, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)  // SplitMix64, seeded: every case reproducible
        let (t, c) = (3, 2)
        let x = (0..<(t * c)).map { _ in S(Double.random(in: -3...3, using: &rng)) }
        let dy = (0..<(t * c)).map { _ in S(Double.random(in: -1...1, using: &rng)) }
        let batch = try TokenBatch(tokens: t, channels: c, values: x)
        func layers() throws -> [any NormalizationLayer] {
            let cfg = UnifiedNormConfiguration(channels: c, forwardWindow: 2, warmupIters: 1)
            return [
                try LayerNorm<S>(channels: c), try RMSNorm<S>(channels: c), try BatchNorm<S>(channels: c),
                try PowerNorm<S>(channels: c), try PowerNorm<S>(channels: c, groups: 0),
                try UnifiedNorm<S>(configuration: cfg, mode: .referenceCompatible),
                try UnifiedNorm<S>(configuration: cfg, mode: .paper(.exact)),
                try UnifiedNorm<S>(configuration: cfg, mode: .paper(.calibrated)),
            ]
        }
        let limit = S.greatestFiniteMagnitude.exponent
        for (i, _) in try layers().enumerated() {
            let base = try gradient(try layers()[i], batch, dy)
            for k in stride(from: -Int(limit) + 8, through: Int(limit) + 4, by: max(Int(limit) / 20, 1)) {
                let f =
                    S(sign: .plus, exponent: S.Exponent(k / 2), significand: 1)
                    * S(sign: .plus, exponent: S.Exponent(k - k / 2), significand: 1)
                let scaled = dy.map { $0 * f }
                let want = base.map { Double($0) * Double(f) }
                let representable = want.allSatisfy { abs($0) <= Double(S.greatestFiniteMagnitude) }
                // Entries below the smallest normal lose bits to underflow; compare normwise.
                let norm = want.map(abs).max() ?? 0
                guard norm >= Double(S.leastNormalMagnitude) * 1e6 else { continue }
                do {
                    let got = try gradient(try layers()[i], batch, scaled)
                    let err = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
                    #expect(representable, "layer \(i), \(S.self), k = \(k): a result beyond the range, not an error")
                    #expect(
                        err <= norm * 1e-6, "layer \(i), \(S.self), k = \(k), seed \(seed): error \(err) of \(norm)")
                } catch is NormalizationError {
                    // A typed error is right only where some true entry is (nearly) beyond the range.
                    let near = want.contains { abs($0) > Double(S.greatestFiniteMagnitude) / 64 }
                    #expect(near, "layer \(i), \(S.self), k = \(k), seed \(seed): typed error but all representable")
                }
            }
        }
    }

    func gradient<S: NormScalar>(_ layer: any NormalizationLayer, _ x: TokenBatch<S>, _ dy: [S]) throws -> [S] {
        func run<L: NormalizationLayer>(_ l: L) throws -> [S] {
            var l = l
            let xb = x as! TokenBatch<L.Scalar>
            let (_, cache) = try l.forwardTraining(xb)
            let g = try l.backward(xb.withUnchecked(values: dy as! [L.Scalar]), cache: cache)
            return (g.input.values + g.weight + g.bias) as! [S]
        }
        return try run(layer)
    }
}
