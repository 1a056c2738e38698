import Foundation

/// The paper's efficiency claim measured on a device: one pre-norm Transformer block's inference
/// with LayerNorm, with UN's inference map as its own kernel, and with UN folded into the linear
/// layers, timed side by side (interleaved repetitions, medians and quartiles), with the memory
/// each schedule needs. A schedule is timed only after its output has been checked (see
/// `BlockTiming.validationThreshold`): a timing of a wrong computation is no evidence.
///
/// The paper (Yang et al., ACM MM 2022, arXiv 2208.01313) reports about 31% faster inference and
/// 18% less memory on GPU for whole networks in PyTorch; this measures one block in isolation,
/// which isolates what the fold removes (two normalization kernels and two normalized
/// activations per block) from everything else a network does.
public enum BlockTiming {
    public struct Configuration: Sendable {
        public var shape: BlockShape
        public var repetitions: Int
        public var warmup: Int
        /// The small shape at which every schedule's device output is compared with the CPU's.
        public var validationShape: BlockShape
        public init(
            shape: BlockShape = .vitBase(batch: 8), repetitions: Int = 30, warmup: Int = 3,
            validationShape: BlockShape = BlockShape(batch: 2, tokens: 17, width: 64, heads: 4)
        ) {
            self.shape = shape
            self.repetitions = repetitions
            self.warmup = warmup
            self.validationShape = validationShape
        }
    }

    /// Output agreement required before a schedule is timed: normwise, `max|y − y_ref| / max|y_ref|`
    /// ≤ 2⁻¹⁰. Why this value: an indexing fault, a missing epilogue term or a race changes outputs
    /// by O(1) relative to their scale, while rounding alone, at unit roundoff u = 2⁻²⁴ over dot
    /// products of length K ≤ 3072, is bounded stage by stage by γ_K = K·u/(1 − K·u) ≈ 1.8·10⁻⁴ in
    /// the worst case and measured at about 10⁻⁶ (CPU against PoCL, LayerNorm against folded UN):
    /// the gate sits between the two. It decides only whether a timing is of the right
    /// computation; the per-kernel derived bounds are the parity runner's.
    public static let validationThreshold = 1.0 / 1024

    public struct Agreement: Codable, Sendable {
        /// What was compared with what.
        public var what: String
        public var normwiseDifference: Double
        public var withinThreshold: Bool
    }

    public struct ScheduleResult: Codable, Sendable {
        public var normalization: BlockNormalization
        public var launches: Int
        public var medianSeconds: Double
        public var lowerQuartileSeconds: Double
        public var upperQuartileSeconds: Double
        public var activationBytes: Int
        public var peakLiveActivationBytes: Int
        public var parameterBytes: Int
        public var measuredDeviceBytes: Int?
    }

    /// A ratio's median and quartiles over the repetitions (each repetition's pair timed back to back).
    public struct RatioSummary: Codable, Sendable {
        public var median: Double
        public var lowerQuartile: Double
        public var upperQuartile: Double
    }

    public struct Report: Codable, Sendable {
        public static let currentSchemaVersion = 1
        public var schemaVersion = Report.currentSchemaVersion
        public var tool = "unverify-parity --block-timing"
        public var backend: String
        public var device: String
        public var gemmPath: String
        public var shape: BlockShape
        public var repetitions: Int
        public var warmup: Int
        public var validation: [Agreement]
        /// Empty when validation failed: nothing was timed.
        public var schedules: [ScheduleResult]
        /// Per repetition, folded UN's time ÷ LayerNorm's time.
        public var foldedOverLayerNorm: RatioSummary?
        /// Per repetition, UN's separate map's time ÷ LayerNorm's time.
        public var mapOverLayerNorm: RatioSummary?
        /// `1 − folded/LayerNorm` of the peak live activation bytes, and of activations plus parameters.
        public var peakActivationSaving: Double?
        public var peakMemorySaving: Double?
        public var paperSpeedUp = 0.31
        public var paperMemorySaving = 0.18
        public var validated: Bool { validation.allSatisfy(\.withinThreshold) }
    }

    static func normwise(_ y: [Float], _ ref: [Float]) -> Double {
        guard y.count == ref.count, !ref.isEmpty else { return .infinity }
        var d = 0.0
        var m = 0.0
        for (a, b) in zip(y, ref) {
            guard a.isFinite else { return .infinity }
            d = max(d, abs(Double(a) - Double(b)))
            m = max(m, abs(Double(b)))
        }
        return m > 0 ? d / m : (d == 0 ? 0 : .infinity)
    }

