import RealModule
import UnifiedNormalization

/// A value computed in precision `S` together with a rigorous bound on its absolute distance
/// from the exact real value of the same expression (running error analysis, Wilkinson): every
/// operation adds its own rounding, `u|result|` (`c·u|result|` for library functions, assumed
/// within `c/2` ulps), to the propagated input errors, higher-order terms included.
struct Bounded<S: NormScalar> {
    var value: S
    /// `|value − exact| ≤ error`.
    var error: Double

    static var u: Double { Double(S.unitRoundoff) }
    /// Library `exp` and `tanh` assumed within 2 ulps: relative error `4u`.
    static var libraryFactor: Double { 4 }

    init(_ v: S, error: Double = 0) {
        value = v
        self.error = error
    }
    init(exact v: Double) {
        value = S(v)
        error = abs(Double(S(v)) - v)
    }

    var magnitude: Double { abs(Double(value)) }

    static func + (a: Bounded, b: Bounded) -> Bounded {
        let v = a.value + b.value
        return Bounded(v, error: a.error + b.error + u * abs(Double(v)) * (1 + 2 * u))
    }
    static func - (a: Bounded, b: Bounded) -> Bounded {
        let v = a.value - b.value
        return Bounded(v, error: a.error + b.error + u * abs(Double(v)) * (1 + 2 * u))
    }
    static func * (a: Bounded, b: Bounded) -> Bounded {
        let v = a.value * b.value
        return Bounded(
            v,
            error: a.magnitude * b.error + b.magnitude * a.error + a.error * b.error + u * abs(Double(v)) * (1 + 2 * u))
    }
    /// Requires `|b| > b.error` (checked by the caller's bound being finite).
    static func / (a: Bounded, b: Bounded) -> Bounded {
        let v = a.value / b.value
        let den = b.magnitude - b.error
        let e = den > 0 ? (a.error + abs(Double(v)) * b.error) / den : .infinity
        return Bounded(v, error: e + u * abs(Double(v)) * (1 + 2 * u))
    }
    /// `exp(a + d) = exp(a)·e^d`: the input error becomes relative error `e^{|d|} − 1`.
    func exp() -> Bounded {
        let v = S.exp(value)
        let m = abs(Double(v))
        return Bounded(
            v,
            error: m * Double.expMinusOne(error) * (1 + Self.libraryFactor * Self.u) + Self.libraryFactor * Self.u * m)
    }
    /// `|tanh'| ≤ 1`.
    func tanh() -> Bounded {
        let v = S.tanh(value)
        return Bounded(v, error: error + Self.libraryFactor * Self.u * abs(Double(v)))
    }
    /// `max` is exact; its error is at most the larger input error.
    static func maximum(_ a: Bounded, _ b: Bounded) -> Bounded {
        Bounded(Swift.max(a.value, b.value), error: Swift.max(a.error, b.error))
    }
}

/// A pre-norm transformer block (single-head attention and a tanh MLP, residual connections)
/// whose two normalizations are UN in inference form, evaluated unfolded and with both UNs
/// folded into the linear layers that follow them (Q, K, V and the MLP's first layer), in
/// precision `S` with running error bounds.
struct TransformerBlock {
    var tokens: Int, width: Int, hidden: Int
    var a1: [Double], b1: [Double], a2: [Double], b2: [Double]
    var wq: [Double], wk: [Double], wv: [Double], wo: [Double], w1: [Double], w2: [Double]
    var bq: [Double], bk: [Double], bv: [Double], bo: [Double], c1: [Double], c2: [Double]
    var x: [Double]

    typealias Matrix<S: NormScalar> = [[Bounded<S>]]

    /// `y = W v + c` for `W` `outputs × inputs` (row-major) over every row of `v`.
    static func linear<S: NormScalar>(_ v: Matrix<S>, _ w: [Bounded<S>], _ c: [Bounded<S>], outputs: Int) -> Matrix<S> {
        v.map { row in
            (0..<outputs).map { o in
                var s = Bounded<S>(0)
                for k in row.indices { s = s + w[o * row.count + k] * row[k] }
                return s + c[o]
            }
        }
    }

