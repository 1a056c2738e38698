import ArgumentParser
import UNVerification

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time LayerNorm+linear, UN+linear and the folded linear layer side by side (CPU; build with -c release).")

    @Option(help: "Tokens.") var tokens = 256
    @Option(help: "Channels.") var width = 128
    @Option(help: "Interleaved repetitions (the median is reported).") var repetitions = 7

    func run() throws {
        guard tokens > 0, width > 0, repetitions > 0 else { throw ValidationError("tokens, width and repetitions must be positive") }
        let r = try InferenceBenchmark.run(tokens: tokens, width: width, repetitions: repetitions)
        writeStdout("""
        LayerNorm + linear : \(r.layerNormThenLinear * 1e3) ms
        UN map + linear    : \(r.unThenLinear * 1e3) ms  (ratio to LN \(r.unfoldedOverLayerNorm))
        folded linear      : \(r.foldedLinear * 1e3) ms  (ratio to LN \(r.foldedOverLayerNorm))
        activations no longer materialized by the fold: \(r.activationBytesSaved) bytes

        """)
    }
}
