/// Shared arithmetic of the layers whose statistics are taken per token over its channels
/// (LayerNorm, RMSNorm, and PowerNorm's group scaling).
enum TokenwiseNormalization {
    /// Normalizes every token over contiguous channel groups of size `groupSize`.
    /// Returns `z` and the per-(token, group) scale `s = sqrt(stat + ε)`.
    ///
    /// `centered`: LayerNorm (`stat` = variance, subtract the mean); otherwise RMS (`stat` =
    /// mean square, no centering).
    static func forward<S: NormScalar>(_ x: [S], rows: Int, channels: Int, groupSize: Int,
                                       centered: Bool, eps: S) -> (z: [S], scale: [S]) {
        let groups = channels / groupSize
        var z = [S](repeating: 0, count: x.count)
        var scale = [S](repeating: 0, count: rows * groups)
        let n = S(groupSize)
        for r in 0..<rows {
            for g in 0..<groups {
                let base = r * channels + g * groupSize
                var mean: S = 0
                if centered {
                    for k in 0..<groupSize { mean += x[base + k] }
                    mean /= n
                }
                var m2: S = 0
                for k in 0..<groupSize { let d = x[base + k] - mean; m2 += d * d }
                let s = (m2 / n + eps).squareRoot()
                scale[r * groups + g] = s
                for k in 0..<groupSize { z[base + k] = (x[base + k] - mean) / s }
            }
        }
        return (z, scale)
    }

    /// Exact backward of `forward`: given `G = ∂L/∂z`, returns `∂L/∂x`.
    ///
    /// Per group, with means over the group's `n` channels:
    /// `∂L/∂x = (G − mean(G) − z ⊙ mean(G ⊙ z)) / s` (centered), or
    /// `∂L/∂x = (G − z ⊙ mean(G ⊙ z)) / s` (RMS).
    static func backward<S: NormScalar>(_ gz: [S], z: [S], scale: [S], rows: Int, channels: Int,
                                        groupSize: Int, centered: Bool) -> [S] {
        let groups = channels / groupSize
        var dx = [S](repeating: 0, count: gz.count)
        let n = S(groupSize)
        for r in 0..<rows {
            for g in 0..<groups {
                let base = r * channels + g * groupSize
                var mg: S = 0
                var mgz: S = 0
                for k in 0..<groupSize {
                    mg += gz[base + k]
                    mgz += gz[base + k] * z[base + k]
                }
                mg = centered ? mg / n : 0
                mgz /= n
                let s = scale[r * groups + g]
                for k in 0..<groupSize { dx[base + k] = (gz[base + k] - mg - z[base + k] * mgz) / s }
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
        (ChannelReductions.dot(dy.values, z, like: dy, realOnly: false),
         ChannelReductions.sum(dy, realOnly: false) { dy.values[$0] })
    }
}
