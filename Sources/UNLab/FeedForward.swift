/// The Transformer's position-wise MLP, `d → 4d → d` with the exact GELU between:
/// `MLP(x) = gelu(x·W₁ + b₁)·W₂ + b₂` (Vaswani et al. 2017, arXiv:1706.03762, section 3.3,
/// with GELU in place of ReLU as in BERT and ViT).
public struct FeedForward: Sendable, Equatable {
    public internal(set) var up: Dense
    public internal(set) var down: Dense
    public var width: Int { up.inputs }

    /// What the backward pass needs: the input and the pre-activation.
    public struct Cache: Sendable {
        let x: [Double]
        let preActivation: [Double]
        let hidden: [Double]
        let rows: Int
    }

    public struct Gradients: Sendable, Equatable {
        public var input: [Double]
        public var up: Dense.Gradients
        public var down: Dense.Gradients
    }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` unless `up` is
    ///   `d → h` and `down` is `h → d` for the same `d` and `h`.
    public init(up: Dense, down: Dense) throws {
        guard up.outputs == down.inputs, down.outputs == up.inputs else {
            throw LabError.shapeMismatch(
                what: "MLP layers", expected: [up.inputs, up.outputs, up.inputs],
                actual: [down.outputs, down.inputs, down.outputs])
        }
        self.up = up
        self.down = down
    }

    /// `d → 4d → d` with PyTorch's default `nn.Linear` initialization.
    public init(width d: Int, using rng: inout LabRandom) throws {
        try requirePositive(d, "width", atMost: 1 << 16)
        try self.init(
            up: Dense(inputs: d, outputs: 4 * d, using: &rng), down: Dense(inputs: 4 * d, outputs: d, using: &rng))
    }

    /// `x` is `rows × d`; returns `rows × d`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for a wrongly sized `x`.
    public func forward(_ x: [Double], rows: Int) throws -> (output: [Double], cache: Cache) {
        let a = try up.forward(x, rows: rows)
        let h = GELU.forward(a)
        return (try down.forward(h, rows: rows), Cache(x: x, preActivation: a, hidden: h, rows: rows))
    }

    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for a wrongly sized gradient.
    public func backward(_ dy: [Double], cache: Cache) throws -> Gradients {
        let gd = try down.backward(dy, input: cache.hidden, rows: cache.rows)
        let da = try GELU.backward(gd.input, input: cache.preActivation)
        let gu = try up.backward(da, input: cache.x, rows: cache.rows)
        return Gradients(input: gu.input, up: gu, down: gd)
    }
}
