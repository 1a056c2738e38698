import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The vectorized kernels (``RowKernels``) and their careful fallback against a naive reference
/// in extended precision, on generated inputs aimed at the edges: channel counts around the SIMD
/// width (1…70, and 768), tensors large enough to be split across threads, and scales across
/// the exponent range (so that both the fast path and the careful path are taken).
///
/// Tolerances are derived from the standard rounding-error analysis (Higham, *Accuracy and
/// Stability of Numerical Algorithms*, ch. 3–4): the mean and the mean square are sums of `n`
/// terms (`γ_n`), the deviations add `u`, the square root and the reciprocal `u` each, so
/// `|ẑ − z| ≤ (n + 6) u (1 + κ)` with `κ = max|x − mean| / s`; the affine map adds `2u·|γ z|`.
/// The backward forms two sums of `n` products and one correction: its error, relative to the
/// magnitude of its terms `D = max(|G| + |mean G| + |z mean(Gz)|)/s`, is `≤ (2n + 10) u (1 + κ)²`
/// (`z`'s error enters through `z·mean(Gz)`). A factor 4 covers the second-order terms.
@Suite("Kernels against an extended-precision reference")
struct KernelTests {
    #if arch(x86_64) && !os(Windows)
    typealias Wide = Float80
    #else
    typealias Wide = Double
    #endif

    struct Reference {
        var y: [Wide], dx: [Wide], gw: [Wide], gb: [Wide]
        var kappa: Wide, termScale: [Wide]
    }

    /// Naive two-pass LayerNorm / RMSNorm forward and backward in `Wide`.
    static func reference<S: NormScalar>(
        _ x: [S], _ dy: [S], w: [S], b: [S], rows: Int, c: Int, centered: Bool, eps: S
    ) -> Reference {
        var r = Reference(
            y: [], dx: [], gw: [Wide](repeating: 0, count: c), gb: [Wide](repeating: 0, count: c), kappa: 0,
            termScale: [])
        for row in 0..<rows {
            let xs = (0..<c).map { Wide(Double(x[row * c + $0])) }
            let g = (0..<c).map { Wide(Double(w[$0])) * Wide(Double(dy[row * c + $0])) }
            let mean = centered ? xs.reduce(0, +) / Wide(c) : 0
            let v = xs.reduce(Wide(0)) { $0 + ($1 - mean) * ($1 - mean) } / Wide(c)
            let s = (v + Wide(Double(eps))).squareRoot()
            let z = xs.map { ($0 - mean) / s }
            r.kappa = max(r.kappa, xs.map { abs($0 - mean) }.max()! / s)
            let mg = centered ? g.reduce(0, +) / Wide(c) : 0
            let mgz = zip(g, z).reduce(Wide(0)) { $0 + $1.0 * $1.1 } / Wide(c)
            var scaleRow: Wide = 0
            for k in 0..<c {
                r.y.append(Wide(Double(w[k])) * z[k] + Wide(Double(b[k])))
                r.dx.append((g[k] - mg - z[k] * mgz) / s)
                scaleRow = max(scaleRow, (abs(g[k]) + abs(mg) + abs(z[k] * mgz)) / s)
                r.gw[k] += Wide(Double(dy[row * c + k])) * z[k]
                r.gb[k] += Wide(Double(dy[row * c + k]))
            }
            r.termScale.append(scaleRow)
        }
        return r
    }

