import Foundation
import Testing
import UnifiedNormalization
import _TestSupport

@testable import UNLab

@Suite("UNLab digits data and training")
struct DigitsTests {
    static let url = PackagePaths.root.appendingPathComponent("Data/digits/digits.bin")

    @Test("The committed digits file: 1,438 + 359 samples, every class in both splits")
    func committedFile() throws {
        let d = try DigitsDataset(contentsOf: Self.url)
        #expect(d.train.count == 1438 && d.test.count == 359)
        #expect(d.train.images.count == 1438 * 64 && d.test.images.count == 359 * 64)
        #expect(Set(d.train.labels) == Set(0..<10) && Set(d.test.labels) == Set(0..<10))
        #expect(d.train.images.allSatisfy { (0...1).contains($0) })
        // The first training record as the export script wrote it, decoded by hand.
        let bytes = [UInt8](try Data(contentsOf: Self.url))
        #expect(d.train.labels[0] == Int(bytes[12]))
        #expect(d.train.images[5] == Double(bytes[13 + 5]) / 16)
    }

    static func valid() throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// Each kind of damage gives a typed error naming it (never a trap, never a partial dataset).
    @Test("Malformed files are rejected with typed errors")
    func malformed() throws {
        let good = try Self.valid()
        func rejects(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try DigitsDataset(bytes: bytes, name: "t")
                Issue.record("accepted a malformed file (\(fragment))", sourceLocation: sourceLocation)
            } catch let LabError.malformedData(file, reason) {
                #expect(file == "t" && reason.contains(fragment), "\(reason)", sourceLocation: sourceLocation)
            } catch { Issue.record("unexpected error \(error)", sourceLocation: sourceLocation) }
        }
        rejects([], "shorter than")
        rejects(Array(good[..<11]), "shorter than")
        var b = good
        b[0] = UInt8(ascii: "X")
        rejects(b, "magic")
        b = good
        b[4] = 2
        rejects(b, "version")
        b = good
        b[5] = 7
        rejects(b, "geometry")
        b = good
        b[10] = 0
        b[11] = 0
        rejects(b, "splits")
        rejects(Array(good.dropLast()), "bytes, expected")
        rejects(good + [0], "bytes, expected")
        b = good
        b[12 + 65 * 3] = 10
        rejects(b, "sample 3 has label 10")
        b = good
        b[12 + 65 * 4 + 1 + 7] = 17
        rejects(b, "sample 4 pixel 7 is 17")
        #expect(throws: LabError.self) {
            try DigitsDataset(contentsOf: URL(fileURLWithPath: "/nonexistent/digits.bin"))
        }
    }

    /// A tiny ViT (width 16, 2 heads, 1 block, LayerNorm) trained for 150 AdamW steps of 32 images
    /// (fixed seed). The uniform prediction's loss is ln 10 ≈ 2.303 nats; the mean training loss
    /// over the whole training split, after training, must fall below it — and below the loss of
    /// the same model before training.
    @Test("A tiny ViT learns the digits: training loss below ln 10")
    func trainsOnDigits() throws {
        let data = try DigitsDataset(contentsOf: Self.url)
        var rng = LabRandom(seed: 2024)
        var model = try VisionTransformer<LayerNorm<Double>>(
            width: 16, heads: 2, layers: 1, makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        func trainingLoss(_ m: VisionTransformer<LayerNorm<Double>>) throws -> Double {
            var copy = m
            return try copy.loss(images: data.train.images, labels: data.train.labels)
        }
        let before = try trainingLoss(model)
        let start = ContinuousClock.now
        let options = try AdamW.Options(schedule: LearningRateSchedule(peak: 3e-3, warmupSteps: 20))
        let losses = try DigitsTraining.train(
            &model, on: data.train, steps: 150, batchSize: 32, options: options, seed: 7)
        let elapsed = ContinuousClock.now - start
        let after = try trainingLoss(model)
        let predictions = try model.predict(images: data.test.images, batch: data.test.count)
        let accuracy = Double(zip(predictions, data.test.labels).filter { $0 == $1 }.count) / Double(data.test.count)
        print("UNLab digits: loss \(before) → \(after) in \(losses.count) steps, \(elapsed); test accuracy \(accuracy)")
        #expect(after < Foundation.log(10.0), "training loss \(after)")
        #expect(after < before)
    }
}
