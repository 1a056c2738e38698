import ArgumentParser
import Foundation
import UNParity

/// The self-contained parity runner: no GSL, no system library beyond the C and C++ runtimes,
/// so that `swift build -c release --static-swift-stdlib --product unverify-parity` runs on a
/// GPU machine with NVIDIA's driver and no Swift toolchain.
struct ParityMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unverify-parity",
        abstract: "Compare UN's hardware-path kernels on OpenCL/CUDA with the CPU reference.")

    @Option(help: "opencl, cuda or all.") var backend = "all"
    @Flag(help: "Print JSON instead of the table.") var json = false
    @Option(help: "Directory to write parity.json and parity.txt into.") var out: String?
    @Flag(help: "Fewer, smaller shapes.") var quick = false

    func run() throws {
        let r = try ParityCLI.execute(backend: backend, json: json, out: out, quick: quick)
        FileHandle.standardOutput.write(Data(r.output.utf8))
        if !r.anyRan { throw ExitCode(2) }
        if !r.allWithinBounds { throw ExitCode(1) }
    }
}

ParityMain.main()
