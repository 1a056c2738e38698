import Foundation
import UnifiedNormalization

/// Report section: the conformance kit. The vectors and the deviation catalogue (is every
/// deviation detected by some vector, and is each one, recorded black-box, diagnosed as itself),
/// and the independent PyTorch ports of `Tests/Fixtures/conformance/ports/` with their diagnoses.
public struct ConformanceSection: ReportSectionBuilder {
    public let id = "conformance"
    /// The folder of the ports' recorded traces (one subfolder per port).
    public var portsDirectory: String
    public init(portsDirectory: String = "Tests/Fixtures/conformance/ports") {
        self.portsDirectory = portsDirectory
    }

    public struct Data: Sendable, Codable {
        public var vectors: [String]
        public var deviations: [Row]
        public var ports: [Port]
        public struct Row: Sendable, Codable {
            public var deviation: String
            public var behaviour: String
            public var detectedBy: [String]
            public var diagnosedAs: [[String]]
        }
        public struct Port: Sendable, Codable {
            public var name: String
            public var implementation: String?
            public var conformsToReference: Bool
            public var explanations: [[String]]?
            public var paperCalibratedVectorsConforming: Int
            public var traces: Int
        }
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let vectors = try ConformanceVectors.specs.map { try ConformanceVectors.record($0) }
        let matrix = try ConformanceVectors.detectionMatrix(vectors)
        var rows: [Data.Row] = []
        for (d, detecting) in matrix {
            let recorded = try ConformanceVectors.specs.map {
                try ConformanceVectors.record($0, deviations: [d], internalState: false)
            }
            let diag = try Conformance.check(recorded).diagnosis?.explanations.map(\.deviations) ?? []
            rows.append(.init(deviation: d.rawValue, behaviour: d.behaviour, detectedBy: detecting, diagnosedAs: diag))
        }
        guard FileManager.default.fileExists(atPath: portsDirectory) else {
            throw ReportInputError(
                file: portsDirectory, reason: "the ports' traces are missing (run from the repository root)")
        }
        let portNames = try FileManager.default.contentsOfDirectory(atPath: portsDirectory).filter {
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(portsDirectory)/\($0)", isDirectory: &dir) && dir.boolValue
        }.sorted()
        var ports: [Data.Port] = []
        for p in portNames {
            let dir = "\(portsDirectory)/\(p)"
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
                .sorted()
            let traces = try files.map { try UNTrace.load(path: "\(dir)/\($0)") }
            let r = try Conformance.check(traces)
            let paper = try Conformance.check(traces, against: .paperCalibrated)
            ports.append(
                .init(
                    name: p, implementation: traces.first?.implementation, conformsToReference: r.conforms,
                    explanations: r.diagnosis?.explanations.map(\.deviations),
                    paperCalibratedVectorsConforming: paper.traces.filter(\.withinTolerance).count, traces: traces.count
                ))
        }
        let undetected = rows.filter { $0.detectedBy.isEmpty }
        let misdiagnosed = rows.filter { $0.diagnosedAs != [[$0.deviation]] }
        var md = """
            A port's traces (`un-trace/2`, recorded with `scripts/record_trace.py`) are checked by `unverify conform`; \
            where they differ from the authors' code, the \(rows.count) named deviations of `ReferenceDeviation` are \
            searched, singly and in pairs, for the ones that reproduce every trace to its precision \
            (`Tests/Fixtures/conformance/README.md`). \(vectors.count) vectors.

            | deviation | behaviour of the authors' code it changes | vectors that detect it | \
            diagnosed as (recorded black-box on every vector) |
            |---|---|---|---|

            """
        for r in rows {
            md +=
                "| `\(r.deviation)` | \(r.behaviour) | "
                + "\(r.detectedBy.count): \(r.detectedBy.joined(separator: ", ")) | "
                + "\(r.diagnosedAs.map { $0.joined(separator: " + ") }.joined(separator: "; ")) |\n"
        }
        md +=
            "\n| port | implementation | conforms to the authors' code | diagnosis | "
            + "paper-calibrated: vectors conforming |\n"
        md += "|---|---|---|---|---|\n"
        for p in ports {
            let diag =
                p.explanations.map {
                    $0.isEmpty
                        ? "no one or two deviations explain it"
                        : $0.map { $0.joined(separator: " + ") }.joined(separator: "; ")
                } ?? "—"
            md +=
                "| \(p.name) | \(p.implementation ?? "") | \(p.conformsToReference ? "yes" : "no") | \(diag) | "
                + "\(p.paperCalibratedVectorsConforming) of \(p.traces) |\n"
        }
        let ok = undetected.isEmpty && misdiagnosed.isEmpty && !ports.isEmpty
        return ReportSection(
            id: id, title: "Conformance kit: vectors, deviation catalogue, independent ports",
            verdict: ok ? .holds : .falsified,
            summary:
                "\(rows.count) deviations, \(rows.count - undetected.count) detected by the \(vectors.count) vectors, "
                + "\(rows.count - misdiagnosed.count) diagnosed exactly; \(ports.count) ports checked",
            markdown: md,
            data: try JSONValue(encoding: Data(vectors: vectors.map(\.name), deviations: rows, ports: ports)))
    }
}
