import RealModule

/// Means of a window of positive statistics, as UN's fluctuation smoothing uses them.
public enum GeometricMeanWindow {
    /// The geometric mean `exp(mean(log w))`, computed in the log domain, range-safe.
    ///
    /// Why the log domain: the naive `(∏ w_i)^{1/M}` overflows or underflows as soon as the
    /// product leaves the exponent range (e.g. four values of 1e100 in Double), while every
    /// `log w_i` is of modest size. A zero entry gives `log 0 = −∞` and a geometric mean of 0,
    /// which is what the authors' code computes for a buffer that still holds its initial zeros.
    ///
    /// - Throws: ``NormalizationError/emptyBatch`` for an empty window,
    ///   ``NormalizationError/nonFinite(what:index:)`` for a negative, NaN or infinite entry.
    @inlinable
    public static func geometricMean<S: NormScalar>(_ w: some Collection<S>) throws -> S {
        guard !w.isEmpty else { throw NormalizationError.emptyBatch }
        for (i, v) in w.enumerated() where !(v >= 0 && v.isFinite) {
            throw NormalizationError.nonFinite(what: "window", index: i)
        }
        // Each w = m·2^e with m in [1/√2, √2): mean(log w) = mean(log m) + ln 2·Σe/M. With Σe = qM + r
        // (0 ≤ r < M) the mean is exp(mean(log m) + ln 2·r/M)·2^q: |log m| ≤ min(|log w|, ln 2/2), the
        // exponential's argument is below 1.04, and the power of two is applied exactly at the end, so
        // an entry's size costs no accuracy (exp(mean log w) lost an ulp per unit of |log w| and gave ∞
        // for a window of the largest Float). Bound (proofs/outlier-filtration.md#k4):
        // (M+2)·min(L, ln 2/2) + 5 ulps, L = max |log w|. In Double, so a Float result rounds once more.
        var logSum = 0.0
        var exponentSum = 0
        for v in w {
            guard v != 0 else { return 0 }
            let d = Double(v)
            var m = d.significand
            var e = Int(d.exponent)
            if m >= 0x1.6A09E667F3BCDp0 {  // √2, rounded down: m/2 is then at least 1/√2
                m /= 2
                e += 1
            }
            logSum += Double.log(m)
            exponentSum += e
        }
        let n = w.count
        var q = exponentSum / n
        var r = exponentSum % n
        if r < 0 { (q, r) = (q - 1, r + n) }
        let g = Double.exp(logSum / Double(n) + Double(r) / Double(n) * Double.log(2))
        return S(Double(sign: .plus, exponent: q, significand: g))
    }

    /// The naive product form `(∏ w_i)^{1/M}`, kept only to demonstrate its overflow (K4).
    public static func naiveGeometricMean<S: NormScalar>(_ w: some Collection<S>) -> S {
        var p: S = 1
        for v in w { p *= v }
        return S.pow(p, 1 / S(w.count))
    }

    /// The arithmetic mean. Range-safe: where the sum overflows but the mean does not (a window of
    /// statistics near the largest value), the mean of `w·2^−k` times `2^k`, `2^k ≥ M`.
    @inlinable
    public static func arithmeticMean<S: NormScalar>(_ w: some Collection<S>) -> S {
        var s: S = 0
        for v in w { s += v }
        guard !s.isFinite, w.allSatisfy({ $0.isFinite }) else { return s / S(w.count) }
        let k = Int(S(w.count).exponent) + 1
        var t: S = 0
        for v in w { t += S(sign: .plus, exponent: S.Exponent(-k), significand: v) }
        return S(sign: .plus, exponent: S.Exponent(k), significand: t / S(w.count))
    }

    /// The variance of the square roots of the window, population (`/M`) or unbiased (`/(M−1)`).
    public static func varianceOfSquareRoots<S: NormScalar>(_ w: some Collection<S>, unbiased: Bool) -> S {
        let r = w.map { $0.squareRoot() }
        let m = arithmeticMean(r)
        var s: S = 0
        for v in r { s += (v - m) * (v - m) }
        let d = unbiased ? r.count - 1 : r.count
        return d > 0 ? s / S(d) : .nan
    }
}
