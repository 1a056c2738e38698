/// A padded batch for next-token prediction: sequences of token ids of varying lengths,
/// right-padded to the longest. Input position `t` of sequence `b` is `s_b[t]`, its target
/// `s_b[t + 1]`; positions at or past a sequence's last token are padded (excluded as keys, from
/// the norms' statistics, and from the loss), so each batch has a varying number of real tokens.
public struct LanguageBatch: Sendable, Equatable {
    public let batch: Int
    /// `T = max length − 1`.
    public let tokens: Int
    /// `B × T` input ids (0 at padded positions).
    public let inputs: [Int]
    /// `B × T` target ids (0 at padded positions).
    public let targets: [Int]
    /// `B × T`, `true` = padded.
    public let padMask: [Bool]

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for an empty
    ///   batch or a sequence of fewer than 2 tokens (it would have no target).
    public init(sequences: [[Int]]) throws {
        guard !sequences.isEmpty else {
            throw LabError.invalidConfiguration(parameter: "sequences", value: "[]", requirement: "must not be empty")
        }
        if let i = sequences.firstIndex(where: { $0.count < 2 }) {
            throw LabError.invalidConfiguration(
                parameter: "sequences[\(i)]", value: "\(sequences[i].count) tokens", requirement: "must have ≥ 2 tokens"
            )
        }
        let t = sequences.map(\.count).max()! - 1
        var inputs = [Int](repeating: 0, count: sequences.count * t)
        var targets = inputs
        var pad = [Bool](repeating: true, count: sequences.count * t)
        for (b, s) in sequences.enumerated() {
            for i in 0..<(s.count - 1) {
                inputs[b * t + i] = s[i]
                targets[b * t + i] = s[i + 1]
                pad[b * t + i] = false
            }
        }
        batch = sequences.count
        tokens = t
        self.inputs = inputs
        self.targets = targets
        padMask = pad
    }
}