    static func agreement(_ what: String, _ y: [Float], _ ref: [Float]) -> Agreement {
        let d = normwise(y, ref)
        return Agreement(what: what, normwiseDifference: d, withinThreshold: d <= validationThreshold)
    }

    /// Every schedule at `shape` on `device` against the same schedule on the CPU reference.
    /// - Throws: `BackendError` from either device.
    public static func validate(_ device: any BlockDevice, shape: BlockShape) throws -> [Agreement] {
        let p = BlockParameters(shape: shape)
        let x = p.input()
        let cpu = CPUBlockDevice()
        return try BlockNormalization.allCases.map { n in
            let d = try BlockProgram(device, n, p, input: x)
            defer { d.release() }
            let c = try BlockProgram(cpu, n, p, input: x)
            defer { c.release() }
            return agreement("\(n.rawValue) at \(describe(shape)): \(device.name) vs cpu", try d.run(), try c.run())
        }
    }

    static func describe(_ s: BlockShape) -> String { "\(s.batch)×\(s.tokens)×\(s.width), \(s.heads) heads" }

    static func quartiles(_ v: [Double]) -> (Double, Double, Double) {
        let s = v.sorted()
        func at(_ q: Double) -> Double {
            let p = q * Double(s.count - 1)
            let lo = Int(p.rounded(.down))
            let hi = min(lo + 1, s.count - 1)
            return s[lo] + (s[hi] - s[lo]) * (p - Double(lo))
        }
        return (at(0.25), at(0.5), at(0.75))
    }

    static func summary(_ v: [Double]) -> RatioSummary {
        let (q1, m, q3) = quartiles(v)
        return RatioSummary(median: m, lowerQuartile: q1, upperQuartile: q3)
    }

    /// Validates, then times the three schedules on `device`, interleaved (the order rotates each
    /// repetition so no schedule always runs first), each repetition one forward pass between two
    /// synchronizations, timed by the host's monotonic clock.
    /// - Throws: `BackendError` for a bad configuration or a device failure.
    public static func run(_ device: any BlockDevice, _ c: Configuration = Configuration()) throws -> Report {
        guard c.repetitions >= 1, c.warmup >= 0 else {
            throw BackendError("block", "repetitions must be ≥ 1 and warm-up ≥ 0 (\(c.repetitions), \(c.warmup))")
        }
        try c.shape.validate()
        try c.validationShape.validate()
        var validation = try validate(device, shape: c.validationShape)
        var report = Report(
            backend: device.name, device: device.device, gemmPath: device.gemmPath, shape: c.shape,
            repetitions: c.repetitions, warmup: c.warmup, validation: validation, schedules: [])
        let p = BlockParameters(shape: c.shape)
        let x = p.input()
        let programs = try BlockNormalization.allCases.map { try BlockProgram(device, $0, p, input: x) }
        defer { programs.forEach { $0.release() } }
        // At the timed shape the CPU reference would take too long; the two UN schedules compute
        // the same function and must agree with each other.
        let outputs = try programs.map { try $0.run() }
        validation.append(
            agreement("unFolded vs unMap at \(describe(c.shape)) on \(device.name)", outputs[2], outputs[1]))
        report.validation = validation
        guard report.validated else { return report }
        var times = [[Double]](repeating: [], count: programs.count)
        for r in 0..<(c.warmup + c.repetitions) {
            for j in 0..<programs.count {
                let i = (r + j) % programs.count
                try device.synchronize()
                let t0 = ContinuousClock.now
                try programs[i].enqueue()
                try device.synchronize()
                let d = ContinuousClock.now - t0
                if r >= c.warmup {
                    times[i].append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
                }
            }
        }
        report.schedules = zip(BlockNormalization.allCases, times).enumerated().map { i, e in
            let (q1, m, q3) = quartiles(e.1)
            return ScheduleResult(
                normalization: e.0, launches: BlockSchedule.launches(e.0), medianSeconds: m, lowerQuartileSeconds: q1,
                upperQuartileSeconds: q3, activationBytes: BlockSchedule.activationBytes(e.0, c.shape),
                peakLiveActivationBytes: BlockSchedule.peakLiveBytes(e.0, c.shape),
                parameterBytes: BlockSchedule.parameterBytes(e.0, c.shape),
                measuredDeviceBytes: programs[i].measuredDeviceBytes)
        }
        report.foldedOverLayerNorm = summary(zip(times[2], times[0]).map { $0 / $1 })
        report.mapOverLayerNorm = summary(zip(times[1], times[0]).map { $0 / $1 })
        let ln = report.schedules[0]
        let folded = report.schedules[2]
        report.peakActivationSaving = 1 - Double(folded.peakLiveActivationBytes) / Double(ln.peakLiveActivationBytes)
        report.peakMemorySaving =
            1 - Double(folded.peakLiveActivationBytes + folded.parameterBytes)
            / Double(ln.peakLiveActivationBytes + ln.parameterBytes)
        return report
    }

