import Foundation
import UNParity
import UnifiedNormalization

/// The paper's efficiency claim on this machine's CPU: LayerNorm then a linear layer, against
/// UN's inference map then the same linear layer, against the folded linear layer alone.
/// Timed side by side in one run (interleaved repetitions, medians); ratios, not absolute
/// thresholds, are what it reports. Not a GPU measurement.
public enum InferenceBenchmark {
    public struct Result: Sendable, Codable {
        public var tokens: Int
        public var width: Int
        public var repetitions: Int
        public var layerNormThenLinear: Double
        public var unThenLinear: Double
        public var foldedLinear: Double
        /// Bytes of the normalized activations the fold no longer materializes.
        public var activationBytesSaved: Int
        /// Sum of the first output of every timed call: keeps the work observable (the
        /// optimizer cannot drop it) and is finite when every pipeline produced numbers.
        public var checksum: Double
        public var foldedOverLayerNorm: Double { foldedLinear / layerNormThenLinear }
        public var unfoldedOverLayerNorm: Double { unThenLinear / layerNormThenLinear }
    }

    public static func run(tokens: Int = 256, width: Int = 128, repetitions: Int = 7) throws -> Result {
        var g = SeededValues(state: 1)
        let x = try TokenBatch<Float>(
            tokens: tokens, channels: width, values: (0..<(tokens * width)).map { _ in Float(g.next() * 4 - 2) })
        let lin = try LinearLayer<Float>(
            inputs: width, outputs: width, weight: (0..<(width * width)).map { _ in Float(g.next() - 0.5) },
            bias: (0..<width).map { _ in Float(g.next()) })
        let ln = try LayerNorm<Float>(channels: width)
        var un = try UnifiedNorm<Float>(configuration: .init(channels: width), mode: .referenceCompatible)
        _ = try un.forwardTraining(x)
        let folded = try Fusion.fold(un, intoFollowing: lin)
        var a: [Double] = []
        var b: [Double] = []
        var c: [Double] = []
        var sink: Float = 0
        func time(_ body: () throws -> TokenBatch<Float>) rethrows -> Double {
            let t0 = ContinuousClock.now
            let y = try body()
            let d = ContinuousClock.now - t0
            sink += y.values[0]
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        for _ in 0..<repetitions {
            a.append(try time { try lin.apply(ln.forwardInference(x)) })
            b.append(try time { try lin.apply(un.forwardInference(x)) })
            c.append(try time { try folded.apply(x) })
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return Result(
            tokens: tokens, width: width, repetitions: repetitions, layerNormThenLinear: median(a),
            unThenLinear: median(b),
            foldedLinear: median(c), activationBytesSaved: tokens * width * MemoryLayout<Float>.size,
            checksum: Double(sink))
    }

    struct SeededValues {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
    }
}

/// Report section: the inference benchmark (informational), with one and with two threads.
public struct InferenceBenchmarkSection: ReportSectionBuilder {
    public var measuresTime: Bool { true }
    public let id = "inference-cost"
    /// Where GPU machines' block timings are recorded (`unverify-parity --block-timing --out DIR`).
    public var recordedDirectory: String
    public init(recordedDirectory: String = "parity-results") { self.recordedDirectory = recordedDirectory }

    public struct Data: Sendable, Codable {
        /// Threads the kernels used, and the result at that count.
        public var runs: [Run]
        /// Block timings recorded on GPU machines (`parity-results/**/block-timing.json`).
        public var recordedBlockTimings: [BlockTiming.Document] = []
        public struct Run: Sendable, Codable {
            public var threads: Int
            public var result: InferenceBenchmark.Result
        }
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let recorded = try RecordedDeviceRuns.read(recordedDirectory).blockTiming
        let counts = KernelThreads.current > 1 ? [1, 2] : [1]
        let runs = try counts.map { t in
            Data.Run(threads: t, result: try KernelThreads.withLimit(t) { try InferenceBenchmark.run() })
        }
        let r0 = runs[0].result
        var md = """
            The paper attributes UN's ~31% faster GPU inference and ~18% lower memory to folding the \
            normalization into the neighbouring linear layer. On this machine's CPU (Float, \(r0.tokens) tokens × \
            \(r0.width) channels into a \(r0.width)×\(r0.width) linear layer, the toolkit's vectorized kernels, \
            median of \
            \(r0.repetitions) interleaved repetitions):


            """
        md += "| pipeline | threads | median time | relative to LayerNorm + linear |\n|---|---|---|---|\n"
        for run in runs {
            let r = run.result
            md += "| LayerNorm, then linear | \(run.threads) | \(ms(r.layerNormThenLinear)) | 1.00 |\n"
            md +=
                "| UN inference map, then linear (unfolded) | \(run.threads) | \(ms(r.unThenLinear)) | "
                + "\(String(format: "%.3f", r.unfoldedOverLayerNorm)) |\n"
            md +=
                "| folded linear (UN folded in) | \(run.threads) | \(ms(r.foldedLinear)) | "
                + "\(String(format: "%.3f", r.foldedOverLayerNorm)) |\n"
        }
        md += """

            What a CPU can say: the fold removes one elementwise pass and the \(r0.activationBytesSaved) bytes of \
            normalized activations per layer call at this size, and the measured time ratio is the share of that pass \
            next to the matrix product on this CPU. What it cannot say: the paper's 31% and 18% are GPU figures, where \
            the normalization is a separate memory-bound kernel launch (with its own launch latency and a round trip \
            of the activations through device memory) and the product runs on tensor cores; neither the launch cost, \
            nor the device's memory traffic, nor its allocator's peak memory is modelled by a CPU timing. Those \
            figures need a GPU run.

            """
        md += Self.recordedBlockTimings(recorded)
        let last = runs[runs.count - 1].result
        let timed = recorded.flatMap(\.document.runs).filter(\.validated)
        return ReportSection(
            id: id, title: "Inference cost: folded UN against LayerNorm (CPU)", verdict: .informational,
            summary: String(
                format: "folded/LN+linear time ratio %.3f, unfolded UN/LN %.3f (CPU, Float, %d thread(s)); ",
                last.foldedOverLayerNorm, last.unfoldedOverLayerNorm, runs[runs.count - 1].threads)
                + (timed.isEmpty ? "no GPU block timing recorded" : "\(timed.count) recorded device block timing(s)"),
            markdown: md,
            data: try JSONValue(encoding: Data(runs: runs, recordedBlockTimings: recorded.map(\.document))))
    }

    func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1e3) }

