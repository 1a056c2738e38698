import Testing
import _TestSupport

@testable import UnifiedNormalization

/// The `into:` forms of the layers (``NormalizationLayer/forwardInference(_:into:)`` and the
/// training and backward forms) give bit-for-bit the allocating forms' results, reuse the
/// caller's buffer when it fits and is not shared, never write into a buffer shared with another
/// array, and keep the output's shape invariant after a throw. Generated shapes around the SIMD
/// width and across the thread-split threshold; seeds fixed (printed in each failure).
@Suite("Layers writing into the caller's buffers")
struct ReusingOutputTests {
    static func address<S>(_ a: [S]) -> UnsafeRawPointer? { a.withUnsafeBytes { $0.baseAddress } }

    func check<L: NormalizationLayer>(_ make: (Int) throws -> L, seed: UInt64, reuses: Bool = true) throws {
        var rng = SeededGenerator(seed: seed)
        for trial in 0..<12 {
            let c = [1, 7, 8, 9, 33, 64, 768][Int.random(in: 0..<7, using: &rng)]
            let rows = c == 768 ? [1, 3, 120][trial % 3] : Int.random(in: 1...40, using: &rng)
            let scale = L.Scalar(Double(sign: .plus, exponent: Int.random(in: -24...24, using: &rng), significand: 1))
            func draw() -> [L.Scalar] {
                (0..<(rows * c)).map { _ in L.Scalar(Double.random(in: -3...3, using: &rng)) * scale }
            }
            let x = try TokenBatch<L.Scalar>(tokens: rows, channels: c, values: draw())
            let dy = try TokenBatch<L.Scalar>(tokens: rows, channels: c, values: draw())
            let layer = try make(c)
            var reference = layer
            let (yRef, cacheRef) = try reference.forwardTraining(x)
            let gRef = try reference.backward(dy, cache: cacheRef)
            let yInfRef = try layer.forwardInference(x)

            // A first call into a mismatched batch allocates; the second reuses that buffer.
            var out = try TokenBatch<L.Scalar>(tokens: 1, channels: 1, values: [0])
            try layer.forwardInference(x, into: &out)
            #expect(out == yInfRef, "seed \(seed), trial \(trial), \(rows)×\(c)")
            let before = Self.address(out.values)
            try layer.forwardInference(x, into: &out)
            #expect(out == yInfRef, "seed \(seed), trial \(trial)")
            if reuses { #expect(Self.address(out.values) == before, "seed \(seed), trial \(trial): not reused") }

            // Training forward and backward into reused buffers: the same values as the allocating calls.
            var gradients = NormGradients(input: x, weight: [], bias: [])
            var trained = try make(c)
            let cache = try trained.forwardTraining(x, into: &out)
            #expect(out == yRef, "seed \(seed), trial \(trial): training output")
            try trained.backward(dy, cache: cache, into: &gradients)
            #expect(gradients == gRef, "seed \(seed), trial \(trial): gradients")
            if reuses {
                // A second step writes into the same two buffers.
                let (yAddress, gAddress) = (Self.address(out.values), Self.address(gradients.input.values))
                let cache2 = try trained.forwardTraining(x, into: &out)
                try trained.backward(dy, cache: cache2, into: &gradients)
                #expect(Self.address(out.values) == yAddress, "seed \(seed), trial \(trial): output not reused")
                #expect(
                    Self.address(gradients.input.values) == gAddress, "seed \(seed), trial \(trial): ∂X not reused")
            }

            // A buffer shared with another array is copied, never written through.
            let kept = out.values
            let y2 = try TokenBatch<L.Scalar>(tokens: rows, channels: c, values: draw())
            try layer.forwardInference(y2, into: &out)
            #expect(kept == yRef.values, "seed \(seed), trial \(trial): shared buffer written")
            #expect(out == (try layer.forwardInference(y2)), "seed \(seed), trial \(trial)")
        }
        // After a throw the output keeps its shape invariant.
        var layer = try make(8)
        var out = try TokenBatch<L.Scalar>(tokens: 2, channels: 8, values: [L.Scalar](repeating: 1, count: 16))
        var bad = [L.Scalar](repeating: 1, count: 16)
        bad[5] = .nan
        #expect(throws: NormalizationError.nonFinite(what: "input", index: 5)) {
            try layer.forwardInference(TokenBatch<L.Scalar>(tokens: 2, channels: 8, values: bad), into: &out)
        }
        #expect(out.values.count == 16 && out.shape == [2, 8])
        #expect(throws: NormalizationError.nonFinite(what: "input", index: 5)) {
            _ = try layer.forwardTraining(TokenBatch<L.Scalar>(tokens: 2, channels: 8, values: bad), into: &out)
        }
        #expect(out.values.count == 16)
    }

    @Test func layerNorm() throws {
        try check({ try LayerNorm<Float>(channels: $0) }, seed: 11)
        try check({ try LayerNorm<Double>(channels: $0) }, seed: 12)
    }

    @Test func rmsNorm() throws {
        try check({ try RMSNorm<Float>(channels: $0) }, seed: 13)
        try check({ try RMSNorm<Double>(channels: $0) }, seed: 14)
    }

    @Test func unifiedNorm() throws {
        try check(
            {
                try UnifiedNorm<Float>(
                    configuration: UnifiedNormConfiguration(channels: $0, warmupIters: 0), mode: .referenceCompatible)
            },
            seed: 16)
        try check(
            {
                try UnifiedNorm<Double>(
                    configuration: UnifiedNormConfiguration(channels: $0, warmupIters: 0), mode: .paper(.exact))
            }, seed: 17)
    }

    /// Layers without a reusing kernel get the allocating call through the protocol's default.
    @Test func defaultsForOtherLayers() throws {
        try check({ try BatchNorm<Double>(channels: $0) }, seed: 15, reuses: false)
    }
}
