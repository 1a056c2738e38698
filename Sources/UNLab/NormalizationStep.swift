import UnifiedNormalization

/// How the lab calls a layer of the numeric module: its rows are the `B·T` tokens, with the
/// batch's key-padding mask as the layer's padding mask, so that padded tokens are left out of
/// every statistic exactly as the module does it (``TokenBatch``). Errors become ``LabError``.
extension NormalizationLayer where Scalar == Double {
    mutating func labForwardTraining(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws
        -> (output: [Double], cache: Cache)
    {
        try normalizing {
            let tb = try TokenBatch<Double>(
                batch: batch, tokens: tokens, channels: channels, values: x, padMask: padMask)
            let (y, cache) = try forwardTraining(tb)
            return (y.values, cache)
        }
    }

    func labForwardInference(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws -> [Double] {
        try normalizing {
            try forwardInference(
                TokenBatch<Double>(batch: batch, tokens: tokens, channels: channels, values: x, padMask: padMask)
            ).values
        }
    }

    /// `(∂L/∂X, [∂L/∂γ, ∂L/∂β])`.
    mutating func labBackward(_ dy: [Double], cache: Cache, batch: Int, tokens: Int, padMask: [Bool]?) throws
        -> (input: [Double], parameters: [[Double]])
    {
        try normalizing {
            let tb = try TokenBatch<Double>(
                batch: batch, tokens: tokens, channels: channels, values: dy, padMask: padMask)
            let g = try backward(tb, cache: cache)
            return (g.input.values, [g.weight, g.bias])
        }
    }

    /// `[γ, β]`.
    var labParameters: [[Double]] { [weight, bias] }

    mutating func setLabParameters(_ p: ArraySlice<[Double]>) throws {
        guard p.count == 2 else {
            throw LabError.shapeMismatch(what: "norm parameters", expected: [2], actual: [p.count])
        }
        try normalizing { try setAffine(weight: p[p.startIndex], bias: p[p.startIndex + 1]) }
    }
}
