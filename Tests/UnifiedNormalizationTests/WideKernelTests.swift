import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The 256-bit (AVX2) forms of the kernels' fast paths (`CVectorKernels`) give bit-for-bit the
/// portable Swift forms' results: LayerNorm and RMSNorm forward and backward, and the per-channel
/// affine map (UN's inference form), in Float and Double, on generated shapes around the vector
/// widths (1…40, 64, 768, with tails of every length) and scales across the exponent range (both
/// the fast and the careful path). Skipped, not passed, where the processor has no AVX2.
@Suite("256-bit kernels against the portable ones", .enabled(if: RowKernels.wideAvailable))
struct WideKernelTests {
    /// Bitwise equality: the same value and sign (−0 and +0 differ), NaN only against NaN.
    static func same<S: NormScalar>(_ a: [S], _ b: [S]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { ($0.isNaN && $1.isNaN) || ($0 == $1 && $0.sign == $1.sign) }
    }

    func run<S: NormScalar>(_: S.Type, seed: UInt64, exponents: ClosedRange<Int>) throws
    where S.RawSignificand: FixedWidthInteger {
        var rng = SeededGenerator(seed: seed)
        var compared = 0
        for trial in 0..<60 {
            let c = [1, 5, 8, 15, 16, 31, 32, 33, 40, 64, 768][trial % 11]
            let rows = c == 768 ? 90 : Int.random(in: 1...30, using: &rng)
            let e = Int.random(in: exponents, using: &rng)
            let scale = S(sign: .plus, exponent: S.Exponent(e), significand: 1)
            let x = (0..<(rows * c)).map { _ in S.random(in: -3...3, using: &rng) * scale }
            let dy = (0..<(rows * c)).map { _ in S.random(in: -1...1, using: &rng) }
            let w = (0..<c).map { _ in S.random(in: 0.5...2, using: &rng) }
            let b = (0..<c).map { _ in S.random(in: -1...1, using: &rng) }
            let xb = try TokenBatch(tokens: rows, channels: c, values: x)
            let gb = try TokenBatch(tokens: rows, channels: c, values: dy)
            let ln = try LayerNorm<S>(channels: c, weight: w, bias: b)
            let rms = try RMSNorm<S>(channels: c, weight: w, bias: b)
            let affine = try ChannelAffine<S>(scale: w, shift: b)
            func outputs() throws -> [[S]] {
                var l = ln
                var r = rms
                let (yl, cl) = try l.forwardTraining(xb)
                let (yr, cr) = try r.forwardTraining(xb)
                let gl = try l.backward(gb, cache: cl)
                let gr = try r.backward(gb, cache: cr)
                return [
                    yl.values, gl.input.values, gl.weight, gl.bias, yr.values, gr.input.values, gr.weight,
                    try affine.apply(xb).values,
                ]
            }
            let wide = try outputs()
            let portable = try RowKernels.$portableOnly.withValue(true) { try outputs() }
            for (k, (p, q)) in zip(wide, portable).enumerated() {
                #expect(Self.same(p, q), "seed \(seed), trial \(trial), output \(k), \(rows)×\(c), scale 2^\(e)")
            }
            compared += 1
        }
        #expect(compared == 60)
    }

    @Test func float() throws { try run(Float.self, seed: 21, exponents: -60...60) }
    @Test func double() throws { try run(Double.self, seed: 22, exponents: -500...500) }
}
