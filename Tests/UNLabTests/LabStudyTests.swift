import Foundation
import Testing
import _TestSupport

@testable import UNLab

/// The study runner: a tiny study (two norms, one seed, few steps) trains, records every step, measures
/// test accuracy in inference mode, stops when asked (no partial run reported), and records a run
/// whose training fails as a divergence instead of throwing.
@Suite("UNLab study runner")
struct LabStudyTests {
    static let data = PackagePaths.root.appendingPathComponent("Data/digits/digits.bin")

    @Test func tinyStudyTrainsAndRecords() throws {
        let d = try DigitsDataset(contentsOf: Self.data)
        let c = LabStudyConfiguration(
            norms: [.layerNorm, .batchNorm], seeds: [7], learningRates: [3e-3], steps: 60, batchSize: 32, width: 8,
            heads: 2,
            layers: 1, warmupSteps: 10, normWarmup: 20)
        #expect(c.runs.count == 2)
        var steps: [Int] = []
        for key in c.runs {
            let r = try #require(
                try LabStudy.run(key, configuration: c, data: d, progress: { s, _, _ in steps.append(s) }))
            #expect(r.losses.count == 60 && !r.diverged, "\(key.id): \(r.divergence ?? "")")
            // Learning happened: the last 10 steps' mean loss is below uniform prediction (ln 10).
            #expect(r.losses.suffix(10).reduce(0, +) / 10 < Double.log(10), "\(key.id): \(r.losses.suffix(10))")
            let acc = try #require(r.testAccuracy)
            #expect(acc > 0.1 && acc <= 1, "\(key.id): accuracy \(acc) (chance is 0.1)")
        }
        #expect(steps.count == 120)
        // Deterministic: the same key trains to the same losses.
        let again = try #require(try LabStudy.run(c.runs[0], configuration: c, data: d))
        let first = try #require(try LabStudy.run(c.runs[0], configuration: c, data: d))
        #expect(again.losses == first.losses)
    }

    @Test func stoppingAndFailuresAreRecordedHonestly() throws {
        let d = try DigitsDataset(contentsOf: Self.data)
        let c = LabStudyConfiguration(
            norms: [.batchNorm], seeds: [1], learningRates: [10], steps: 40, width: 8, heads: 2, layers: 1,
            warmupSteps: 0, normWarmup: 0)
        var polls = 0
        let stopped = try LabStudy.run(
            c.runs[0], configuration: c, data: d,
            shouldStop: {
                polls += 1
                return polls > 5
            })
        #expect(stopped == nil, "an interrupted run is not a result")
        // A learning rate of 10 (the largest accepted) blows the model up: recorded, not thrown.
        let r = try #require(try LabStudy.run(c.runs[0], configuration: c, data: d))
        #expect(r.diverged && r.divergence != nil && r.testAccuracy == nil, "\(r.divergence ?? "not diverged")")
        var bad = c
        bad.heads = 3
        #expect(throws: LabError.self) { try bad.validate() }
        bad = c
        bad.learningRates = [.nan]
        #expect(throws: LabError.self) { try bad.validate() }
    }
}
