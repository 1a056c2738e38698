import Testing

@testable import UnifiedNormalization

/// Folding a per-channel affine normalization into a neighbouring linear layer.
@Suite("Inference fusion")
struct FusionTests {
    /// A deterministic, well-spread sequence (no randomness needed for these checks).
    static func values(_ n: Int, seed: Int, scale: Double = 1) -> [Double] {
        (0..<n).map { i in scale * (Double((i * 7919 + seed * 104_729) % 1000) / 500 - 1) }
    }

    /// Trains a UN layer a few steps so that its running variance is not the initial 1.
    func trainedUN<S: NormScalar>(_: S.Type, channels c: Int) throws -> UnifiedNorm<S> {
        var un = try UnifiedNorm<S>(
            configuration: .init(channels: c, forwardWindow: 2, warmupIters: 1), mode: .referenceCompatible,
            weight: Self.values(c, seed: 1).map { S(1.5 + $0) }, bias: Self.values(c, seed: 2).map { S($0) })
        for k in 0..<5 {
            let x = try TokenBatch<S>(
                batch: 2, tokens: 3, channels: c, values: Self.values(6 * c, seed: 10 + k, scale: 3).map { S($0) })
            let (_, cache) = try un.forwardTraining(x)
            _ = try un.backward(x, cache: cache)
        }
        return un
    }

    /// `|folded − unfolded|` within `Fusion.followingFoldErrorBound` (F2, proofs/fusion.md#f2).
    func checkFollowingFold<S: NormScalar>(_: S.Type) throws {
        let c = 5
        let outs = 4
        let un = try trainedUN(S.self, channels: c)
        let lin = try LinearLayer<S>(
            inputs: c, outputs: outs, weight: Self.values(c * outs, seed: 3).map { S($0) },
            bias: Self.values(outs, seed: 4).map { S($0) })
        let folded = try Fusion.fold(un, intoFollowing: lin)
        let x = try TokenBatch<S>(
            batch: 2, tokens: 4, channels: c, values: Self.values(8 * c, seed: 5, scale: 2).map { S($0) })
        let unfolded = try lin.apply(un.forwardInference(x)).values
        let fused = try folded.apply(x).values
        let bound = Fusion.followingFoldErrorBound(try un.inferenceAffine(), lin, input: x)
        for i in bound.indices {
            let diff = abs(Double(fused[i]) - Double(unfolded[i]))
            #expect(diff <= bound[i], "entry \(i): \(diff) > \(bound[i])")
        }
    }

    @Test func followingFoldDouble() throws { try checkFollowingFold(Double.self) }
    @Test func followingFoldFloat() throws { try checkFollowingFold(Float.self) }

    /// `norm(linear(x))` vs the folded linear, within `Fusion.precedingFoldErrorBound`.
    @Test func precedingFoldDouble() throws {
        let c = 4
        let ins = 3
        var bn = try BatchNorm<Double>(channels: c, weight: [1.2, 0.7, 2, 1], bias: [0.1, -0.3, 0, 0.5])
        try bn.setRunningStatistics(mean: [0.5, -1, 0.25, 2], variance: [4, 0.25, 1, 9])
        let lin = try LinearLayer<Double>(
            inputs: ins, outputs: c, weight: Self.values(ins * c, seed: 6), bias: Self.values(c, seed: 7))
        let folded = try Fusion.fold(bn, intoPreceding: lin)
        let x = try TokenBatch<Double>(tokens: 6, channels: ins, values: Self.values(6 * ins, seed: 8, scale: 3))
        let expected = try bn.forwardInference(lin.apply(x)).values
        let got = try folded.apply(x).values
        let bound = Fusion.precedingFoldErrorBound(try bn.inferenceAffine(), lin, input: x)
        for i in bound.indices { #expect(abs(got[i] - expected[i]) <= bound[i], "entry \(i)") }
    }

    @Test func layerNormAndRMSNormRefuse() throws {
        let lin = try LinearLayer<Double>(inputs: 3, outputs: 2, weight: Array(repeating: 1, count: 6), bias: [0, 0])
        #expect { _ = try Fusion.fold(LayerNorm<Double>(channels: 3), intoFollowing: lin) } throws: { e in
            if case .notFoldable(layer: "LayerNorm", _) = e as? NormalizationError { return true } else { return false }
        }
        #expect { _ = try Fusion.fold(RMSNorm<Double>(channels: 3), intoFollowing: lin) } throws: { e in
            if case .notFoldable(layer: "RMSNorm", _) = e as? NormalizationError { return true } else { return false }
        }
        // The authors' PowerNorm scales each token by its own RMS at inference: not affine.
        #expect { _ = try Fusion.fold(PowerNorm<Double>(channels: 3), intoFollowing: lin) } throws: { e in
            if case .notFoldable(layer: "PowerNorm", _) = e as? NormalizationError { return true } else { return false }
        }
        // Without group scaling it folds.
        _ = try Fusion.fold(PowerNorm<Double>(channels: 3, groups: 0), intoFollowing: lin)
    }

    @Test func foldShapeMismatch() throws {
        let un = try UnifiedNorm<Double>(configuration: .init(channels: 3), mode: .paper(.calibrated))
        let lin = try LinearLayer<Double>(inputs: 4, outputs: 2, weight: Array(repeating: 1, count: 8), bias: [0, 0])
        #expect(
            throws: NormalizationError.shapeMismatch(
                what: "fold: norm channels vs linear inputs", expected: [4], actual: [3])
        ) {
            _ = try Fusion.fold(un, intoFollowing: lin)
        }
        #expect(
            throws: NormalizationError.shapeMismatch(
                what: "fold: norm channels vs linear outputs", expected: [2], actual: [3])
        ) {
            _ = try Fusion.fold(un, intoPreceding: lin)
        }
    }

    /// The inference form of every foldable layer equals its `inferenceAffine()` map exactly
    /// (both compute `a x + b` with the same `a`, `b`).
    @Test func inferenceIsTheAffineMap() throws {
        let un = try trainedUN(Double.self, channels: 3)
        let x = try TokenBatch<Double>(tokens: 4, channels: 3, values: Self.values(12, seed: 9))
        #expect(try un.forwardInference(x) == un.inferenceAffine().apply(x))
    }
}
