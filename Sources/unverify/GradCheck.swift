import ArgumentParser
import Foundation
import UNVerification

struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "The G5 map: is each layer's backward the exact gradient of its forward? (--suite: the checker's own accuracy)")

    @Flag(help: "Run the checker's accuracy suite instead of the map.")
    var suite = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Seed of every random input.")
    var seed: UInt64 = 20_220_801

    @Option(help: "Random points per function (--suite).")
    var points = 30

    func run() throws {
        let section: ReportSection
        if suite {
            section = try CheckerAccuracySection(points: points).build(ReportContext(seed: seed, tracePaths: []))
        } else {
            section = try GradientMapSection().build(ReportContext(seed: seed, tracePaths: []))
        }
        if json {
            writeStdout(String(decoding: try JSONEncoder.toolkit.encode(section.data), as: UTF8.self) + "\n")
        } else {
            writeStdout(section.markdown + "\n\(section.verdict.rawValue): \(section.summary)\n")
        }
        try finish(section.verdict)
    }
}
