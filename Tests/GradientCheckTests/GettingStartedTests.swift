import Foundation
import GradientCheck
import GradientCheckTesting
import Testing

/// The getting-started article's code, compiled and run; the test below checks that every
/// Swift block of the article appears here verbatim, so the article cannot drift from code that works.
@Suite("DocC: getting started")
struct GettingStartedTests {
    @Test func checkAGradient() throws {
        let checker = GradientChecker()
        let result = try checker.checkGradient(
            of: { x in x[0] * sin(x[1]) }, at: [0.3, 1.2],
            gradient: [sin(1.2), 0.3 * cos(1.2)])
        #expect(result.outcome == .pass)
        #expect(result.detectableRelativeError < 1e-10)
    }

    @Test func wrongEntry() throws {
        let wrong = try GradientChecker().checkGradient(
            of: { x in x[0] * sin(x[1]) }, at: [0.3, 1.2],
            gradient: [sin(1.2), 0.3 * cos(1.2) * 1.001])
        #expect(wrong.outcome == .fail)
        #expect(wrong.mismatches.map(\.index) == [[1]])
    }

    @Test func undecidable() throws {
        let jump = try GradientChecker().checkGradient(of: { x in floor(x[0]) }, at: [3], gradient: [0])
        #expect(jump.outcome == .inconclusive)
        #expect(jump.entries[0].reason == .notSmooth)
    }

    @Test func domainsAndScales() throws {
        var bounded = GradientChecker()
        bounded.maxStep = 0.01  // never step further than this from x
        bounded.stepScales = [1e-3, 10]  // the scale each coordinate varies on
        let edge = try bounded.checkGradient(
            of: { x in log(x[0]) + x[1] * x[1] }, at: [0.002, 3],
            gradient: [500, 6])
        #expect(edge.outcome == .pass)
    }

    @Test func inSwiftTesting() {
        expectGradient(of: { x in x[0] * x[0] }, at: [3.0], matches: [6.0], "square")
    }

    @Test func articleBlocksAreCompiledHere() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/GradientCheck/GradientCheck.docc/GettingStarted.md"),
            encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let normalizedSource = source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(
            separator: "\n")
        let blocks = article.components(separatedBy: "```swift\n").dropFirst().map {
            $0.components(separatedBy: "```")[0]
        }
        #expect(blocks.count == 5)
        for b in blocks {
            let lines = b.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
            #expect(normalizedSource.contains(lines), "article block not compiled by this file:\n\(b)")
        }
    }
}
