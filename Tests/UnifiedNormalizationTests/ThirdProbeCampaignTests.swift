import Foundation
import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The third probe campaign's findings in the layers (issue 10): each example with its right value
/// (mpmath at 50 digits, or the layer's formula worked by hand, as each comment says) or typed error,
/// and generated tests per kind: results against the same layer in Double where Float's range is
/// the only difference, decisions invariant under powers of two, foreign caches rejected.
@Suite("Layers: third probe campaign (range-safe backward and outputs, foreign caches, ε in range)")
struct ThirdProbeCampaignTests {
    func backward<L: NormalizationLayer>(_ layer: inout L, _ x: TokenBatch<L.Scalar>, _ dy: [L.Scalar]) throws
        -> NormGradients<L.Scalar>
    {
        let (_, cache) = try layer.forwardTraining(x)
        return try layer.backward(x.withUnchecked(values: dy), cache: cache)
    }

    /// Were traps (`Int(∞.exponent)` in the careful backward): γ·∂L/∂Y overflows where ∂L/∂X does not.
    /// z = ±1, G = γ⊙dy = [1e50, 0]: LN dx = (G − mean G − z·mean(G⊙z))/s = 0 up to ε's effect
    /// (5e-46, below Float's subnormals), RMS dx = (G − z·mean(G⊙z))/s = [5e19, 5e19]; gw = gb = [1e20, 0].
    @Test func tokenwiseBackwardWithOverflowingProducts() throws {
        let x = try TokenBatch<Float>(tokens: 1, channels: 2, values: [1e30, -1e30])
        var ln = try LayerNorm<Float>(channels: 2, weight: [1e30, 1e30])
        let g = try backward(&ln, x, [1e20, 0])
        #expect(g.input.values.allSatisfy { abs($0) <= 1e-38 }, "\(g.input.values)")
        #expect(g.weight == [1e20, 0] && g.bias == [1e20, 0], "\(g.weight) \(g.bias)")
        var rms = try RMSNorm<Float>(channels: 2, weight: [1e30, 1e30])
        let r = try backward(&rms, x, [1e20, 0])
        #expect(r.input.values.allSatisfy { abs($0 / 5e19 - 1) < 1e-6 }, "\(r.input.values)")
        // Double: G = 1e400 is beyond the range, dx = 5e99 is not.
        let xd = try TokenBatch<Double>(tokens: 1, channels: 2, values: [1e300, -1e300])
        var rd = try RMSNorm<Double>(channels: 2, weight: [1e300, 1e300])
        let gd = try backward(&rd, xd, [1e100, 0])
        #expect(gd.input.values.allSatisfy { abs($0 / 5e99 - 1) < 1e-14 }, "\(gd.input.values)")
    }

    /// Were heap corruption (UN), an index trap (PowerNorm) and silent garbage (BN): a cache of one
    /// shape given to a layer of another channel count, with a gradient of the cache's shape.
    @Test func foreignCachesAreRejected() throws {
        let small = try TokenBatch<Float>(tokens: 2, channels: 2, values: [1, 2, 3, 4])
        let wide = try TokenBatch<Float>(tokens: 1, channels: 4, values: [1, 2, 3, 4])
        for mode in [UnifiedNormMode.referenceCompatible, .paper(.exact), .paper(.calibrated)] {
            var a = try UnifiedNorm<Float>(configuration: .init(channels: 2), mode: mode)
            var b = try UnifiedNorm<Float>(configuration: .init(channels: 4), mode: mode)
            let (_, c) = try a.forwardTraining(small)
            _ = try b.forwardTraining(wide)
            #expect(throws: NormalizationError.self) { _ = try b.backward(small, cache: c) }
        }
        var p2 = try PowerNorm<Float>(channels: 2, groups: 0)
        var p4 = try PowerNorm<Float>(channels: 4, groups: 0)
        let (_, pc) = try p2.forwardTraining(small)
        #expect(throws: NormalizationError.self) { _ = try p4.backward(small, cache: pc) }
        var b2 = try BatchNorm<Float>(channels: 2)
        var b4 = try BatchNorm<Float>(channels: 4)
        let (_, bc) = try b2.forwardTraining(small)
        #expect(throws: NormalizationError.self) { _ = try b4.backward(small, cache: bc) }
    }