    func run<S: NormScalar>(_: S.Type, exponentRange: ClosedRange<Int>, cases: Int) throws {
        var rng = SeededGenerator(seed: 20_221_201)
        let u = Wide(Double(S.ulpOfOne / 2))
        var fastAndCareful = (fast: 0, careful: 0)
        for t in 0..<cases {
            let c = t == 0 ? 768 : (t < 3 ? [8, 16][t - 1] : Int.random(in: 1...70, using: &rng))
            let rows = t == 0 ? 100 : Int.random(in: 1...6, using: &rng)  // 76,800 entries: split across threads
            let k = Int.random(in: exponentRange, using: &rng)
            let scale = S(sign: .plus, exponent: S.Exponent(k), significand: 1)
            let x = (0..<(rows * c)).map { _ in S(Double.random(in: -3...3, using: &rng)) * scale }
            let dy = (0..<(rows * c)).map { _ in S(Double.random(in: -1...1, using: &rng)) }
            let w = (0..<c).map { _ in S(Double.random(in: 0.5...2, using: &rng)) }
            let b = (0..<c).map { _ in S(Double.random(in: -1...1, using: &rng)) }
            let centered = Bool.random(using: &rng)
            // ε either fixed or scaled with the data (where that is representable).
            let scaledEps = S(1e-5) * scale * scale
            let eps = Bool.random(using: &rng) && scaledEps.isNormal ? scaledEps : S(1e-5)
            let batch = try TokenBatch(batch: 1, tokens: rows, channels: c, values: x)
            let grad = try TokenBatch(batch: 1, tokens: rows, channels: c, values: dy)
            let yv: [S]
            let dxv: [S]
            let gw: [S]
            let gb: [S]
            if centered {
                var layer = try LayerNorm<S>(channels: c, eps: eps, weight: w, bias: b)
                let (y, cache) = try layer.forwardTraining(batch)
                let g = try layer.backward(grad, cache: cache)
                (yv, dxv, gw, gb) = (y.values, g.input.values, g.weight, g.bias)
                #expect(try layer.forwardInference(batch).values == yv, "inference and training forward agree")
            } else {
                var layer = try RMSNorm<S>(channels: c, eps: eps, weight: w, bias: b)
                let (y, cache) = try layer.forwardTraining(batch)
                let g = try layer.backward(grad, cache: cache)
                (yv, dxv, gw, gb) = (y.values, g.input.values, g.weight, g.bias)
            }
            // Which path the first row took (both must be exercised).
            let fast = x.withUnsafeBufferPointer { xp in
                var out = [S](repeating: 0, count: c)
                return out.withUnsafeMutableBufferPointer { op in
                    RowKernels.normalizeGroup(
                        xp.baseAddress!, c, centered: centered, eps: eps, weight: w, bias: b, y: op.baseAddress!, z: nil
                    )
                } != nil
            }
            if fast { fastAndCareful.fast += 1 } else { fastAndCareful.careful += 1 }
            let ref = Self.reference(x, dy, w: w, b: b, rows: rows, c: c, centered: centered, eps: eps)
            let n = Wide(c)
            let tolY = 4 * (n + 8) * u * (1 + ref.kappa)
            let tolDx = 4 * (2 * n + 10) * u * (1 + ref.kappa) * (1 + ref.kappa)
            let tolP = 4 * (Wide(rows) + n + 8) * u * (1 + ref.kappa)
            let context =
                "case \(t): \(S.self), rows \(rows), channels \(c), scale 2^\(k), centered \(centered), seed 20221201"
            for i in yv.indices {
                let row = i / c
                #expect(
                    yv[i].isFinite && abs(Wide(Double(yv[i])) - ref.y[i]) <= tolY * max(1, abs(ref.y[i])) * 2,
                    "y[\(i)] \(context)")
                #expect(
                    dxv[i].isFinite && abs(Wide(Double(dxv[i])) - ref.dx[i]) <= tolDx * ref.termScale[row],
                    "dx[\(i)] = \(dxv[i]) vs \(ref.dx[i]), \(context)")
                if !(dxv[i].isFinite && abs(Wide(Double(dxv[i])) - ref.dx[i]) <= tolDx * ref.termScale[row]) { break }
            }
            for j in 0..<c {
                let magW = (0..<rows).reduce(Wide(0)) { $0 + abs(Wide(Double(dy[$1 * c + j]))) * (1 + ref.kappa) }
                #expect(
                    abs(Wide(Double(gw[j])) - ref.gw[j]) <= tolP * max(magW, Wide(Double(S.leastNormalMagnitude))),
                    "gw[\(j)] \(context)")
                let magB = (0..<rows).reduce(Wide(0)) { $0 + abs(Wide(Double(dy[$1 * c + j]))) }
                #expect(abs(Wide(Double(gb[j])) - ref.gb[j]) <= tolP * magB, "gb[\(j)] \(context)")
            }
        }
        #expect(fastAndCareful.fast > cases / 4 && fastAndCareful.careful > cases / 10, "paths: \(fastAndCareful)")
    }

    @Test func floatAcrossTheRange() throws { try run(Float.self, exponentRange: -120...120, cases: 150) }
    @Test func doubleAcrossTheRange() throws { try run(Double.self, exponentRange: -1000...1000, cases: 150) }

    /// A non-finite input or gradient anywhere (including a padded token) is a typed error naming
    /// the first offending index, never a silent NaN.
    @Test(arguments: [0, 7, 8, 767, 768 * 5 + 3, 768 * 100 - 1])
    func nonFiniteIsReported(index: Int) throws {
        let values = (0..<(768 * 100)).map { Float($0 % 17) - 8 }
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = values
            x[index] = bad
            let batch = try TokenBatch(batch: 4, tokens: 25, channels: 768, values: x)
            var ln = try LayerNorm<Float>(channels: 768)
            #expect(throws: NormalizationError.nonFinite(what: "input", index: index)) { try ln.forwardTraining(batch) }
            let rms = try RMSNorm<Float>(channels: 768)
            #expect(throws: NormalizationError.nonFinite(what: "input", index: index)) {
                try rms.forwardInference(batch)
            }
            let affine = try ChannelAffine<Float>(
                scale: .init(repeating: 2, count: 768), shift: .init(repeating: 1, count: 768))
            #expect(throws: NormalizationError.nonFinite(what: "input", index: index)) { try affine.apply(batch) }
            let good = try TokenBatch(batch: 4, tokens: 25, channels: 768, values: values)
            let (_, cache) = try ln.forwardTraining(good)
            #expect(throws: NormalizationError.nonFinite(what: "gradOutput", index: index)) {
                try ln.backward(batch, cache: cache)
            }
        }
    }
    /// An input gradient beyond Float's range is a typed error naming its first index, wherever
    /// the row is (rows split across threads included): generated rows with a tiny variance and a
    /// huge gradient, the expected index from the exact formula evaluated in Double (cases within
    /// 1% of the threshold are skipped, so rounding cannot decide them; the count is checked).
    @Test func inputGradientBeyondTheRangeIsReported() throws {
        var rng = SeededGenerator(seed: 0x6E_0F10)
        var decided = 0
        for trial in 0..<24 {
            let n = [3, 8, 17, 64, 768][trial % 5]
            let rows = n == 768 ? 100 : 40
            let eps: Float = 1e-12
            var x = (0..<(rows * n)).map { _ in Float.random(in: -2...2, using: &rng) }
            var dy = (0..<(rows * n)).map { _ in Float.random(in: -1...1, using: &rng) }
            let r = Int.random(in: 0..<rows, using: &rng)
            let c = Float(Double.random(in: 1e33...1e35, using: &rng))
            for k in 0..<n {
                x[r * n + k] = (Bool.random(using: &rng) ? 1 : -1) * Float.random(in: 0.5e-6...2e-6, using: &rng)
                dy[r * n + k] = c * Float.random(in: -1...1, using: &rng)
            }
            // dx of row r in Double (w = 1): (G − mean G − z·mean(G z)) / s, G = dy.
            let xr = (0..<n).map { Double(x[r * n + $0]) }
            let gr = (0..<n).map { Double(dy[r * n + $0]) }
            let mean = xr.reduce(0, +) / Double(n)
            let s = (xr.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n) + Double(eps)).squareRoot()
            let z = xr.map { ($0 - mean) / s }
            let mg = gr.reduce(0, +) / Double(n)
            let mgz = zip(gr, z).reduce(0) { $0 + $1.0 * $1.1 } / Double(n)
            let dx = (0..<n).map { (gr[$0] - mg - z[$0] * mgz) / s }
            let big = Double(Float.greatestFiniteMagnitude)
            guard dx.allSatisfy({ abs(abs($0) / big - 1) > 0.01 }), let k = dx.firstIndex(where: { abs($0) > big })
            else { continue }
            decided += 1
            var ln = try LayerNorm<Float>(channels: n, eps: eps)
            let (_, cache) = try ln.forwardTraining(TokenBatch(tokens: rows, channels: n, values: x))
            let g = try TokenBatch(tokens: rows, channels: n, values: dy)
            #expect(
                throws: NormalizationError.nonFinite(
                    what: "input gradient (beyond the range of the type)", index: r * n + k),
                "trial \(trial), n \(n), row \(r)"
            ) { try ln.backward(g, cache: cache) }
        }
        #expect(decided >= 12, "only \(decided) of 24 generated cases were clear of the threshold")
    }
}
