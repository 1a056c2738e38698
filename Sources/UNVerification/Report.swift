import Dispatch
import Foundation
import UNClaims

/// The outcome of one report section.
public enum Verdict: String, Codable, Sendable, Comparable, CaseIterable {
    /// Everything checked holds.
    case holds
    /// Measured numbers with no pass/fail meaning.
    case informational
    /// Could not run here (the reason is in the section).
    case notRun = "not run"
    /// Nothing failed, but something checked could not be decided (no verdict without evidence).
    case inconclusive
    /// A claim or a check failed.
    case falsified

    /// The explicit severity order, least severe first: `informational < holds < notRun <
    /// inconclusive < falsified`. A report's overall verdict is its most severe section's, so it
    /// does not depend on the order of the sections: numbers without a verdict do not weaken a
    /// "holds", and a section that did not run keeps the whole from "holds" (nothing unchecked is
    /// reported as holding).
    public var severity: Int {
        switch self {
        case .informational: return 0
        case .holds: return 1
        case .notRun: return 2
        case .inconclusive: return 3
        case .falsified: return 4
        }
    }
    public static func < (a: Verdict, b: Verdict) -> Bool { a.severity < b.severity }
}

/// One section of the verification report: an id, a title, a verdict, a one-line summary, and its
/// content as blocks (prose, typed tables, figures, code), with the section's raw data as JSON.
public struct ReportSection: Codable, Sendable {
    public var id: String
    public var title: String
    public var verdict: Verdict
    public var summary: String
    public var blocks: [ReportBlock]
    public var data: JSONValue

    public init(
        id: String, title: String, verdict: Verdict, summary: String, blocks: [ReportBlock], data: JSONValue
    ) {
        self.id = id
        self.title = title
        self.verdict = verdict
        self.summary = summary
        self.blocks = blocks
        self.data = data
    }

    /// A section whose content is one Markdown text block.
    public init(id: String, title: String, verdict: Verdict, summary: String, markdown: String, data: JSONValue) {
        self.init(id: id, title: title, verdict: verdict, summary: summary, blocks: [.text(markdown)], data: data)
    }

    /// The blocks as Markdown (figures linked under `figures/`; `drawn`: those that exist).
    public func markdown(drawn: Set<String>? = nil) -> String {
        blocks.map { $0.markdown(drawn: drawn) }.joined(separator: "\n")
    }
    public var markdown: String { markdown() }
}

/// What every section builder may read: the seed and where the inputs are.
public struct ReportContext: Sendable {
    public var seed: UInt64
    public var tracePaths: [String]
    /// Multiplier on the number of randomized cases relative to `swift test`.
    public var effort: Int
    public init(seed: UInt64, tracePaths: [String], effort: Int = 100) {
        self.seed = seed
        self.tracePaths = tracePaths
        self.effort = effort
    }
}

/// A report section is one value conforming to this: adding a section is one small addition.
public protocol ReportSectionBuilder: Sendable {
    var id: String { get }
    func build(_ context: ReportContext) throws -> ReportSection
    /// Whether the section times code: such a section is built alone, after the others, so that
    /// no other work shares the machine while it measures (default `false`).
    var measuresTime: Bool { get }
}

extension ReportSectionBuilder {
    public var measuresTime: Bool { false }
}

/// Lets concurrent iterations write their own slot (each index written once, by one iteration).
private struct SharedSlots<T>: @unchecked Sendable {
    let slots: UnsafeMutablePointer<T?>
    let work: (Int) -> T
    let order: [Int]
}

/// The whole report.
public struct Report: Codable, Sendable {
    /// The version of the JSON format (`docs/report-schema.md`); 2 added blocks and this field; 3
    /// made G5, S2 and S3 catalogue claims (section ids `claim-g5`, was `gradient-map`; claim data
    /// gained `pinned` and `measured`) and added the `benchmarks` section.
    public static let currentSchemaVersion = 3
    public var schemaVersion = Report.currentSchemaVersion
    public var title = "Unified Normalization: verification report"
    public var generatedAt: String
    public var toolchain: String
    public var platform: String
    public var seed: UInt64
    public var configuration: [String: String]
    public var sections: [ReportSection]

    public var verdict: Verdict { sections.map(\.verdict).max() ?? .holds }

    /// Sections that could not be built because an input (a trace, a fixture, a recorded run)
    /// could not be read: an input or environment error, reported apart from any verdict.
    public var inputErrors: [String] = []

