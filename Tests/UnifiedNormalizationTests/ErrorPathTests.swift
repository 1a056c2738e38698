import Testing

@testable import UnifiedNormalization

/// Every invalid configuration and every invalid input produces its typed error.
@Suite("Typed errors")
struct ErrorPathTests {
    func config(_ f: (inout UnifiedNormConfiguration) -> Void) -> UnifiedNormConfiguration {
        var c = UnifiedNormConfiguration(channels: 3)
        f(&c)
        return c
    }

    @Test func invalidUNConfigurations() {
        let bad: [(String, UnifiedNormConfiguration)] = [
            ("channels", config { $0.channels = 0 }),
            ("forwardWindow", config { $0.forwardWindow = 0 }),
            ("backwardWindow", config { $0.backwardWindow = 0 }),
            ("warmupIters", config { $0.warmupIters = -1 }),
            ("eps", config { $0.eps = 0 }),
            ("eps", config { $0.eps = -1e-5 }),
            ("eps", config { $0.eps = .nan }),
            ("momentum", config { $0.momentum = 1 }),
            ("momentum", config { $0.momentum = -0.1 }),
            ("momentum", config { $0.momentum = .infinity }),
        ]
        for (param, c) in bad {
            for mode in [UnifiedNormMode.referenceCompatible, .paper(.exact)] {
                #expect {
                    _ = try UnifiedNorm<Double>(configuration: c, mode: mode)
                } throws: { e in
                    guard case .invalidConfiguration(let p, _, _) = e as? NormalizationError else { return false }
                    return p == param
                }
            }
        }
    }

    @Test func invalidLayerConfigurations() {
        func expectConfig(_ param: String, _ body: () throws -> Void) {
            #expect { try body() } throws: { e in
                guard case .invalidConfiguration(let p, _, _) = e as? NormalizationError else { return false }
                return p == param
            }
        }
        expectConfig("channels") { _ = try LayerNorm<Float>(channels: 0) }
        expectConfig("eps") { _ = try LayerNorm<Float>(channels: 2, eps: 0) }
        expectConfig("channels") { _ = try RMSNorm<Double>(channels: -1) }
        expectConfig("eps") { _ = try RMSNorm<Double>(channels: 2, eps: .infinity) }
        expectConfig("momentum") { _ = try BatchNorm<Double>(channels: 2, momentum: 1.5) }
        expectConfig("eps") { _ = try BatchNorm<Double>(channels: 2, eps: -1) }
        expectConfig("forwardMomentum") { _ = try PowerNorm<Double>(channels: 2, forwardMomentum: 1) }
        expectConfig("backwardMomentum") { _ = try PowerNorm<Double>(channels: 2, backwardMomentum: -0.5) }
        expectConfig("warmupIters") { _ = try PowerNorm<Double>(channels: 2, warmupIters: -3) }
        expectConfig("groups") { _ = try PowerNorm<Double>(channels: 6, groups: 4) }
        expectConfig("inputs") { _ = try LinearLayer<Double>(inputs: 0, outputs: 1, weight: [], bias: [0]) }
    }

    @Test func affineParameterErrors() throws {
        #expect(throws: NormalizationError.shapeMismatch(what: "weight", expected: [3], actual: [2])) {
            _ = try LayerNorm<Double>(channels: 3, weight: [1, 1])
        }
        #expect(throws: NormalizationError.shapeMismatch(what: "bias", expected: [3], actual: [4])) {
            _ = try BatchNorm<Double>(channels: 3, bias: [0, 0, 0, 0])
        }
        #expect(throws: NormalizationError.nonFinite(what: "weight", index: 1)) {
            _ = try UnifiedNorm<Float>(
                configuration: .init(channels: 3), mode: .referenceCompatible, weight: [1, .nan, 1])
        }
        var ln = try RMSNorm<Double>(channels: 2)
        #expect(throws: NormalizationError.nonFinite(what: "bias", index: 0)) {
            try ln.setAffine(weight: [1, 1], bias: [.infinity, 0])
        }
    }

    @Test func batchShapeErrors() throws {
        // `with(values:)` trapped on a wrong count (kind 6); now a typed error, for every wrong count.
        let b = try TokenBatch<Double>(tokens: 2, channels: 3, values: [1, 2, 3, 4, 5, 6])
        for n in [0, 1, 5, 7, 100] {
            #expect(throws: NormalizationError.shapeMismatch(what: "values", expected: [6], actual: [n])) {
                _ = try b.with(values: [Double](repeating: 1, count: n))
            }
        }
        #expect(try b.with(values: [6, 5, 4, 3, 2, 1]).values == [6, 5, 4, 3, 2, 1])
        #expect(throws: NormalizationError.emptyBatch) {
            _ = try TokenBatch<Double>(batch: 0, tokens: 2, channels: 2, values: [])
        }
        #expect(throws: NormalizationError.emptyBatch) {
            _ = try TokenBatch<Double>(tokens: 3, channels: 0, values: [])
        }
        #expect(throws: NormalizationError.shapeMismatch(what: "values", expected: [1, 2, 2], actual: [3])) {
            _ = try TokenBatch<Double>(batch: 1, tokens: 2, channels: 2, values: [1, 2, 3])
        }
        #expect(throws: NormalizationError.shapeMismatch(what: "padMask", expected: [1, 2], actual: [3])) {
            _ = try TokenBatch<Double>(
                batch: 1, tokens: 2, channels: 1, values: [1, 2], padMask: [true, false, false])
        }
    }

    /// The same bad inputs for every layer: channel mismatch, NaN, infinity, all tokens padded,
    /// gradient of the wrong shape, gradient with NaN.
    func inputErrors<L: NormalizationLayer>(_ make: () throws -> L) throws where L.Scalar == Double {
        var layer = try make()
        let wrongC = try TokenBatch<Double>(tokens: 2, channels: 2, values: [1, 2, 3, 4])
        #expect(throws: NormalizationError.shapeMismatch(what: "input channels", expected: [3], actual: [2])) {
            _ = try layer.forwardTraining(wrongC)
        }
        #expect(throws: NormalizationError.shapeMismatch(what: "input channels", expected: [3], actual: [2])) {
            _ = try layer.forwardInference(wrongC)
        }
        let nan = try TokenBatch<Double>(tokens: 2, channels: 3, values: [1, 2, 3, 4, .nan, 6])
        #expect(throws: NormalizationError.nonFinite(what: "input", index: 4)) { _ = try layer.forwardTraining(nan) }
        let inf = try TokenBatch<Double>(tokens: 2, channels: 3, values: [-.infinity, 2, 3, 4, 5, 6])
        #expect(throws: NormalizationError.nonFinite(what: "input", index: 0)) { _ = try layer.forwardInference(inf) }
        let allPad = try TokenBatch<Double>(tokens: 2, channels: 3, values: [1, 2, 3, 4, 5, 6], padMask: [true, true])
        #expect(throws: NormalizationError.noRealTokens) { _ = try layer.forwardTraining(allPad) }
        let x = try TokenBatch<Double>(tokens: 2, channels: 3, values: [1, 2, 3, 4, 5, 7])
        let (_, cache) = try layer.forwardTraining(x)
        let badShape = try TokenBatch<Double>(tokens: 3, channels: 3, values: Array(repeating: 1, count: 9))
        #expect { _ = try layer.backward(badShape, cache: cache) } throws: { e in
            if case .staleCache = e as? NormalizationError { return true } else { return false }
        }
        let nanGrad = try TokenBatch<Double>(tokens: 2, channels: 3, values: [1, 1, 1, 1, .nan, 1])
        #expect { _ = try layer.backward(nanGrad, cache: cache) } throws: { e in
            if case .nonFinite(_, 4) = e as? NormalizationError { return true } else { return false }
        }
    }

    @Test func inputErrorsEveryLayer() throws {
        try inputErrors { try LayerNorm<Double>(channels: 3) }
        try inputErrors { try RMSNorm<Double>(channels: 3) }
        try inputErrors { try BatchNorm<Double>(channels: 3) }
        try inputErrors { try PowerNorm<Double>(channels: 3) }
        try inputErrors { try UnifiedNorm<Double>(configuration: .init(channels: 3), mode: .referenceCompatible) }
        try inputErrors { try UnifiedNorm<Double>(configuration: .init(channels: 3), mode: .paper(.exact)) }
        try inputErrors { try UnifiedNorm<Double>(configuration: .init(channels: 3), mode: .paper(.calibrated)) }
    }

    @Test func staleCacheFromEarlierIteration() throws {
        var un = try UnifiedNorm<Double>(configuration: .init(channels: 1), mode: .referenceCompatible)
        let x = try TokenBatch<Double>(tokens: 2, channels: 1, values: [1, 2])
        let (_, first) = try un.forwardTraining(x)
        _ = try un.forwardTraining(x)
        #expect(throws: NormalizationError.staleCache(reason: "cache from iteration 1, layer at 2")) {
            _ = try un.backward(x, cache: first)
        }
    }

    @Test func setStateValidation() throws {
        var un = try UnifiedNorm<Double>(configuration: .init(channels: 2, forwardWindow: 2), mode: .paper(.exact))
        #expect(throws: NormalizationError.shapeMismatch(what: "bufferX2", expected: [4], actual: [2])) {
            try un.setState(runningVar: [1, 1], emaGz: [0, 0], bufferX2: [1, 1], bufferGz: [0, 0, 0, 0], iters: 3)
        }
        #expect {
            try un.setState(
                runningVar: [1, -1], emaGz: [0, 0], bufferX2: [1, 1, 1, 1], bufferGz: [0, 0, 0, 0], iters: 3)
        } throws: { e in if case .invalidConfiguration = e as? NormalizationError { return true } else { return false }
        }
    }
}
