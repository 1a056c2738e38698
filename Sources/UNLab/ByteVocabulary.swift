/// The language model's byte-level vocabulary: id 0 marks a sentence boundary (start and end),
/// id 1 any byte not seen in training, ids `2…` the distinct bytes of the training sentences in
/// increasing order. A sentence of `n` bytes becomes `n + 2` ids, `[0, bytes…, 0]`, so the model
/// predicts its first byte from the start mark and learns where sentences end.
public struct ByteVocabulary: Sendable, Equatable {
    public static var boundary: Int { 0 }
    public static var unknown: Int { 1 }
    /// The bytes that have ids, in increasing order: byte `bytes[i]` has id `i + 2`.
    public let bytes: [UInt8]
    private let ids: [Int]

    /// The number of ids (the model's `vocabulary`).
    public var count: Int { bytes.count + 2 }

    /// The vocabulary of the bytes in `training`.
    public init(training: [[UInt8]]) {
        var seen = [Bool](repeating: false, count: 256)
        for s in training { for b in s { seen[Int(b)] = true } }
        bytes = (0..<256).filter { seen[$0] }.map { UInt8($0) }
        var ids = [Int](repeating: Self.unknown, count: 256)
        for (i, b) in bytes.enumerated() { ids[Int(b)] = i + 2 }
        self.ids = ids
    }

    /// `[0, id(b₁), …, id(bₙ), 0]`.
    public func encode(_ sentence: [UInt8]) -> [Int] {
        [Self.boundary] + sentence.map { ids[Int($0)] } + [Self.boundary]
    }
}
