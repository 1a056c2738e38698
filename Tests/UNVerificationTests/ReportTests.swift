import Foundation
import Testing

@testable import UNVerification

@Suite("Report")
struct ReportTests {
    struct Fixed: ReportSectionBuilder {
        let id: String
        let verdict: Verdict
        func build(_ context: ReportContext) throws -> ReportSection {
            ReportSection(id: id, title: id, verdict: verdict, summary: "s", markdown: "m", data: .number(1))
        }
    }
    struct Throwing: ReportSectionBuilder {
        let id = "broken"
        struct Boom: Error {}
        func build(_ context: ReportContext) throws -> ReportSection { throw Boom() }
    }

    @Test func verdictIsTheWorstSection() {
        let ctx = ReportContext(seed: 1, tracePaths: [])
        #expect(
            Report.build([Fixed(id: "a", verdict: .holds), Fixed(id: "b", verdict: .informational)], context: ctx)
                .verdict == .holds)
        #expect(
            Report.build([Fixed(id: "a", verdict: .holds), Fixed(id: "b", verdict: .falsified)], context: ctx).verdict
                == .falsified)
        // A section that cannot be built is not a pass.
        #expect(Report.build([Throwing()], context: ctx).verdict == .falsified)
    }

    @Test func markdownAndJSONCarryEverySection() throws {
        let paths = traceNames.map { fixtureTraces.appendingPathComponent($0 + ".json").path }
        let r = Report.build([ReplaySection()], context: ReportContext(seed: 42, tracePaths: paths))
        #expect(r.verdict == .holds)
        let md = r.markdown()
        #expect(md.contains("Seed: 42"))
        for n in traceNames { #expect(md.contains("| \(n) |")) }
        let decoded = try JSONDecoder().decode(Report.self, from: r.json())
        #expect(decoded.sections.map(\.id) == ["trace-replay"])
        #expect(decoded.seed == 42)
    }

    @Test func jsonValueKeepsNonFiniteNumbersValid() throws {
        let v = try JSONValue(encoding: [1.0, .infinity, .nan])
        let data = try JSONEncoder.toolkit.encode(v)
        #expect(try JSONSerialization.jsonObject(with: data) is [Any])
    }

    /// The severity order is explicit and total, so the overall verdict does not depend on the order
    /// of the sections (before, `[.informational, .holds].max()` was `informational`).
    @Test func verdictSeverityOrder() {
        let order: [Verdict] = [.informational, .holds, .notRun, .inconclusive, .falsified]
        #expect(order.sorted() == order)
        #expect(Set(order) == Set(Verdict.allCases))
        for a in order {
            for b in order {
                #expect([a, b].max() == [b, a].max(), "\(a) \(b)")
            }
        }
        #expect([Verdict.informational, .holds].max() == .holds)
        #expect([Verdict.holds, .informational].max() == .holds)
        #expect([Verdict.holds, .notRun].max() == .notRun)
        let ctx = ReportContext(seed: 1, tracePaths: [])
        for perm in [[Verdict.informational, .holds], [.holds, .informational]] {
            let r = Report.build(
                perm.enumerated().map { Fixed(id: "s\($0.offset)", verdict: $0.element) }, context: ctx)
            #expect(r.verdict == .holds)
        }
    }

    /// Blocks survive the JSON round trip exactly (typed cells, non-finite numbers, figures, code),
    /// and the JSON carries the schema version.
    @Test func blocksRoundTripThroughJSON() throws {
        let table = ReportTable(
            columns: [.init("name"), .init("x", .number, unit: "s"), .init("n", .integer), .init("rate", .fraction)],
            rows: [
                [.text("a|b"), .number(1.5e-7), .integer(3), .number(0.25)],
                [.text("c"), .number(.infinity), .missing, .number(.nan)],
            ])
        let figure = ReportFigure(
            id: "f", title: "T", caption: "c", columns: ["x", "y"], rows: [[1, 2], [2, .nan]],
            script: "plot 'DATA' using 1:2 with lines")
        let section = ReportSection(
            id: "s", title: "S", verdict: .holds, summary: "sum",
            blocks: [.text("intro"), .table(table), .figure(figure), .code(language: "swift", source: "let x = 1")],
            data: .null)
        let r = Report(
            generatedAt: "now", toolchain: "t", platform: "p", seed: 7, configuration: [:], sections: [section])
        let data = try r.json()
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["schemaVersion"] as? Int == Report.currentSchemaVersion)
        let back = try JSONDecoder.toolkit.decode(Report.self, from: data)
        #expect(back.sections[0].blocks == section.blocks)
        let md = table.markdown()
        #expect(md.contains("| x (s) |") && md.contains("1.50e-07") && md.contains("25.0%") && md.contains("a\\|b"))
        #expect(md.contains("| c | inf | — | nan |"), "\(md)")
        #expect(figure.csv == "x,y\n1.0,2.0\n2.0,NaN\n")
    }

    /// Figures: data and script are always written; without gnuplot nothing is drawn and the
    /// Markdown says so; with it (when installed) an SVG appears.
    @Test func figuresAreWrittenAndMissingOnesAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("un-fig-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let figure = ReportFigure(
            id: "line", title: "A line", caption: "y = x", columns: ["x", "y"], rows: [[1, 1], [2, 2], [3, 3]],
            script: "plot 'DATA' using 1:2 with lines")
        let section = ReportSection(
            id: "s", title: "S", verdict: .holds, summary: "", blocks: [.figure(figure)], data: .null)
        let outcome = try FigureRenderer.render([section], into: dir)
        #expect(FileManager.default.fileExists(atPath: dir + "/figures/line.csv"))
        let script = try String(contentsOfFile: dir + "/figures/line.gp", encoding: .utf8)
        #expect(script.contains("'line.csv'") && script.contains("set terminal svg"))
        if FigureRenderer.gnuplot() != nil {
            #expect(outcome.drawn == ["line"], "\(outcome.notDrawn)")
            let svg = try String(contentsOfFile: dir + "/figures/line.svg", encoding: .utf8)
            #expect(svg.contains("<svg"))
            #expect(section.markdown(drawn: outcome.drawn).contains("![A line](figures/line.svg)"))
        }
        #expect(section.markdown(drawn: []).contains("not drawn"))
    }
}
