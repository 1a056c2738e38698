import Foundation
import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The fourth probe campaign's findings in the layers (issue 10): outputs `γ·z + β` whose product
/// overflows where the output does not, BatchNorm's fold beyond the range where its output is not,
/// the fused bias's partial sums. Right values: the same formula in Double, where 3e38-sized products
/// are far inside the range, rounded to Float (so independent of the Float code paths).
@Suite("Layers: fourth probe campaign (affine outputs and folds at the edge of the range)")
struct FourthProbeCampaignTests {
    static func close(_ a: [Float], _ b: [Double], _ tol: Double = 1e-6) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * abs($1) }
    }

    /// Were typed errors: LN/RMS with γ = 3e38, β = [−1e38, −1e38, 3e38] on [1, 1, −2]
    /// (LN: z = x/√(2 + ε), y = [1.1213150e38, 1.1213150e38, −1.2426301e38]).
    @Test func tokenwiseOutputsNearTheRange() throws {
        let x: [Float] = [1, 1, -2]
        let w: [Float] = [3e38, 3e38, 3e38]
        let b: [Float] = [-1e38, -1e38, 3e38]
        for centered in [true, false] {
            let xd = x.map(Double.init)
            let mean = centered ? xd.reduce(0, +) / 3 : 0
            let v = xd.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 3
            let want = (0..<3).map {
                Double(w[$0]) * (xd[$0] - mean) / (v + Double(Float(1e-5))).squareRoot() + Double(b[$0])
            }
            let batch = try TokenBatch<Float>(tokens: 1, channels: 3, values: x)
            let y: [Float]
            if centered {
                var ln = try LayerNorm<Float>(channels: 3, weight: w, bias: b)
                y = try ln.forwardTraining(batch).output.values
            } else {
                var rms = try RMSNorm<Float>(channels: 3, weight: w, bias: b)
                y = try rms.forwardTraining(batch).output.values
            }
            #expect(Self.close(y, want), "centered \(centered): \(y) vs \(want)")
        }
        // ChannelAffine 3e38·1.5 − 3e38 = 3e38/2 (the product alone overflows).
        let a = try ChannelAffine<Float>(scale: [3e38], shift: [-3e38])
        // The halved form rounds the product (2.25e38) and the sum: at most an ulp of 2.25e38, 1.3e-7 of the result.
        let ya = try a.apply(TokenBatch(tokens: 1, channels: 1, values: [1.5])).values
        #expect(Self.close(ya, [Double(Float(3e38)) * 1.5 - Double(Float(3e38))], 3e-7), "\(ya)")
        // Beyond the range it stays a typed error: 3e38·1.5 + 3e38.
        let over = try ChannelAffine<Float>(scale: [3e38], shift: [3e38])
        #expect(throws: NormalizationError.self) { try over.apply(TokenBatch(tokens: 1, channels: 1, values: [1.5])) }
    }

    /// Were typed errors: the fold a = γ/√(v+ε), b = β − a·μ leaves the range where y does not.
    @Test func batchNormInferenceBeyondItsFold() throws {
        var bn = try BatchNorm<Float>(channels: 1, weight: [1e30])
        try bn.setRunningStatistics(mean: [1e10], variance: [0])
        let x: [Float] = [1e10, 1.0000001e10]
        let y = try bn.forwardInference(TokenBatch(tokens: 2, channels: 1, values: x)).values
        let s = Double(Float(1e-5)).squareRoot()
        let want = x.map { 1e30 * (Double($0) - Double(Float(1e10))) / s }
        #expect(y[0] == 0 && Self.close([y[1]], [want[1]]), "\(y) vs \(want)")
        var b2 = try BatchNorm<Float>(channels: 1, weight: [3e38])
        try b2.setRunningStatistics(mean: [0], variance: [0])
        let y2 = try b2.forwardInference(TokenBatch(tokens: 1, channels: 1, values: [1e-10])).values
        #expect(Self.close(y2, [3e38 * Double(Float(1e-10)) / s]), "\(y2)")
    }

    /// Were typed errors: the fused bias Σ W·shift + b = 3e38 + 3e38 − 3e38, and 2·3e38 − 3e38.
    @Test func fusedBiasPartialSums() throws {
        let affine = try ChannelAffine<Float>(scale: [1, 1, 1], shift: [1, 1, 1])
        let linear = try LinearLayer<Float>(inputs: 3, outputs: 1, weight: [3e38, 3e38, -3e38], bias: [0])
        #expect(try Fusion.fold(affine, intoFollowing: linear).bias == [3e38])
        let pre = try LinearLayer<Float>(inputs: 1, outputs: 1, weight: [1], bias: [3e38])
        #expect(try Fusion.fold(ChannelAffine(scale: [2], shift: [-3e38]), intoPreceding: pre).bias == [3e38])
    }

    /// Generated (the kind): a per-channel affine map with γ, β and x spread up to Float's range gives
    /// the Double formula's value rounded to Float wherever that is representable, else a typed error.
    @Test func affineAcrossTheRange() throws {
        var rng = SeededGenerator(seed: 0xAFF1)
        for trial in 0..<400 {
            let a = Float(Double.random(in: -3.4e38...3.4e38, using: &rng))
            let b = Float(Double.random(in: -3.4e38...3.4e38, using: &rng))
            let x = Float(Double.random(in: -2...2, using: &rng))
            let want = Double(a) * Double(x) + Double(b)
            let m = try ChannelAffine<Float>(scale: [a], shift: [b])
            do {
                let y = try m.apply(TokenBatch(tokens: 1, channels: 1, values: [x])).values[0]
                // Float rounds a·x and the sum, each by at most half an ulp of values up to 3.4e38 (1e31
                // each): with a relative 1e-6 for the result itself, 1e32 absolute covers the cancellation.
                #expect(abs(Double(y) - want) <= 1e-6 * abs(want) + 1e32, "trial \(trial): \(y) vs \(want)")
            } catch is NormalizationError {
                #expect(
                    abs(want) > Double(Float.greatestFiniteMagnitude) * 0.999,
                    "trial \(trial): \(want) is representable")
            }
        }
    }
}
