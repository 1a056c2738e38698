/// UN's adaptive outlier filtration: an iteration is *skipped* (moving averages dropped) when,
/// for some channel, the gap between the arithmetic and geometric means of the window of
/// statistics exceeds a threshold.
///
/// Two thresholds exist:
/// - ``ThresholdSource/sameWindow`` (the paper, section 3): `M · V(Ω_t^{1/2})`, the population
///   variance of the square roots of the *same* window, per channel. By Kober's inequality
///   `E − Π ≤ M·V(Ω^{1/2})` for every positive window, so in exact arithmetic this never fires;
///   the runtime decision therefore only fires when the gap exceeds the threshold by more than
///   a bound on the rounding error of both sides (``Decision/roundingBound``), so that it
///   decides as exact arithmetic would (at `M = 2` both sides are equal and a naive float
///   comparison fires at random).
/// - ``ThresholdSource/previousWindowPooled`` (the authors' code): `M · s²`, where `s²` is the
///   *unbiased* variance of the square roots of *all* `M·C` buffer entries, taken before the
///   current entry is written. A naive comparison, as in the code.
public enum OutlierFilter {
    public enum ThresholdSource: String, Sendable, Codable, CaseIterable {
        case sameWindow
        case previousWindowPooled
    }

    /// The outcome of the test for one channel.
    public struct Decision<S: NormScalar>: Sendable, Equatable {
        /// `E(Ω) − Π(Ω)`.
        public var gap: S
        /// The threshold the gap is compared with.
        public var threshold: S
        /// Bound on `|computed(gap − threshold) − exact(gap − threshold)|` (0 for the naive test).
        public var roundingBound: S
        /// Whether the channel asks for a skip.
        public var fires: Bool { gap - threshold > roundingBound }
        /// How far from firing (positive: accepted with this much room).
        public var margin: S { threshold + roundingBound - gap }
    }

    /// Kober gap `E − Π` of a window.
    ///
    /// - Throws: as ``GeometricMeanWindow/geometricMean(_:)``.
    public static func gap<S: NormScalar>(_ w: [S]) throws -> S {
        GeometricMeanWindow.arithmeticMean(w) - (try GeometricMeanWindow.geometricMean(w))
    }

    /// The paper's same-window test for one channel's window of positive statistics.
    ///
    /// Rounding bound (derived in `proofs/outlier-filtration.md`): with unit roundoff `u`,
    /// `M` entries and `L = max |log w_i|`, the computed arithmetic mean has relative error at
    /// most `γ_{M+1}`, the log-domain geometric mean at most `(M+2)(1+L)u + O(u²)`, and the
    /// population variance of the square roots (two-pass) an absolute error of at most
    /// `γ_{2M+4} · mean(w)`; so `2(M+3)(2+L)u · M · E(Ω)` bounds the error of `gap − threshold`
    /// with a factor-of-two margin for second-order terms.
    ///
    /// - Throws: as ``GeometricMeanWindow/geometricMean(_:)``.
    public static func sameWindow<S: NormScalar>(_ w: [S]) throws -> Decision<S> {
        let m = S(w.count)
        let gm = try GeometricMeanWindow.geometricMean(w)
        let am = GeometricMeanWindow.arithmeticMean(w)
        let thr = m * GeometricMeanWindow.varianceOfSquareRoots(w, unbiased: false)
        let l = w.reduce(S(0)) { max($0, abs(S.log($1))) }
        let bound = 2 * (m + 3) * (2 + l) * S.unitRoundoff * m * am
        return Decision(gap: am - gm, threshold: thr, roundingBound: bound)
    }

    /// The authors' test for one channel against a precomputed pooled threshold `M·s²`
    /// (naive comparison `am − gm > threshold`, exactly as the code does it).
    ///
    /// - Throws: as ``GeometricMeanWindow/geometricMean(_:)``.
    public static func previousWindow<S: NormScalar>(_ w: [S], threshold: S) throws -> Decision<S> {
        let gm = try GeometricMeanWindow.geometricMean(w)
        let am = GeometricMeanWindow.arithmeticMean(w)
        return Decision(gap: am - gm, threshold: threshold, roundingBound: 0)
    }

    /// The authors' pooled threshold: `M ·` unbiased variance of `sqrt` of all buffer entries.
    public static func pooledThreshold<S: NormScalar>(buffer: [S], window: Int) -> S {
        S(window) * GeometricMeanWindow.varianceOfSquareRoots(buffer, unbiased: true)
    }
}
