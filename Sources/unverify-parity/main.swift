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
        discussion: "Exit status: 0 everything that ran held, 1 a violation or failure, 2 nothing could run.")

    @OptionGroup var options: ParityOptions

    func run() throws {
        let r = try ParityCLI.execute(options)
        FileHandle.standardOutput.write(Data(r.output.utf8))
        switch r.outcome {
        case .held: return
        case .failed: throw ExitCode(1)
        case .nothingRan: throw ExitCode(2)
        }
    }
}

ParityMain.main()
