/// Learned position embeddings (Vaswani et al. 2017, arXiv:1706.03762, section 3.5, the learned
/// variant; as in BERT and ViT): `x[b, t] += P[t]` for a table `P` of `positions × d`.
public struct PositionEmbedding: Sendable, Equatable {
    public let positions: Int
    public let width: Int
    public internal(set) var table: [Double]

    /// `N(0, 0.02²)` entries (the ViT/BERT initialization).
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for a size outside `1...2²⁰`.
    public init(positions: Int, width: Int, using rng: inout LabRandom) throws {
        try requirePositive(positions, "positions")
        try requirePositive(width, "width", atMost: 1 << 16)
        let n = try tensorEntries(positions, width, "position table")
        self.positions = positions
        self.width = width
        table = (0..<n).map { _ in 0.02 * rng.normal() }
    }

    /// Adds `P[t]` to every token `t` of `batch` sequences of `tokens` tokens (in place).
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for `tokens > positions` or a wrongly sized `x`.
    func add(to x: inout [Double], batch: Int, tokens: Int) throws {
        guard tokens <= positions else {
            throw LabError.shapeMismatch(what: "sequence length", expected: [positions], actual: [tokens])
        }
        try requireCount(x, try checkedProduct(try checkedProduct(batch, tokens, "positions"), width, "positions"), "x")
        for b in 0..<batch {
            for i in 0..<(tokens * width) { x[b * tokens * width + i] += table[i] }
        }
    }

    /// `∂L/∂P[t] = Σ_b ∂L/∂x[b, t]` (rows beyond `tokens` get 0).
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` as ``add(to:batch:tokens:)``.
    func gradient(_ dx: [Double], batch: Int, tokens: Int) throws -> [Double] {
        guard tokens <= positions else {
            throw LabError.shapeMismatch(what: "sequence length", expected: [positions], actual: [tokens])
        }
        try requireCount(
            dx, try checkedProduct(try checkedProduct(batch, tokens, "positions"), width, "positions"), "dx")
        var g = [Double](repeating: 0, count: table.count)
        for b in 0..<batch {
            for i in 0..<(tokens * width) { g[i] += dx[b * tokens * width + i] }
        }
        return g
    }

    mutating func set(_ t: [Double]) throws {
        try requireCount(t, table.count, "position table")
        try requireFinite(t, "position table")
        table = t
    }
}
