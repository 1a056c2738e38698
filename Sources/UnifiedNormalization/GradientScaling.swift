/// Range-safe backward passes for large output gradients.
///
/// Every backward here is linear in `∂L/∂Y` jointly with the layer's gradient statistics (UN's
/// `emaGz` and `bufferGz`, PowerNorm's `emaGz`): scaling them all by `2^−s` scales every result
/// and every updated statistic by `2^−s`, exactly (powers of two), barring underflow of entries
/// below `2^−s` times the rounding of the largest. The backward's intermediate sums
/// (`Σ g`, `Σ g⊙z` over the tokens) can overflow long before its results do (`∂L/∂Y` of ±1e308
/// gave ±∞ where every true entry was finite), so when a bound on those sums leaves the range, the
/// backward runs on the scaled values and its results are scaled back; a result or statistic that is
/// then beyond the range is a typed error (the true value is not representable), never ±∞ or NaN.
enum GradientScaling {
    /// The `s ≥ 0` that keeps `rows · max|∂L/∂Y| · max(1, |γ|) · max(1, |z|) · 4` (a bound on every
    /// intermediate sum and difference of the backward passes) within the range of `S`.
    /// `state`: the gradient statistics scaled with `∂L/∂Y` (their magnitudes count as its).
    /// Cost: this runs on every backward, so a vectorized bound (`RowKernels.magnitudeBound`,
    /// within a factor `2√n` of each maximum) decides first; only when that bound leaves the range
    /// does an exact scan of the maxima decide (then scaling is likely needed anyway).
    /// `dyBound`: ``RowKernels/magnitudeBound(_:)`` of `dy` when the caller has it already.
    static func exponent<S: NormScalar>(
        _ dy: [S], weight: [S], z: [S], rows: Int, state: [[S]] = [], dyBound: S? = nil
    ) -> Int {
        let limit = Double(S.greatestFiniteMagnitude.exponent)
        func shift(_ m: Double, _ w: Double, _ zm: Double) -> Int {
            let bound = Double(m.exponent) + Double(w.exponent) + Double(zm.exponent)
            let total = bound + Double(max(rows, 1)).log2Ceiling + 5
            return total < limit ? 0 : Int(total - limit) + 1
        }
        var fast = dyBound ?? RowKernels.magnitudeBound(dy)
        for s in state { fast = max(fast, RowKernels.magnitudeBound(s)) }
        let fastW = max(1, RowKernels.magnitudeBound(weight))
        let fastZ = max(1, RowKernels.magnitudeBound(z))
        if fast.isFinite && fastW.isFinite && fastZ.isFinite {
            guard fast > 0 else { return 0 }
            if shift(Double(fast), Double(fastW), Double(fastZ)) == 0 { return 0 }
        }
        var m = 0.0
        for v in dy { m = max(m, abs(Double(v))) }
        for s in state { for v in s { m = max(m, abs(Double(v))) } }
        guard m > 0 else { return 0 }
        var w = 1.0
        for v in weight { w = max(w, abs(Double(v))) }
        var zm = 1.0
        for v in z { zm = max(zm, abs(Double(v))) }
        return shift(m, w, zm)
    }

    /// `v · 2^k`, exactly where the result is normal.
    static func scaled<S: NormScalar>(_ v: [S], _ k: Int) -> [S] {
        guard k != 0 else { return v }
        // Two factors, so a shift beyond one factor's range still scales exactly.
        let half = k / 2
        let f1 = S(sign: .plus, exponent: S.Exponent(half), significand: 1)
        let f2 = S(sign: .plus, exponent: S.Exponent(k - half), significand: 1)
        return v.map { $0 * f1 * f2 }
    }

    /// The gradients scaled by `2^k` (`k = 0`: unchanged); a typed error where an entry is beyond the range.
    static func scaled<S: NormScalar>(_ g: NormGradients<S>, _ k: Int) throws -> NormGradients<S> {
        let dx = scaled(g.input.values, k)
        let gw = scaled(g.weight, k)
        let gb = scaled(g.bias, k)
        if let i = RowKernels.firstNonFinite(dx) {
            throw NormalizationError.nonFinite(what: "input gradient (beyond the range of the type)", index: i)
        }
        if let i = RowKernels.firstNonFinite(gw + gb) {
            throw NormalizationError.nonFinite(what: "parameter gradient (beyond the range of the type)", index: i)
        }
        return NormGradients(input: g.input.withUnchecked(values: dx), weight: gw, bias: gb)
    }
}

extension Double {
    /// `⌈log₂ self⌉` for `self ≥ 1`.
    fileprivate var log2Ceiling: Double {
        let e = Double(exponent)
        return significand == 1 ? e : e + 1
    }
}
