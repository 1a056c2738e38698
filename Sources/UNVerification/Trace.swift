import Foundation
import Interchange
import UnifiedNormalization

/// A float64 trace of the authors' `UN1d` (format `un-trace/1`, see `Tests/Fixtures/traces/README.md`).
public struct UNTrace: Sendable {
    public struct Config: Codable, Sendable {
        public var channels: Int
        public var fpWindow: Int
        public var bpWindow: Int
        public var warmupIters: Int
        public var outlierFiltration: Bool
        public var eps: Double
        public var momentum: Double
    }
    public struct Initial: Codable, Sendable {
        public var weight: [Double]
        public var bias: [Double]
    }
    public struct Expected: Codable, Sendable {
        public var y: [Double]
        public var gradInput: [Double]?
        public var gradWeight: [Double]?
        public var gradBias: [Double]?
        public var runningVar: [Double]?
        public var emaGz: [Double]?
        public var bufferX2: [Double]?
        public var bufferGz: [Double]?
        public var skipCounter: Int?
        public var iters: Int?
    }
    public struct Step: Codable, Sendable {
        public var mode: String
        public var x: [Double]
        public var padMask: [Bool]?
        public var gradOutput: [Double]?
        public var expected: Expected
    }
    struct File: Codable {
        var format: String
        var name: String
        var source: String?
        var implementation: String?
        var config: Config
        var shape: [Int]
        var initial: Initial
        var steps: [Step]
    }

    public var name: String
    public var path: String
    /// `1` (`un-trace/1`: the authors' code, internal state required) or `2` (`un-trace/2`: any
    /// implementation, only what it can show is required; internal state compared when present).
    public var version: Int = 1
    /// Who produced a version-2 trace (free text, for the report).
    public var implementation: String?
    public var config: Config
    public var shape: [Int]
    public var initial: Initial
    public var steps: [Step]

    public var unifiedNormConfiguration: UnifiedNormConfiguration {
        UnifiedNormConfiguration(
            channels: config.channels, forwardWindow: config.fpWindow, backwardWindow: config.bpWindow,
            warmupIters: config.warmupIters, outlierFiltration: config.outlierFiltration,
            eps: config.eps, momentum: config.momentum)
    }

