import Foundation

/// What `unverify parity` and the standalone `unverify-parity` binary share: backend selection,
/// running, the table, the JSON document. No printing here; the executables print.
public enum ParityCLI {
    public struct Document: Codable, Sendable {
        /// The version of this JSON format: 1 (the fields below). Files written before versions
        /// existed read as version 0 with the same fields; a newer version is an error.
        public static let currentSchemaVersion = 1
        public var schemaVersion = Document.currentSchemaVersion
        public var tool = "unverify-parity"
        public var backends: [BackendStatus]
        public var rows: [ParityRow]
        public var allWithinBounds: Bool
        /// Whether any backend ran (false: every requested backend was unavailable).
        public var anyRan: Bool { !rows.isEmpty }

        init(backends: [BackendStatus], rows: [ParityRow], allWithinBounds: Bool) {
            self.backends = backends
            self.rows = rows
            self.allWithinBounds = allWithinBounds
        }

        private enum CodingKeys: String, CodingKey { case schemaVersion, tool, backends, rows, allWithinBounds }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            schemaVersion = try c.decodeIfPresent(Int.self, forKey: .schemaVersion) ?? 0
            guard schemaVersion <= Self.currentSchemaVersion else {
                throw DecodingError.dataCorruptedError(
                    forKey: .schemaVersion, in: c,
                    debugDescription:
                        "parity.json schema version \(schemaVersion) is newer than this tool's \(Self.currentSchemaVersion)"
                )
            }
            tool = try c.decode(String.self, forKey: .tool)
            backends = try c.decode([BackendStatus].self, forKey: .backends)
            rows = try c.decode([ParityRow].self, forKey: .rows)
            allWithinBounds = try c.decode(Bool.self, forKey: .allWithinBounds)
        }
    }
    public struct BackendStatus: Codable, Sendable {
        public var name: String
        public var available: Bool
        public var device: String?
        public var reason: String?
        public var error: String?
    }

    public static let backendNames = ["opencl", "cuda", "all"]

    /// Runs the named backend(s) against the CPU reference.
    public static func run(backend: String, quick: Bool = false) -> Document {
        let names = backend == "all" ? ["opencl", "cuda"] : [backend]
        var statuses: [BackendStatus] = []
        var rows: [ParityRow] = []
        let runner = ParityRunner(shapes: quick ? ParityRunner.quickShapes : ParityRunner.fullShapes)
        for n in names {
            let b: any ComputeBackend = n == "cuda" ? CUDABackend() : OpenCLBackend()
            switch b.availability {
            case .notAvailable(let reason):
                statuses.append(BackendStatus(name: n, available: false, device: nil, reason: reason, error: nil))
            case .available(var device):
                if let cu = b as? CUDABackend { device += "; kernels: \(cu.compiler)" }
                do {
                    rows += try runner.run(b)
                    statuses.append(BackendStatus(name: n, available: true, device: device, reason: nil, error: nil))
                } catch {
                    statuses.append(
                        BackendStatus(name: n, available: true, device: device, reason: nil, error: "\(error)"))
                }
            }
        }
        let ok = rows.allSatisfy { $0.boundViolations == 0 } && statuses.allSatisfy { $0.error == nil }
        return Document(backends: statuses, rows: rows, allWithinBounds: ok)
    }

    /// What a run came to: everything that ran held, something failed (a bound violation, a
    /// backend failure, a timed output that disagreed with its reference), or nothing could run.
    public enum Outcome: Sendable, Equatable {
        case held, failed, nothingRan
    }

    /// Runs what the options ask (parity, the block timing, or both), writes `parity.json`,
    /// `parity.txt`, `block-timing.json`, `block-timing.txt` into `--out` when given, and returns
    /// what to print and the outcome.
    /// - Throws: file-system errors writing `--out`.
    public static func execute(_ o: ParityOptions) throws -> (output: String, outcome: Outcome) {
        var output = ""
        var outcomes: [Outcome] = []
        if let dir = o.emitSources {
            let files = try emitSources(into: dir)
            return ("wrote \(files.count) kernel sources into \(dir): \(files.joined(separator: ", "))\n", .held)
        }
        if let out = o.out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        if !o.blockTimingOnly && o.backend != .cpu {
            let doc = run(backend: o.backend.rawValue, quick: o.quick)
            let data = try ParityCLI.json(doc)
            if let out = o.out {
                try data.write(to: URL(fileURLWithPath: out + "/parity.json"))
                try text(doc).write(toFile: out + "/parity.txt", atomically: true, encoding: .utf8)
            }
            output += o.json ? String(decoding: data, as: UTF8.self) + "\n" : text(doc)
            outcomes.append(!doc.anyRan ? .nothingRan : (doc.allWithinBounds ? .held : .failed))
        }
        if o.blockTiming || o.blockTimingOnly {
            let configs = o.blockBatches.map {
                BlockTiming.Configuration(shape: .vitBase(batch: $0), repetitions: o.blockRepetitions)
            }
            let doc = runBlockTiming(backend: o.backend, configs)
            let data = try BlockTiming.json(doc)
            if let out = o.out {
                try data.write(to: URL(fileURLWithPath: out + "/block-timing.json"))
                try BlockTiming.text(doc).write(toFile: out + "/block-timing.txt", atomically: true, encoding: .utf8)
            }
            output +=
                (output.isEmpty ? "" : "\n")
                + (o.json ? String(decoding: data, as: UTF8.self) + "\n" : BlockTiming.text(doc))
            outcomes.append(
                doc.runs.isEmpty ? (doc.anyFailed ? .failed : .nothingRan) : (doc.allHeld ? .held : .failed))
        }
        if outcomes.contains(.failed) { return (output, .failed) }
        return (output, outcomes.allSatisfy { $0 == .nothingRan } ? .nothingRan : .held)
    }

    /// Every kernel source this runner compiles at run time, as files (for a vendor compiler run
    /// by hand, or to read): returns the file names.
    /// - Throws: file-system errors.
    public static func emitSources(into dir: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [(String, String)] = [
            ("block_kernels.cl", BlockKernelSource.openCL), ("block_kernels.cu", BlockKernelSource.cuda),
        ]
        for p in Precision.allCases {
            files += [
                ("un_kernels_\(p.rawValue).cl", KernelSources.openCL(p)),
                ("un_kernels_\(p.rawValue).cu", KernelSources.cuda(p)),
            ]
        }
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return files.map(\.0)
    }

    /// The block timing on each requested device, at each configuration: CPU, OpenCL, CUDA with the `block_gemm` kernel
    /// and, where cuBLAS opens, CUDA with cuBLAS. A device that is not here is listed with the
    /// reason; one that fails is listed with its error.
    public static func runBlockTiming(backend: ParityBackend, _ configs: [BlockTiming.Configuration])
        -> BlockTiming.Document
    {
        var doc = BlockTiming.Document(backends: [], runs: [])
        func attempt(_ name: String, _ make: () throws -> any BlockDevice) {
            let device: any BlockDevice
            do { device = try make() } catch {
                doc.backends.append(
                    BackendStatus(name: name, available: false, device: nil, reason: "\(error)", error: nil))
                return
            }
            do {
                for config in configs { doc.runs.append(try BlockTiming.run(device, config)) }
                doc.backends.append(
                    BackendStatus(name: name, available: true, device: device.device, reason: nil, error: nil))
            } catch {
                doc.backends.append(
                    BackendStatus(name: name, available: true, device: device.device, reason: nil, error: "\(error)"))
            }
        }
        if backend == .cpu { attempt("cpu") { CPUBlockDevice() } }
        if backend == .opencl || backend == .all {
            let cl = OpenCLBackend()
            if case .notAvailable(let r) = cl.availability {
                doc.backends.append(BackendStatus(name: "opencl", available: false, device: nil, reason: r, error: nil))
            } else if backend == .all, let d = try? OpenCLBlockDevice(cl), d.isCPU {
                // Asked for every backend on a machine whose OpenCL is a CPU (PoCL): timing it at
                // ViT-B's size would take minutes and say nothing about a GPU.
                let why = "\(d.device) is a CPU device; not timed under --backend all (ask --backend opencl)"
                doc.backends.append(
                    BackendStatus(name: "opencl", available: false, device: nil, reason: why, error: nil))
            } else {
                attempt("opencl") { try OpenCLBlockDevice(cl) }
            }
        }
        if backend == .cuda || backend == .all {
            let cu = CUDABackend()
            if case .notAvailable(let r) = cu.availability {
                doc.backends.append(BackendStatus(name: "cuda", available: false, device: nil, reason: r, error: nil))
            } else {
                attempt("cuda") { try CUDABlockDevice(cu, useCUBLAS: false) }
                attempt("cuda+cublas") { try CUDABlockDevice(cu, useCUBLAS: true) }
            }
        }
        return doc
    }

    public static func text(_ d: Document) -> String {
        var s = ""
        for b in d.backends {
            s +=
                b.available
                ? "\(b.name): \(b.device ?? "")\(b.error.map { " — FAILED: \($0)" } ?? "")\n"
                : "\(b.name): not available — \(b.reason ?? "")\n"
        }
        if !d.rows.isEmpty { s += "\n" + ParityRunner.table(d.rows) }
        if d.rows.isEmpty {
            s += "\nno backend ran: nothing was compared\n"
        } else {
            s +=
                "\n"
                + (d.allWithinBounds
                    ? "every entry within its derived bound" : "BOUND VIOLATIONS or backend failures (see above)")
                + "\n"
        }
        return s
    }

    public static func json(_ d: Document) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(d)
    }
}
