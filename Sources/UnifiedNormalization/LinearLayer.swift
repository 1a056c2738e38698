/// A dense layer `y = W x + b` applied to every token (`W` is `outputs × inputs`, row-major).
public struct LinearLayer<Scalar: NormScalar>: Sendable, Equatable {
    public let inputs: Int
    public let outputs: Int
    /// Set through the initializer only (validated sizes and values; the kernels rely on them).
    public internal(set) var weight: [Scalar]
    public internal(set) var bias: [Scalar]

    public init(inputs: Int, outputs: Int, weight: [Scalar], bias: [Scalar]) throws {
        try ConfigurationCheck.atLeast(inputs, 1, "inputs")
        try ConfigurationCheck.atLeast(outputs, 1, "outputs")
        let (size, overflow) = inputs.multipliedReportingOverflow(by: outputs)
        if overflow || weight.count != size {
            throw NormalizationError.shapeMismatch(
                what: "linear weight", expected: [outputs, inputs], actual: [weight.count])
        }
        try requireCount(bias, outputs, "linear bias")
        try requireFinite(weight, "linear weight")
        try requireFinite(bias, "linear bias")
        self.inputs = inputs
        self.outputs = outputs
        self.weight = weight
        self.bias = bias
    }

    /// Applies the layer to every token row.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func apply(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        if x.channels != inputs {
            throw NormalizationError.shapeMismatch(
                what: "linear input channels", expected: [inputs], actual: [x.channels])
        }
        try requireFinite(x.values, "linear input")
        var out = RowKernels.matrixRows(
            x.values, rows: x.rows, weight: weight, bias: bias, outputs: outputs, inputs: inputs)
        // A partial sum can overflow where the output does not (3e38 + 3e38 − 3e38 in Float): such
        // an entry is recomputed range-safe; one still infinite is beyond the range (a typed error).
        if RowKernels.firstNonFinite(out) != nil {
            x.values.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    for i in out.indices where !out[i].isFinite {
                        let (r, o) = i.quotientAndRemainder(dividingBy: outputs)
                        out[i] = RowKernels.carefulDot(
                            wb.baseAddress! + o * inputs, xb.baseAddress! + r * inputs, inputs, plus: bias[o])
                    }
                }
            }
            if let i = RowKernels.firstNonFinite(out) {
                throw NormalizationError.nonFinite(what: "linear output (beyond the range of the type)", index: i)
            }
        }
        return try TokenBatch(
            batch: x.batch, tokens: x.tokens, channels: outputs, values: out,
            padMask: x.padMask, isUnbatched: x.isUnbatched)
    }
}
