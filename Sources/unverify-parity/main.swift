import ArgumentParser
import Foundation
import UNParity

/// The self-contained parity runner: no GSL, no system library beyond libc, so that
/// `swift build -c release --static-swift-stdlib --product unverify-parity` runs on a GPU
/// machine with NVIDIA's driver and no Swift toolchain.
struct ParityMain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unverify-parity",
        abstract: "Compare UN's hardware-path kernels on OpenCL/CUDA with the CPU reference.")

    @Option(help: "opencl, cuda or all.") var backend = "all"
    @Flag(help: "Print JSON instead of the table.") var json = false
    @Option(help: "Directory to write parity.json and parity.txt into.") var out: String?
    @Flag(help: "Fewer, smaller shapes.") var quick = false

    func run() throws {
        guard ParityCLI.backendNames.contains(backend) else { throw ValidationError("--backend must be one of \(ParityCLI.backendNames)") }
        let doc = ParityCLI.run(backend: backend, quick: quick)
        let data = try ParityCLI.json(doc)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: out + "/parity.json"))
            try ParityCLI.text(doc).write(toFile: out + "/parity.txt", atomically: true, encoding: .utf8)
        }
        FileHandle.standardOutput.write(json ? data + Data("\n".utf8) : Data(ParityCLI.text(doc).utf8))
        if !doc.allWithinBounds { throw ExitCode(1) }
    }
}

ParityMain.main()
