/// The constants of floating-point error analysis, in one place.
///
/// Source: N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002,
/// §2.2 and Lemma 3.1, DOI 10.1137/1.9780898718027.
public enum RoundingError {
    /// `γ_k = k·u / (1 − k·u)`: a product of `k` factors `(1 + δ_i)^{±1}` with `|δ_i| ≤ u` is
    /// `1 + θ_k` with `|θ_k| ≤ γ_k`, provided `k·u < 1` (`+∞` otherwise: no bound).
    /// - Parameters:
    ///   - k: the number of roundings (≥ 0).
    ///   - u: the unit roundoff (`ulpOfOne / 2` for round to nearest; `NormScalar.unitRoundoff`).
    public static func gamma(_ k: Int, unitRoundoff u: Double) -> Double {
        let ku = Double(k) * u
        return ku < 1 ? ku / (1 - ku) : .infinity
    }
}
