import Foundation

/// Binomial probabilities accurate to a few ulps for every `n ≤ 2³²−1`.
///
/// GSL's `binomial_pdf` goes through `ln C(n, k)` from log-gamma values of size `n ln 2`, whose
/// rounding (about `u·n`) is the result's relative error: 9e-6 at `n = 2³²−1`. Loader's saddle-point
/// form (C. Loader, "Fast and accurate computation of binomial probabilities", 2000; R's `dbinom`)
/// writes the log-probability as small terms, Stirling's error and the deviance `bd0`, none of
/// size `n`, so the result keeps its digits. Tails are sums of terms from the requested point away
/// from the mode: each term is the previous times the ratio `r_j` of neighbouring probabilities,
/// which falls monotonically away from the mode, so the unsummed remainder is at most
/// `t·r/(1 − r)`, and summation stops when that is below `2⁻⁶⁰` of the sum (the tail is then exact
/// to rounding). The terms are summed relative to the first one and the first one applied in the
/// log domain, so a tail whose first term underflows but whose sum does not still comes out.
/// Cost: at most a few tens of standard deviations of terms (`σ ≤ 2¹⁵` here).
enum BinomialTerms {
    /// Stirling's error `ln n! − ln(√(2πn)(n/e)ⁿ)`.
    static func stirlingError(_ n: Double) -> Double {
        if n <= 15 {
            // Direct: the terms are of size ≤ 28, so the absolute error is about 1e-14 in the log.
            return lgamma(n + 1) - (n + 0.5) * log(n) + n - 0.5 * log(2 * Double.pi)
        }
        let (s0, s1, s2, s3, s4) = (1.0 / 12, 1.0 / 360, 1.0 / 1260, 1.0 / 1680, 1.0 / 1188)
        let nn = n * n
        if n > 500 { return (s0 - s1 / nn) / n }
        if n > 80 { return (s0 - (s1 - s2 / nn) / nn) / n }
        if n > 35 { return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n }
        return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n
    }

    /// The deviance `x ln(x/m) + m − x`, by its series where `x ≈ m` (the direct form cancels).
    /// `x = 0` gives `m`; `x/m` beyond the range (m = n·p below 1e−308) is `x(ln x − ln m)`.
    static func deviance(_ x: Double, _ m: Double) -> Double {
        if x == 0 { return m }
        guard abs(x - m) < 0.1 * (x + m) else {
            let ratio = x / m
            return (ratio.isFinite ? x * log(ratio) : x * (log(x) - log(m))) + m - x
        }
        var v = (x - m) / (x + m)
        var s = (x - m) * v
        var ej = 2 * x * v
        v *= v
        for j in 1...1000 {
            ej *= v
            let s1 = s + ej / Double(2 * j + 1)
            if s1 == s { return s1 }
            s = s1
        }
        return s
    }

    /// `ln P(X = k)` for `X ~ Binomial(n, p)`, `0 < p < 1` (Loader's `dbinom_raw` in the log domain).
    ///
    /// Two refinements of R's form, each worth digits at large n: the means `n·p`, `n·q` are carried in
    /// two parts (`fma` gives the rounding error of the product) and the deviance corrected to first
    /// order, `bd0(x, m + δ) ≈ bd0(x, m) + (1 − x/m)·δ` (the rounded mean cost (m − x)·u, 3e-11 at 20σ for
    /// n = 2³¹); and `ln(1 − x/n)` is `ln(n − x) − ln n` (n − x is exact; `log1p(−x/n)` rounded x/n first,
    /// costing u·x/(n − x), 1e-8 at k = n − 1, n = 10⁹).
    static func logPMF(_ k: Int, n: Int, p: Double) -> Double {
        if n == 0 { return 0 }
        let q = 1 - p
        // The rounding of q itself, exactly: (1 − q) − p (both subtractions exact by Sterbenz's lemma
        // where q ≥ 1/2; 0 otherwise, where 1 − p is exact).
        let qLow = q >= 0.5 ? (1 - q) - p : 0
        let (x, nd) = (Double(k), Double(n))
        // n·r + n·rLow as (m, low): m the rounded product, low the rest (fma gives n·r − m exactly).
        func dev(_ x: Double, _ r: Double, _ rLow: Double) -> Double {
            let m = nd * r
            let low = (-m).addingProduct(nd, r) + nd * rLow
            // x/m beyond the range (subnormal m): the correction is below the deviance's own rounding.
            let slope = 1 - x / m
            return deviance(x, m) + (m > 0 && slope.isFinite ? slope * low : 0)
        }
        if k == 0 { return p < 0.1 ? -dev(nd, q, qLow) - nd * p : nd * log1p(-p) }
        if k == n { return q < 0.1 ? -dev(nd, p, 0) - nd * q : nd * log(p) }
        let lc =
            stirlingError(nd) - stirlingError(x) - stirlingError(nd - x) - dev(x, p, 0) - dev(nd - x, q, qLow)
        let lf = log(2 * Double.pi) + log(x) + log(nd - x) - log(nd)
        return lc - 0.5 * lf
    }

    /// `P(X = k)`, exact at `p ∈ {0, 1}`.
    static func pmf(_ k: Int, n: Int, p: Double) -> Double {
        if p == 0 { return k == 0 ? 1 : 0 }
        if p == 1 { return k == n ? 1 : 0 }
        return exp(logPMF(k, n: n, p: p))
    }

    /// `Σ_{j ≤ k} P(X = j)` (`downward`) or `Σ_{j ≥ k} P(X = j)`, summed away from the mode from `k`,
    /// for `k` on the far side of the mode (the caller ensures it: the ratios then fall).
    static func tail(from k: Int, n: Int, p: Double, downward: Bool) -> Double {
        let q = 1 - p
        let odds = downward ? q / p : p / q
        var term = 1.0  // relative to P(X = k)
        var sum = 1.0
        var j = k
        while downward ? j > 0 : j < n {
            // P(j−1)/P(j) = j/(n−j+1) · q/p; P(j+1)/P(j) = (n−j)/(j+1) · p/q.
            let r = downward ? Double(j) / Double(n - j + 1) * odds : Double(n - j) / Double(j + 1) * odds
            term *= r
            sum += term
            j += downward ? -1 : 1
            let next = downward ? Double(j) / Double(n - j + 1) * odds : Double(n - j) / Double(j + 1) * odds
            if next < 1, term * next / (1 - next) < sum * 0x1p-60 { break }
            if term == 0 { break }
        }
        return exp(logPMF(k, n: n, p: p) + log(sum))
    }

    /// `P(X ≤ k)`.
    static func cdf(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 0 }
        if k >= n { return 1 }
        if p == 0 { return 1 }
        if p == 1 { return 0 }
        // Below the mean the lower tail is the smaller side and its ratios fall from k downward.
        return Double(k) < Double(n) * p ? clamped(tail(from: k, n: n, p: p, downward: true)) : 1 - sf(k, n: n, p: p)
    }

    /// `P(X > k)`.
    static func sf(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 1 }
        if k >= n { return 0 }
        if p == 0 { return 0 }
        if p == 1 { return 1 }
        return Double(k + 1) > Double(n) * p
            ? clamped(tail(from: k + 1, n: n, p: p, downward: false)) : 1 - cdf(k, n: n, p: p)
    }

    /// At most 1, a NaN kept (min(1, NaN) is 1 in Swift: a failure would have read as certainty).
    static func clamped(_ v: Double) -> Double { v.isNaN ? v : min(1, v) }
}
