/// Per-channel reductions over token rows, shared by the layers that take statistics over
/// tokens (BatchNorm, PowerNorm, UN). Plain left-to-right summation: the rounding-error
/// bound of a length-`n` sum is `γ_{n-1} Σ|x_i|` with `γ_k = k u / (1 − k u)`.
enum ChannelReductions {
    /// `Σ_rows f(row, c)` over the selected rows, per channel.
    @inline(__always)
    static func sum<S: NormScalar>(_ x: TokenBatch<S>, realOnly: Bool, _ f: (Int) -> S) -> [S] {
        let c = x.channels
        var acc = [S](repeating: 0, count: c)
        for r in 0..<x.rows where !realOnly || x.isReal(row: r) {
            let base = r * c
            for j in 0..<c { acc[j] += f(base + j) }
        }
        return acc
    }

    /// Per-channel mean of `x²` over the real tokens (the quadratic mean, no centering).
    static func meanSquare<S: NormScalar>(_ x: TokenBatch<S>) -> [S] {
        let t = S(x.realTokenCount)
        return sum(x, realOnly: true) { x.values[$0] * x.values[$0] }.map { $0 / t }
    }

    /// Per-channel mean over the real tokens.
    static func mean<S: NormScalar>(_ x: TokenBatch<S>) -> [S] {
        let t = S(x.realTokenCount)
        return sum(x, realOnly: true) { x.values[$0] }.map { $0 / t }
    }

    /// Per-channel `Σ a⊙b` over rows (all rows or real rows only).
    static func dot<S: NormScalar>(_ a: [S], _ b: [S], like x: TokenBatch<S>, realOnly: Bool) -> [S] {
        sum(x, realOnly: realOnly) { a[$0] * b[$0] }
    }

    /// Applies `f(flatIndex, channel)` to every entry.
    static func map<S: NormScalar>(_ x: TokenBatch<S>, _ f: (Int, Int) -> S) -> [S] {
        var out = [S](repeating: 0, count: x.values.count)
        let c = x.channels
        for r in 0..<x.rows {
            for j in 0..<c { out[r * c + j] = f(r * c + j, j) }
        }
        return out
    }
}

/// Per-channel statistics over the real tokens, public for other modules (the parity runner
/// compares device reductions with these).
public enum ChannelStatistics {
    /// `σ²_c = (1/T) Σ_{real rows} x_{r,c}²`, summed left to right.
    public static func meanSquare<S: NormScalar>(_ x: TokenBatch<S>) throws -> [S] {
        try x.validatedForStatistics(channels: x.channels)
        return ChannelReductions.meanSquare(x)
    }
}