    /// The report as a table.
    public static func text(_ r: Report) -> String {
        func ms(_ s: Double) -> String { String(format: "%.3f", s * 1e3) }
        func mib(_ b: Int) -> String { String(format: "%.2f", Double(b) / 1_048_576) }
        func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
        var s = "block timing on \(r.backend): \(r.device); matrix products: \(r.gemmPath)\n"
        s +=
            "shape \(describe(r.shape)), MLP ×\(r.shape.mlpRatio), Float; "
            + "\(r.repetitions) repetitions after \(r.warmup) warm-up\n\n"
        s += "validation (normwise difference, threshold 2^-10):\n"
        for a in r.validation {
            s += "  \(a.withinThreshold ? "ok  " : "FAIL") \(String(format: "%.3e", a.normwiseDifference))  \(a.what)\n"
        }
        guard r.validated else { return s + "\nNOT TIMED: an output differs from its reference beyond the threshold\n" }
        s += "\nschedule      launches  median ms  [quartiles]           activations MiB (peak live)  parameters MiB\n"
        for e in r.schedules {
            let name = e.normalization.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
            s += "\(name) \(String(format: "%8d", e.launches))  \(ms(e.medianSeconds).leftPad(9))  "
            s += "[\(ms(e.lowerQuartileSeconds)), \(ms(e.upperQuartileSeconds))]".padding(
                toLength: 22, withPad: " ", startingAt: 0)
            s += "\(mib(e.activationBytes).leftPad(8)) (\(mib(e.peakLiveActivationBytes)))"
            s += "\(mib(e.parameterBytes).leftPad(22))"
            if let m = e.measuredDeviceBytes { s += "  device: \(mib(m)) MiB" }
            s += "\n"
        }
        if let f = r.foldedOverLayerNorm, let m = r.mapOverLayerNorm {
            s += "\nfolded UN ÷ LayerNorm time: \(String(format: "%.3f", f.median)) "
            s += "[\(String(format: "%.3f", f.lowerQuartile)), \(String(format: "%.3f", f.upperQuartile))]"
            s += "; time saved (1 − ratio) \(pct(1 - f.median)), throughput gain (1/ratio − 1) "
            s += "\(pct(1 / f.median - 1)) (paper: about 31%)\n"
            s += "UN map ÷ LayerNorm time:    \(String(format: "%.3f", m.median)) "
            s += "[\(String(format: "%.3f", m.lowerQuartile)), \(String(format: "%.3f", m.upperQuartile))]\n"
        }
        if let a = r.peakActivationSaving, let t = r.peakMemorySaving {
            s += "peak memory saved by folding: \(pct(a)) of live activations, \(pct(t)) with the parameters"
            s += " (paper: about 18%, whole network)\n"
        }
        return s
    }

    public static func json(_ r: Report) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(r)
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

extension BlockTiming {
    /// Every device's timing, and the devices that could not run (with why).
    public struct Document: Codable, Sendable {
        public static let currentSchemaVersion = 1
        public var schemaVersion = Document.currentSchemaVersion
        public static let toolName = "unverify-parity --block-timing"
        public var tool = Document.toolName
        public var backends: [ParityCLI.BackendStatus]
        public var runs: [Report]
        /// Every run validated and timed, and no device failed.
        public var allHeld: Bool { runs.allSatisfy(\.validated) && !anyFailed }
        public var anyFailed: Bool { backends.contains { $0.error != nil } }
    }

    public static func json(_ d: Document) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(d)
    }

    public static func text(_ d: Document) -> String {
        var s = ""
        for b in d.backends {
            s +=
                b.available
                ? "\(b.name): \(b.device ?? "")\(b.error.map { " — FAILED: \($0)" } ?? "")\n"
                : "\(b.name): not available — \(b.reason ?? "")\n"
        }
        for r in d.runs { s += "\n" + text(r) }
        if d.runs.isEmpty { s += "\nno device ran the block timing: nothing was timed\n" }
        return s
    }
}