    /// Reads and validates a trace; every problem is a ``TraceError`` naming the file and field.
    public static func load(path: String) throws -> UNTrace {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TraceError.unreadable(file: path, reason: error.localizedDescription)
        }
        return try decode(data, path: path)
    }

    /// The largest `window × channels` and element count a trace may ask for (2²⁴ entries,
    /// 128 MiB in Double): a bound on what replay allocates, whatever the file says.
    public static let maxEntries = 1 << 24

    public static func decode(_ data: Data, path: String) throws -> UNTrace {
        if let dup = JSONDuplicateKeys.first(in: data) {
            throw TraceError.malformed(
                file: path, field: dup.path, reason: "key \"\(dup.key)\" appears twice in one object")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch let e as DecodingError {
            throw TraceError.from(e, file: path)
        } catch {
            throw TraceError.malformed(file: path, field: "(document)", reason: "\(error)")
        }
        var trace = UNTrace(
            name: file.name, path: path, config: file.config, shape: file.shape,
            initial: file.initial, steps: file.steps)
        switch file.format {
        case "un-trace/1": trace.version = 1
        case "un-trace/2": trace.version = 2
        default:
            throw TraceError.malformed(
                file: path, field: "format",
                reason: "expected \"un-trace/1\" or \"un-trace/2\", found \"\(file.format)\"")
        }
        trace.implementation = file.implementation
        try trace.validate()
        return trace
    }

    /// Shape checks that the decoder cannot do.
    func validate() throws {
        func bad(_ field: String, _ reason: String) -> TraceError {
            .malformed(file: path, field: field, reason: reason)
        }
        guard shape.count == 2 || shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw bad("shape", "must be [B, N, C] or [N, C] with positive sizes, got \(shape)")
        }
        let c = config.channels
        guard shape.last == c else { throw bad("shape", "last dimension \(shape.last ?? 0) ≠ config.channels \(c)") }
        guard config.fpWindow >= 1, config.bpWindow >= 1 else { throw bad("config", "windows must be ≥ 1") }
        // Every size product overflow-checked and bounded (a window of 2^62 once crashed replay,
        // and one of 10⁹ made it allocate 23 GB).
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= Self.maxEntries else {
                throw bad("shape", "\(shape) has more than \(Self.maxEntries) entries")
            }
            n = p
        }
        for (name, w) in [("config.fpWindow", config.fpWindow), ("config.bpWindow", config.bpWindow)] {
            let (p, o) = w.multipliedReportingOverflow(by: c)
            guard !o, p <= Self.maxEntries else {
                throw bad(name, "\(w) × \(c) channels exceeds \(Self.maxEntries) buffer entries")
            }
        }
        guard config.warmupIters >= 0 else { throw bad("config.warmupIters", "must be ≥ 0, got \(config.warmupIters)") }
        let rows = n / c
        guard initial.weight.count == c else {
            throw bad("initial.weight", "has \(initial.weight.count) entries, expected \(c)")
        }
        guard initial.bias.count == c else {
            throw bad("initial.bias", "has \(initial.bias.count) entries, expected \(c)")
        }
        guard !steps.isEmpty else { throw bad("steps", "no steps") }
        var seenEval = false
        for (k, s) in steps.enumerated() {
            let f = "steps[\(k)]"
            // Version 2 requires only what any implementation can show; internal state is checked when present.
            func count(_ a: [Double]?, _ name: String, _ expected: Int, isInternal: Bool = false) throws {
                guard let a else {
                    if isInternal && version == 2 { return }
                    throw bad("\(f).\(name)", "missing")
                }
                guard a.count == expected else {
                    throw bad("\(f).\(name)", "has \(a.count) entries, expected \(expected)")
                }
            }
            try count(s.x, "x", n)
            if let m = s.padMask, m.count != rows {
                throw bad("\(f).padMask", "has \(m.count) entries, expected \(rows)")
            }
            try count(s.expected.y, "expected.y", n)
            switch s.mode {
            case "train":
                if seenEval { throw bad("\(f).mode", "train step after an eval step") }
                try count(s.gradOutput, "gradOutput", n)
                try count(s.expected.gradInput, "expected.gradInput", n)
                try count(s.expected.gradWeight, "expected.gradWeight", c)
                try count(s.expected.gradBias, "expected.gradBias", c)
                try count(s.expected.runningVar, "expected.runningVar", c, isInternal: true)
                try count(s.expected.emaGz, "expected.emaGz", c, isInternal: true)
                try count(s.expected.bufferX2, "expected.bufferX2", config.fpWindow * c, isInternal: true)
                try count(s.expected.bufferGz, "expected.bufferGz", config.bpWindow * c, isInternal: true)
                guard s.expected.skipCounter != nil || version == 2 else {
                    throw bad("\(f).expected.skipCounter", "missing")
                }
                guard s.expected.iters != nil || version == 2 else { throw bad("\(f).expected.iters", "missing") }
            case "eval":
                seenEval = true
            default:
                throw bad("\(f).mode", "must be \"train\" or \"eval\", found \"\(s.mode)\"")
            }
        }
    }

    /// The step's input as a batch of this trace's shape.
    func batch(_ values: [Double], padMask: [Bool]?) throws -> TokenBatch<Double> {
        shape.count == 3
            ? try TokenBatch(batch: shape[0], tokens: shape[1], channels: shape[2], values: values, padMask: padMask)
            : try TokenBatch(tokens: shape[0], channels: shape[1], values: values, padMask: padMask)
    }
}

/// Why a trace could not be used.
public enum TraceError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case malformed(file: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read: \(r)"
        case .malformed(let f, let field, let r): return "\(f): field \(field): \(r)"
        }
    }

    static func from(_ e: DecodingError, file: String) -> TraceError {
        func path(_ p: [CodingKey]) -> String {
            p.isEmpty
                ? "(document)"
                : p.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                    .replacingOccurrences(of: ".[", with: "[").trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch e {
        case .keyNotFound(let k, let ctx):
            return .malformed(file: file, field: path(ctx.codingPath + [k]), reason: "missing")
        case .typeMismatch(_, let ctx):
            return .malformed(file: file, field: path(ctx.codingPath), reason: ctx.debugDescription)
        case .valueNotFound(_, let ctx):
            return .malformed(file: file, field: path(ctx.codingPath), reason: "null where a value is required")
        case .dataCorrupted(let ctx):
            return .malformed(
                file: file, field: path(ctx.codingPath),
                reason:
                    "not valid JSON (truncated or corrupted): "
                    + (ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)
            )
        @unknown default: return .malformed(file: file, field: "(document)", reason: "\(e)")
        }
    }
}
