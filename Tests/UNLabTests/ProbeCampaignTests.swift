import Foundation
import Testing
import UnifiedNormalization

@testable import UNLab

/// The fourth probe campaign's findings in the lab (issue 10): a foreign cache, cross-entropy at huge
/// logits, options decoded without validation, an update beyond the range, attention at huge
/// activations. Right values: by hand (ln 2, ln 3, and log(1 + e) + … as the comments say).
@Suite("UNLab: probe campaign (caches, huge values, decoded options)")
struct LabProbeCampaignTests {
    /// Was 0.0, 0.0 and 1.375: log Σ e^z + top − z_y lost ln 2 to the rounding of 1e20 + ln 2.
    @Test func crossEntropyAtHugeLogits() throws {
        let l1 = try CrossEntropy.loss(logits: [1e20, 1e20], classes: 2, targets: [0]).loss
        #expect(abs(l1 - Double.log(2)) < 1e-15, "\(l1)")
        let l2 = try CrossEntropy.loss(logits: [1e17, 1e17, 1e17], classes: 3, targets: [2]).loss
        #expect(abs(l2 - Double.log(3)) < 1e-15, "\(l2)")
        // z = [1e15, 1e15 + 1] (exact in Double), target 0: 1 + ln(1 + e⁻¹) = 1.3132616875182228.
        let l3 = try CrossEntropy.loss(logits: [1e15, 1e15 + 1], classes: 2, targets: [0]).loss
        #expect(abs(l3 - 1.3132616875182228) < 1e-15, "\(l3)")
        // 2e308 is beyond the range: a typed error, not ∞.
        #expect(throws: LabError.self) { try CrossEntropy.loss(logits: [1e308, -1e308], classes: 2, targets: [1]) }
        // Two rows of 1e308 each: the mean 1e308 is representable though the sum is not.
        let l4 = try CrossEntropy.loss(logits: [0, -1e308, 0, -1e308], classes: 2, targets: [1, 1]).loss
        #expect(abs(l4 / 1e308 - 1) < 1e-15, "\(l4)")
    }

    /// Were accepted (negative peak, β ≥ 1, ε ≤ 0 decoded), then NaN parameters: decoding validates.
    @Test func decodedOptionsAreValidated() throws {
        let bad = #"{"beta1":1,"beta2":2,"epsilon":-1,"weightDecay":-3,"schedule":{"peak":1e-3,"warmupSteps":1}}"#
        #expect(throws: LabError.self) { try JSONDecoder().decode(AdamW.Options.self, from: Data(bad.utf8)) }
        #expect(throws: LabError.self) {
            try JSONDecoder().decode(LearningRateSchedule.self, from: Data(#"{"peak":-1,"warmupSteps":-5}"#.utf8))
        }
        let good = try AdamW.Options()
        let round = try JSONDecoder().decode(AdamW.Options.self, from: JSONEncoder().encode(good))
        #expect(round == good)
    }

    /// Was −∞ stored: θ − lr·λ·θ with λ = 1e300, lr = 1e10 is −1e610. A typed error, nothing changed.
    @Test func updateBeyondTheRange() throws {
        let o = try AdamW.Options(weightDecay: 1e300, schedule: LearningRateSchedule(peak: 1e10, warmupSteps: 0))
        var adam = AdamW(options: o, like: [[1e300]])
        var p: [[Double]] = [[1e300]]
        #expect(throws: LabError.self) { try adam.update(&p, gradient: [[1]]) }
        #expect(p == [[1e300]] && adam.step == 0 && adam.firstMoment == [[0]])
    }

    /// Was NaN: scores of 1e200-sized activations overflow; and a ∞ dense output: typed errors.
    @Test func hugeActivationsAreTypedErrors() throws {
        var rng = LabRandom(seed: 3)
        let mha = try MultiHeadAttention(width: 2, heads: 1, using: &rng)
        #expect(throws: LabError.self) {
            _ = try mha.forward([1e200, 2e200, 3e200, -4e200], batch: 1, tokens: 2, padMask: nil, causal: false)
        }
        let dense = try Dense(inputs: 2, outputs: 1, weight: [1e300, 1e300], bias: [0])
        #expect(throws: LabError.self) { _ = try dense.forward([1e300, 1e300], rows: 1) }
    }

    /// Was an index trap: a cache of a 1-block model given to a 2-block model's backward; and an
    /// attention cache of other heads was read silently.
    @Test func foreignCachesAreRejected() throws {
        var rng = LabRandom(seed: 1)
        var one = try VisionTransformer(
            width: 8, heads: 2, layers: 1, makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        var two = try VisionTransformer(
            width: 8, heads: 2, layers: 2, makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        let images = [Double](repeating: 0.5, count: 64)
        let (logits, cache) = try one.forward(images: images, batch: 1)
        _ = try two.forward(images: images, batch: 1)
        #expect(throws: LabError.self) { _ = try two.backward(logits.map { _ in 0.1 }, cache: cache) }
        var r2 = LabRandom(seed: 2)
        let h2 = try MultiHeadAttention(width: 4, heads: 2, using: &r2)
        let h1 = try MultiHeadAttention(width: 4, heads: 1, using: &r2)
        let x = (0..<8).map { Double($0) / 8 }
        let c = try h2.forward(x, batch: 1, tokens: 2, padMask: nil, causal: false).cache
        #expect(throws: LabError.self) { _ = try h1.backward([Double](repeating: 0.1, count: 8), cache: c) }
    }
}
