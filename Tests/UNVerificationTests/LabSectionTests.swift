import Foundation
import Testing
import UNLab

@testable import UNVerification

/// The lab section's judging on constructed studies whose verdicts are known by hand: BN clearly worse
/// (L1 holds), UN within a hair of LN (L2 holds by TOST), filtration 0/5 against 5/5 divergences (L3:
/// Fisher's one-sided p = C(5,0)C(5,5)/C(10,5) = 1/252); the opposite data falsify; a missing file or a
/// wrong schema version is an input error, never a skipped section.
@Suite("Report: the lab section")
struct LabSectionTests {
    func study(ln: [Double], bn: [Double], un: [Double], unDiverged: Int, noFilterDiverged: Int) -> LabStudyRecord {
        let c = LabStudyConfiguration(
            norms: [.layerNorm, .batchNorm, .un, .unWithoutFiltration], seeds: [1, 2, 3, 4, 5],
            learningRates: [3e-3, 3e-2], steps: 3)
        var runs: [LabRunResult] = []
        for key in c.runs {
            let i = Int(key.seed) - 1
            var acc: Double? = nil
            var diverged = false
            if key.learningRate == 3e-3 {
                switch key.norm {
                case .layerNorm: acc = ln[i]
                case .batchNorm: acc = bn[i]
                case .un, .unWithoutFiltration: acc = un[i]
                default: acc = nil
                }
            } else {
                diverged =
                    key.norm == .un ? i < unDiverged : (key.norm == .unWithoutFiltration ? i < noFilterDiverged : false)
                acc = diverged ? nil : 0.5
            }
            runs.append(
                LabRunResult(
                    key: key, losses: [2.3, 2.0, 1.5], diverged: diverged, divergence: diverged ? "test" : nil,
                    testAccuracy: acc, testLoss: acc.map { 1 - $0 }, seconds: 1, imagesPerSecond: 100))
        }
        return LabStudyRecord(
            configuration: c, command: "test", commit: "none", machine: "test", date: "today", runs: runs)
    }

    func verdicts(_ s: LabStudyRecord) throws -> [String: String] {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-\(UUID().uuidString).json")
        try JSONEncoder().encode(s).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let section = try LabSection(path: url.path).build(ReportContext(seed: 1, tracePaths: []))
        #expect(section.verdict == .informational)
        let claims = try JSONDecoder().decode([LabSection.Claim].self, from: JSONEncoder().encode(section.data))
        return Dictionary(uniqueKeysWithValues: claims.map { ($0.id, $0.verdict) })
    }

