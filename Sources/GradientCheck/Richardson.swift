#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Richardson extrapolation of a sequence of finite-difference estimates `D(h_k)`,
/// `h_k = h_0 / r^k`, in the Neville-tableau form of Ridders (1982).
///
/// If `D(h) = D + a_1 h^p + a_2 h^{2p} + …` (`p = 2` for central differences, `p = 1` for
/// one-sided ones), each tableau column eliminates one more term. The error estimate of an
/// entry is the larger of its distances to the two entries it was built from; the best entry is
/// the one with the smallest estimate, and the tableau stops once round-off makes the diagonal
/// grow (`|T_{ii} − T_{i−1,i−1}| ≥ 2 · best error`). That stopping rule is what balances
/// truncation against round-off at the finest step that still helps.
public struct Richardson: Sendable, Equatable {
    /// Step reduction ratio `r` (1.4 in Ridders' method: small enough for a stable tableau).
    public var ratio: Double = 1.4
    /// Maximum number of tableau rows.
    public var maxRows: Int = 12
    /// Power `p` of the leading error term.
    public var exponent: Int
    /// Rows always built before the stopping rule may end the tableau: early entries can agree
    /// by accident far from the limit, and stopping there returns a wrong value with a small
    /// error estimate (seen on LayerNorm when the first step is a sizeable fraction of the
    /// token's spread).
    public var minRows: Int = 6

    public init(exponent: Int, ratio: Double = 1.4, maxRows: Int = 12) {
        self.exponent = exponent
        self.ratio = ratio
        self.maxRows = maxRows
    }

    public struct Outcome: Sendable {
        public var value: [Double]
        /// Per component: the tableau's error estimate for the chosen entry.
        public var error: [Double]
        /// The step of the finest row used for the chosen entry.
        public var step: Double
        public var rows: Int
        /// Worst-case factor by which absolute noise `ε` in the function values reaches the
        /// chosen entry: `ε · amplification` bounds the noise part of its error.
        public var noiseAmplification: Double
    }

    /// Extrapolates `estimate(h)` from `h0` down. `estimate` may throw (its error propagates).
    /// `baseAmplification(h)` is the noise amplification of one base estimate (`1/h` for a
    /// central difference, `2/h` for a one-sided one); the tableau combines them as its
    /// entries are combined, `(fac·A_a + A_b)/(fac − 1)`. `noise` is the absolute noise of the
    /// function values (0: never stop early).
    ///
    /// - Returns: the best tableau entry with its error estimate, step, rows and noise amplification.
    /// - Throws: ``GradientCheckError/invalidOption(name:requirement:)`` for `exponent` outside `1...64`, a
    ///   `noise` that is not finite and ≥ 0, a
    ///   `ratio` outside `(1, 4]` or so close to 1 that `ratio^exponent` rounds to 1, `maxRows` outside
    ///   `2...40` (the estimator's own limits: past them the steps underflow or the extrapolation divides
    ///   by a rounding, and the answer was 0 with an error of 0), a step `h0` that is not finite and > 0;
    ///   ``GradientCheckError/sizeMismatch(what:expected:actual:)`` when `estimate` returns arrays of
    ///   different lengths; otherwise whatever `estimate` throws.
    public func extrapolate(
        from h0: Double, noise: Double = 0, baseAmplification: (Double) -> Double = { 1 / $0 },
        _ estimate: (Double) throws -> [Double]
    ) throws -> Outcome {
        // Bounded: ratio^exponent must be finite (exponent 3000 made it ∞, which passed the check below,
        // and the first, unextrapolated estimate came back with an error of ∞).
        guard (1...64).contains(exponent) else {
            throw GradientCheckError.invalidOption(name: "exponent", requirement: "must be in 1...64, got \(exponent)")
        }
        guard noise.isFinite, noise >= 0 else {
            throw GradientCheckError.invalidOption(name: "noise", requirement: "must be finite and ≥ 0, got \(noise)")
        }
        guard ratio.isFinite, ratio > 1, ratio <= 4 else {
            throw GradientCheckError.invalidOption(name: "ratio", requirement: "must be in (1, 4], got \(ratio)")
        }
        // The extrapolation divides by ratio^exponent − 1: it must be resolved, not a rounding (1 + 2⁻⁵²).
        guard pow(ratio, Double(exponent)) - 1 >= 1e-3 else {
            throw GradientCheckError.invalidOption(
                name: "ratio", requirement: "ratio^exponent − 1 must be ≥ 1e-3, got ratio \(ratio)")
        }
        guard (2...40).contains(maxRows) else {
            throw GradientCheckError.invalidOption(name: "maxRows", requirement: "must be in 2...40, got \(maxRows)")
        }
        guard h0.isFinite, h0 > 0 else {
            throw GradientCheckError.invalidOption(name: "h0", requirement: "must be finite and > 0, got \(h0)")
        }
        var h = h0
        let first = try estimate(h)
        // Every estimate must have the first one's length (zip would silently truncate).
        func checked(_ v: [Double]) throws -> [Double] {
            guard v.count == first.count else {
                throw GradientCheckError.sizeMismatch(what: "estimate", expected: first.count, actual: v.count)
            }
            return v
        }
        var prev: [[Double]] = [first]
        var prevAmp: [Double] = [baseAmplification(h)]
        var bestAmp = prevAmp[0]
        var best = prev[0]
        var bestErr = [Double](repeating: .infinity, count: best.count)
        var bestNorm = Double.infinity
        var bestStep = h
        let base = pow(ratio, Double(exponent))
        var rows = 1
        for _ in 1..<maxRows {
            h /= ratio
            var cur: [[Double]] = [try checked(estimate(h))]
            var curAmp: [Double] = [baseAmplification(h)]
            rows += 1
            var fac = base
            for j in 1...prev.count {
                let a = cur[j - 1]
                let b = prev[j - 1]
                let ext = zip(a, b).map { ($0 * fac - $1) / (fac - 1) }
                let amp = (fac * curAmp[j - 1] + prevAmp[j - 1]) / (fac - 1)
                fac *= base
                let err = zip(ext, zip(a, b)).map { max(abs($0 - $1.0), abs($0 - $1.1)) }
                // The entry is chosen by its whole error: the tableau's estimate plus the noise it
                // carries (a noise-dominated entry at a fine step can agree with its neighbours by
                // chance while carrying far more noise than an entry at a coarser step).
                let norm = (err.max() ?? 0) + amp * noise
                if norm <= bestNorm {
                    bestNorm = norm
                    best = ext
                    bestErr = err
                    bestStep = h
                    bestAmp = amp
                }
                cur.append(ext)
                curAmp.append(amp)
            }
            // Round-off has taken over when the new diagonal moves away from the last one.
            let diag = zip(cur[cur.count - 1], prev[prev.count - 1]).map { abs($0 - $1) }.max() ?? 0
            prev = cur
            prevAmp = curAmp
            // Stop only once round-off rules: the diagonal moves away *and* by no more than the
            // noise the finest entries carry. Stopping on the first move alone (Ridders' rule)
            // trusts accidental early agreements, which were seen to return values 10–100×
            // further off than their error estimate.
            if rows >= min(minRows, maxRows) && diag >= 2 * (bestNorm - bestAmp * noise)
                && diag <= 16 * noise * (curAmp.last ?? 0)
            {
                break
            }
        }
        return Outcome(value: best, error: bestErr, step: bestStep, rows: rows, noiseAmplification: bestAmp)
    }
}
