/// A per-channel affine map `y = a ⊙ x + b`: the inference form of UN, BatchNorm and PowerNorm
/// once their running statistics are frozen. This is what makes those layers foldable.
public struct ChannelAffine<Scalar: NormScalar>: Sendable, Equatable {
    /// Set through the initializer only (validated sizes and values; the kernels rely on them).
    public internal(set) var scale: [Scalar]
    public internal(set) var shift: [Scalar]

    public init(scale: [Scalar], shift: [Scalar]) throws {
        try requireCount(shift, scale.count, "shift")
        try requireFinite(scale, "scale")
        try requireFinite(shift, "shift")
        self.scale = scale
        self.shift = shift
    }

    public var channels: Int { scale.count }

    /// Applies the map to every token.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func apply(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        var storage = [Scalar]()
        return try apply(x, reusing: &storage)
    }

    /// ``apply(_:)`` writing into `output`'s buffer where it has as many entries as `x` and is not
    /// shared (no allocation); on return `output` has `x`'s shape and mask.
    /// - Throws: as ``apply(_:)``; `output`'s values are then unspecified.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func apply(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws {
        try output.overwrite { try apply(x, reusing: &$0) }
    }

    func apply(_ x: TokenBatch<Scalar>, reusing storage: inout [Scalar]) throws -> TokenBatch<Scalar> {
        try x.validatedShape(channels: channels)
        let r = RowKernels.channelAffine(
            x.values, rows: x.rows, channels: channels, scale: scale, shift: shift, reusing: &storage)
        if let i = r.firstNonFinite { throw NormalizationError.nonFinite(what: "input", index: i) }
        if let i = r.firstOverflow {
            throw NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: i)
        }
        return x.withUnchecked(values: r.values)
    }

    /// `γ / sqrt(v + ε)` and `β`: the map of a layer normalizing by a fixed variance `v`.
    static func normalizing(variance v: [Scalar], eps: Scalar, weight: [Scalar], bias: [Scalar], mean: [Scalar]? = nil)
        throws -> ChannelAffine
    {
        var a = [Scalar](repeating: 0, count: v.count)
        var b = bias
        for c in v.indices {
            a[c] = weight[c] / RowKernels.rootOfSum(v[c], eps)
            if let m = mean { b[c] = bias[c] - a[c] * m[c] }
        }
        return try ChannelAffine(scale: a, shift: b)
    }
}
