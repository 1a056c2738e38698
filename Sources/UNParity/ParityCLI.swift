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
            case .available(let device):
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

    /// Validates the backend name, runs, writes `out/parity.json` and `out/parity.txt` when
    /// asked, and returns what to print (the table or the JSON) and whether every entry held.
    public static func execute(backend: String, json: Bool, out: String?, quick: Bool) throws -> (
        output: String, allWithinBounds: Bool, anyRan: Bool
    ) {
        guard backendNames.contains(backend) else {
            throw BackendError("parity", "--backend must be one of \(backendNames)")
        }
        let doc = run(backend: backend, quick: quick)
        let data = try ParityCLI.json(doc)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: out + "/parity.json"))
            try text(doc).write(toFile: out + "/parity.txt", atomically: true, encoding: .utf8)
        }
        return (json ? String(decoding: data, as: UTF8.self) + "\n" : text(doc), doc.allWithinBounds, doc.anyRan)
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
