import ArgumentParser
import Foundation
import UNParity

struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "GPU-vs-CPU parity of UN's hardware-path kernels (OpenCL, CUDA).")

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
        writeStdout(json ? String(decoding: data, as: UTF8.self) + "\n" : ParityCLI.text(doc))
        try finish(doc.allWithinBounds ? .holds : .falsified)
    }
}
