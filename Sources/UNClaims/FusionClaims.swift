import ExactArithmetic
import GradientCheck
import UnifiedNormalization

/// Claims F1–F3: fusion equivalence (spec section 5).
public enum FusionClaims {
    public struct FoldCase: Sendable, CustomStringConvertible {
        public var channels: Int
        public var outputs: Int
        public var rows: Int
        public var scale: [Double]
        public var shift: [Double]
        public var weight: [Double]
        public var bias: [Double]
        public var x: [Double]
        public var description: String {
            "C \(channels), outputs \(outputs), rows \(rows), a \(scale), b \(shift), W \(weight), c \(bias), x \(x)"
        }

        /// Entries with 20 significant bits (`mantissas`) and exponents (`exponents`, clamped to
        /// ±`spread`), so the rational check stays small and every product is representable.
        public static func build(
            channels: Int, outputs: Int, rows: Int, mantissas: [Int], exponents: [Int], spread: Int
        ) -> FoldCase {
            let c = max(1, min(6, channels))
            let o = max(1, min(5, outputs))
            let r = max(1, min(4, rows))
            var k = 0
            func v() -> Double {
                defer { k += 1 }
                let mant = mantissas[k % mantissas.count] % (1 << 21) - (1 << 20)
                let e = max(-spread, min(spread, exponents[(k * 7) % exponents.count]))
                return Double(mant) * pow2(e - 20)
            }
            let n = max(c, o)
            let scale = (0..<n).map { _ in v() }
            let shift = (0..<n).map { _ in v() }
            let w = (0..<(c * o)).map { _ in v() }
            let b = (0..<o).map { _ in v() }
            let x = (0..<(r * n)).map { _ in v() }
            return FoldCase(channels: c, outputs: o, rows: r, scale: scale, shift: shift, weight: w, bias: b, x: x)
        }

        public static func random(_ rng: inout ClaimRandom, spread: Int = 8) -> FoldCase {
            build(
                channels: Int.random(in: 1...6, using: &rng), outputs: Int.random(in: 1...5, using: &rng),
                rows: Int.random(in: 1...4, using: &rng),
                mantissas: (0..<64).map { _ in Int.random(in: 0..<(1 << 21), using: &rng) },
                exponents: (0..<64).map { _ in Int.random(in: -spread...spread, using: &rng) }, spread: spread)
        }
    }

    // MARK: F1

    public static func exactFold(_ f: FoldCase) throws -> ClaimOutcome {
        let q: ([Double]) -> [Rational] = { $0.map { Rational(exactly: $0)! } }
        let a = q(f.scale)
        let b = q(f.shift)
        let w = q(f.weight)
        let c = q(f.bias)
        let x = q(f.x)
        let n = f.channels
        let o = f.outputs
        // The fold the code computes, evaluated exactly on its float results would include its
        // rounding; F1 is about the algebra, so the folded parameters are formed exactly here.
        var ok = true
        for r in 0..<f.rows {
            // norm then linear: W(a⊙x + b) + c  vs  (W diag a) x + (W b + c)
            for i in 0..<o {
                var lhs = c[i]
                var rhs = c[i]
                for k in 0..<n {
                    lhs = lhs + w[i * n + k] * (a[k] * x[r * n + k] + b[k])
                    rhs = rhs + (w[i * n + k] * a[k]) * x[r * n + k] + w[i * n + k] * b[k]
                }
                ok = ok && lhs == rhs
            }
            // linear then norm: a⊙(W x + c) + b  vs  (diag a W) x + (a⊙c + b)
            for i in 0..<o {
                var wx = Rational.zero
                var folded = a[i] * c[i] + b[i]
                for k in 0..<n {
                    wx = wx + w[i * n + k] * x[r * n + k]
                    folded = folded + (a[i] * w[i * n + k]) * x[r * n + k]
                }
                ok = ok && a[i] * (wx + c[i]) + b[i] == folded
            }
        }
        // The code's folded parameters, exactly: W·diag(a) is one product per entry, so it is
        // exact when the products are representable; check the code computes W_ik·a_k.
        let norm = try ChannelAffine(scale: Array(f.scale.prefix(n)), shift: Array(f.shift.prefix(n)))
        let lin = try LinearLayer(inputs: n, outputs: o, weight: f.weight, bias: f.bias)
        let folded = try Fusion.fold(norm, intoFollowing: lin)
        let entriesOK = (0..<(n * o)).allSatisfy { folded.weight[$0] == f.weight[$0] * f.scale[$0 % n] }
        return ClaimOutcome([
            ClaimCheck("both folds exact over the rationals", holds: ok, margin: ok ? 1 : -1),
            ClaimCheck("folded weights are W_ik·a_k", holds: entriesOK, margin: entriesOK ? 1 : -1),
        ])
    }