    /// Builds every section; a builder that throws yields a `falsified` section naming the error
    /// (a check that cannot complete is not a pass), except an input that could not be read
    /// (``ReportInputError``, ``TraceError``, a missing file), which yields a `not run` section
    /// and an entry in ``inputErrors``.
    /// `willBuild(k, id)` is called before section `k` (0-based) is built, for a progress line;
    /// `didBuild(k, id, seconds)` after it, with its wall time (sections overlap: see below).
    public static func build(
        _ builders: [any ReportSectionBuilder], context: ReportContext,
        configuration: [String: String] = [:], now: Date = Date(),
        willBuild: ((Int, String) -> Void)? = nil, didBuild: ((Int, String, Double) -> Void)? = nil
    ) -> Report {
        func one(_ k: Int) -> (section: ReportSection, inputError: String?) {
            let b = builders[k]
            willBuild?(k, b.id)
            let start = DispatchTime.now().uptimeNanoseconds
            defer { didBuild?(k, b.id, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
            do { return (try b.build(context), nil) } catch {
                if ReportInputError.isInputError(error) {
                    return (
                        ReportSection(
                            id: b.id, title: b.id, verdict: .notRun,
                            summary: "input error: \(error)", markdown: "Input error: `\(error)`\n", data: .null),
                        "\(b.id): \(error)"
                    )
                }
                return (
                    ReportSection(
                        id: b.id, title: b.id, verdict: .falsified,
                        summary: "section failed to build: \(error)", markdown: "Error: `\(error)`\n", data: .null),
                    nil
                )
            }
        }
        // Sections are independent (each draws its cases from the context's seed), so those that
        // do not time anything are built concurrently; the timing ones run alone afterwards.
        // The results keep the builders' order whatever the schedule.
        var slots = [(section: ReportSection, inputError: String?)?](repeating: nil, count: builders.count)
        let parallel = builders.indices.filter { !builders[$0].measuresTime }
        slots.withUnsafeMutableBufferPointer { out in
            withoutActuallyEscaping(one) { one in
                let shared = SharedSlots(slots: out.baseAddress!, work: one, order: parallel)
                DispatchQueue.concurrentPerform(iterations: parallel.count) { i in
                    shared.slots[shared.order[i]] = shared.work(shared.order[i])
                }
            }
        }
        for k in builders.indices where builders[k].measuresTime { slots[k] = one(k) }
        let sections = slots.map { $0!.section }
        let inputErrors = slots.compactMap { $0!.inputError }
        let fmt = ISO8601DateFormatter()
        return Report(
            generatedAt: fmt.string(from: now), toolchain: toolchainDescription,
            platform: ProcessInfo.processInfo.operatingSystemVersionString, seed: context.seed,
            configuration: configuration, sections: sections, inputErrors: inputErrors)
    }

    /// The standard report's sections, in order: trace replay, conformance, the checker's accuracy
    /// and power, every claim of the catalogue (``ClaimCatalogue/entries(referencePath:)``, G5, S2 and
    /// S3 included), the filtration study, the hardware path, the inference cost and the recorded
    /// benchmarks. A library user can build this report, or one of their own sections, with
    /// ``build(_:context:configuration:now:willBuild:)``.
    public static func standardSections(progress: (@Sendable (String) -> Void)? = nil) -> [any ReportSectionBuilder] {
        var builders: [any ReportSectionBuilder] = [
            ReplaySection(), ConformanceSection(), CheckerAccuracySection(), CheckerPowerSection(),
        ]
        for entry in ClaimCatalogue.generated {
            builders.append(ClaimSection(entry, progress: progress))
            if entry.id == "S2" {
                // S3's inputs are the recorded SciPy reference set, read when its section is built.
                builders.append(
                    ClaimSection(
                        id: "S3",
                        loading: { try StatisticsValidation.s3(referencePath: ClaimCatalogue.scipyReferencePath()) },
                        progress: progress))
            }
        }
        builders += [
            FiltrationStudySection(), HardwarePathSection(), InferenceBenchmarkSection(), BenchmarkResultsSection(),
            LabSection(),
        ]
        return builders
    }

    public static var toolchainDescription: String {
        #if swift(>=6.3)
        let v = "Swift ≥ 6.3"
        #elseif swift(>=6.0)
        let v = "Swift 6.x (< 6.3)"
        #else
        let v = "Swift < 6"
        #endif
        #if DEBUG
        return v + ", debug build"
        #else
        return v + ", release build"
        #endif
    }

    /// The report as Markdown; `drawn` names the figures that exist (``FigureRenderer``), `nil`
    /// links every figure.
    public func markdown(drawn: Set<String>? = nil) -> String {
        var s = "# \(title)\n\n"
        s += "- Generated: \(generatedAt)\n- Toolchain: \(toolchain)\n- Platform: \(platform)\n- Seed: \(seed)\n"
        for (k, v) in configuration.sorted(by: { $0.key < $1.key }) { s += "- \(k): \(v)\n" }
        s +=
            "- **Overall verdict: \(verdict.rawValue)**\n\n## Summary\n\n"
            + "| section | verdict | summary |\n|---|---|---|\n"
        for sec in sections {
            s +=
                """
                | [\(sec.title)](#\(sec.id)) | \(sec.verdict.rawValue) | \
                \(sec.summary.replacingOccurrences(of: "|", with: "\\|")) |\n
                """
        }
        for sec in sections {
            s +=
                "\n<a id=\"\(sec.id)\"></a>\n## \(sec.title)\n\n"
                + "Verdict: **\(sec.verdict.rawValue)**. \(sec.summary)\n\n\(sec.markdown(drawn: drawn))\n"
        }
        return s
    }

    public func json() throws -> Data { try JSONEncoder.toolkit.encode(self) }
}

/// Formats a number for tables: scientific with 2 significant digits.
public func sci(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    return String(format: "%.2e", x)
}

/// An input of the report (a fixture, a recorded GPU run) that exists but could not be read.
public struct ReportInputError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }

    /// Whether a builder's error is about reading an input rather than about a check.
    static func isInputError(_ e: Error) -> Bool {
        if e is ReportInputError || e is TraceError { return true }
        if let c = e as? CocoaError,
            c.code == .fileReadNoSuchFile || c.code == .fileReadCorruptFile || c.code == .fileNoSuchFile
                || c.code == .fileReadNoPermission
        {
            return true
        }
        if e is DecodingError { return true }
        return false
    }
}
