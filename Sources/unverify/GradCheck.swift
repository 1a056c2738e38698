import ArgumentParser
import Foundation
import UNClaims
import UNVerification

struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract:
            "The G5 map: is each layer's backward the exact gradient of its forward? "
            + "(--suite: the checker's own accuracy)"
    )

    @Flag(help: "Run the checker's accuracy suite instead of the map.")
    var suite = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Seed of every random input.")
    var seed: UInt64 = 20_220_801

    @Option(help: "Random points per function (--suite), at least 1.")
    var points = 30

    @Option(help: "Trials per cell of the detection-power table (--suite); 0 skips it.")
    var powerTrials = 200

    func validate() throws {
        guard points >= 1, points <= 1_000_000 else {
            throw ValidationError("--points must be in 1...1000000, got \(points)")
        }
        guard powerTrials >= 0, powerTrials <= 1_000_000 else {
            throw ValidationError("--power-trials must be in 0...1000000, got \(powerTrials)")
        }
    }

    func run() throws {
        let section: ReportSection
        if suite {
            let ctx = ReportContext(seed: seed, tracePaths: [])
            let acc = try CheckerAccuracySection(points: points).build(ctx)
            if powerTrials > 0 {
                let power = try CheckerPowerSection(trials: powerTrials).build(ctx)
                section = ReportSection(
                    id: "checker", title: acc.title, verdict: max(acc.verdict, power.verdict),
                    summary: acc.summary + "; " + power.summary,
                    blocks: acc.blocks + [.text("### Detection power")] + power.blocks,
                    data: .object(["accuracy": acc.data, "power": power.data]))
            } else {
                section = acc
            }
        } else {
            // The G5 map: claim G5's section (its pinned cells, then effort 1 × the generated cases).
            section = try ClaimSection(GradientMap.g5).build(ReportContext(seed: seed, tracePaths: [], effort: 1))
        }
        if json {
            writeStdout(String(decoding: try JSONEncoder.toolkit.encode(section.data), as: UTF8.self) + "\n")
        } else {
            // A terminal shows no figures: their blocks are left out here (the report draws them).
            let text = section.blocks.filter { if case .figure = $0 { false } else { true } }
            writeStdout(
                text.map { $0.markdown() }.joined(separator: "\n")
                    + "\n\(section.verdict.rawValue): \(section.summary)\n")
        }
        try finish(section.verdict)
    }
}
