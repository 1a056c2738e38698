import ArgumentParser
import UNParity

struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GPU-vs-CPU parity of UN's hardware-path kernels (OpenCL, CUDA).")

    @Option(help: "opencl, cuda or all.") var backend = "all"
    @Flag(help: "Print JSON instead of the table.") var json = false
    @Option(help: "Directory to write parity.json and parity.txt into.") var out: String?
    @Flag(help: "Fewer, smaller shapes.") var quick = false

    func run() throws {
        let r: (output: String, allWithinBounds: Bool, anyRan: Bool)
        do { r = try ParityCLI.execute(backend: backend, json: json, out: out, quick: quick) } catch let e
            as BackendError
        {
            throw ValidationError(e.description)
        }
        writeStdout(r.output)
        // No requested backend available here: an environment condition, not a verdict.
        if !r.anyRan { throw ExitCode(ExitStatus.usageOrEnvironment.rawValue) }
        try finish(r.allWithinBounds ? .holds : .falsified)
    }
}
