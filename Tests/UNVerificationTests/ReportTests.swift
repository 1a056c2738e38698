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
        #expect(Report.build([Fixed(id: "a", verdict: .holds), Fixed(id: "b", verdict: .informational)], context: ctx).verdict == .holds)
        #expect(Report.build([Fixed(id: "a", verdict: .holds), Fixed(id: "b", verdict: .falsified)], context: ctx).verdict == .falsified)
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
}
