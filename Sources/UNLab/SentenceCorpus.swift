import Foundation

/// The English sentences of `Data/sentences/wordnet-examples.txt` (WordNet 3.0's example
/// sentences, Princeton University, WordNet 3.0 licence; exported by `scripts/export_sentences.py`):
/// one sentence per line, printable ASCII (bytes `0x20...0x7E`), every line ended by `\n`.
///
/// Split (documented with the data): a line is a test line when the first byte of the SHA-256 of
/// its text, without the newline, is 0 mod 10; the rest are training lines. Both keep file order.
public struct SentenceCorpus: Sendable, Equatable {
    /// The training sentences, as bytes.
    public let train: [[UInt8]]
    /// The test sentences, as bytes.
    public let test: [[UInt8]]

    /// Reads and validates a sentence file.
    /// - Throws: ``LabError/malformedData(file:reason:)`` if it cannot be read or is not as documented.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LabError.malformedData(file: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(bytes: [UInt8](data), name: url.path)
    }

    /// Parses the bytes of a sentence file (`name` appears in errors).
    /// - Throws: ``LabError/malformedData(file:reason:)`` for an empty file, a last line without
    ///   `\n`, an empty line, a byte outside printable ASCII (a carriage return included), or a
    ///   split left empty.
    public init(bytes: [UInt8], name: String = "sentences") throws {
        func bad(_ reason: String) -> LabError { .malformedData(file: name, reason: reason) }
        guard !bytes.isEmpty else { throw bad("empty file") }
        guard bytes.last == 0x0A else { throw bad("the last line does not end with a newline") }
        var train: [[UInt8]] = []
        var test: [[UInt8]] = []
        var line = 1
        for text in bytes.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard !text.isEmpty else { throw bad("line \(line) is empty") }
            if let b = text.first(where: { !(0x20...0x7E).contains($0) }) {
                throw bad("line \(line) has byte 0x\(String(b, radix: 16)) (not printable ASCII)")
            }
            if Self.isTest(Array(text)) { test.append(Array(text)) } else { train.append(Array(text)) }
            line += 1
        }
        guard !train.isEmpty, !test.isEmpty else {
            throw bad("\(train.count) training and \(test.count) test lines: both splits must be non-empty")
        }
        self.train = train
        self.test = test
    }

    /// The split rule: the first byte of SHA-256(`text`) is 0 mod 10.
    public static func isTest(_ text: [UInt8]) -> Bool { SHA256.hash(text)[0] % 10 == 0 }
}
