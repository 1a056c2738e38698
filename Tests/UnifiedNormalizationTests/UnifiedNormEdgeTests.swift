import Testing
import _TestSupport

@testable import UnifiedNormalization

/// UN's training step on generated edge inputs, after its checks were fused into the kernels'
/// passes: a non-finite gradient is reported at its first index; a finite gradient whose squares
/// overflow is not an error (the backward scales it); an output beyond the range is reported at
/// its first index, computed in Double, and the layer is left as it was. Both modes, both types.
@Suite("UN: fused checks on generated edge inputs")
struct UnifiedNormEdgeTests {
    static let modes: [UnifiedNormMode] = [.referenceCompatible, .paper(.calibrated), .paper(.exact)]

    func run<S: NormScalar>(_: S.Type, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var overflowCases = 0
        for trial in 0..<24 {
            let mode = Self.modes[trial % 3]
            let c = [3, 8, 17, 64, 768][trial % 5]
            let rows = c == 768 ? 100 : Int.random(in: 2...30, using: &rng)
            let cfg = UnifiedNormConfiguration(channels: c, warmupIters: 0)
            let x = (0..<(rows * c)).map { _ in S(Double.random(in: -2...2, using: &rng)) }
            let xb = try TokenBatch(tokens: rows, channels: c, values: x)
            let context = "seed \(seed), trial \(trial), \(mode), \(rows)×\(c)"

            // (a) A non-finite gradient entry: the first one is named.
            var layer = try UnifiedNorm<S>(configuration: cfg, mode: mode)
            let (_, cache) = try layer.forwardTraining(xb)
            var dy = (0..<(rows * c)).map { _ in S(Double.random(in: -1...1, using: &rng)) }
            let i = Int.random(in: 0..<dy.count, using: &rng)
            dy[i] = [S.nan, .infinity, -.infinity][trial % 3]
            if i + 1 < dy.count { dy[Int.random(in: (i + 1)..<dy.count, using: &rng)] = .nan }
            let bad = try TokenBatch(tokens: rows, channels: c, values: dy)
            #expect(throws: NormalizationError.nonFinite(what: "gradOutput", index: i), "\(context)") {
                var l = layer
                _ = try l.backward(bad, cache: cache)
            }

            // (b) Finite entries whose squares overflow: no error, finite gradients.
            let huge = S.greatestFiniteMagnitude.squareRoot() * 4
            let big = (0..<(rows * c)).map { _ in huge * S(Double.random(in: -1...1, using: &rng)) }
            var l2 = layer
            let g = try l2.backward(TokenBatch(tokens: rows, channels: c, values: big), cache: cache)
            let allFinite = g.input.values.allSatisfy { $0.isFinite }
            #expect(allFinite, "\(context): huge finite gradient")

            // (c) An output beyond the range: γ at the largest value on one channel; the first
            // entry with |z| > 1 there overflows. z from the definition in Double (the current
            // statistic: warm-up is 0 iterations, so step 1 normalizes by its own mean square).
            let ch = Int.random(in: 0..<c, using: &rng)
            var w = [S](repeating: 1, count: c)
            w[ch] = S.greatestFiniteMagnitude
            let col = (0..<rows).map { Double(x[$0 * c + ch]) }
            let s = (col.reduce(0) { $0 + $1 * $1 } / Double(rows) + 1e-5).squareRoot()
            let z = col.map { $0 / s }
            guard z.allSatisfy({ abs(abs($0) - 1) > 1e-3 }), let r = z.firstIndex(where: { abs($0) > 1 }) else {
                continue
            }
            overflowCases += 1
            var l3 = try UnifiedNorm<S>(configuration: cfg, mode: mode, weight: w)
            #expect(
                throws: NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: r * c + ch),
                "\(context)"
            ) { _ = try l3.forwardTraining(xb) }
            #expect(l3.iters == 0, "\(context): a failed step changed the layer")
        }
        #expect(overflowCases >= 12, "only \(overflowCases) overflow cases clear of the threshold")
    }

    @Test func float() throws { try run(Float.self, seed: 31) }
    @Test func double() throws { try run(Double.self, seed: 32) }
}
