import GradientCheck
import UNStatistics
import UnifiedNormalization

/// Claims S1–S2: statistical claims (spec section 5), on GSL's generators and tests.
public enum StatisticalClaims {
    // MARK: S1

    public struct SmoothingCase: Sendable, CustomStringConvertible {
        public var window: Int
        public var tokens: Int
        public var samples: Int
        public var seed: UInt64
        public var description: String { "M = \(window), T = \(tokens), \(samples) windows, seed \(seed)" }
    }

    /// Per-step statistics `σ²_t = mean of T squared N(0,1)` (independent across t); the smoothed
    /// `log σ̂² = mean of M consecutive log σ²`, over non-overlapping windows (independent).
    static func logStatistics(_ c: SmoothingCase) throws -> (smoothed: [Double], single: [Double]) {
        let r = RandomSource(seed: c.seed)
        func stat() -> Double {
            var s = 0.0
            for _ in 0..<c.tokens {
                let g = r.gaussian()
                s += g * g
            }
            return s / Double(c.tokens)
        }
        let single = (0..<c.samples).map { _ in Double.log(stat()) }
        let smoothed = try (0..<c.samples).map { _ in
            try GeometricMeanWindow.geometricMean((0..<c.window).map { _ in stat() })
        }.map { Double.log($0) }
        return (smoothed, single)
    }

    /// The Brown–Forsythe test of `Var(√M · log σ̂²) = Var(log σ²)`; p-values for the right `M`
    /// and for `2M`. (The F variance-ratio test assumes normal data; `log χ²_T` is skewed for small
    /// `T`, and the F test was measured to reject the true null about 5 times too often.)
    public static func smoothing(_ c: SmoothingCase) throws -> ClaimOutcome {
        let (sm, single) = try logStatistics(c)
        let right = try HypothesisTests.brownForsythe([sm.map { $0 * Double(c.window).squareRoot() }, single])
        let wrong = try HypothesisTests.brownForsythe([sm.map { $0 * (2 * Double(c.window)).squareRoot() }, single])
        // Level 1e-6 per case: over n cases the family-wise error rate is at most n·1e-6
        // (Bonferroni; 4.8e-3 for the report's 4800 cases). The rate at 0.05 is counted.
        let alpha = 1e-6
        return ClaimOutcome(
            [
                ClaimCheck(
                    "variance ratio M not rejected at 1e-6 (p = \(right.pValue))", holds: right.pValue > alpha,
                    margin: right.pValue > alpha ? (right.pValue - alpha) / (1 - alpha) : -1)
            ],
            notes: [
                "wrong M (2M) rejected at 0.05": wrong.pValue < 0.05 ? 1 : 0,
                "right M rejected at 0.05": right.pValue < 0.05 ? 1 : 0, "cases": 1,
            ])
    }

    public static let s1 = Claim<SmoothingCase>(
        id: "S1", title: "Smoothing divides the variance of log σ² by M",
        statement:
            """
            For independent per-step statistics, the geometric mean over M steps has Var(log σ̂²) = Var(log \
            σ²)/M; a variance-ratio test (Brown–Forsythe, robust to the skew of log χ²) does not reject this at \
            level 1e-6 per case, and rejects the wrong factor 2M (power reported).
            """,
        symbols: "Var(log σ̂²) = Var((1/M) Σ log σ²_{t−i}) = Var(log σ²)/M",
        proof: "proofs/statistics.md#s1",
        generate: { rng in
            SmoothingCase(
                window: [2, 4, 8][Int.random(in: 0..<3, using: &rng)],
                tokens: [4, 16, 64][Int.random(in: 0..<3, using: &rng)],
                samples: 400, seed: rng.next())
        }, check: smoothing)

    // MARK: S2

    public struct FalseAlarmRow: Sendable, Codable {
        public var window: Int
        public var tokens: Int
        public var trials: Int
        public var rule: String
        public var alarms: Int
        public var rate: Double
        public var ciLow: Double
        public var ciHigh: Double
    }

    public struct DetectionRow: Sendable, Codable {
        /// `authors' previous-window` or `paper's same-window`.
        public var rule: String = "authors' previous-window"
        public var window: Int
        public var tokens: Int
        public var spike: Double
        public var trials: Int
        public var detections: Int
        public var rate: Double
        public var ciLow: Double
        public var ciHigh: Double
    }

    /// One independent trial: a fresh layer, `2M − 1` stationary N(0,1) steps, then the first
    /// filtered step (scaled by `spike`); did the filter fire there?
    static func trial(mode: UnifiedNormMode, window m: Int, tokens: Int, channels: Int, spike: Double, seed: UInt64)
        throws -> Bool
    {
        let cfg = UnifiedNormConfiguration(
            channels: channels, forwardWindow: m, warmupIters: 2 * m, outlierFiltration: true)
        var un = try UnifiedNorm<Double>(configuration: cfg, mode: mode)
        let r = RandomSource(seed: seed)
        for t in 1...(2 * m) {
            let s = t == 2 * m ? spike : 1
            _ = try un.forwardTraining(
                TokenBatch(tokens: tokens, channels: channels, values: r.gaussians(tokens * channels).map { $0 * s }))
        }
        return un.skipCounter > 0
    }

    /// False-alarm rates of both rules (no spike) with exact Clopper–Pearson 95% intervals.
    public static func falseAlarms(
        trials: Int, seed: UInt64, windows: [Int] = [2, 4, 8], tokens: [Int] = [8, 64, 512]
    ) throws -> [FalseAlarmRow] {
        var rows: [FalseAlarmRow] = []
        for m in windows {
            for t in tokens {
                for (rule, mode) in [
                    ("authors' previous-window", UnifiedNormMode.referenceCompatible),
                    ("paper's same-window", .paper(.calibrated)),
                ] {
                    var k = 0
                    for i in 0..<trials
                    where try trial(
                        mode: mode, window: m, tokens: t, channels: 4, spike: 1,
                        seed: seed &+ UInt64(i) &* 7919 &+ UInt64(m * 1000 + t))
                    { k += 1 }
                    let ci = try HypothesisTests.clopperPearson(successes: k, trials: trials)
                    rows.append(
                        FalseAlarmRow(
                            window: m, tokens: t, trials: trials, rule: rule, alarms: k,
                            rate: Double(k) / Double(trials), ciLow: ci.low, ciHigh: ci.high))
                }
            }
        }
        return rows
    }

    /// Detection rates of both rules against spike size (activations scaled by `spike`), per window.
    public static func detection(
        trials: Int, seed: UInt64, windows: [Int] = [2, 4, 8], tokens: Int = 64,
        spikes: [Double] = [0.1, 0.5, 0.8, 1.25, 2, 5, 10]
    ) throws -> [DetectionRow] {
        var rows: [DetectionRow] = []
        for m in windows {
            for (rule, mode) in [
                ("authors' previous-window", UnifiedNormMode.referenceCompatible),
                ("paper's same-window", .paper(.calibrated)),
            ] {
                for s in spikes {
                    var k = 0
                    for i in 0..<trials
                    where try trial(
                        mode: mode, window: m, tokens: tokens, channels: 4, spike: s,
                        seed: seed &+ UInt64(i) &* 104_729 &+ UInt64(m))
                    { k += 1 }
                    let ci = try HypothesisTests.clopperPearson(successes: k, trials: trials)
                    rows.append(
                        DetectionRow(
                            rule: rule, window: m, tokens: tokens, spike: s, trials: trials, detections: k,
                            rate: Double(k) / Double(trials), ciLow: ci.low, ciHigh: ci.high))
                }
            }
        }
        return rows
    }
}
