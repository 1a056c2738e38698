import Foundation
import Testing
import UnifiedNormalization
import _TestSupport

@testable import UNLab

@Suite("UNLab sentences and the byte language model")
struct SentenceTests {
    static let url = PackagePaths.root.appendingPathComponent("Data/sentences/wordnet-examples.txt")

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// FIPS 180-4's examples (one block, two blocks), the empty message, a message whose padding
    /// needs a block of its own (56 bytes) and one of many blocks (digests from Python's hashlib).
    @Test("SHA-256 gives the standard's digests")
    func sha256() {
        #expect(
            Self.hex(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Self.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 56)))
                == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(
            Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000)))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test("The committed sentences: 7,170 training and 854 test lines, as documented")
    func committedFile() throws {
        let c = try SentenceCorpus(contentsOf: Self.url)
        #expect(c.train.count == 7_170 && c.test.count == 854)
        #expect((c.train + c.test).allSatisfy { (16...96).contains($0.count) })
        let lines = try String(contentsOf: Self.url, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        #expect(c.train.first == lines.first(where: { !SentenceCorpus.isTest($0) }))
        #expect(c.test.first == lines.first(where: SentenceCorpus.isTest))
    }

    @Test("Malformed sentence files are rejected with typed errors")
    func malformed() throws {
        func rejects(_ text: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try SentenceCorpus(bytes: text, name: "t")
                Issue.record("accepted (\(fragment))", sourceLocation: sourceLocation)
            } catch let LabError.malformedData(file, reason) {
                #expect(file == "t" && reason.contains(fragment), "\(reason)", sourceLocation: sourceLocation)
            } catch { Issue.record("unexpected \(error)", sourceLocation: sourceLocation) }
        }
        let good = [UInt8](try Data(contentsOf: Self.url))
        rejects([], "empty file")
        rejects(Array(good.dropLast()), "newline")
        rejects(Array("a\n\nb\n".utf8), "line 2 is empty")
        rejects(Array("abc\r\n".utf8), "line 1 has byte 0xd")
        rejects(Array("ok\ncaf\u{e9}\n".utf8), "line 2 has byte 0xc3")
        rejects(Array("only one line\n".utf8), "both splits")
        #expect(throws: LabError.self) { try SentenceCorpus(contentsOf: URL(fileURLWithPath: "/nonexistent")) }
    }

    @Test("The byte vocabulary: boundary, unknown, then the training bytes")
    func vocabulary() {
        let v = ByteVocabulary(training: [Array("ba".utf8), Array("ab!".utf8)])
        #expect(v.bytes == Array("!ab".utf8) && v.count == 5)
        #expect(v.encode(Array("a?b".utf8)) == [0, 3, 1, 4, 0])
    }

    /// A tiny byte LM (width 16, 2 heads, 1 block, LayerNorm) trained for 60 AdamW steps on
    /// right-padded batches of 8 training sentences (fixed seeds). Predicting every id with
    /// probability 1/V costs ln V nats; after training, the mean loss on 64 held-out test
    /// sentences must be below it, and below the model's own loss before training.
    @Test("A tiny byte language model learns the sentences: test loss below ln V")
    func languageModelLearns() throws {
        let corpus = try SentenceCorpus(contentsOf: Self.url)
        let v = ByteVocabulary(training: corpus.train)
        var rng = LabRandom(seed: 2025)
        var model = try ByteLanguageModel<LayerNorm<Double>>(
            vocabulary: v.count, contextLength: 97, width: 16, heads: 2, layers: 1,
            makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        let heldOut = try LanguageBatch(sequences: corpus.test.prefix(64).map(v.encode))
        let before = try model.inference(heldOut)
        let options = try AdamW.Options(schedule: LearningRateSchedule(peak: 1e-2, warmupSteps: 10))
        let batches = try BatchOrder.language(corpus.train.map(v.encode), batchSize: 8, steps: 60, seed: 8)
        let start = ContinuousClock.now
        let losses = try BatchSequenceTraining.train(&model, on: batches, options: options)
        let elapsed = ContinuousClock.now - start
        func loss(_ logits: [Double]) throws -> Double {
            try CrossEntropy.loss(logits: logits, classes: v.count, targets: heldOut.targets, ignore: heldOut.padMask)
                .loss
        }
        let (l0, l1) = (try loss(before), try loss(model.inference(heldOut)))
        let uniform = Foundation.log(Double(v.count))
        print(
            "UNLab byte LM: test loss \(l0) → \(l1) (ln V = \(uniform)),"
                + " train \(losses[0]) → \(losses.last!), \(elapsed)"
        )
        #expect(l1 < uniform, "test loss \(l1), uniform \(uniform)")
        #expect(l1 < l0)
    }
}
