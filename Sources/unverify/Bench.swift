import ArgumentParser
import UNVerification

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Time LayerNorm+linear, UN+linear and the folded linear layer side by side (CPU; build with -c release).")

    @Option(help: "Tokens.") var tokens = 256
    @Option(help: "Channels.") var width = 128
    @Option(help: "Interleaved repetitions (the median is reported).") var repetitions = 7

    /// Sizes bounded so that the benchmark's matrices (width² entries) and activations stay in memory.
    func validate() throws {
        guard (1...1 << 20).contains(tokens) else {
            throw ValidationError("--tokens must be in 1...\(1 << 20), got \(tokens)")
        }
        guard (1...1 << 13).contains(width) else {
            throw ValidationError("--width must be in 1...\(1 << 13), got \(width)")
        }
        guard tokens * width <= 1 << 26 else { throw ValidationError("--tokens × --width must be at most \(1 << 26)") }
        guard (1...1000).contains(repetitions) else {
            throw ValidationError("--repetitions must be in 1...1000, got \(repetitions)")
        }
    }

    func run() throws {
        let r = try InferenceBenchmark.run(tokens: tokens, width: width, repetitions: repetitions)
        writeStdout(
            """
            LayerNorm + linear : \(r.layerNormThenLinear * 1e3) ms
            UN map + linear    : \(r.unThenLinear * 1e3) ms  (ratio to LN \(r.unfoldedOverLayerNorm))
            folded linear      : \(r.foldedLinear * 1e3) ms  (ratio to LN \(r.foldedOverLayerNorm))
            activations no longer materialized by the fold: \(r.activationBytesSaved) bytes

            """)
    }
}
