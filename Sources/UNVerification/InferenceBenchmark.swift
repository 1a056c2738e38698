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
        let x = try TokenBatch<Float>(tokens: tokens, channels: width, values: (0..<(tokens * width)).map { _ in Float(g.next() * 4 - 2) })
        let lin = try LinearLayer<Float>(inputs: width, outputs: width, weight: (0..<(width * width)).map { _ in Float(g.next() - 0.5) },
                                         bias: (0..<width).map { _ in Float(g.next()) })
        let ln = try LayerNorm<Float>(channels: width)
        var un = try UnifiedNorm<Float>(configuration: .init(channels: width), mode: .referenceCompatible)
        _ = try un.forwardTraining(x)
        let folded = try Fusion.fold(un, intoFollowing: lin)
        var a: [Double] = [], b: [Double] = [], c: [Double] = []
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
        return Result(tokens: tokens, width: width, repetitions: repetitions, layerNormThenLinear: median(a), unThenLinear: median(b),
                      foldedLinear: median(c), activationBytesSaved: tokens * width * MemoryLayout<Float>.size, checksum: Double(sink))
    }

    struct SeededValues {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
    }
}

/// Report section: the inference benchmark (informational).
public struct InferenceBenchmarkSection: ReportSectionBuilder {
    public let id = "inference-cost"
    public init() {}
    public func build(_ context: ReportContext) throws -> ReportSection {
        let r = try InferenceBenchmark.run()
        var md = "The paper attributes UN's ~31% GPU inference speed-up and ~18% memory saving to folding the normalization into the neighbouring linear layer. On this machine's CPU (Float, \(r.tokens) tokens × \(r.width) channels into a \(r.width)×\(r.width) linear layer, this toolkit's straightforward loops, median of \(r.repetitions) interleaved repetitions):\n\n"
        md += "| pipeline | median time | relative to LayerNorm + linear |\n|---|---|---|\n"
        md += "| LayerNorm, then linear | \(String(format: "%.2f ms", r.layerNormThenLinear * 1e3)) | 1.00 |\n"
        md += "| UN inference map, then linear (unfolded) | \(String(format: "%.2f ms", r.unThenLinear * 1e3)) | \(String(format: "%.3f", r.unfoldedOverLayerNorm)) |\n"
        md += "| folded linear (UN folded in) | \(String(format: "%.2f ms", r.foldedLinear * 1e3)) | \(String(format: "%.3f", r.foldedOverLayerNorm)) |\n\n"
        md += "The fold also no longer materializes the normalized activations: \(r.activationBytesSaved) bytes per layer call at this size. The matrix product dominates on a CPU, so the saving is the cost of one elementwise pass; on a GPU, where the normalization is a separate memory-bound kernel launch, the share is larger. This is a CPU measurement, not a test of the paper's GPU figures.\n"
        return ReportSection(id: id, title: "Inference cost: folded UN against LayerNorm (CPU)", verdict: .informational,
                             summary: String(format: "folded/LN+linear time ratio %.3f, unfolded UN/LN %.3f (CPU, Float)", r.foldedOverLayerNorm, r.unfoldedOverLayerNorm),
                             markdown: md, data: (try? JSONValue(encoding: r)) ?? .null)
    }
}