    /// `W diag(a)` and `W b + c`, computed in `S` with their own rounding tracked.
    static func fold<S: NormScalar>(_ w: [Double], _ c: [Double], a: [Double], b: [Double], outputs: Int) -> (
        [Bounded<S>], [Bounded<S>]
    ) {
        let n = a.count
        let wb = w.map { Bounded<S>(exact: $0) }
        let ab = a.map { Bounded<S>(exact: $0) }
        let bb = b.map { Bounded<S>(exact: $0) }
        var wf: [Bounded<S>] = []
        var cf: [Bounded<S>] = []
        for o in 0..<outputs {
            var s = Bounded<S>(0)
            for k in 0..<n {
                wf.append(wb[o * n + k] * ab[k])
                s = s + wb[o * n + k] * bb[k]
            }
            cf.append(s + Bounded<S>(exact: c[o]))
        }
        return (wf, cf)
    }

    /// The block output, rows × width, folded or not.
    /// `plantedFoldError` multiplies the folded value weights by `1 + e` (tests: a wrong fold
    /// must fall outside the bound).
    func run<S: NormScalar>(_: S.Type, folded: Bool, plantedFoldError: Double = 0) -> Matrix<S> {
        let B = { (v: [Double]) in v.map { Bounded<S>(exact: $0) } }
        let xs: Matrix<S> = (0..<tokens).map { r in (0..<width).map { Bounded<S>(exact: x[r * width + $0]) } }
        func un(_ v: Matrix<S>, _ a: [Double], _ b: [Double]) -> Matrix<S> {
            v.map { row in row.indices.map { B(a)[$0] * row[$0] + B(b)[$0] } }
        }
        let q: Matrix<S>
        let k: Matrix<S>
        let v: Matrix<S>
        if folded {
            let (fq, cq) = Self.fold(wq, bq, a: a1, b: b1, outputs: width) as ([Bounded<S>], [Bounded<S>])
            let (fk, ck) = Self.fold(wk, bk, a: a1, b: b1, outputs: width) as ([Bounded<S>], [Bounded<S>])
            var (fv, cv) = Self.fold(wv, bv, a: a1, b: b1, outputs: width) as ([Bounded<S>], [Bounded<S>])
            if plantedFoldError != 0 { fv = fv.map { Bounded<S>($0.value * S(1 + plantedFoldError), error: $0.error) } }
            q = Self.linear(xs, fq, cq, outputs: width)
            k = Self.linear(xs, fk, ck, outputs: width)
            v = Self.linear(xs, fv, cv, outputs: width)
        } else {
            let u1 = un(xs, a1, b1)
            q = Self.linear(u1, B(wq), B(bq), outputs: width)
            k = Self.linear(u1, B(wk), B(bk), outputs: width)
            v = Self.linear(u1, B(wv), B(bv), outputs: width)
        }
        let scale = Bounded<S>(exact: 1 / Double(width).squareRoot())
        var att: Matrix<S> = []
        for i in 0..<tokens {
            var scores: [Bounded<S>] = (0..<tokens).map { j in
                var s = Bounded<S>(0)
                for c in 0..<width { s = s + q[i][c] * k[j][c] }
                return s * scale
            }
            let m = scores.dropFirst().reduce(scores[0], Bounded.maximum)
            scores = scores.map { ($0 - m).exp() }
            let z = scores.dropFirst().reduce(scores[0], +)
            att.append(
                (0..<width).map { c in
                    var s = Bounded<S>(0)
                    for j in 0..<tokens { s = s + (scores[j] / z) * v[j][c] }
                    return s
                })
        }
        let o = Self.linear(att, B(wo), B(bo), outputs: width)
        let h: Matrix<S> = (0..<tokens).map { r in (0..<width).map { xs[r][$0] + o[r][$0] } }
        let z1: Matrix<S>
        if folded {
            let (f1, cf1) = Self.fold(w1, c1, a: a2, b: b2, outputs: hidden) as ([Bounded<S>], [Bounded<S>])
            z1 = Self.linear(h, f1, cf1, outputs: hidden)
        } else {
            z1 = Self.linear(un(h, a2, b2), B(w1), B(c1), outputs: hidden)
        }
        let g = z1.map { $0.map { $0.tanh() } }
        let mlp = Self.linear(g, B(w2), B(c2), outputs: width)
        return (0..<tokens).map { r in (0..<width).map { h[r][$0] + mlp[r][$0] } }
    }
}
