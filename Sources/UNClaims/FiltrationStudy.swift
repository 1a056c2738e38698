import GradientCheck
import UnifiedNormalization

/// Where the paper and the authors' code part ways on the filter: the paper's same-window
/// threshold can never fire (K1); the authors' previous-window pooled threshold does. This
/// measures how often it fires on stationary data and what spike it takes to fire.
public enum FiltrationStudy {
    public struct Result: Sendable, Codable {
        public var window: Int
        public var tokens: Int
        public var channels: Int
        public var steps: Int
        /// Skips of the authors' rule per filtered step on stationary Gaussian activations.
        public var previousWindowFireRate: Double
        /// The same for the paper's same-window rule (rigorous comparison): 0 by K1.
        public var sameWindowFireRate: Double
        /// Smallest factor on one step's activations (all channels) that made the authors' rule
        /// fire, among 1.05, 1.1, …, 100 (nil: none did).
        public var smallestFiringSpike: Double?
        /// The same for a downward spike (activations divided by the factor).
        public var smallestFiringDip: Double?
    }

    static func batch(_ rng: inout SeededGenerator, tokens: Int, channels: Int, scale: Double = 1) throws -> TokenBatch<Double> {
        try TokenBatch(tokens: tokens, channels: channels, values: (0..<(tokens * channels)).map { _ in scale * rng.normal() })
    }

    /// Runs the reference-compatible UN with filtration on stationary N(0,1) activations.
    public static func run(window m: Int, tokens: Int, channels: Int = 4, steps: Int = 400, seed: UInt64) throws -> Result {
        var rng = SeededGenerator(seed: seed)
        let cfg = UnifiedNormConfiguration(channels: channels, forwardWindow: m, warmupIters: 2 * m, outlierFiltration: true)
        var un = try UnifiedNorm<Double>(configuration: cfg, mode: .referenceCompatible)
        var paper = try UnifiedNorm<Double>(configuration: cfg, mode: .paper(.calibrated))
        var filtered = 0, skips = 0, paperSkips = 0
        for t in 1...steps {
            let x = try batch(&rng, tokens: tokens, channels: channels)
            let before = un.skipCounter, pb = paper.skipCounter
            _ = try un.forwardTraining(x)
            _ = try paper.forwardTraining(x)
            if t >= cfg.warmupIters {
                filtered += 1
                skips += un.skipCounter - before
                paperSkips += paper.skipCounter - pb
            }
        }
        func smallest(_ factors: [Double], dip: Bool) throws -> Double? {
            for k in factors {
                var probe = un
                var r = rng
                let x = try batch(&r, tokens: tokens, channels: channels, scale: dip ? 1 / k : k)
                let before = probe.skipCounter
                _ = try probe.forwardTraining(x)
                if probe.skipCounter > before { return k }
            }
            return nil
        }
        let factors = [1.05, 1.1, 1.2, 1.5, 2, 3, 5, 10, 20, 50, 100]
        return Result(window: m, tokens: tokens, channels: channels, steps: steps,
                      previousWindowFireRate: Double(skips) / Double(max(filtered, 1)),
                      sameWindowFireRate: Double(paperSkips) / Double(max(filtered, 1)),
                      smallestFiringSpike: try smallest(factors, dip: false), smallestFiringDip: try smallest(factors, dip: true))
    }

    public static func table(seed: UInt64, steps: Int = 400) throws -> [Result] {
        var out: [Result] = []
        for m in [2, 4, 8] {
            for tokens in [8, 64, 512] { out.append(try run(window: m, tokens: tokens, steps: steps, seed: seed &+ UInt64(m * 1000 + tokens))) }
        }
        return out
    }
}
