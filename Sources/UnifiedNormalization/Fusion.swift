/// Inference-time fusion of a per-channel affine normalization into a neighbouring linear layer.
///
/// Over the reals both folds are exact (spec claim F1):
/// - norm then linear: `W (a ⊙ x + b) + c = (W diag(a)) x + (W b + c)`;
/// - linear then norm: `a ⊙ (W x + c) + b = (diag(a) W) x + (a ⊙ c + b)`.
/// In floating point they differ from the unfolded pair by rounding only; the bound is in
/// `proofs/fusion.md`.
public enum Fusion {
    /// Folds `norm` into the linear layer that *follows* it (`linear(norm(x))`).
    public static func fold<L: NormalizationLayer>(_ norm: L, intoFollowing linear: LinearLayer<L.Scalar>) throws
        -> LinearLayer<L.Scalar>
    {
        try fold(norm.inferenceAffine(), intoFollowing: linear)
    }

    /// Folds `norm` into the linear layer that *precedes* it (`norm(linear(x))`).
    public static func fold<L: NormalizationLayer>(_ norm: L, intoPreceding linear: LinearLayer<L.Scalar>) throws
        -> LinearLayer<L.Scalar>
    {
        try fold(norm.inferenceAffine(), intoPreceding: linear)
    }

    public static func fold<S: NormScalar>(_ affine: ChannelAffine<S>, intoFollowing linear: LinearLayer<S>) throws
        -> LinearLayer<S>
    {
        if affine.channels != linear.inputs {
            throw NormalizationError.shapeMismatch(
                what: "fold: norm channels vs linear inputs", expected: [linear.inputs], actual: [affine.channels])
        }
        var w = linear.weight
        var b = linear.bias
        for o in 0..<linear.outputs {
            var s: S = 0
            for i in 0..<linear.inputs {
                s += linear.weight[o * linear.inputs + i] * affine.shift[i]
                w[o * linear.inputs + i] = linear.weight[o * linear.inputs + i] * affine.scale[i]
            }
            b[o] = s + linear.bias[o]
            // A partial sum can overflow where the fused bias does not (as in LinearLayer.apply).
            if !b[o].isFinite {
                b[o] = linear.weight.withUnsafeBufferPointer { wb in
                    affine.shift.withUnsafeBufferPointer {
                        RowKernels.carefulDot(
                            wb.baseAddress! + o * linear.inputs, $0.baseAddress!, linear.inputs, plus: linear.bias[o])
                    }
                }
            }
        }
        return try LinearLayer(inputs: linear.inputs, outputs: linear.outputs, weight: w, bias: b)
    }

    public static func fold<S: NormScalar>(_ affine: ChannelAffine<S>, intoPreceding linear: LinearLayer<S>) throws
        -> LinearLayer<S>
    {
        if affine.channels != linear.outputs {
            throw NormalizationError.shapeMismatch(
                what: "fold: norm channels vs linear outputs", expected: [linear.outputs], actual: [affine.channels])
        }
        var w = linear.weight
        var b = linear.bias
        for o in 0..<linear.outputs {
            for i in 0..<linear.inputs {
                w[o * linear.inputs + i] = affine.scale[o] * linear.weight[o * linear.inputs + i]
            }
            b[o] = RowKernels.multiplyAdd(affine.scale[o], linear.bias[o], affine.shift[o])
        }
        return try LinearLayer(inputs: linear.inputs, outputs: linear.outputs, weight: w, bias: b)
    }
}