    public static let f1 = Claim<FoldCase>(
        id: "F1", title: "Folding is exact in real arithmetic",
        statement:
            """
            At inference UN, BatchNorm and PowerNorm (without group scaling) are per-channel affine maps a⊙x + b; \
            folding one into the following linear layer (W' = W·diag(a), b' = W·b + c) or the preceding one (W' = \
            diag(a)·W, b' = a⊙c + b) is exact over the reals.
            """,
        symbols: "W(a⊙x + b) + c = (W diag a) x + (W b + c);   a⊙(W x + c) + b = (diag a W) x + (a⊙c + b)",
        proof: "proofs/fusion.md#f1", generate: { FoldCase.random(&$0) }, check: exactFold)

    // MARK: F2

    /// Per output entry, `|folded − unfolded| ≤ 2 γ_{n+3} (Σ_k |W_ik|(|a_k x_k| + |b_k|) + |c_i|)`
    /// (following fold; proofs/fusion.md#f2), and the mirror bound for the preceding fold.
    static func foldBound<S: NormScalar>(_ f: FoldCase, _: S.Type) throws -> [ClaimCheck] {
        let n = f.channels
        let o = f.outputs
        let lin = try LinearLayer(inputs: n, outputs: o, weight: f.weight.map { S($0) }, bias: f.bias.map { S($0) })
        let x = try TokenBatch(batch: 1, tokens: f.rows, channels: n, values: (0..<(f.rows * n)).map { S(f.x[$0]) })
        /// `min (1 − |folded − unfolded| / bound)` over the entries.
        func margin(_ folded: [S], _ unfolded: [S], _ bound: [Double]) -> Double {
            bound.indices.map { i in
                let d = abs(Double(folded[i]) - Double(unfolded[i]))
                return bound[i] > 0 ? 1 - d / bound[i] : (d == 0 ? 1 : -1)
            }.min() ?? 1
        }
        let a = try ChannelAffine(scale: f.scale.prefix(n).map { S($0) }, shift: f.shift.prefix(n).map { S($0) })
        let following = margin(
            try Fusion.fold(a, intoFollowing: lin).apply(x).values, try lin.apply(a.apply(x)).values,
            Fusion.followingFoldErrorBound(a, lin, input: x))
        // Preceding: norm over the linear's outputs.
        let ap = try ChannelAffine(scale: f.scale.prefix(o).map { S($0) }, shift: f.shift.prefix(o).map { S($0) })
        let preceding = margin(
            try Fusion.fold(ap, intoPreceding: lin).apply(x).values, try ap.apply(lin.apply(x)).values,
            Fusion.precedingFoldErrorBound(ap, lin, input: x))
        return [
            ClaimCheck("\(S.self): following fold within 2γ_{n+3}·magnitudes", margin: following),
            ClaimCheck("\(S.self): preceding fold within 2γ_{n+3}·magnitudes", margin: preceding),
        ]
    }

