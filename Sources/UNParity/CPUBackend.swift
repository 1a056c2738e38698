import UnifiedNormalization

/// The reference: the numeric module itself, in the requested precision.
public struct CPUBackend: ComputeBackend {
    public init() {}
    public var name: String { "cpu" }
    public var availability: Availability { .available(device: "host CPU (numeric module)") }
    public func supports(_ p: Precision) -> Bool { true }

    func batch<S: NormScalar>(_ x: [Double], channels: Int, mask: [Bool]? = nil, _: S.Type) throws -> TokenBatch<S> {
        try TokenBatch(tokens: x.count / channels, channels: channels, values: x.map { S($0) }, padMask: mask)
    }

    public func affine(x: [Double], scale: [Double], shift: [Double], channels: Int, precision: Precision) throws
        -> [Double]
    {
        func run<S: NormScalar>(_: S.Type) throws -> [Double] {
            try ChannelAffine(scale: scale.map { S($0) }, shift: shift.map { S($0) }).apply(
                batch(x, channels: channels, S.self)
            ).values.map { Double($0) }
        }
        return precision == .float ? try run(Float.self) : try run(Double.self)
    }

    public func linear(
        x: [Double], weight: [Double], bias: [Double], inputs: Int, outputs: Int, rows: Int, precision: Precision
    ) throws -> [Double] {
        func run<S: NormScalar>(_: S.Type) throws -> [Double] {
            let l = try LinearLayer(
                inputs: inputs, outputs: outputs, weight: weight.map { S($0) }, bias: bias.map { S($0) })
            return try l.apply(batch(x, channels: inputs, S.self)).values.map { Double($0) }
        }
        return precision == .float ? try run(Float.self) : try run(Double.self)
    }

    public func meanSquare(x: [Double], realRows: [Bool], channels: Int, precision: Precision) throws -> [Double] {
        func run<S: NormScalar>(_: S.Type) throws -> [Double] {
            try ChannelStatistics.meanSquare(batch(x, channels: channels, mask: realRows.map { !$0 }, S.self)).map {
                Double($0)
            }
        }
        return precision == .float ? try run(Float.self) : try run(Double.self)
    }

    public func logGeometricMean(buffer: [Double], window: Int, channels: Int, precision: Precision) throws -> [Double]
    {
        func run<S: NormScalar>(_: S.Type) throws -> [Double] {
            try (0..<channels).map { c in
                Double(try GeometricMeanWindow.geometricMean((0..<window).map { S(buffer[$0 * channels + c]) }))
            }
        }
        return precision == .float ? try run(Float.self) : try run(Double.self)
    }

    public func layerNorm(
        x: [Double], gamma: [Double], beta: [Double], channels: Int, eps: Double, precision: Precision
    ) throws -> [Double] {
        func run<S: NormScalar>(_: S.Type) throws -> [Double] {
            try LayerNorm<S>(channels: channels, eps: S(eps), weight: gamma.map { S($0) }, bias: beta.map { S($0) })
                .forwardInference(batch(x, channels: channels, S.self)).values.map { Double($0) }
        }
        return precision == .float ? try run(Float.self) : try run(Double.self)
    }
}
