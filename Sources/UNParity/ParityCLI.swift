import Foundation

/// What `unverify parity` and the standalone `unverify-parity` binary share: backend selection,
/// running, the table, the JSON document. No printing here; the executables print.
public enum ParityCLI {
    public struct Document: Codable, Sendable {
        public var tool = "unverify-parity"
        public var backends: [BackendStatus]
        public var rows: [ParityRow]
        public var allWithinBounds: Bool
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
                    statuses.append(BackendStatus(name: n, available: true, device: device, reason: nil, error: "\(error)"))
                }
            }
        }
        let ok = rows.allSatisfy { $0.boundViolations == 0 } && statuses.allSatisfy { $0.error == nil }
        return Document(backends: statuses, rows: rows, allWithinBounds: ok)
    }

    public static func text(_ d: Document) -> String {
        var s = ""
        for b in d.backends {
            s += b.available ? "\(b.name): \(b.device ?? "")\(b.error.map { " — FAILED: \($0)" } ?? "")\n" : "\(b.name): not available — \(b.reason ?? "")\n"
        }
        if !d.rows.isEmpty { s += "\n" + ParityRunner.table(d.rows) }
        s += "\n" + (d.allWithinBounds ? "every entry within its derived bound" : "BOUND VIOLATIONS or backend failures (see above)") + "\n"
        return s
    }

    public static func json(_ d: Document) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(d)
    }
}