    /// A pre-norm transformer block built from the case's values (tokens = rows + 1,
    /// width = channels + 1, hidden = 2·width), every UN folded, against the unfolded block:
    /// both are within their running error bounds of the same exact value (F1), so they differ by
    /// at most the sum of the two bounds.
    static func blockBound<S: NormScalar>(_ f: FoldCase, _: S.Type) -> (check: ClaimCheck, relativeBound: Double) {
        let n = f.rows + 1
        let c = f.channels + 1
        let h = 2 * c
        // The block's parameters and input are drawn, in order, from the case's own values,
        // normalized to magnitude ≤ 1 and rounded to Float (exact in both precisions).
        let pool = f.weight + f.x + f.scale + f.shift + f.bias
        let norm = max(pool.map(abs).max() ?? 1, .leastNormalMagnitude)
        var k = 0
        func take(_ count: Int, scale: Double) -> [Double] {
            (0..<count).map { _ in
                defer { k += 1 }
                return Double(Float(scale * pool[k % pool.count] / norm))
            }
        }
        let block = TransformerBlock(
            tokens: n, width: c, hidden: h,
            a1: take(c, scale: 1).map { 0.5 + abs($0) }, b1: take(c, scale: 0.2),
            a2: take(c, scale: 1).map { 0.5 + abs($0) }, b2: take(c, scale: 0.2),
            wq: take(c * c, scale: 1), wk: take(c * c, scale: 1), wv: take(c * c, scale: 1), wo: take(c * c, scale: 1),
            w1: take(h * c, scale: 1), w2: take(c * h, scale: 1),
            bq: take(c, scale: 0.1), bk: take(c, scale: 0.1), bv: take(c, scale: 0.1), bo: take(c, scale: 0.1),
            c1: take(h, scale: 0.1), c2: take(c, scale: 0.1), x: take(n * c, scale: 2))
        let fo = block.run(S.self, folded: true)
        let un = block.run(S.self, folded: false)
        var worst = Double.infinity
        var maxBound = 0.0
        var maxOut = 0.0
        for r in 0..<n {
            for j in 0..<c {
                let d = abs(Double(fo[r][j].value) - Double(un[r][j].value))
                let bound = fo[r][j].error + un[r][j].error
                maxBound = max(maxBound, bound)
                maxOut = max(maxOut, abs(Double(un[r][j].value)))
                worst = min(worst, bound.isFinite && bound > 0 ? 1 - d / bound : (d == 0 ? 1 : -1))
            }
        }
        return (
            ClaimCheck(
                "\(S.self): transformer block, both UNs folded, within the composed running error bound",
                margin: worst),
            maxBound / max(maxOut, .leastNormalMagnitude)
        )
    }

    public static func roundingBound(_ f: FoldCase) throws -> ClaimOutcome {
        let bd = blockBound(f, Double.self)
        let bf = blockBound(f, Float.self)
        // How informative the composed bound is: counted when it is below 1e-4 (Float) and
        // 1e-12 (Double) of the largest output.
        return ClaimOutcome(
            try foldBound(f, Double.self) + foldBound(f, Float.self) + [bd.check, bf.check],
            notes: [
                "block cases": 1, "Float block bound < 1e-4·max|output|": bf.relativeBound < 1e-4 ? 1 : 0,
                "Double block bound < 1e-12·max|output|": bd.relativeBound < 1e-12 ? 1 : 0,
            ])
    }

    public static let f2 = Claim<FoldCase>(
        id: "F2", title: "Folded and unfolded layers agree within a forward-error bound",
        statement:
            """
            In floating point the folded and unfolded results differ, per output entry, by at most 2γ_{n+3} times \
            the sum of the magnitudes of the terms involved (γ_k = k u/(1 − k u)), in Float and Double; a whole \
            pre-norm transformer block (attention and a tanh MLP) with both UNs folded differs from the unfolded \
            block by at most the sum of the two computations' running error bounds.
            """,
        symbols:
            """
            |ŷ_fold − ŷ| ≤ 2 γ_{n+3} (Σ_k |W_ik|(|a_k x_k| + |b_k|) + |c_i|);  block: |ŷ_fold − ŷ| ≤ e_fold + \
            e_unfold (running error bounds)
            """,
        proof: "proofs/fusion.md#f2", generate: { FoldCase.random(&$0, spread: 30) }, check: roundingBound)

    // MARK: F3