    /// Was an overflow trap after `setState(skipCounter: Int.max)`: bounded like `iters`.
    @Test func skipCounterIsBounded() throws {
        var u = try UnifiedNorm<Float>(
            configuration: .init(channels: 1, forwardWindow: 3, warmupIters: 0, outlierFiltration: true),
            mode: .referenceCompatible)
        #expect(throws: NormalizationError.self) {
            try u.setState(
                runningVar: [1], emaGz: [0], bufferX2: [1e-30, 1e-30, 1e30], bufferGz: [0, 0, 0], iters: 100,
                skipCounter: .max)
        }
    }

    /// Were zeros: a channel whose entries are below 1e-157 (ε·2^{−2e} overflowed in the rescaled
    /// branch). y = x/√(v + ε), v the (subnormal) variance: by hand, 1e-160/√(1e-320 + 1e-5); the
    /// probe's 1e-310 as the subnormal 2⁻¹⁰³⁰ (the same path, written exactly).
    @Test func tinyChannelsAreNormalized() throws {
        for (v, want) in [(1e-160, 3.1622776601683794e-158), (0x1p-1030, 0x1p-1030 / (1e-5).squareRoot())] {
            let x = try TokenBatch<Double>(tokens: 2, channels: 1, values: [v, -v])
            var bn = try BatchNorm<Double>(channels: 1)
            let y = try bn.forwardTraining(x).output.values
            #expect(abs(y[0] / want - 1) < 1e-14 && abs(y[1] / -want - 1) < 1e-14, "\(v): \(y)")
            var pn = try PowerNorm<Double>(channels: 1, groups: 0)
            let yp = try pn.forwardTraining(x).output.values
            #expect(abs(yp[0] / want - 1) < 1e-14, "PowerNorm \(v): \(yp)")
        }
        // Padded: real rows 1e-200 (variance 0), a padded row 1, ∂L/∂Y = 1. y = [0, 0, 1/√ε];
        // dx (real) = (1 − (3 + 0)/2)/√ε = −158.113883…, dx (padded) = 1/√ε = 316.227766….
        let x = try TokenBatch<Double>(
            tokens: 3, channels: 1, values: [1e-200, 1e-200, 1], padMask: [false, false, true])
        var bn = try BatchNorm<Double>(channels: 1)
        let (out, cache) = try bn.forwardTraining(x)
        let s = (1e-5).squareRoot()
        #expect(out.values[0] == 0 && out.values[1] == 0 && abs(out.values[2] * s - (1 - 1e-200)) < 1e-15)
        let dx = try bn.backward(x.withUnchecked(values: [1, 1, 1]), cache: cache).input.values
        #expect(abs(dx[0] * s + 0.5) < 1e-14 && abs(dx[1] * s + 0.5) < 1e-14 && abs(dx[2] * s - 1) < 1e-14, "\(dx)")
    }

    /// Were zeros (PowerNorm: a/s overflowed before the group backward brought it back) and ±∞ (UN
    /// paper exact: g_σ·σ̂² overflowed before the division). Right values: mpmath on the authors'
    /// formulas (probe), and the same layer in Double (no overflow there) within Float's rounding.
    @Test func backwardIntermediatesDoNotOverflow() throws {
        let xf = try TokenBatch<Float>(tokens: 1, channels: 2, values: [1e30, 1e-10])
        let xd = try TokenBatch<Double>(tokens: 1, channels: 2, values: [1e30, Double(Float(1e-10))])
        for (dy, want) in [([Float(0), 2e36], [-8.944e-32, 8.9442715e8]), ([0, 1e37], [-4.472e-31, 4.4721359e9])] {
            var pf = try PowerNorm<Float>(channels: 2, groups: 1)
            var pd = try PowerNorm<Double>(channels: 2, groups: 1)
            let gf = try backward(&pf, xf, dy).input.values
            let gd = try backward(&pd, xd, dy.map(Double.init)).input.values
            #expect(abs(Double(gf[1]) / want[1] - 1) < 1e-6 && abs(Double(gf[1]) / gd[1] - 1) < 1e-5, "\(gf) \(gd)")
            #expect(abs(Double(gf[0]) / want[0] - 1) < 1e-3, "\(gf)")
        }
        let cfg = UnifiedNormConfiguration(channels: 1, forwardWindow: 2, warmupIters: 0)
        var uf = try UnifiedNorm<Float>(configuration: cfg, mode: .paper(.exact))
        let x = try TokenBatch<Float>(tokens: 2, channels: 1, values: [1e15, -1e15])
        // Step 1 (no smoothing yet): ψ = g_σ, dx = (G − g_σ z)/s = 0 up to ε's effect. From step 2
        // (stationary window): ψ = g_σ·σ̂²/(Mσ²) = g_σ/2, dx = (1e10 − 0.5e10)/1e15 = ±5e-6 (mpmath 5.0000001e-6).
        let first = try backward(&uf, x, [1e10, -1e10]).input.values
        #expect(first.allSatisfy { $0.isFinite && abs($0) < 1e-10 }, "\(first)")
        for _ in 0..<3 {
            let g = try backward(&uf, x, [1e10, -1e10]).input.values
            #expect(g.allSatisfy { $0.isFinite }, "\(g)")
            #expect(abs(g[0] / 5.0000001e-6 - 1) < 1e-6 && abs(g[1] / -5.0000001e-6 - 1) < 1e-6, "\(g)")
        }
    }

    /// Were zeros (and NaN) with a stored ∞: a window of statistics at the largest Float, where
    /// exp(mean log w) rounded to ∞. y = x/√(σ̂² + ε) = 1 (σ̂² = x²), runningVar finite.
    @Test func largestStatisticsAreSmoothed() throws {
        for mode in [UnifiedNormMode.referenceCompatible, .paper(.exact), .paper(.calibrated)] {
            var u = try UnifiedNorm<Float>(
                configuration: .init(channels: 1, forwardWindow: 4, warmupIters: 0), mode: mode)
            let x = try TokenBatch<Float>(tokens: 1, channels: 1, values: [1.8446743e19])
            for step in 0..<8 {
                let (y, c) = try u.forwardTraining(x)
                #expect(abs(y.values[0] - 1) < 1e-6, "\(mode) step \(step): \(y.values)")
                let dx = try u.backward(x.withUnchecked(values: [1]), cache: c).input.values
                #expect(dx.allSatisfy { $0.isFinite }, "\(mode) step \(step): \(dx)")
                #expect(u.runningVar.allSatisfy { $0.isFinite }, "\(mode) step \(step): \(u.runningVar)")
            }
        }
        // Double at √DBL_MAX: 53 ulps off before; now within a few.
        var ud = try UnifiedNorm<Double>(
            configuration: .init(channels: 1, forwardWindow: 4, warmupIters: 0), mode: .paper(.exact))
        let v = Double.greatestFiniteMagnitude.squareRoot()
        for _ in 0..<6 {
            let y = try ud.forwardTraining(TokenBatch(tokens: 1, channels: 1, values: [v])).output.values[0]
            #expect(abs(y - 1) <= 8 * Double.ulpOfOne, "\(y)")
        }
    }

    /// Was a skip at every step: the filter's window sums overflowed (gap = ∞). Generated: the filter's
    /// decisions on `k·x` equal those on `x` for powers of two `k` across the range, in both precisions.
    @Test func filterDecisionsAreScaleInvariant() throws {
        // The authors' code starts its running variance at 1 and writes it into the window on a skip:
        // that state is scaled with the data (runningVar = k²), so every statistic is homogeneous in k.
        func regimes<S: NormScalar>(_: S.Type, scale: S, mode: UnifiedNormMode) throws -> [UnifiedNormRegime] {
            var u = try UnifiedNorm<S>(
                configuration: .init(channels: 1, forwardWindow: 4, warmupIters: 0, outlierFiltration: true),
                mode: mode)
            try u.setState(
                runningVar: [scale * scale], emaGz: [0], bufferX2: u.bufferX2, bufferGz: u.bufferGz, iters: 0)
            return try (0..<8).map { i in
                let v = scale * (1 + S(i % 2) / 100)
                _ = try u.forwardTraining(TokenBatch(tokens: 2, channels: 1, values: [v, -scale]))
                return u.lastRegime!
            }
        }
        for mode in [UnifiedNormMode.referenceCompatible, .paper(.calibrated)] {
            let base = try regimes(Double.self, scale: 1, mode: mode)
            for e in stride(from: -500, through: 510, by: 30) {
                let k = Double(sign: .plus, exponent: e, significand: 1)
                #expect(try regimes(Double.self, scale: k, mode: mode) == base, "\(mode), 2^\(e)")
            }
            #expect(try regimes(Double.self, scale: 1.2e154, mode: mode) == base, "\(mode), 1.2e154")
            let fbase = try regimes(Float.self, scale: 1, mode: mode)
            for e in stride(from: -60, through: 62, by: 8) {
                let k = Float(sign: .plus, exponent: e, significand: 1)
                #expect(try regimes(Float.self, scale: k, mode: mode) == fbase, "Float \(mode), 2^\(e)")
            }
            #expect(try regimes(Float.self, scale: 1e19, mode: mode) == fbase, "Float \(mode), 1e19")
        }
        #expect(try OutlierFilter.gap([1e308, 1e308, 1e308]).magnitude <= 1e308 * 8 * Double.ulpOfOne)
        #expect(try OutlierFilter.sameWindow([Float](repeating: .greatestFiniteMagnitude, count: 4)).gap.isFinite)
        #expect(
            GeometricMeanWindow.arithmeticMean([Float](repeating: .greatestFiniteMagnitude, count: 4))
                == .greatestFiniteMagnitude)
        #expect(
            try GeometricMeanWindow.geometricMean([Float](repeating: .greatestFiniteMagnitude, count: 4))
                == .greatestFiniteMagnitude)
    }

    /// Were ±∞ returned: results whose true values are beyond the range are typed errors.
    /// LN backward at x = [1, 1]: z = 0, dx = ±1e38/√ε = ±3.2e40; BN ±2e36/√ε·… = ±6.3e38;
    /// forward γ = β = 3e38 on z = ±1: 6e38; Linear 3e38·2 = 6e38.
    @Test func resultsBeyondTheRangeAreTypedErrors() throws {
        let ones = try TokenBatch<Float>(tokens: 1, channels: 2, values: [1, 1])
        var ln = try LayerNorm<Float>(channels: 2)
        #expect(throws: NormalizationError.self) { _ = try backward(&ln, ones, [1e38, -1e38]) }
        let col = try TokenBatch<Float>(tokens: 2, channels: 1, values: [1, 1])
        var bn = try BatchNorm<Float>(channels: 1)
        #expect(throws: NormalizationError.self) { _ = try backward(&bn, col, [2e36, -2e36]) }
        var bnd = try BatchNorm<Double>(channels: 1)
        #expect(throws: NormalizationError.self) {
            _ = try backward(&bnd, TokenBatch(tokens: 2, channels: 1, values: [1, 1]), [1e306, -1e306])
        }
        let zeros = try TokenBatch<Float>(tokens: 2, channels: 1, values: [0, 0])
        var pn = try PowerNorm<Float>(channels: 1, groups: 0)
        #expect(throws: NormalizationError.self) { _ = try backward(&pn, zeros, [2e36, -2e36]) }
        for mode in [UnifiedNormMode.referenceCompatible, .paper(.exact), .paper(.calibrated)] {
            var u = try UnifiedNorm<Float>(configuration: .init(channels: 1), mode: mode)
            #expect(throws: NormalizationError.self, "\(mode)") { _ = try backward(&u, zeros, [2e36, -2e36]) }
        }
        var big = try LayerNorm<Float>(channels: 2, weight: [3e38, 3e38], bias: [3e38, 3e38])
        #expect(throws: NormalizationError.self) {
            _ = try big.forwardTraining(TokenBatch(tokens: 1, channels: 2, values: [1, -1]))
        }
        var ub = try UnifiedNorm<Float>(
            configuration: .init(channels: 1), mode: .referenceCompatible, weight: [3e38], bias: [3e38])
        let one = try TokenBatch<Float>(tokens: 1, channels: 1, values: [1])
        #expect(throws: NormalizationError.self) { _ = try ub.forwardTraining(one) }
        #expect(ub.iters == 0, "a step that threw changed the state")
        #expect(throws: NormalizationError.self) { _ = try ub.forwardInference(one) }
        let lin = try LinearLayer<Float>(inputs: 1, outputs: 1, weight: [3e38], bias: [0])
        #expect(throws: NormalizationError.self) { _ = try lin.apply(TokenBatch(tokens: 1, channels: 1, values: [2])) }
    }

    /// Were ∞ (partial sums overflowing) or a typed error, where the result is representable.
    /// Linear: 3e38 + 3e38 − 3e38 = 3e38. LN, one channel, x = [1, 3, 2]: z = 0, gw = 0, gb = 3e38,
    /// dx = 0. RMS, x = [1, −1, 2]: z = x/√(x² + ε), gw = Σ dy·z, gb = 3e38, dx = dy·ε/(x² + ε)^{3/2}.
    @Test func representableSumsAreComputed() throws {
        let lin = try LinearLayer<Float>(inputs: 3, outputs: 1, weight: [3e38, 3e38, -3e38], bias: [0])
        #expect(try lin.apply(TokenBatch(tokens: 1, channels: 3, values: [1, 1, 1])).values == [3e38])
        let dy: [Float] = [3e38, 3e38, -3e38]
        var ln = try LayerNorm<Float>(channels: 1)
        let g = try backward(&ln, TokenBatch(tokens: 3, channels: 1, values: [1, 3, 2]), dy)
        #expect(g.weight == [0] && g.bias == [3e38] && g.input.values == [0, 0, 0], "\(g)")
        let xs: [Double] = [1, -1, 2]
        var rms = try RMSNorm<Float>(channels: 1)
        let r = try backward(&rms, TokenBatch(tokens: 3, channels: 1, values: xs.map(Float.init)), dy)
        let eps = Double(Float(1e-5))
        let gw = zip(dy, xs).reduce(0.0) { $0 + Double($1.0) * $1.1 / ($1.1 * $1.1 + eps).squareRoot() }
        #expect(abs(Double(r.weight[0]) / gw - 1) < 1e-6 && r.bias == [3e38], "\(r.weight) \(r.bias) vs \(gw)")
        // dx = dy(1 − z²)/s: in Float 1 − z² cancels, z² carrying about 4u of rounding against a
        // difference of ε/(x² + ε), so the relative error is up to 8u(x² + ε)/ε (2.6% at x = 2, measured).
        for i in 0..<3 {
            let want = Double(dy[i]) * eps / Double.pow(xs[i] * xs[i] + eps, 1.5)
            let bound = 8 * Double(Float.ulpOfOne) / 2 * (xs[i] * xs[i] + eps) / eps
            #expect(abs(Double(r.input.values[i]) / want - 1) <= bound, "\(i): \(r.input.values[i]) vs \(want)")
        }
    }

    /// Were zeros: ε up to the largest Float is a valid configuration, and √(v + ε) overflowed.
    /// By hand: UN y = 1.5e19/√(2.25e38 + 3e38) = 0.65465367; BN inference 1e19/√(3e38 + 3e38) = 0.40824829.
    @Test func largeEpsIsHonoured() throws {
        var u = try UnifiedNorm<Float>(configuration: .init(channels: 1, eps: 3e38), mode: .referenceCompatible)
        let y = try u.forwardTraining(TokenBatch(tokens: 1, channels: 1, values: [1.5e19])).output.values[0]
        #expect(abs(y / 0.65465367 - 1) < 1e-6, "\(y)")
        var bn = try BatchNorm<Float>(channels: 1, eps: 3e38)
        try bn.setRunningStatistics(mean: [0], variance: [3e38])
        let yb = try bn.forwardInference(TokenBatch(tokens: 1, channels: 1, values: [1e19])).values[0]
        #expect(abs(yb / 0.40824829 - 1) < 1e-6, "\(yb)")
        // PowerNorm ∂L/∂X = (dy − (1−β)·ema·z)/√(φ + ε) at the first step (ema = 0): 1/√(2.25e38 + 3e38).
        var pn = try PowerNorm<Float>(channels: 1, eps: 3e38, groups: 0)
        let dx = try backward(&pn, TokenBatch(tokens: 1, channels: 1, values: [1.5e19]), [1]).input.values[0]
        #expect(abs(Double(dx) / (1 / (5.25e38).squareRoot()) - 1) < 1e-5, "\(dx)")
    }

    /// Generated (the kind): Float results equal the same layer's Double results, for inputs and
    /// gradients spread over Float's exponent range, wherever every Double result is within Float's
    /// range; elsewhere a typed error. 8 layers × 40 seeds. Tolerance: measured ≤ 1.5e-6 normwise over
    /// these seeds (12 Float ulps: means over ≤ 8 tokens, the window, √, and the backward's differences);
    /// 1e-4 leaves room for the cancellation a backward can show (1 − z² terms), and is still a decision
    /// between right values and the zeros, ∞ and NaN these inputs gave before.
    @Test func floatAgreesWithDoubleAcrossTheRange() throws {
        var rng = SeededGenerator(seed: 0x3B0B)
        for seed in 0..<40 {
            let (t, c) = (4, 2)
            let ex = Int.random(in: -60...60, using: &rng)
            let ed = Int.random(in: -60...60, using: &rng)
            let x = (0..<(t * c)).map { _ in
                Float(Double.random(in: -2...2, using: &rng) * Double(sign: .plus, exponent: ex, significand: 1))
            }
            let dy = (0..<(t * c)).map { _ in
                Float(Double.random(in: -2...2, using: &rng) * Double(sign: .plus, exponent: ed, significand: 1))
            }
            let cfg = UnifiedNormConfiguration(channels: c, forwardWindow: 2, warmupIters: 0)
            let pairs: [(any NormalizationLayer, any NormalizationLayer)] = [
                (try LayerNorm<Float>(channels: c), try LayerNorm<Double>(channels: c)),
                (try RMSNorm<Float>(channels: c), try RMSNorm<Double>(channels: c)),
                (try BatchNorm<Float>(channels: c), try BatchNorm<Double>(channels: c)),
                (try PowerNorm<Float>(channels: c), try PowerNorm<Double>(channels: c)),
                (try PowerNorm<Float>(channels: c, groups: 0), try PowerNorm<Double>(channels: c, groups: 0)),
                (
                    try UnifiedNorm<Float>(configuration: cfg, mode: .referenceCompatible),
                    try UnifiedNorm<Double>(configuration: cfg, mode: .referenceCompatible)
                ),
                (
                    try UnifiedNorm<Float>(configuration: cfg, mode: .paper(.exact)),
                    try UnifiedNorm<Double>(configuration: cfg, mode: .paper(.exact))
                ),
                (
                    try UnifiedNorm<Float>(configuration: cfg, mode: .paper(.calibrated)),
                    try UnifiedNorm<Double>(configuration: cfg, mode: .paper(.calibrated))
                ),
            ]
            for (i, (lf, ld)) in pairs.enumerated() {
                let want = try steps(ld, x.map(Double.init), dy.map(Double.init), t: t, c: c)
                let inRange = want.allSatisfy { abs($0) <= Double(Float.greatestFiniteMagnitude) / 4 }
                let norm = want.map(abs).max() ?? 0
                do {
                    let got = try steps(lf, x, dy, t: t, c: c)
                    let err = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                    #expect(
                        err <= 1e-4 * norm + 1e-30, "layer \(i), seed \(seed) (2^\(ex), 2^\(ed)): \(err) of \(norm)")
                } catch is NormalizationError {
                    #expect(!inRange, "layer \(i), seed \(seed) (2^\(ex), 2^\(ed)): typed error, all in range")
                }
            }
        }
    }

    /// Two training steps (forward and backward) of `layer`; all outputs and gradients, as Double.
    func steps(_ layer: any NormalizationLayer, _ x: [some NormScalar], _ dy: [some NormScalar], t: Int, c: Int)
        throws -> [Double]
    {
        func run<L: NormalizationLayer>(_ l: L) throws -> [Double] {
            var l = l
            let xb = try TokenBatch<L.Scalar>(tokens: t, channels: c, values: x.map { L.Scalar(Double($0)) })
            var out: [Double] = []
            for _ in 0..<2 {
                let (y, cache) = try l.forwardTraining(xb)
                let g = try l.backward(xb.withUnchecked(values: dy.map { L.Scalar(Double($0)) }), cache: cache)
                out += (y.values + g.input.values + g.weight + g.bias).map { Double($0) }
            }
            return out
        }
        return try run(layer)
    }
}
