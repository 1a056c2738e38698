import RealModule

/// Means of a window of positive statistics, as UN's fluctuation smoothing uses them.
public enum GeometricMeanWindow {
    /// The geometric mean `exp(mean(log w))`, computed in the log domain.
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
        var s: S = 0
        for v in w { s += S.log(v) }
        return S.exp(s / S(w.count))
    }

    /// The naive product form `(∏ w_i)^{1/M}`, kept only to demonstrate its overflow (K4).
    public static func naiveGeometricMean<S: NormScalar>(_ w: some Collection<S>) -> S {
        var p: S = 1
        for v in w { p *= v }
        return S.pow(p, 1 / S(w.count))
    }

    @inlinable
    public static func arithmeticMean<S: NormScalar>(_ w: some Collection<S>) -> S {
        var s: S = 0
        for v in w { s += v }
        return s / S(w.count)
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
