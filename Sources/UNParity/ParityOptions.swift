import ArgumentParser

/// The backends a parity run can ask for (`cpu` only for the block timing: the CPU is the parity
/// reference itself).
public enum ParityBackend: String, CaseIterable, ExpressibleByArgument, Sendable {
    case opencl, cuda, all, cpu
}

/// The options `unverify parity` and the standalone `unverify-parity` share.
public struct ParityOptions: ParsableArguments {
    public init() {}

    @Option(help: "opencl, cuda, all (both), or cpu (block timing only).") public var backend = ParityBackend.all
    @Flag(help: "Print JSON instead of the table.") public var json = false
    @Option(help: "Directory to write parity.json and parity.txt (and block-timing.*) into.") public var out: String?
    @Flag(help: "Fewer, smaller shapes (parity only).") public var quick = false
    @Flag(
        help: """
            Also time one ViT-B pre-norm block's inference with LayerNorm, UN's map and UN folded, \
            side by side (block-timing.json, block-timing.txt).
            """)
    public var blockTiming = false
    @Flag(help: "Only the block timing, no parity.") public var blockTimingOnly = false
    @Option(
        help: """
            Batch of the timed block (197 tokens × 768 each; at most 3548, the kernels' 32-bit index); \
            repeat for several (default 1, 8 and 64; with --backend cpu, 1).
            """)
    public var blockBatch: [Int] = []
    @Option(help: "Timed repetitions per schedule.") public var blockRepetitions = 30

    @Option(
        help: ArgumentHelp(
            "Write every kernel source (OpenCL C and CUDA C) into this directory and exit.", valueName: "dir"))
    public var emitSources: String?

    /// The batches to time: those given, else 1, 8 and 64 (on the CPU, whose Swift loops take about
    /// a second per forward pass at batch 1, only 1).
    public var blockBatches: [Int] { blockBatch.isEmpty ? (backend == .cpu ? [1] : [1, 8, 64]) : blockBatch }

    public mutating func validate() throws {
        guard blockBatch.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--block-batch must be at least 1") }
        guard blockRepetitions >= 1 else { throw ValidationError("--block-repetitions must be at least 1") }
        if backend == .cpu && !(blockTiming || blockTimingOnly) {
            throw ValidationError(
                "--backend cpu needs --block-timing or --block-timing-only (the CPU is the reference)")
        }
    }
}
