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
        /// The small shapes at which every schedule's device output is compared with the CPU's:
        /// by default one below and one above the row kernels' 256-item work-group in both width
        /// and tokens (so their strided loops run more than once).
        public var validationShapes: [BlockShape]
        /// Whether the first sample of every schedule's output at the timed shape is also compared
        /// with the CPU's output for that sample alone (the block treats samples independently).
        public var checkTimedShape: Bool
        public init(
            shape: BlockShape = .vitBase(batch: 8), repetitions: Int = 30, warmup: Int = 3,
            validationShapes: [BlockShape] = Configuration.defaultValidationShapes, checkTimedShape: Bool = true
        ) {
            self.shape = shape
            self.repetitions = repetitions
            self.warmup = warmup
            self.validationShapes = validationShapes
            self.checkTimedShape = checkTimedShape
        }
        /// One shape, for validation and timing alike (tests).
        public init(shape: BlockShape, repetitions: Int, warmup: Int = 3, validationShape: BlockShape) {
            self.init(shape: shape, repetitions: repetitions, warmup: warmup, validationShapes: [validationShape])
        }
        public static let defaultValidationShapes = [
            BlockShape(batch: 2, tokens: 17, width: 64, heads: 4),
            BlockShape(batch: 1, tokens: 261, width: 320, heads: 5),
        ]
    }

    /// Output agreement required before a schedule is timed: normwise, `max|y − y_ref| / max|y_ref|`
    /// ≤ 2⁻¹⁰. This is a measured gate, not a derived bound. Measured: rounding alone gives
    /// 2·10⁻⁷–1.2·10⁻⁶ (PoCL and the CPU against each other, folded UN against UN's map at ViT-B's
    /// size, Float against the Double reference on generated shapes in `swift test`); an indexing
    /// fault, a dropped epilogue term or a race gives O(1) (a dropped residual: 0.5 and more). The
    /// gate sits about 800× above the first and far below the second. A worst-case bound would
    /// not do: Higham's γ_K bounds each product's error relative to Σ|aₖbₖ|, which for zero-mean
    /// weights is about √K times the result, and composing eight stages with LayerNorm's 1/σ
    /// puts it above 2⁻¹⁰ although no such error is ever seen. So the gate decides only whether
    /// a timing is of the right computation; the per-kernel derived bounds are the parity runner's.
    public static let validationThreshold = 1.0 / 1024

    public struct Agreement: Codable, Sendable {
        /// What was compared with what.
        public var what: String
        public var normwiseDifference: Double
        public var withinThreshold: Bool
    }

    public struct ScheduleResult: Codable, Sendable {
        public var normalization: BlockNormalization
        /// Device calls per forward pass: kernel launches plus vendor library calls.
        public var launches: Int
        /// Wall time of one forward pass: from the first call to the end of the synchronization,
        /// by the host's monotonic clock (host-side call overhead included).
        public var medianSeconds: Double
        public var lowerQuartileSeconds: Double
        public var upperQuartileSeconds: Double
        /// The device's own time between events recorded before the first and after the last call
        /// (CUDA events), where the device has them: the work without the host's overhead.
        public var deviceMedianSeconds: Double?
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
        /// Per repetition, folded UN's wall time ÷ LayerNorm's.
        public var foldedOverLayerNorm: RatioSummary?
        /// The same ratio of device times, where the device has a timer.
        public var deviceFoldedOverLayerNorm: RatioSummary?
        /// Per repetition, UN's separate map's time ÷ LayerNorm's time.
        public var mapOverLayerNorm: RatioSummary?
        /// `1 − folded/LayerNorm` of the peak live activation bytes, and of activations plus parameters.
        public var peakActivationSaving: Double?
        public var peakMemorySaving: Double?
        public var paperSpeedUp = 0.31
        public var paperMemorySaving = 0.18
        /// Every comparison within the threshold (stored, so the JSON carries it).
        public var validated: Bool
    }

    /// `max|y − ref| / max|ref|`; infinite when the counts differ or either side has a
    /// non-finite entry (`max` would silently skip a NaN).
    static func normwise(_ y: [Float], _ ref: [Float]) -> Double {
        guard y.count == ref.count, !ref.isEmpty else { return .infinity }
        var d = 0.0
        var m = 0.0
        for (a, b) in zip(y, ref) {
            guard a.isFinite, b.isFinite else { return .infinity }
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
        let reference = try cpuOutputs(shape)
        // The CPU device against itself says nothing; it is checked against a Double reference
        // of the block in `swift test` (BlockTimingTests).
        let against =
            device is CPUBlockDevice ? "cpu vs itself (the reference: see swift test)" : "\(device.name) vs cpu"
        return try BlockNormalization.allCases.map { n in
            let d = try BlockProgram(device, n, p, input: x)
            defer { d.release() }
            return agreement("\(n.rawValue) at \(describe(shape)): \(against)", try d.run(), reference[n]!)
        }
    }

    /// Every schedule's output on the CPU device at `shape` (parameters and input from the
    /// default seeds).
    /// - Throws: `BackendError` for a bad shape.
    public static func cpuOutputs(_ shape: BlockShape) throws -> [BlockNormalization: [Float]] {
        let p = BlockParameters(shape: shape)
        let x = p.input()
        var out: [BlockNormalization: [Float]] = [:]
        for n in BlockNormalization.allCases {
            let c = try BlockProgram(CPUBlockDevice(), n, p, input: x)
            defer { c.release() }
            out[n] = try c.run()
        }
        return out
    }

    /// The shape of one sample of `s`: what the timed shape's first sample is checked against.
    static func oneSample(_ s: BlockShape) -> BlockShape {
        BlockShape(batch: 1, tokens: s.tokens, width: s.width, heads: s.heads, mlpRatio: s.mlpRatio)
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
    /// synchronizations: wall time by the host's monotonic clock and, where the device has
    /// events, device time.
    /// - Parameter sampleReference: the CPU's outputs for one sample of `c.shape`
    ///   (`cpuOutputs(oneSample(c.shape))`), to share between devices; computed when nil and
    ///   `c.checkTimedShape`.
    /// - Throws: `BackendError` for a bad configuration or a device failure.
    public static func run(
        _ device: any BlockDevice, _ c: Configuration = Configuration(),
        sampleReference: [BlockNormalization: [Float]]? = nil
    ) throws -> Report {
        guard c.repetitions >= 1, c.warmup >= 0 else {
            throw BackendError("block", "repetitions must be ≥ 1 and warm-up ≥ 0 (\(c.repetitions), \(c.warmup))")
        }
        try c.shape.validate()
        for v in c.validationShapes { try v.validate() }
        var validation = try c.validationShapes.flatMap { try validate(device, shape: $0) }
        let p = BlockParameters(shape: c.shape)
        let x = p.input()
        let programs = try BlockNormalization.allCases.map { try BlockProgram(device, $0, p, input: x) }
        defer { programs.forEach { $0.release() } }
        let outputs = try programs.map { try $0.run() }
        // The two UN schedules compute the same function; and the block treats samples
        // independently, so the first sample must match the CPU's run of that sample alone.
        validation.append(
            agreement("unFolded vs unMap at \(describe(c.shape)) on \(device.name)", outputs[2], outputs[1]))
        if c.checkTimedShape && !(device is CPUBlockDevice) {
            let ref = try sampleReference ?? cpuOutputs(oneSample(c.shape))
            let n = c.shape.tokens * c.shape.width
            for (k, norm) in BlockNormalization.allCases.enumerated() {
                validation.append(
                    agreement(
                        "\(norm.rawValue) at \(describe(c.shape)), first sample: \(device.name) vs cpu",
                        Array(outputs[k].prefix(n)), ref[norm] ?? []))
            }
        }
        var report = Report(
            backend: device.name, device: device.device, gemmPath: device.gemmPath, shape: c.shape,
            repetitions: c.repetitions, warmup: c.warmup, validation: validation, schedules: [],
            validated: validation.allSatisfy(\.withinThreshold))
        guard report.validated else { return report }
        var wall = [[Double]](repeating: [], count: programs.count)
        var onDevice = [[Double]](repeating: [], count: programs.count)
        for r in 0..<(c.warmup + c.repetitions) {
            for j in 0..<programs.count {
                let i = (r + j) % programs.count
                try device.synchronize()
                let t0 = ContinuousClock.now
                let d = try device.measure { try programs[i].enqueue() }
                let elapsed = ContinuousClock.now - t0
                if r >= c.warmup {
                    wall[i].append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
                    if let d { onDevice[i].append(d) }
                }
            }
        }
        let hasDeviceTime = onDevice.allSatisfy { $0.count == c.repetitions }
        report.schedules = BlockNormalization.allCases.enumerated().map { i, n in
            let (q1, m, q3) = quartiles(wall[i])
            return ScheduleResult(
                normalization: n, launches: BlockSchedule.calls(n, gemmPath: device.gemmPath), medianSeconds: m,
                lowerQuartileSeconds: q1, upperQuartileSeconds: q3,
                deviceMedianSeconds: hasDeviceTime ? quartiles(onDevice[i]).1 : nil,
                activationBytes: BlockSchedule.activationBytes(n, c.shape),
                peakLiveActivationBytes: BlockSchedule.peakLiveBytes(n, c.shape),
                parameterBytes: BlockSchedule.parameterBytes(n, c.shape),
                measuredDeviceBytes: programs[i].measuredDeviceBytes)
        }
        report.foldedOverLayerNorm = summary(zip(wall[2], wall[0]).map { $0 / $1 })
        report.mapOverLayerNorm = summary(zip(wall[1], wall[0]).map { $0 / $1 })
        if hasDeviceTime { report.deviceFoldedOverLayerNorm = summary(zip(onDevice[2], onDevice[0]).map { $0 / $1 }) }
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
        func pct(_ v: Double) -> String { String(format: "%+.1f%%", v * 100) }
        func ratio(_ f: RatioSummary) -> String {
            String(format: "%.3f [%.3f, %.3f]", f.median, f.lowerQuartile, f.upperQuartile)
        }
        var s = "block timing on \(r.backend): \(r.device); matrix products: \(r.gemmPath)\n"
        s +=
            "shape \(describe(r.shape)), MLP ×\(r.shape.mlpRatio), Float; "
            + "\(r.repetitions) repetitions after \(r.warmup) warm-up\n\n"
        s += "validation (normwise difference, threshold 2^-10):\n"
        for a in r.validation {
            s += "  \(a.withinThreshold ? "ok  " : "FAIL") \(String(format: "%.3e", a.normwiseDifference))  \(a.what)\n"
        }
        guard r.validated else { return s + "\nNOT TIMED: an output differs from its reference beyond the threshold\n" }
        s += "\nschedule       calls  wall ms: median [quartiles]   device ms  activations MiB (peak live)  "
        s += "parameters MiB\n"
        for e in r.schedules {
            s += e.normalization.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
            s += String(format: "%6d  ", e.launches)
            s += "\(ms(e.medianSeconds)) [\(ms(e.lowerQuartileSeconds)), \(ms(e.upperQuartileSeconds))]".padding(
                toLength: 29, withPad: " ", startingAt: 0)
            s += (e.deviceMedianSeconds.map(ms) ?? "—").leftPad(9)
            s += "  \(mib(e.activationBytes).leftPad(8)) (\(mib(e.peakLiveActivationBytes)))"
            s += "\(mib(e.parameterBytes).leftPad(20))"
            if let m = e.measuredDeviceBytes { s += "  driver: \(mib(m)) MiB" }
            s += "\n"
        }
        if let f = r.foldedOverLayerNorm, let m = r.mapOverLayerNorm {
            s += "\nfolded UN ÷ LayerNorm, wall time:   \(ratio(f)); time change \(pct(f.median - 1)), "
            s += "throughput change \(pct(1 / f.median - 1)) (paper: about 31% faster)\n"
            if let d = r.deviceFoldedOverLayerNorm {
                s += "folded UN ÷ LayerNorm, device time: \(ratio(d)); time change \(pct(d.median - 1)), "
                s += "throughput change \(pct(1 / d.median - 1))\n"
            }
            s += "UN map ÷ LayerNorm, wall time:      \(ratio(m))\n"
        }
        if let a = r.peakActivationSaving, let t = r.peakMemorySaving {
            s += "peak memory saved by folding: \(pct(a)) of live activations, \(pct(t)) with the parameters "
            s += "(paper: about 18%, whole network)\n"
        }
        return s
    }

    public static func json(_ r: Report) throws -> Data { try ParityCLI.encode(r) }
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
        /// Every run validated and timed, and no device failed (stored, so the JSON carries it).
        public var allHeld: Bool

        public init(backends: [ParityCLI.BackendStatus], runs: [Report]) {
            self.backends = backends
            self.runs = runs
            allHeld = runs.allSatisfy(\.validated) && !backends.contains { $0.error != nil }
        }
    }

    public static func json(_ d: Document) throws -> Data { try ParityCLI.encode(d) }

    public static func text(_ d: Document) -> String {
        var s = d.backends.map(\.line).joined()
        for r in d.runs { s += "\n" + text(r) }
        if d.runs.isEmpty { s += "\nno device ran the block timing: nothing was timed\n" }
        return s
    }
}
