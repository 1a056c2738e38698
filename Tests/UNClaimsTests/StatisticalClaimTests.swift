import GradientCheck
import Testing
import _TestSupport

@testable import UNClaims

@Suite("Claims S1–S2: statistics")
struct StatisticalClaimTests {
    /// S1 at random seeds (the property library prints the seed on failure): the right M is not
    /// rejected at 1e-6, over windows 2, 4, 8 and token counts 4, 16, 64.
    @Test func smoothingDividesVariance() async {
        await boundedPropertyCheck(count: 12, input: StatisticalClaims.s1.gen) { c in
            expectHolds(try StatisticalClaims.smoothing(c), c)
        }
    }

    /// The wrong factor 2M is rejected (power): at M = 8 with 400 samples the variance ratio is
    /// 2, which the F test rejects essentially always; counted over 20 fixed seeds.
    @Test func wrongWindowIsRejected() throws {
        var rejected = 0
        for s in 1...20 {
            let o = try StatisticalClaims.smoothing(.init(window: 8, tokens: 16, samples: 400, seed: UInt64(s)))
            rejected += Int(o.notes["wrong M (2M) rejected at 0.05"] ?? 0)
        }
        #expect(rejected >= 19, "wrong M rejected in \(rejected)/20 seeds")
    }

    /// By K1 the paper's same-window rule never fires: zero alarms.
    @Test func paperRuleNeverFires() throws {
        let rows = try StatisticalClaims.falseAlarms(trials: 25, seed: 5, windows: [2, 4], tokens: [8, 64])
        for r in rows where r.rule.hasPrefix("paper") { #expect(r.alarms == 0, "\(r)") }
        // The intervals are well formed and contain the rate.
        for r in rows { #expect(r.ciLow <= r.rate && r.rate <= r.ciHigh) }
    }
}