    public static func layerNormNotAffine(_ c: LayerCase) throws -> ClaimOutcome {
        guard c.channels >= 2 else {
            return ClaimOutcome([
                ClaimCheck("C = 1: LayerNorm is the constant β (affine, trivially)", holds: true, margin: 1)
            ])
        }
        let ln = try LayerNorm<Double>(channels: c.channels, eps: c.eps)
        let x: TokenBatch<Double> = try c.input()
        let y: TokenBatch<Double> = try c.gradient()  // a second point
        let mid = try x.with(values: zip(x.values, y.values).map { ($0 + $1) / 2 })
        let lx = try ln.forwardInference(x).values
        let ly = try ln.forwardInference(y).values
        let lm = try ln.forwardInference(mid).values
        // An affine map satisfies A((x+y)/2) = (A x + A y)/2 exactly; LayerNorm misses it by far
        // more than its rounding (outputs are O(1), rounding ≤ γ_{2C+6}).
        let dev = zip(lm, zip(lx, ly)).map { abs($0 - ($1.0 + $1.1) / 2) }.max() ?? 0
        let rounding = Double(4 * c.channels + 12) * Double.ulpOfOne
        var notes: [String: Double] = [:]
        if dev > rounding { notes["counterexamples to affinity found"] = 1 }
        // LN(2x) = LN(x) up to ε, the scale invariance behind the counterexample, in closed form:
        // LN(2x)_i − LN(x)_i = (x_i − μ)(2/sqrt(4v + ε) − 1/sqrt(v + ε)) (γ = 1, β = 0), checked
        // against a rounding bound γ_{2C+10}(|LN(2x)_i| + |LN(x)_i|) + the closed form's own.
        let l2 = try ln.forwardInference(x.with(values: x.values.map { 2 * $0 })).values
        let scaleDev = zip(l2, lx).map { abs($0 - $1) }.max() ?? 0
        let ch = c.channels
        var closedWorst = Double.infinity
        for r in 0..<x.rows {
            let row = Array(x.values[(r * ch)..<((r + 1) * ch)])
            let mu = row.reduce(0, +) / Double(ch)
            let v = row.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(ch)
            let k = 2 / (4 * v + c.eps).squareRoot() - 1 / (v + c.eps).squareRoot()
            for j in 0..<ch {
                let i = r * ch + j
                let closed = (row[j] - mu) * k
                let g = Double(2 * ch + 10) * Double.ulpOfOne
                let bound =
                    g
                    * (abs(l2[i]) + abs(lx[i]) + abs(row[j] - mu)
                        * (2 / (4 * v + c.eps).squareRoot() + 1 / (v + c.eps).squareRoot()))
                    + Double.leastNormalMagnitude
                closedWorst = min(closedWorst, 1 - abs((l2[i] - lx[i]) - closed) / bound)
            }
        }
        let refused: Bool
        do {
            _ = try ln.inferenceAffine()
            refused = false
        } catch { refused = true }
        return ClaimOutcome(
            [
                ClaimCheck("fusion refuses LayerNorm", holds: refused, margin: refused ? 1 : -1),
                ClaimCheck("LN(2x) − LN(x) = (x − μ)(2/sqrt(4v+ε) − 1/sqrt(v+ε))", margin: closedWorst),
            ], notes: notes.merging(["LN(2x) − LN(x) max deviation": scaleDev, "cases": 1]) { $1 })
    }

    public static let f3 = Claim<LayerCase>(
        id: "F3", title: "LayerNorm is not affine, so it cannot be folded",
        statement:
            """
            LayerNorm computes its statistics per token at run time; it is scale invariant (LN(2x) = LN(x) up to \
            ε), hence not affine, and fusion refuses it. The property searches for inputs where LN((x+y)/2) ≠ \
            (LN(x)+LN(y))/2 beyond rounding.
            """,
        symbols: "LN(2x) = LN(x) ≠ 2 LN(x) − LN(0)",
        proof: "proofs/fusion.md#f3", generate: { LayerCase.random(&$0, padded: false) }, check: layerNormNotAffine)
}
