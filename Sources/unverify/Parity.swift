import ArgumentParser
import UNParity

struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GPU-vs-CPU parity of UN's hardware-path kernels (OpenCL, CUDA); with --block-timing, the fold timed."
    )

    @OptionGroup var options: ParityOptions

    func run() throws {
        let r = try ParityCLI.execute(options)
        writeStdout(r.output)
        switch r.outcome {
        // No requested backend available here: an environment condition, not a verdict.
        case .nothingRan: throw ExitCode(ExitStatus.usageOrEnvironment.rawValue)
        case .failed: try finish(.falsified)
        case .held: try finish(.holds)
        }
    }
}
