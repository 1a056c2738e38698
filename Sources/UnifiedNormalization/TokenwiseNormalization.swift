/// Shared arithmetic of the layers whose statistics are taken per token over its channels
/// (LayerNorm, RMSNorm, and PowerNorm's group scaling).
enum TokenwiseNormalization {
    /// Normalizes every token over contiguous channel groups of size `groupSize`.
    /// Returns `z` and the per-(token, group) scale `s = sqrt(stat + ε)`.
    ///
    /// `centered`: LayerNorm (`stat` = variance, subtract the mean); otherwise RMS (`stat` =
    /// mean square, no centering).
    ///
    /// Range-safe: each group is scaled by a power of two (exact) before its sums, so no square
    /// or sum overflows or underflows where the inputs and outputs are representable (a token of
    /// size 1e30 in Float once normalized to zeros). With `x = x'·2^e` (`max|x'|` in [1/2, 1)),
    /// `s² = m2'·2^{2e} + ε` is evaluated as `2^{2k}(m2'·2^{2(e−k)} + ε·2^{−2k})` with `k` the
    /// exponent of the larger term, so both terms are at most a few units and one is of order 1.
    static func forward<S: NormScalar>(
        _ x: [S], rows: Int, channels: Int, groupSize: Int,
        centered: Bool, eps: S
    ) -> (z: [S], scale: [S]) {
        let groups = channels / groupSize
        var z = [S](repeating: 0, count: x.count)
        var scale = [S](repeating: 0, count: rows * groups)
        let n = S(groupSize)
        var xs = [S](repeating: 0, count: groupSize)
        for r in 0..<rows {
            for g in 0..<groups {
                let base = r * channels + g * groupSize
                var big: S = 0
                for k in 0..<groupSize { big = max(big, abs(x[base + k])) }
                let e = big > 0 ? Int(big.exponent) + 1 : 0
                for k in 0..<groupSize { xs[k] = scaled(x[base + k], -e) }
                var mean: S = 0
                if centered {
                    for k in 0..<groupSize { mean += xs[k] }
                    mean /= n
                }
                var m2: S = 0
                for k in 0..<groupSize {
                    let d = xs[k] - mean
                    m2 += d * d
                }
                m2 /= n
                // k: the exponent of the larger of m2'·2^{2e} and ε, halved (s is their root).
                let epsHalf = Int(eps.exponent) / 2
                let kk = m2 > 0 && Int(m2.exponent) / 2 + e >= epsHalf ? Int(m2.exponent) / 2 + e : epsHalf
                let sp = (scaled(m2, 2 * (e - kk)) + scaled(eps, -2 * kk)).squareRoot()
                scale[r * groups + g] = scaled(sp, kk)
                for k in 0..<groupSize { z[base + k] = scaled((xs[k] - mean) / sp, e - kk) }
            }
        }
        return (z, scale)
    }

    /// `v · 2^k`, correctly rounded (exact unless the result leaves the normal range).
    @inline(__always)
    static func scaled<S: NormScalar>(_ v: S, _ k: Int) -> S {
        v == 0 || !v.isFinite ? v : S(sign: .plus, exponent: S.Exponent(k), significand: v)
    }

    /// Exact backward of `forward`: given `G = ∂L/∂z`, returns `∂L/∂x`.
    ///
    /// Per group, with means over the group's `n` channels:
    /// `∂L/∂x = (G − mean(G) − z ⊙ mean(G ⊙ z)) / s` (centered), or
    /// `∂L/∂x = (G − z ⊙ mean(G ⊙ z)) / s` (RMS).
    ///
    /// Range-safe as `forward`: `G` is scaled by a power of two per group, and `s = m·2^E` is
    /// divided by through its significand, the exponents applied once at the end.
    static func backward<S: NormScalar>(
        _ gz: [S], z: [S], scale: [S], rows: Int, channels: Int,
        groupSize: Int, centered: Bool
    ) -> [S] {
        let groups = channels / groupSize
        var dx = [S](repeating: 0, count: gz.count)
        let n = S(groupSize)
        var gs = [S](repeating: 0, count: groupSize)
        for r in 0..<rows {
            for g in 0..<groups {
                let base = r * channels + g * groupSize
                var big: S = 0
                for k in 0..<groupSize { big = max(big, abs(gz[base + k])) }
                let eg = big > 0 ? Int(big.exponent) + 1 : 0
                for k in 0..<groupSize { gs[k] = scaled(gz[base + k], -eg) }
                var mg: S = 0
                var mgz: S = 0
                for k in 0..<groupSize {
                    mg += gs[k]
                    mgz += gs[k] * z[base + k]
                }
                mg = centered ? mg / n : 0
                mgz /= n
                let s = scale[r * groups + g]
                let es = s.isFinite && s > 0 ? Int(s.exponent) : 0
                let sm = s.isFinite && s > 0 ? s.significand : s
                for k in 0..<groupSize { dx[base + k] = scaled((gs[k] - mg - z[base + k] * mgz) / sm, eg - es) }
            }
        }
        return dx
    }
}

/// `γ ⊙ z + β` and the affine gradients `Σ ∂L/∂Y ⊙ z`, `Σ ∂L/∂Y` over all rows.
enum AffineOutput {
    static func apply<S: NormScalar>(_ z: [S], weight: [S], bias: [S], like x: TokenBatch<S>) -> TokenBatch<S> {
        x.with(values: ChannelReductions.map(x) { i, c in weight[c] * z[i] + bias[c] })
    }

    /// `G = γ ⊙ ∂L/∂Y`.
    static func scaledGradient<S: NormScalar>(_ dy: TokenBatch<S>, weight: [S]) -> [S] {
        ChannelReductions.map(dy) { i, c in dy.values[i] * weight[c] }
    }

    static func parameterGradients<S: NormScalar>(_ dy: TokenBatch<S>, z: [S]) -> (weight: [S], bias: [S]) {
        (
            ChannelReductions.dot(dy.values, z, like: dy, realOnly: false),
            ChannelReductions.sum(dy, realOnly: false) { dy.values[$0] }
        )
    }
}
