/// A token embedding table `E` of `vocabulary × d`: token id `i` becomes the row `E[i]`.
public struct TokenEmbedding: Sendable, Equatable {
    public let vocabulary: Int
    public let width: Int
    public internal(set) var table: [Double]

    /// `N(0, 1)` entries (PyTorch's `nn.Embedding` default).
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for a size outside `1...2²⁰`.
    public init(vocabulary: Int, width: Int, using rng: inout LabRandom) throws {
        try requirePositive(vocabulary, "vocabulary")
        try requirePositive(width, "width", atMost: 1 << 16)
        let n = try tensorEntries(vocabulary, width, "embedding table")
        self.vocabulary = vocabulary
        self.width = width
        table = (0..<n).map { _ in rng.normal() }
    }

    /// The rows of `ids` (any id outside the vocabulary is an error).
    /// - Throws: ``LabError/indexOutOfRange(what:index:value:range:)``.
    func lookup(_ ids: [Int]) throws -> [Double] {
        var out = [Double](repeating: 0, count: try checkedProduct(ids.count, width, "embedding"))
        for (r, id) in ids.enumerated() {
            guard (0..<vocabulary).contains(id) else {
                throw LabError.indexOutOfRange(what: "token ids", index: r, value: id, range: 0..<vocabulary)
            }
            for c in 0..<width { out[r * width + c] = table[id * width + c] }
        }
        return out
    }

    /// `∂L/∂E[i] = Σ_{r: ids[r] = i} ∂L/∂x_r` (scatter-add).
    /// - Throws: ``LabError/indexOutOfRange(what:index:value:range:)`` for an id outside the vocabulary,
    ///   ``LabError/shapeMismatch(what:expected:actual:)`` unless `dx` has `ids.count × width` entries.
    func gradient(_ dx: [Double], ids: [Int]) throws -> [Double] {
        try requireCount(dx, try checkedProduct(ids.count, width, "embedding"), "embedding gradient")
        var g = [Double](repeating: 0, count: table.count)
        for (r, id) in ids.enumerated() {
            guard (0..<vocabulary).contains(id) else {
                throw LabError.indexOutOfRange(what: "token ids", index: r, value: id, range: 0..<vocabulary)
            }
            for c in 0..<width { g[id * width + c] += dx[r * width + c] }
        }
        return g
    }

    mutating func set(_ t: [Double]) throws {
        try requireCount(t, table.count, "embedding table")
        try requireFinite(t, "embedding table")
        table = t
    }
}
