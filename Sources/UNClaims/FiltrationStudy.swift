import GradientCheck
import RealModule
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

    static func batch(
        _ rng: inout SeededGenerator, tokens: Int, channels: Int, scale: Double = 1, channelScales: [Double]? = nil
    ) throws -> TokenBatch<Double> {
        try TokenBatch(
            tokens: tokens, channels: channels,
            values: (0..<(tokens * channels)).map { k in scale * (channelScales?[k % channels] ?? 1) * rng.normal() })
    }

    /// The study's sizes checked before any work: a typed error, never a trap on a negative count or an
    /// empty range of steps. Steps are bounded (10⁶) so a call cannot run for hours.
    static func validate(window: Int, tokens: Int, channels: Int, steps: Int) throws {
        func check(_ v: Int, _ range: ClosedRange<Int>, _ name: String) throws {
            guard range.contains(v) else {
                throw NormalizationError.invalidConfiguration(
                    parameter: name, value: "\(v)", requirement: "must be in \(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check(window, 1...(1 << 20), "window")
        try check(tokens, 1...(1 << 20), "tokens")
        try check(channels, 1...maximumNormalizationChannels, "channels")
        try check(steps, 1...1_000_000, "steps")
        guard tokens.multipliedReportingOverflow(by: channels).partialValue <= 1 << 26 else {
            throw NormalizationError.invalidConfiguration(
                parameter: "tokens × channels", value: "\(tokens) × \(channels)", requirement: "must be ≤ 2^26")
        }
    }

    /// Per-channel scales spread geometrically over a factor `spread` (`spread^{−1/2} … spread^{1/2}`).
    /// - Throws: ``NormalizationError/invalidConfiguration(parameter:value:requirement:)`` for a negative
    ///   channel count or a spread that is not finite and positive.
    public static func channelScales(channels: Int, spread: Double) throws -> [Double] {
        guard channels >= 0, channels <= maximumNormalizationChannels, spread.isFinite, spread > 0 else {
            throw NormalizationError.invalidConfiguration(
                parameter: "channels, spread", value: "\(channels), \(spread)",
                requirement: "channels in 0...\(maximumNormalizationChannels), spread finite and > 0")
        }
        guard channels > 1, spread > 1 else { return [Double](repeating: 1, count: channels) }
        return (0..<channels).map { c in Double.pow(spread, Double(c) / Double(channels - 1) - 0.5) }
    }

    /// One cell of the realistic study: how often the authors' rule fires on stationary activations
    /// whose channels differ in scale.
    public struct SpreadResult: Sendable, Codable {
        public var window: Int
        public var tokens: Int
        public var channels: Int
        /// Ratio of the largest channel scale to the smallest.
        public var spread: Double
        public var steps: Int
        public var previousWindowFireRate: Double
        /// Smallest factor on one step's activations (all channels) that made the rule fire after
        /// the stationary run, among 1.05 … 100 (nil: none did).
        public var smallestFiringSpike: Double?
    }

    /// The authors' rule on stationary N(0, s_c²) activations, `s` spread over `spread` across the
    /// channels: its threshold pools the square roots of every channel's statistic, so cross-channel
    /// differences in scale raise it.
    public static func firingRate(
        window m: Int, tokens: Int, channels: Int, spread: Double, steps: Int, seed: UInt64
    ) throws -> SpreadResult {
        try validate(window: m, tokens: tokens, channels: channels, steps: steps)
        var rng = SeededGenerator(seed: seed)
        let cfg = UnifiedNormConfiguration(
            channels: channels, forwardWindow: m, warmupIters: 2 * m, outlierFiltration: true)
        var un = try UnifiedNorm<Double>(configuration: cfg, mode: .referenceCompatible)
        let scales = try channelScales(channels: channels, spread: spread)
        var filtered = 0
        var skips = 0
        for t in 1...steps {
            let before = un.skipCounter
            _ = try un.forwardTraining(batch(&rng, tokens: tokens, channels: channels, channelScales: scales))
            if t >= cfg.warmupIters {
                filtered += 1
                skips += un.skipCounter - before
            }
        }
        var smallest: Double?
        for k in [1.05, 1.1, 1.2, 1.5, 2, 3, 5, 10, 20, 50, 100] {
            var probe = un
            var r = rng
            let before = probe.skipCounter
            _ = try probe.forwardTraining(
                batch(&r, tokens: tokens, channels: channels, scale: k, channelScales: scales))
            if probe.skipCounter > before {
                smallest = k
                break
            }
        }
        return SpreadResult(
            window: m, tokens: tokens, channels: channels, spread: spread, steps: steps,
            previousWindowFireRate: Double(skips) / Double(max(filtered, 1)), smallestFiringSpike: smallest)
    }

    /// Firing rate against channel count (4 to 768) and cross-channel scale spread (1 to 1000).
    public static func spreadTable(
        seed: UInt64, window: Int = 4, tokens: Int = 64, steps: Int = 200,
        channels: [Int] = [4, 16, 64, 256, 768], spreads: [Double] = [1, 1.1, 1.25, 1.5, 2, 3, 10, 100, 1000]
    ) throws -> [SpreadResult] {
        var out: [SpreadResult] = []
        for c in channels {
            for s in spreads {
                out.append(
                    try firingRate(
                        window: window, tokens: tokens, channels: c, spread: s, steps: steps,
                        seed: seed &+ UInt64(c) &* 31 &+ UInt64(s * 100)))
            }
        }
        return out
    }

    /// Runs the reference-compatible UN with filtration on stationary N(0,1) activations.
    public static func run(window m: Int, tokens: Int, channels: Int = 4, steps: Int = 400, seed: UInt64) throws
        -> Result
    {
        try validate(window: m, tokens: tokens, channels: channels, steps: steps)
        var rng = SeededGenerator(seed: seed)
        let cfg = UnifiedNormConfiguration(
            channels: channels, forwardWindow: m, warmupIters: 2 * m, outlierFiltration: true)
        var un = try UnifiedNorm<Double>(configuration: cfg, mode: .referenceCompatible)
        var paper = try UnifiedNorm<Double>(configuration: cfg, mode: .paper(.calibrated))
        var filtered = 0
        var skips = 0
        var paperSkips = 0
        for t in 1...steps {
            let x = try batch(&rng, tokens: tokens, channels: channels)
            let before = un.skipCounter
            let pb = paper.skipCounter
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
        return Result(
            window: m, tokens: tokens, channels: channels, steps: steps,
            previousWindowFireRate: Double(skips) / Double(max(filtered, 1)),
            sameWindowFireRate: Double(paperSkips) / Double(max(filtered, 1)),
            smallestFiringSpike: try smallest(factors, dip: false), smallestFiringDip: try smallest(factors, dip: true))
    }

    public static func table(seed: UInt64, steps: Int = 400) throws -> [Result] {
        try validate(window: 1, tokens: 1, channels: 1, steps: steps)
        var out: [Result] = []
        for m in [2, 4, 8] {
            for tokens in [8, 64, 512] {
                out.append(try run(window: m, tokens: tokens, steps: steps, seed: seed &+ UInt64(m * 1000 + tokens)))
            }
        }
        return out
    }
}
