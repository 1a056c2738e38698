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
                        "parity.json schema version \(schemaVersion) is newer than this tool's "
                        + "\(Self.currentSchemaVersion)"
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

        /// One line of the table's header: the device, its failure, or why it is not here.
        var line: String {
            available
                ? "\(name): \(device ?? "")\(error.map { " — FAILED: \($0)" } ?? "")\n"
                : "\(name): not available — \(reason ?? "")\n"
        }
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
    /// what to print and the outcome. With `--json` the output is one JSON document: the parity
    /// document, the block-timing document, or, when both ran, `{"parity": …, "blockTiming": …}`.
    /// A file that cannot be written is named in the output and makes the outcome `.failed`; the
    /// results are still printed.
    /// - Throws: `BackendError` when `--out` is not a writable directory (checked before anything
    ///   runs, so no device time is spent on results that could not be kept), file-system errors
    ///   from `--emit-sources`.
    public static func execute(_ o: ParityOptions) throws -> (output: String, outcome: Outcome) {
        if let dir = o.emitSources {
            let files = try emitSources(into: dir)
            return ("wrote \(files.count) kernel sources into \(dir): \(files.joined(separator: ", "))\n", .held)
        }
        if let out = o.out { try prepareOutputDirectory(out) }
        var texts: [String] = []
        var jsons: [(key: String, data: Data)] = []
        var files: [(name: String, data: Data)] = []
        var outcomes: [Outcome] = []
        if !o.blockTimingOnly && o.backend != .cpu {
            let doc = run(backend: o.backend.rawValue, quick: o.quick)
            let data = try ParityCLI.json(doc)
            texts.append(text(doc))
            jsons.append(("parity", data))
            files += [("parity.json", data), ("parity.txt", Data(text(doc).utf8))]
            outcomes.append(outcome(doc))
        }
        if o.blockTiming || o.blockTimingOnly {
            let configs = o.blockBatches.map {
                BlockTiming.Configuration(shape: .vitBase(batch: $0), repetitions: o.blockRepetitions)
            }
            let doc = runBlockTiming(backend: o.backend, configs)
            let data = try BlockTiming.json(doc)
            texts.append(BlockTiming.text(doc))
            jsons.append(("blockTiming", data))
            files += [("block-timing.json", data), ("block-timing.txt", Data(BlockTiming.text(doc).utf8))]
            outcomes.append(!doc.allHeld ? .failed : (doc.runs.isEmpty ? .nothingRan : .held))
        }
        var output = o.json ? combinedJSON(jsons) : texts.joined(separator: "\n")
        if let out = o.out {
            var unwritten: [String] = []
            for f in files {
                let path = out + "/" + f.name
                do { try f.data.write(to: URL(fileURLWithPath: path)) } catch {
                    unwritten.append("cannot write \(path): \(error.localizedDescription)")
                }
            }
            if !unwritten.isEmpty {
                // The results are printed all the same: only the files are missing.
                output += (o.json ? "" : "\n") + unwritten.joined(separator: "\n") + "\n"
                outcomes.append(.failed)
            }
        }
        if outcomes.contains(.failed) { return (output, .failed) }
        return (output, outcomes.allSatisfy { $0 == .nothingRan } ? .nothingRan : .held)
    }

    /// A parity run's outcome: a backend that failed or an entry beyond its bound fails it, even
    /// when no row was produced; nothing ran only when every backend was absent.
    static func outcome(_ doc: Document) -> Outcome {
        if doc.backends.contains(where: { $0.error != nil }) || !doc.allWithinBounds { return .failed }
        return doc.anyRan ? .held : .nothingRan
    }

    /// One JSON document: the part itself when there is one, else an object keyed by part.
    static func combinedJSON(_ parts: [(key: String, data: Data)]) -> String {
        if parts.count == 1 { return String(decoding: parts[0].data, as: UTF8.self) + "\n" }
        let body = parts.map { "\"\($0.key)\": " + String(decoding: $0.data, as: UTF8.self) }
        return "{\n" + body.joined(separator: ",\n") + "\n}\n"
    }

    /// Creates `dir` if needed and proves it writable with a probe file, so that a run is not
    /// started whose results could not be kept.
    /// - Throws: `BackendError` naming the directory and why.
    static func prepareOutputDirectory(_ dir: String) throws {
        let fm = FileManager.default
        func refuse(_ why: String) -> BackendError {
            BackendError("parity", "--out \(dir) is not a writable directory: \(why)")
        }
        if (try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)) == nil {
            // Name the first existing ancestor and what is wrong with it (Foundation's message is generic).
            var a = (dir as NSString).deletingLastPathComponent
            while !a.isEmpty && a != "/" && !fm.fileExists(atPath: a) { a = (a as NSString).deletingLastPathComponent }
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: a.isEmpty ? "." : a, isDirectory: &isDir), !isDir.boolValue {
                throw refuse("\(a) is not a directory")
            }
            throw refuse("cannot create it under \(a.isEmpty ? "." : a) (\(String(cString: strerror(errno))))")
        }
        let probe = dir + "/.unverify-parity-write-probe"
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { throw refuse(String(cString: strerror(errno))) }
        close(fd)
        unlink(probe)
        for name in ["parity.json", "parity.txt", "block-timing.json", "block-timing.txt"] {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dir + "/" + name, isDirectory: &isDir), isDir.boolValue {
                throw BackendError("parity", "--out \(dir): \(name) is a directory, where the results would go")
            }
        }
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
        var backends: [BackendStatus] = []
        var runs: [BlockTiming.Report] = []
        // The CPU's output for one sample of each timed shape, computed once for every device.
        var references: [BlockShape: [BlockNormalization: [Float]]] = [:]
        func reference(_ c: BlockTiming.Configuration) throws -> [BlockNormalization: [Float]]? {
            guard c.checkTimedShape else { return nil }
            let one = BlockTiming.oneSample(c.shape)
            if let r = references[one] { return r }
            let r = try BlockTiming.cpuOutputs(one)
            references[one] = r
            return r
        }
        // Called only where the backend is available: a device that then fails to start (its
        // kernels do not compile or load, cuBLAS does not initialize) is a failure, not absent.
        func attempt(_ name: String, _ make: () throws -> any BlockDevice) {
            let device: any BlockDevice
            do { device = try make() } catch {
                backends.append(BackendStatus(name: name, available: true, device: nil, reason: nil, error: "\(error)"))
                return
            }
            do {
                for c in configs {
                    let ref = device is CPUBlockDevice ? nil : try reference(c)
                    runs.append(try BlockTiming.run(device, c, sampleReference: ref))
                }
                backends.append(
                    BackendStatus(name: name, available: true, device: device.device, reason: nil, error: nil))
            } catch {
                backends.append(
                    BackendStatus(name: name, available: true, device: device.device, reason: nil, error: "\(error)"))
            }
        }
        if backend == .cpu { attempt("cpu") { CPUBlockDevice() } }
        if backend == .opencl || backend == .all {
            let cl = OpenCLBackend()
            if case .notAvailable(let r) = cl.availability {
                backends.append(BackendStatus(name: "opencl", available: false, device: nil, reason: r, error: nil))
            } else if backend == .all, let d = try? OpenCLBlockDevice(cl), d.isCPU {
                // Asked for every backend on a machine whose OpenCL is a CPU (PoCL): timing it at
                // ViT-B's size would take minutes and say nothing about a GPU.
                let why = "\(d.device) is a CPU device; not timed under --backend all (ask --backend opencl)"
                backends.append(
                    BackendStatus(name: "opencl", available: false, device: nil, reason: why, error: nil))
            } else {
                attempt("opencl") { try OpenCLBlockDevice(cl) }
            }
        }
        if backend == .cuda || backend == .all {
            let cu = CUDABackend()
            if case .notAvailable(let r) = cu.availability {
                backends.append(BackendStatus(name: "cuda", available: false, device: nil, reason: r, error: nil))
            } else {
                attempt("cuda") { try CUDABlockDevice(cu, useCUBLAS: false) }
                let (cublas, why) = DynamicLibrary.open(CUDABlockDevice.cublasNames)
                if cublas == nil {
                    let reason = "cuBLAS not found (\(why.prefix(200)))"
                    backends.append(
                        BackendStatus(name: "cuda+cublas", available: false, device: nil, reason: reason, error: nil))
                } else {
                    attempt("cuda+cublas") { try CUDABlockDevice(cu, useCUBLAS: true) }
                }
            }
        }
        return BlockTiming.Document(backends: backends, runs: runs)
    }

    public static func text(_ d: Document) -> String {
        var s = d.backends.map(\.line).joined()
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

    public static func json(_ d: Document) throws -> Data { try encode(d) }

    /// The runner's JSON: pretty, keys sorted, non-finite numbers as "inf", "-inf", "nan" (what
    /// `RecordedDeviceRuns` reads back).
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(value)
    }
}
