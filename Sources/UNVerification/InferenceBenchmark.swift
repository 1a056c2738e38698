import Foundation
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
    public init() {}

    public struct Data: Sendable, Codable {
        /// Threads the kernels used, and the result at that count.
        public var runs: [Run]
        public struct Run: Sendable, Codable {
            public var threads: Int
            public var result: InferenceBenchmark.Result
        }
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
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
            figures need a GPU run (none was made by this report).

            """
        let last = runs[runs.count - 1].result
        return ReportSection(
            id: id, title: "Inference cost: folded UN against LayerNorm (CPU)", verdict: .informational,
            summary: String(
                format: "folded/LN+linear time ratio %.3f, unfolded UN/LN %.3f (CPU, Float, %d thread(s))",
                last.foldedOverLayerNorm, last.unfoldedOverLayerNorm, runs[runs.count - 1].threads),
            markdown: md, data: try JSONValue(encoding: Data(runs: runs)))
    }

    func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1e3) }
}
