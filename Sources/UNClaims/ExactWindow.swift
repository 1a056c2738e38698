import ExactArithmetic

/// The exact quantities of a ``RootWindow``: `E = mean(w)`, `V = V(√w)` (population),
/// `Π^M = ∏ w`, and a tight bracket of `Π`.
struct ExactWindow {
    let roots: [Rational]
    let w: [Rational]
    let m: Int
    let e: Rational
    let v: Rational
    /// `Π^M = ∏ w_i`.
    let piPowerM: Rational

    init(_ rw: RootWindow) throws {
        roots = rw.roots.map { Rational(exactly: $0)! }
        w = roots.map { $0 * $0 }
        m = w.count
        e = try Rational.mean(w)
        let ms = try Rational.mean(roots)
        v = e - ms * ms
        piPowerM = w.reduce(Rational.one, *)
    }

    /// `Π` to about 96 bits.
    func piBracket() throws -> (lo: Rational, hi: Rational) { try piPowerM.nthRootBracket(m) }
    func piDouble() throws -> Double { try piBracket().lo.doubleValue }
}
