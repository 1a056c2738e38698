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
        var un = try UnifiedNorm<S>(configuration: .init(channels: c, forwardWindow: 2, warmupIters: 1), mode: .referenceCompatible,
                                    weight: Self.values(c, seed: 1).map { S(1.5 + $0) }, bias: Self.values(c, seed: 2).map { S($0) })
        for k in 0..<5 {
            let x = try TokenBatch<S>(batch: 2, tokens: 3, channels: c, values: Self.values(6 * c, seed: 10 + k, scale: 3).map { S($0) })
            let (_, cache) = try un.forwardTraining(x)
            _ = try un.backward(x, cache: cache)
        }
        return un
    }

    /// `|folded − unfolded| ≤ 2 γ_{n+3} (Σ_i |W_oi| (|a_i x_i| + |b_i|) + |c_o|)` per output entry:
    /// both evaluations are a length-`n` dot product plus a bias of terms each carrying at most
    /// three roundings (scale, shift, product), so each is within `γ_{n+3}` of the exact
    /// value times the sum of magnitudes; their difference is within twice that.
    func checkFollowingFold<S: NormScalar>(_: S.Type) throws {
        let c = 5, outs = 4
        let un = try trainedUN(S.self, channels: c)
        let lin = try LinearLayer<S>(inputs: c, outputs: outs, weight: Self.values(c * outs, seed: 3).map { S($0) },
                                     bias: Self.values(outs, seed: 4).map { S($0) })
        let folded = try Fusion.fold(un, intoFollowing: lin)
        let x = try TokenBatch<S>(batch: 2, tokens: 4, channels: c, values: Self.values(8 * c, seed: 5, scale: 2).map { S($0) })
        let unfolded = try lin.apply(un.forwardInference(x))
        let fused = try folded.apply(x)
        let a = try un.inferenceAffine()
        let u = Double(S.unitRoundoff)
        let gamma = Double(c + 3) * u / (1 - Double(c + 3) * u)
        for r in 0..<x.rows {
            for o in 0..<outs {
                var mag = abs(Double(lin.bias[o]))
                for i in 0..<c {
                    mag += abs(Double(lin.weight[o * c + i])) * (abs(Double(a.scale[i] * x.values[r * c + i])) + abs(Double(a.shift[i])))
                }
                let diff = abs(Double(fused.values[r * outs + o]) - Double(unfolded.values[r * outs + o]))
                #expect(diff <= 2 * gamma * mag, "row \(r) out \(o): \(diff) > \(2 * gamma * mag)")
            }
        }
    }

    @Test func followingFoldDouble() throws { try checkFollowingFold(Double.self) }
    @Test func followingFoldFloat() throws { try checkFollowingFold(Float.self) }

    /// `norm(linear(x))` vs the folded linear: same per-entry bound with the roles swapped.
    @Test func precedingFoldDouble() throws {
        let c = 4, ins = 3
        var bn = try BatchNorm<Double>(channels: c, weight: [1.2, 0.7, 2, 1], bias: [0.1, -0.3, 0, 0.5])
        try bn.setRunningStatistics(mean: [0.5, -1, 0.25, 2], variance: [4, 0.25, 1, 9])
        let lin = try LinearLayer<Double>(inputs: ins, outputs: c, weight: Self.values(ins * c, seed: 6), bias: Self.values(c, seed: 7))
        let folded = try Fusion.fold(bn, intoPreceding: lin)
        let x = try TokenBatch<Double>(tokens: 6, channels: ins, values: Self.values(6 * ins, seed: 8, scale: 3))
        let expected = try bn.forwardInference(lin.apply(x))
        let got = try folded.apply(x)
        let a = try bn.inferenceAffine()
        let u = Double.unitRoundoff
        let gamma = Double(ins + 3) * u / (1 - Double(ins + 3) * u)
        for r in 0..<6 {
            for o in 0..<c {
                var mag = abs(a.scale[o] * lin.bias[o]) + abs(a.shift[o])
                for i in 0..<ins { mag += abs(a.scale[o] * lin.weight[o * ins + i] * x.values[r * ins + i]) }
                #expect(abs(got.values[r * c + o] - expected.values[r * c + o]) <= 2 * gamma * mag)
            }
        }
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
        #expect(throws: NormalizationError.shapeMismatch(what: "fold: norm channels vs linear inputs", expected: [4], actual: [3])) {
            _ = try Fusion.fold(un, intoFollowing: lin)
        }
        #expect(throws: NormalizationError.shapeMismatch(what: "fold: norm channels vs linear outputs", expected: [2], actual: [3])) {
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
