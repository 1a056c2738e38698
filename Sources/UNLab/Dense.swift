/// A fully connected layer `Y = X·W + b` on the rows of `X`: `X` is `n × inputs`, `W` is
/// `inputs × outputs` (row-major), `b` has `outputs` entries. Products through BLAS.
public struct Dense: Sendable, Equatable {
    public let inputs: Int
    public let outputs: Int
    public internal(set) var weight: [Double]
    public internal(set) var bias: [Double]

    /// The gradients of a loss with respect to the input and the parameters.
    public struct Gradients: Sendable, Equatable {
        public var input: [Double]
        public var weight: [Double]
        public var bias: [Double]
    }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for a size
    ///   outside `1...2²⁰`, ``LabError/shapeMismatch(what:expected:actual:)`` or
    ///   ``LabError/nonFinite(what:index:)`` for a bad weight or bias.
    public init(inputs: Int, outputs: Int, weight: [Double], bias: [Double]) throws {
        try requirePositive(inputs, "inputs")
        try requirePositive(outputs, "outputs")
        try requireCount(weight, inputs * outputs, "weight")
        try requireCount(bias, outputs, "bias")
        try requireFinite(weight, "weight")
        try requireFinite(bias, "bias")
        self.inputs = inputs
        self.outputs = outputs
        self.weight = weight
        self.bias = bias
    }

    /// Weights uniform in `±1/√inputs` (the bound of PyTorch's `nn.Linear`), biases 0.
    /// - Throws: as ``init(inputs:outputs:weight:bias:)``, and for more than 2²⁶ weights.
    public init(inputs: Int, outputs: Int, using rng: inout LabRandom) throws {
        try requirePositive(inputs, "inputs")
        try requirePositive(outputs, "outputs")
        let n = try tensorEntries(inputs, outputs, "weight")
        let bound = 1 / Double(inputs).squareRoot()
        try self.init(
            inputs: inputs, outputs: outputs, weight: (0..<n).map { _ in rng.uniform(-bound, bound) },
            bias: [Double](repeating: 0, count: outputs))
    }

    /// `X·W + b` for `X` of `rows × inputs`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` if `x` is not `rows × inputs`.
    public func forward(_ x: [Double], rows: Int) throws -> [Double] {
        try requireCount(x, checkedProduct(rows, inputs, "dense input"), "dense input")
        var y = [Double](repeating: 0, count: rows * outputs)
        for r in 0..<rows { for j in 0..<outputs { y[r * outputs + j] = bias[j] } }
        try BLAS.gemm(
            m: rows, n: outputs, k: inputs, x, .init(leading: inputs), weight, .init(leading: outputs), beta: 1,
            into: &y, .init(leading: outputs))
        // BLAS sums in its own order and cannot be made range-safe from here: an output beyond the
        // range (or a partial sum that left it) is a typed error, never ∞ passed on.
        if let i = y.firstIndex(where: { !$0.isFinite }) {
            throw LabError.nonFinite(what: "dense output (beyond the range)", index: i)
        }
        return y
    }

    /// `∂L/∂X = ∂L/∂Y·Wᵀ`, `∂L/∂W = Xᵀ·∂L/∂Y`, `∂L/∂b = Σ_rows ∂L/∂Y`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for wrongly sized arrays.
    public func backward(_ dy: [Double], input x: [Double], rows: Int) throws -> Gradients {
        try requireCount(dy, checkedProduct(rows, outputs, "dense output gradient"), "dense output gradient")
        try requireCount(x, checkedProduct(rows, inputs, "dense input"), "dense input")
        let dx = try BLAS.matmul(dy, weight, m: rows, n: inputs, k: outputs, transB: true)
        let dw = try BLAS.matmul(x, dy, m: inputs, n: outputs, k: rows, transA: true)
        var db = [Double](repeating: 0, count: outputs)
        for r in 0..<rows { for j in 0..<outputs { db[j] += dy[r * outputs + j] } }
        return Gradients(input: dx, weight: dw, bias: db)
    }

    /// Replaces the parameters (same sizes, finite).
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)``, ``LabError/nonFinite(what:index:)``.
    public mutating func setParameters(weight w: [Double], bias b: [Double]) throws {
        try requireCount(w, inputs * outputs, "weight")
        try requireCount(b, outputs, "bias")
        try requireFinite(w, "weight")
        try requireFinite(b, "bias")
        weight = w
        bias = b
    }
}