    /// The recorded block timings as a table, or how to make one.
    static func recordedBlockTimings(_ recorded: [(file: String, document: BlockTiming.Document)]) -> String {
        var md = "**GPU block timings.** "
        let runs = recorded.flatMap { r in r.document.runs.map { (r.file, $0) } }
        guard !runs.isEmpty else {
            md += """
                None recorded\(recorded.isEmpty ? "" : " (the recorded files hold no timed run)"). \
                `unverify-parity --block-timing` times one ViT-B pre-norm block (197 tokens, width 768, 12 heads, \
                MLP ×4, Float) with LayerNorm, with UN's map as its own kernel and with UN folded, interleaved, on \
                CUDA (NVRTC or precompiled PTX, and cuBLAS where present) and OpenCL, after checking each \
                schedule's output against the CPU; run it on a GPU machine with `--out parity-results/<name>` \
                (README, "GPU parity on a GPU machine") and its `block-timing.json` is shown here. No GPU figure is \
                simulated.

                """
            return md
        }
        md += """
            One pre-norm block (ViT-B: 197 tokens, width 768, 12 heads, MLP ×4, Float), LayerNorm against UN \
            folded into its linear layers, timed interleaved on the recorded device (median [quartiles] of the \
            per-repetition ratio); memory is the peak of live activations when each is freed at its last use. The \
            paper's figures (about 31% faster, 18% less memory) are for whole networks in PyTorch.

            | file | device | products | batch | LayerNorm | UN map | UN folded | folded ÷ LN | time saved | \
            peak memory saved | validated |
            |---|---|---|---|---|---|---|---|---|---|---|

            """
        for (file, r) in runs {
            let t = Dictionary(uniqueKeysWithValues: r.schedules.map { ($0.normalization, $0.medianSeconds) })
            func cell(_ n: BlockNormalization) -> String { t[n].map { String(format: "%.3f ms", $0 * 1e3) } ?? "—" }
            let ratio =
                r.foldedOverLayerNorm.map {
                    String(format: "%.3f [%.3f, %.3f]", $0.median, $0.lowerQuartile, $0.upperQuartile)
                } ?? "not timed"
            let saved = r.foldedOverLayerNorm.map { String(format: "%.1f%%", (1 - $0.median) * 100) } ?? "—"
            let memory = r.peakMemorySaving.map { String(format: "%.1f%%", $0 * 100) } ?? "—"
            md += "| \(file) | \(r.backend): \(r.device) | \(r.gemmPath) | \(r.shape.batch) | \(cell(.layerNorm)) | "
            md += "\(cell(.unMap)) | \(cell(.unFolded)) | \(ratio) | \(saved) | \(memory) | "
            md += "\(r.validated ? "yes" : "NO: not timed") |\n"
        }
        return md + "\n"
    }
}