    @Test func verdictsFollowTheData() throws {
        let ln = [0.90, 0.91, 0.92, 0.905, 0.915]
        let holds = try verdicts(
            study(
                ln: ln, bn: [0.80, 0.82, 0.81, 0.79, 0.83], un: ln.map { $0 + 0.001 }, unDiverged: 0,
                noFilterDiverged: 5))
        // No run recorded filter firings: L5 cannot decide.
        let none = "inconclusive at this scale"
        // Nor statistics (L4) nor folds (LF): undecided, never "holds".
        let rest = ["L4a": none, "L4b": none, "L4c": none, "LF": none, "L5": none]
        #expect(holds == ["L1": "holds", "L2": "holds", "L3": "holds"].merging(rest) { a, _ in a }, "\(holds)")
        let against = try verdicts(
            study(ln: ln, bn: ln.map { $0 + 0.05 }, un: ln.map { $0 - 0.08 }, unDiverged: 5, noFilterDiverged: 0))
        #expect(
            against == ["L1": "falsified", "L2": "falsified", "L3": "falsified"].merging(rest) { a, _ in a },
            "\(against)")
        let noisy = try verdicts(
            study(
                ln: ln, bn: [0.95, 0.85, 0.91, 0.88, 0.93], un: [0.97, 0.84, 0.93, 0.86, 0.92], unDiverged: 1,
                noFilterDiverged: 2))
        #expect(noisy.values.allSatisfy { $0 == "inconclusive at this scale" }, "\(noisy)")
        #expect(abs(LabSection.fisherLess(0, 5, 5, 5) - 1.0 / 252) < 1e-15)
    }

    /// L5 on constructed UN runs: a loss of 1 with spikes of 3 exactly at the steps where a layer fired
    /// (every 10th step from 20) is "holds"; firings placed away from the spikes are not.
    @Test func filterFiringsAgainstLossSpikes() {
        func run(_ seed: UInt64, firingsAtSpikes: Bool) -> LabRunResult {
            let spikes = Set(stride(from: 20, to: 200, by: 10))
            let losses = (0..<200).map { spikes.contains($0) ? 3.0 : 1.0 }
            let fires = (0..<200).map { (firingsAtSpikes ? spikes.contains($0) : spikes.contains($0 - 3)) ? 1 : 0 }
            return LabRunResult(
                key: LabRunKey(norm: .un, seed: seed, learningRate: 0.3), losses: losses, diverged: false,
                divergence: nil, testAccuracy: 0.5, testLoss: 1, seconds: 1, imagesPerSecond: 1,
                filterFirings: fires, firingsPerLayer: [fires.reduce(0, +), 0, 0])
        }
        let at = LabSection.firings([run(1, firingsAtSpikes: true), run(2, firingsAtSpikes: true)], layers: 1)
        #expect(at.verdict == "holds", "\(at.evidence)")
        let away = LabSection.firings([run(1, firingsAtSpikes: false), run(2, firingsAtSpikes: false)], layers: 1)
        #expect(away.verdict == "falsified", "\(away.evidence)")
        #expect(at.evidence.contains("block 1 N₁ 36"), "\(at.evidence)")
    }

    @Test func unreadableStudiesAreInputErrors() throws {
        #expect(throws: ReportInputError.self) {
            try LabSection(path: "/nonexistent/study.json").build(ReportContext(seed: 1, tracePaths: []))
        }
        var s = study(
            ln: [0.9, 0.9, 0.9, 0.9, 0.9], bn: [0.8, 0.8, 0.8, 0.8, 0.8], un: [0.9, 0.9, 0.9, 0.9, 0.9],
            unDiverged: 0, noFilterDiverged: 0)
        s.schemaVersion = LabStudyRecord.currentSchemaVersion + 1
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-v2-\(UUID().uuidString).json")
        try JSONEncoder().encode(s).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: ReportInputError.self) {
            try LabSection(path: url.path).build(ReportContext(seed: 1, tracePaths: []))
        }
    }

    /// Two constructed studies, one per task, with recorded statistics and folds of known outcome:
    /// text fluctuating twice as much as digits (L4a holds); UN's smoothed variance exactly `v/M` up to
    /// ±2% noise (L4b and L4c hold) or `0.6·v` (L4c falsified: outside ×/÷ 1.25 of 1/4); every fold
    /// within its bound (LF holds) or one at 1.5 × the bound (falsified); on text, BN's bits per token
    /// higher than LN's (L1 holds: the score is minus the bits).
    @Test func statisticsAndFoldClaims() throws {
        func runs(_ c: LabStudyConfiguration, fluctuation: Double, smoothedRatio: Double, foldRatio: Double)
            -> [LabRunResult]
        {
            c.runs.map { key in
                let i = Double(key.seed)
                let noise = 1 + 0.02 * (i - 3) / 2
                let un = key.norm == .un || key.norm == .unWithoutFiltration
                let layer = LabLayerStatistics(
                    fromStep: 2, fluctuation: fluctuation * noise, extreme: 3 * fluctuation, series: [0.1, 0.1],
                    rawLogVariance: un ? 0.01 : nil, smoothedLogVariance: un ? 0.01 * smoothedRatio * noise : nil,
                    firingSteps: un ? [] : nil)
                let metric = key.norm == .batchNorm ? 3.0 + 0.01 * i : 2.5 + 0.01 * i
                let foldable = key.norm != .layerNorm
                return LabRunResult(
                    key: key, losses: [2, 1.5, 1], diverged: false, divergence: nil,
                    testAccuracy: c.task == .digits ? 1 / metric : nil, testLoss: metric,
                    testBitsPerToken: c.task == .text ? metric : nil, seconds: 1, imagesPerSecond: 1,
                    statistics: Array(repeating: layer, count: 3),
                    fold: foldable
                        ? FoldCheck(
                            foldPoints: 5, entries: 100, worstBoundRatio: key.seed == 1 ? foldRatio : 0.1,
                            maxLogitDifference: 1e-15, predictions: 10, predictionsDiffering: 0) : nil,
                    inferenceSeconds: 0.01, foldedInferenceSeconds: foldable ? 0.009 : nil)
            }
        }
        func verdicts(smoothedRatio: Double, foldRatio: Double) throws -> [String: String] {
            var urls: [URL] = []
            for (task, f) in [(LabTask.digits, 0.1), (.text, 0.2)] {
                let c = LabStudyConfiguration(
                    task: task, norms: [.layerNorm, .batchNorm, .un, .unWithoutFiltration], seeds: [1, 2, 3, 4, 5],
                    learningRates: [3e-3], steps: 3, layers: 1)
                let s = LabStudyRecord(
                    configuration: c, command: "test", commit: "none", machine: "test", date: "today",
                    runs: runs(c, fluctuation: f, smoothedRatio: smoothedRatio, foldRatio: foldRatio))
                let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-\(UUID().uuidString).json")
                try JSONEncoder().encode(s).write(to: url)
                urls.append(url)
            }
            defer { for u in urls { try? FileManager.default.removeItem(at: u) } }
            let section = try LabSection(paths: urls.map(\.path)).build(ReportContext(seed: 1, tracePaths: []))
            let claims = try JSONDecoder().decode([LabSection.Claim].self, from: JSONEncoder().encode(section.data))
            // The statistics figures are drawn from the recorded series.
            let figures = section.blocks.compactMap { b -> String? in
                if case .figure(let f) = b { return f.id } else { return nil }
            }
            #expect(Set(figures).isSuperset(of: ["lab-fluctuation", "lab-extremes", "lab-firing-rate"]))
            return Dictionary(uniqueKeysWithValues: claims.map { ($0.label, $0.verdict) })
        }
        let good = try verdicts(smoothedRatio: 0.25, foldRatio: 0.5)
        #expect(good["L4a"] == "holds" && good["LF"] == "holds", "\(good)")
        for t in ["digits", "text"] {
            #expect(good["L4b (\(t))"] == "holds" && good["L4c (\(t))"] == "holds", "\(good)")
            #expect(good["L1 (\(t))"] == "holds", "\(good)")
        }
        let bad = try verdicts(smoothedRatio: 0.6, foldRatio: 1.5)
        #expect(bad["L4c (digits)"] == "falsified" && bad["L4b (digits)"] == "holds", "\(bad)")
        #expect(bad["LF"] == "falsified", "\(bad)")
        // Two studies of one task are an input error, not a silent overwrite.
        #expect(throws: ReportInputError.self) {
            let c = LabStudyConfiguration(norms: [.layerNorm], seeds: [1], learningRates: [1e-3], steps: 1)
            let s = LabStudyRecord(configuration: c, command: "", commit: "", machine: "", date: "", runs: [])
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-\(UUID().uuidString).json")
            try JSONEncoder().encode(s).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            _ = try LabSection(paths: [url.path, url.path]).build(ReportContext(seed: 1, tracePaths: []))
        }
    }
}
