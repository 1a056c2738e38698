import ArgumentParser
import Foundation
import UNParity

/// The self-contained parity runner: no GSL, no system library beyond the C and C++ runtimes,
/// so that `swift build -c release --static-swift-stdlib --product unverify-parity` runs on a
/// GPU machine with NVIDIA's driver and no Swift toolchain.
struct ParityMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unverify-parity",
        abstract: "Compare UN's hardware-path kernels on OpenCL/CUDA with the CPU reference; time the fold.",
        discussion: """
            Exit status: 0 everything that ran held; 1 a bound violation, a failure, an output that did not \
            validate, or a result file that could not be written; 2 nothing could run, or --out is not a \
            writable directory; 64 a bad option.
            """)

    @OptionGroup var options: ParityOptions

    func run() throws {
        let r: (output: String, outcome: ParityCLI.Outcome)
        do { r = try ParityCLI.execute(options) } catch let e as BackendError {
            // An --out that cannot be written, checked before anything ran: an environment error.
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode(2)
        }
        FileHandle.standardOutput.write(Data(r.output.utf8))
        switch r.outcome {
        case .held: return
        case .failed: throw ExitCode(1)
        case .nothingRan: throw ExitCode(2)
        }
    }
}

ParityMain.main()
