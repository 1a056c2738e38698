#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Taylor remainder test: `r(h) = |f(x + h v) − f(x) − h ⟨∇f, v⟩|` for `h = h_0 2^{-k}`.
/// A right gradient leaves `r(h) = O(h²)`, a wrong one `O(h)`; the verdict uses the fitted
/// order, not a tolerance, so it is immune to the scale of `f`.
public struct TaylorTest: Sendable {
    public enum Verdict: String, Sendable, Codable {
        /// Order ≥ 1.8, or the remainder is at round-off level at every step (f linear along v).
        case consistent
        /// Order ≤ 1.3: the gradient is wrong along `v`.
        case inconsistent
        /// Neither (too few usable steps, or an order in between).
        case inconclusive
    }

    public struct Result: Sendable, Codable {
        public var steps: [Double]
        public var remainders: [Double]
        /// Least-squares slope of `log r` against `log h` over the steps above the noise level.
        public var order: Double?
        public var usableSteps: Int
        public var verdict: Verdict
        public var seed: UInt64
    }

    public var steps = 14
    /// Remainders below `noiseMultiple · noise` are round-off, not signal.
    public var noiseMultiple: Double = 100
    /// How many of the smallest usable steps the order is fitted over.
    public var fitPoints = 5
    public var seed: UInt64 = 0x5EED
    public init() {}

    /// Runs the test along `direction` (default: a random Gaussian direction from `seed`).
    public func run<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S], gradient: [S], direction: [S]? = nil) throws -> Result {
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        guard gradient.count == x.count else { throw GradientCheckError.sizeMismatch(what: "gradient", expected: x.count, actual: gradient.count) }
        try requireFinite(x, "input x")
        try requireFinite(gradient, "gradient")
        var rng = SeededGenerator(seed: seed)
        let v = direction ?? (0..<x.count).map { _ in S(rng.normal()) }
        guard v.count == x.count else { throw GradientCheckError.sizeMismatch(what: "direction", expected: x.count, actual: v.count) }
        let f0 = Double(try call("f(x)") { [try f(x)] }[0])
        let slope = zip(gradient, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let xs = x.map { abs(Double($0)) }.max() ?? 0
        let vs = v.map { abs(Double($0)) }.max() ?? 1
        var h = max(xs, 1) / vs / 4
        var hs: [Double] = [], rs: [Double] = []
        var fmax = abs(f0)
        for _ in 0..<steps {
            let p = zip(x, v).map { S(Double($0) + h * Double($1)) }
            let fh = Double(try call("f(x + h v)") { [try f(p)] }[0])
            fmax = max(fmax, abs(fh))
            hs.append(h); rs.append(abs(fh - f0 - h * slope))
            h /= 2
        }
        // Noise of the remainder: rounding of f(x+hv) and f(x), and of x + h v (≈ u |x| |∇f|).
        let noise = 8 * S.unitRoundoff * (fmax + xs * zip(gradient, v).reduce(0.0) { $0 + abs(Double($1.0)) } + abs(slope) * hs[0])
        // The asymptotic regime is at the small steps: fit the smallest `fitPoints` usable ones.
        let usable = Array(zip(hs, rs).filter { $0.1 > noiseMultiple * noise }.suffix(fitPoints))
        var order: Double?
        if usable.count >= 3 {
            let lx = usable.map { log($0.0) }, ly = usable.map { log($0.1) }
            let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
            let sxy = zip(lx, ly).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = lx.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) }
            order = sxy / sxx
        }
        let verdict: Verdict
        if usable.isEmpty { verdict = .consistent }
        else if let o = order { verdict = o >= 1.8 ? .consistent : (o <= 1.3 ? .inconsistent : .inconclusive) }
        else { verdict = .inconclusive }
        return Result(steps: hs, remainders: rs, order: order, usableSteps: usable.count, verdict: verdict, seed: seed)
    }
}

