import Testing

@testable import UnifiedNormalization

#if canImport(Glibc)
import Glibc
#endif

/// Extreme integer and floating-point arguments give typed errors, never a trap.
@Suite("Extreme arguments")
struct ExtremeArgumentTests {
    /// The example, and generated shapes whose element count overflows `Int`.
    @Test func overflowingShapesThrow() {
        #expect(throws: NormalizationError.self) {
            _ = try TokenBatch<Double>(batch: Int.max, tokens: 2, channels: 1, values: [])
        }
        let big = [Int.max, Int.max / 2 + 1, 1 << 32, 1 << 31 + 1, 3_037_000_500]
        var tried = 0
        for b in big + [1, 2] {
            for t in big + [1, 2] {
                for c in big + [1, 2] where b > 2 || t > 2 || c > 2 {
                    tried += 1
                    #expect(throws: NormalizationError.self) {
                        _ = try TokenBatch<Float>(batch: b, tokens: t, channels: c, values: [1, 2])
                    }
                    #expect(throws: NormalizationError.self) {
                        _ = try TokenBatch<Double>(batch: b, tokens: t, channels: c, values: [1], padMask: [false])
                    }
                }
            }
        }
        #expect(tried == 7 * 7 * 7 - 8)
    }

    /// Configuration validated in the layer's own precision: `eps = 1e-50` is 0 in Float.
    @Test func epsAndMomentumValidatedInLayerPrecision() throws {
        #expect(throws: NormalizationError.self) {
            _ = try UnifiedNorm<Float>(configuration: .init(channels: 4, eps: 1e-50), mode: .referenceCompatible)
        }
        _ = try UnifiedNorm<Double>(configuration: .init(channels: 4, eps: 1e-50), mode: .referenceCompatible)
        // Generated: eps across the Float underflow boundary, momentum across its rounding to 1.
        var e = 1e-30
        while e > 1e-50 {
            let ok = Float(e) > 0
            let config = UnifiedNormConfiguration(channels: 2, eps: e)
            if ok {
                _ = try UnifiedNorm<Float>(configuration: config, mode: .paper(.exact))
            } else {
                #expect(throws: NormalizationError.self, "eps \(e)") {
                    _ = try UnifiedNorm<Float>(configuration: config, mode: .paper(.exact))
                }
            }
            e /= 3
        }
        for k in 1...20 {
            let m = 1 - pow(2.0, -Double(k * 3))
            let config = UnifiedNormConfiguration(channels: 2, momentum: m)
            if Float(m) < 1 {
                _ = try UnifiedNorm<Float>(configuration: config, mode: .referenceCompatible)
            } else {
                #expect(throws: NormalizationError.self, "momentum \(m)") {
                    _ = try UnifiedNorm<Float>(configuration: config, mode: .referenceCompatible)
                }
            }
        }
    }

    @Test func hugeWindowsThrow() {
        for w in [Int.max, 1 << 40, UnifiedNormConfiguration.maxBufferEntries + 1] {
            #expect(throws: NormalizationError.self) {
                _ = try UnifiedNorm<Double>(
                    configuration: .init(channels: 3, forwardWindow: w), mode: .referenceCompatible)
            }
            #expect(throws: NormalizationError.self) {
                _ = try UnifiedNorm<Float>(
                    configuration: .init(channels: 3, backwardWindow: w), mode: .paper(.calibrated))
            }
        }
    }
}

/// UN's per-channel mean square is not yet range-safe (see the kind 1): where it
/// overflows, the training step throws a typed error before any state changes, so no infinite
/// statistic is ever stored.
@Suite("UN: no infinite running statistic")
struct UNOverflowTests {
    @Test(arguments: [UnifiedNormMode.referenceCompatible, .paper(.exact), .paper(.calibrated)])
    func overflowingMeanSquareThrowsWithoutChangingState(mode: UnifiedNormMode) throws {
        var un = try UnifiedNorm<Float>(configuration: .init(channels: 2, forwardWindow: 2, warmupIters: 0), mode: mode)
        let ok = try TokenBatch<Float>(tokens: 2, channels: 2, values: [1, 2, 3, 4])
        _ = try un.forwardTraining(ok)
        let before = (un.iters, un.runningVar)
        for big: Float in [1e20, 3e19, -1e25, Float.greatestFiniteMagnitude] {
            let x = try TokenBatch<Float>(tokens: 2, channels: 2, values: [big, 1, -big, 2])
            #expect(throws: NormalizationError.self) { _ = try un.forwardTraining(x) }
            #expect(un.iters == before.0 && un.runningVar == before.1)
        }
    }
}

/// The example `GeometricMeanWindow.geometricMean([])`, which trapped, and generated
/// windows with an entry that has no logarithm: typed errors; zeros (a fresh buffer) give 0.
@Suite("Geometric mean of a window")
struct GeometricMeanArgumentTests {
    @Test func emptyAndInvalidWindowsThrow() throws {
        #expect(throws: NormalizationError.emptyBatch) { _ = try GeometricMeanWindow.geometricMean([Double]()) }
        for bad in [-1.0, -Double.leastNonzeroMagnitude, .nan, .infinity, -.infinity] {
            for n in 1...5 {
                for at in 0..<n {
                    var w = [Double](repeating: 2, count: n)
                    w[at] = bad
                    #expect(throws: NormalizationError.nonFinite(what: "window", index: at)) {
                        _ = try GeometricMeanWindow.geometricMean(w)
                    }
                    // In Float the tiniest negative value rounds to −0, which is a valid entry.
                    if !(Float(bad) >= 0) {
                        #expect(throws: NormalizationError.self) { _ = try OutlierFilter.sameWindow(w.map(Float.init)) }
                    }
                }
            }
        }
        #expect(try GeometricMeanWindow.geometricMean([0.0, 4, 9]) == 0)
        #expect(abs(try GeometricMeanWindow.geometricMean([2.0, 8]) - 4) < 1e-15)
    }
}
