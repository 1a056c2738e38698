/// The rounding-error bound of a fold (spec claim F2, derived in `proofs/fusion.md#f2`), in
/// one place for the tests, the claims catalogue and the parity runner.
extension Fusion {
    /// `γ_k = k u / (1 − k u)`.
    static func gamma(_ k: Int, _ u: Double) -> Double { RoundingError.gamma(k, unitRoundoff: u) }

    /// Per output entry (row-major, `rows × outputs`), a bound on `|folded − unfolded|` for
    /// `linear(norm(x))` with `norm = a ⊙ x + b`:
    /// `2 γ_{n+3} (Σ_k |W_ik|(|a_k x_k| + |b_k|) + |c_i|)`. Both evaluations carry at most three
    /// roundings per term before a length-`n` sum (any summation order; fused operations only
    /// remove roundings), so each is within `γ_{n+3}` of that magnitude of the exact value.
    public static func followingFoldErrorBound(
        scale a: [Double], shift b: [Double], weight w: [Double], bias c: [Double],
        input x: [Double], inputs n: Int, outputs o: Int, unitRoundoff u: Double
    ) -> [Double] {
        let g = gamma(n + 3, u)
        return (0..<(x.count / n)).flatMap { r in
            (0..<o).map { i in
                var m = abs(c[i])
                for k in 0..<n { m += abs(w[i * n + k]) * (abs(a[k] * x[r * n + k]) + abs(b[k])) }
                return 2 * g * m
            }
        }
    }

    /// The mirror bound for `norm(linear(x))`: `2 γ_{n+3} (Σ_k |a_i W_ik x_k| + |a_i c_i| + |b_i|)`.
    public static func precedingFoldErrorBound(
        scale a: [Double], shift b: [Double], weight w: [Double], bias c: [Double],
        input x: [Double], inputs n: Int, outputs o: Int, unitRoundoff u: Double
    ) -> [Double] {
        let g = gamma(n + 3, u)
        return (0..<(x.count / n)).flatMap { r in
            (0..<o).map { i in
                var m = abs(a[i] * c[i]) + abs(b[i])
                for k in 0..<n { m += abs(a[i] * w[i * n + k] * x[r * n + k]) }
                return 2 * g * m
            }
        }
    }

    /// The following-fold bound for layers in precision `S`.
    public static func followingFoldErrorBound<S: NormScalar>(
        _ affine: ChannelAffine<S>, _ linear: LinearLayer<S>, input x: TokenBatch<S>
    ) -> [Double] {
        followingFoldErrorBound(
            scale: affine.scale.map(Double.init), shift: affine.shift.map(Double.init),
            weight: linear.weight.map(Double.init),
            bias: linear.bias.map(Double.init), input: x.values.map(Double.init), inputs: linear.inputs,
            outputs: linear.outputs, unitRoundoff: Double(S.unitRoundoff))
    }

    /// The preceding-fold bound for layers in precision `S`.
    public static func precedingFoldErrorBound<S: NormScalar>(
        _ affine: ChannelAffine<S>, _ linear: LinearLayer<S>, input x: TokenBatch<S>
    ) -> [Double] {
        precedingFoldErrorBound(
            scale: affine.scale.map(Double.init), shift: affine.shift.map(Double.init),
            weight: linear.weight.map(Double.init),
            bias: linear.bias.map(Double.init), input: x.values.map(Double.init), inputs: linear.inputs,
            outputs: linear.outputs, unitRoundoff: Double(S.unitRoundoff))
    }
}
