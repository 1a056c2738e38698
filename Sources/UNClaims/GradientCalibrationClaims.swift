import ExactArithmetic
import GradientCheck
import UnifiedNormalization

/// Claims G1–G4: the gradient-calibration identities (spec section 5).
public enum GradientCalibrationClaims {
    static func gamma(_ n: Int, _ u: Double = Double.ulpOfOne / 2) -> Double { RoundingError.gamma(n, unitRoundoff: u) }

    /// Slack of a checker result: `min (allowed − |error|)/allowed` over entries.
    static func checkerMargin(_ r: CheckResult) -> Double {
        r.entries.filter { $0.verdict != .inconclusive }.map {
            $0.allowed > 0 ? ($0.allowed - $0.absoluteError) / $0.allowed : ($0.absoluteError == 0 ? 1 : -1)
        }.min() ?? 1
    }

    // MARK: G1

    public struct G1Case: Sendable, CustomStringConvertible {
        public var layer: ExactLayer
        public var data: LayerCase
        public init(layer: ExactLayer, data: LayerCase) {
            self.layer = layer
            self.data = data
        }
        public var description: String { "\(layer.rawValue): \(data)" }
    }

    public static func unifiedBackwardIsExact(_ c: G1Case) throws -> ClaimOutcome {
        let r = try c.layer.gradients(c.data, checker: GradientChecker())
        return ClaimOutcome([
            ClaimCheck(
                "\(c.layer.rawValue) backward = numerical gradient", holds: r.passed, margin: checkerMargin(r),
                decided: r.outcome != .inconclusive)
        ])
    }

    public static let g1 = Claim<G1Case>(
        id: "G1", title: "The unified backward is the exact gradient with identity averaging",
        statement:
            """
            With identity averaging and exact ψ (ψ_μ = mean(G), ψ_σ = mean(G⊙Z)), the unified backward (G − ψ_μ − \
            Z⊙ψ_σ)/sqrt(σ̂²+ε) equals the exact gradient for LayerNorm, BatchNorm, RMSNorm and UN with window 1, \
            with and without padding.
            """,
        symbols: "∂L/∂X = (G − ψ_μ − Z⊙ψ_σ)/sqrt(σ² + ε) = ∇_X ⟨∂L/∂Y, Y(X)⟩",
        proof: "proofs/gradient-calibration.md#g1",
        generate: { rng in
            G1Case(
                layer: ExactLayer.allCases[Int.random(in: 0..<ExactLayer.allCases.count, using: &rng)],
                data: LayerCase.random(&rng))
        }, check: unifiedBackwardIsExact)

    // MARK: G2

    public static func invarianceResiduals(_ c: G1Case) throws -> ClaimOutcome {
        let d = c.data
        let x: TokenBatch<Double> = try d.input()
        let dy: TokenBatch<Double> = try d.gradient()
        let ch = d.channels
        var checks: [ClaimCheck] = []
        // Checks |lhs − rhs| against γ_k Σ|terms| (derivation in proofs/gradient-calibration.md#g2).
        func identity(_ name: String, lhsTerms: [Double], rhs: Double, rhsMagnitude: Double, termCount n: Int) {
            let lhs = lhsTerms.reduce(0, +)
            let bound =
                gamma(3 * n + 12) * (lhsTerms.map(abs).reduce(0, +) + rhsMagnitude) + Double.leastNormalMagnitude
            checks.append(ClaimCheck(name, margin: 1 - abs(lhs - rhs) / bound))
        }
        switch c.layer {
        case .layerNorm, .rmsNorm:
            let centered = c.layer == .layerNorm
            var l: any NormalizationLayer =
                centered
                ? try LayerNorm<Double>(channels: ch, eps: d.eps) as any NormalizationLayer
                : try RMSNorm<Double>(channels: ch, eps: d.eps)
            let (dx, z, s) = try runTokenwise(&l, x, dy)
            for r in 0..<x.rows {
                let row = (r * ch)..<((r + 1) * ch)
                let xs = Array(x.values[row])
                let dxs = Array(dx[row])
                let zs = Array(z[row])
                let gs = Array(dy.values[row])
                let mu = centered ? xs.reduce(0, +) / Double(ch) : 0
                let v = xs.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(ch)
                let mgz = zip(gs, zs).reduce(0.0) { $0 + $1.0 * $1.1 } / Double(ch)
                // Magnitude of each dx entry's terms, for its own rounding: (|G| + |mean G| + |z||mean Gz|)/s.
                // Magnitudes of the terms behind each dx entry (means of absolute values: the sums
                // inside mean(G) and mean(Gz) may cancel, their rounding does not).
                let mg = gs.reduce(0.0) { $0 + abs($1) } / Double(ch)
                let mgzAbs = zip(gs, zs).reduce(0.0) { $0 + abs($1.0 * $1.1) } / Double(ch)
                // The computed mean is off by up to γ·mean|x|, which shifts every z by that over s:
                // that error reaches dx through z·mean(Gz) and through mean(Gz) itself.
                let zShift = (centered ? xs.reduce(0.0) { $0 + abs($1) } / Double(ch) : 0) / s[r]
                let mags = (0..<ch).map {
                    (abs(gs[$0]) + mg + abs(zs[$0]) * mgzAbs + zShift * (mgzAbs + abs(zs[$0]) * mg)) / s[r]
                }
                if centered {
                    identity(
                        "LN row \(r): Σ dx = 0", lhsTerms: dxs, rhs: 0, rhsMagnitude: mags.reduce(0, +), termCount: ch)
                }
                let y = xs.map { $0 - mu }
                let rhs = Double(ch) * d.eps / (v + d.eps) * mgz
                // x − μ itself is computed: its error is γ·mean|x| per entry, whatever its size.
                let meanAbsX = xs.reduce(0.0) { $0 + abs($1) } / Double(ch)
                identity(
                    "\(c.layer.rawValue) row \(r): ⟨dx, x − μ⟩ = C ε/(v+ε)·mean(Gz)",
                    lhsTerms: zip(dxs, y).map { $0 * $1 },
                    rhs: rhs,
                    rhsMagnitude: zip(mags, y).reduce(0.0) { $0 + $1.0 * abs($1.1) } + abs(rhs)
                        + (centered ? dxs.reduce(0.0) { $0 + abs($1) } * meanAbsX : 0), termCount: ch)
            }
        case .batchNorm, .unWindow1, .unCalibratedWindow1:
            let isBN = c.layer == .batchNorm
            var dx: [Double]
            var z: [Double]
            if isBN {
                var l = try BatchNorm<Double>(channels: ch, eps: d.eps)
                let (y, cache) = try l.forwardTraining(x)
                dx = try l.backward(dy, cache: cache).input.values
                z = y.values
            } else {
                var l = try UnifiedNorm<Double>(
                    configuration: .init(channels: ch, forwardWindow: 1, warmupIters: 0, eps: d.eps),
                    mode: .paper(.exact))
                let (y, cache) = try l.forwardTraining(x)
                dx = try l.backward(dy, cache: cache).input.values
                z = y.values
            }
            let t = Double(x.realTokenCount)
            for j in 0..<ch {
                let idx = (0..<x.rows).map { $0 * ch + j }
                let real = (0..<x.rows).filter { x.isReal(row: $0) }.map { $0 * ch + j }
                let mu = isBN ? real.reduce(0.0) { $0 + x.values[$1] } / t : 0
                let v = real.reduce(0.0) { $0 + (x.values[$1] - mu) * (x.values[$1] - mu) } / t
                let s = (v + d.eps).squareRoot()
                let sgz = idx.reduce(0.0) { $0 + dy.values[$1] * z[$1] }
                let sg = idx.reduce(0.0) { $0 + abs(dy.values[$1]) }
                let sgzAbs = idx.reduce(0.0) { $0 + abs(dy.values[$1] * z[$1]) }
                let zShift = (isBN ? real.reduce(0.0) { $0 + abs(x.values[$1]) } / t : 0) / s
                let mags = idx.map {
                    (abs(dy.values[$0]) + (sg + abs(z[$0]) * sgzAbs) / t + zShift * (sgzAbs + abs(z[$0]) * sg) / t) / s
                }
                let n = x.rows
                if isBN {
                    identity(
                        "BN channel \(j): Σ_all dx = 0", lhsTerms: idx.map { dx[$0] }, rhs: 0,
                        rhsMagnitude: mags.reduce(0, +), termCount: n)
                }
                let y = idx.map { x.values[$0] - mu }
                let rhs = sgz * d.eps / (v + d.eps)
                let dxMu = isBN ? idx.reduce(0.0) { $0 + abs(dx[$1]) } * zShift * s : 0
                identity(
                    "\(isBN ? "BN" : "UN") channel \(j): ⟨dx, x − μ⟩ = (Σ G z)·ε/(σ²+ε)",
                    lhsTerms: zip(idx, y).map { dx[$0] * $1 },
                    rhs: rhs,
                    rhsMagnitude: zip(mags, y).reduce(0.0) { $0 + $1.0 * abs($1.1) } + abs(rhs) + sgzAbs * d.eps
                        / (v + d.eps) + dxMu, termCount: n)
            }
        }
        return ClaimOutcome(checks)
    }

    static func runTokenwise(_ l: inout any NormalizationLayer, _ x: TokenBatch<Double>, _ dy: TokenBatch<Double>)
        throws -> ([Double], [Double], [Double])
    {
        func run<L: NormalizationLayer>(_ layer: L) throws -> ([Double], [Double]) {
            var copy = layer
            let xx = x as! TokenBatch<L.Scalar>
            let dd = dy as! TokenBatch<L.Scalar>
            let (y, cache) = try copy.forwardTraining(xx)
            let g = try copy.backward(dd, cache: cache)
            return (g.input.values.map { Double($0) }, y.values.map { Double($0) })
        }
        let (dx, z) = try run(l)
        let ch = x.channels
        let centered = l is LayerNorm<Double>
        let s = (0..<x.rows).map { r -> Double in
            let xs = x.values[(r * ch)..<((r + 1) * ch)]
            let mu = centered ? xs.reduce(0, +) / Double(ch) : 0
            let eps = (l as? LayerNorm<Double>)?.eps ?? (l as? RMSNorm<Double>)?.eps ?? 0
            return (xs.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(ch) + eps).squareRoot()
        }
        return (dx, z, s)
    }

    public static let g2 = Claim<G1Case>(
        id: "G2", title: "Invariance identities and their ε residual",
        statement:
            """
            Shift invariance of the forward makes the exact gradient orthogonal to the constant vector along the \
            normalization axes (LayerNorm per token, BatchNorm per channel over all positions); scale invariance \
            makes it orthogonal to the centred input at ε = 0, and with ε > 0 the residual is the closed form \
            (Σ G⊙z)·ε/(σ²+ε).
            """,
        symbols: "⟨∂L/∂x, 1⟩ = 0,   ⟨∂L/∂x, x − μ⟩ = (Σ G⊙z)·ε/(σ² + ε)",
        proof: "proofs/gradient-calibration.md#g2",
        generate: { rng in
            let layers: [ExactLayer] = [.layerNorm, .rmsNorm, .batchNorm, .unWindow1]
            return G1Case(layer: layers[Int.random(in: 0..<layers.count, using: &rng)], data: LayerCase.random(&rng))
        }, check: invarianceResiduals)

    // MARK: G3

    public struct StationaryCase: Sendable, CustomStringConvertible {
        public var window: Int
        public var data: LayerCase
        public init(window: Int, data: LayerCase) {
            self.window = window
            self.data = data
        }
        public var description: String { "M = \(window): \(data)" }
    }

    public static func calibration(_ c: StationaryCase) throws -> ClaimOutcome {
        let d = c.data
        let m = c.window
        let x: TokenBatch<Double> = try d.input()
        let dy: TokenBatch<Double> = try d.gradient()
        let ch = d.channels
        // The window-1 exact normalization at the same point: its statistics and backward.
        var one = try UnifiedNorm<Double>(
            configuration: .init(channels: ch, forwardWindow: 1, warmupIters: 0, eps: d.eps), mode: .paper(.exact))
        let (y1, c1) = try one.forwardTraining(x)
        let dx1 = try one.backward(dy, cache: c1).input.values
        let z1 = y1.values
        let x2 = (0..<ch).map { j in
            (0..<x.rows).filter { x.isReal(row: $0) }.reduce(0.0) { $0 + x.values[$1 * ch + j] * x.values[$1 * ch + j] }
                / Double(x.realTokenCount)
        }
        let gs = (0..<ch).map { j in
            (0..<x.rows).reduce(0.0) { $0 + dy.values[$1 * ch + j] * z1[$1 * ch + j] } / Double(x.realTokenCount)
        }
        // The stationary regime, built deliberately: every window statistic equal to the current
        // one, the g_σ history equal to the current g_σ, the moving average converged.
        func stationary(_ mode: UnifiedNormMode) throws -> UnifiedNorm<Double> {
            var l = try UnifiedNorm<Double>(
                configuration: .init(channels: ch, forwardWindow: m, warmupIters: 0, eps: d.eps), mode: mode)
            try l.setState(
                runningVar: x2, emaGz: gs, bufferX2: Array((0..<m).map { _ in x2 }.joined()),
                bufferGz: Array((0..<m).map { _ in gs }.joined()), iters: 10 * m)
            return l
        }
        var cal = try stationary(.paper(.calibrated))
        let (_, cc) = try cal.forwardTraining(x)
        let dxc = try cal.backward(dy, cache: cc).input.values
        var checks: [ClaimCheck] = []
        // (a) calibrated = window-1 exact. Each entry is (G − ψ z)/s with ψ and s equal up to
        // the rounding of the geometric mean of equal values (K4: ≤ (M+2)·min(|ln σ²|, ln2/2)+5 ulps) and of
        // the moving average (≤ γ_3): bound γ_k (|G| + |ψ z|)/s with k = (M+2)(|ln σ²|+1)+16.
        var worst = Double.infinity
        for i in dx1.indices {
            let j = i % ch
            let s = (x2[j] + d.eps).squareRoot()
            let k = Double(m + 2) * (abs(Double.log(max(x2[j], .leastNormalMagnitude))) + 1) + 16
            let bound = k * Double.ulpOfOne * (abs(dy.values[i]) + abs(gs[j] * z1[i])) / s + Double.leastNormalMagnitude
            worst = min(worst, 1 - abs(dxc[i] - dx1[i]) / bound)
        }
        checks.append(ClaimCheck("calibrated backward = window-1 exact gradient", margin: worst))
        // (b) the smoothed forward's own exact gradient: checker against the exact mode, and its
        // correction term is M times smaller: ψ_exact = g_σ/M.
        let ex = try stationary(.paper(.exact))
        var exRun = ex
        let (_, ce) = try exRun.forwardTraining(x)
        let dxe = try exRun.backward(dy, cache: ce).input.values
        let r = try GradientChecker().checkGradient(
            of: { v in
                var copy = ex
                let y = try copy.forwardTraining(x.with(values: v)).output
                return zip(y.values, dy.values).reduce(0.0) { $0 + $1.0 * $1.1 }
            }, at: x.values, gradient: dxe,
            termMagnitudes: ExactLayer.unWindow1.termMagnitudes(x, dy: dy, z: z1, eps: d.eps))
        checks.append(
            ClaimCheck(
                "exact-mode backward = numerical gradient of the smoothed forward", holds: r.passed,
                margin: checkerMargin(r),
                decided: r.outcome != .inconclusive))
        // Correction terms: (G/s − dx)·s/z = ψ on real tokens with z ≠ 0.
        var ratioWorst = Double.infinity
        for i in dx1.indices where x.isReal(row: i / ch) && abs(z1[i]) > 0.1 {
            let j = i % ch
            let s = (x2[j] + d.eps).squareRoot()
            let psiCal = (dy.values[i] / s - dxc[i]) * s / z1[i]
            let psiEx = (dy.values[i] / s - dxe[i]) * s / z1[i]
            guard abs(gs[j]) > 1e-3 * (abs(dy.values[i]) / abs(z1[i])) else { continue }
            // Relative rounding of the recovered ψ: cancellation in G/s − dx, ≤ γ_k |G|/|ψ z|.
            let rel =
                64 * Double(m + 2) * Double.ulpOfOne * (abs(dy.values[i]) + abs(gs[j] * z1[i])) / abs(gs[j] * z1[i])
            let dev = abs(psiCal / psiEx - Double(m)) / Double(m)
            ratioWorst = min(ratioWorst, 1 - dev / rel)
        }
        if ratioWorst.isFinite { checks.append(ClaimCheck("ψ_calibrated / ψ_exact = M", margin: ratioWorst)) }
        return ClaimOutcome(checks)
    }

    public static let g3 = Claim<StationaryCase>(
        id: "G3", title: "Calibration in the stationary regime",
        statement:
            """
            When every window statistic equals the current one, the g_σ history equals the current g_σ and the \
            moving average has converged, UN's calibrated backward equals the exact gradient of the window-1 \
            normalization at the same point, while the exact gradient of UN's own smoothed forward has a \
            correction term M times smaller.
            """,
        symbols:
            "σ²_{t−i} = σ²_t, g_σ,t−i = g_σ,t, ψ = g_σ  ⇒  ∂L/∂X|_cal = ∇(window-1);  "
            + "ψ_exact = g_σ σ̂²/(M σ²_t) = g_σ/M",
        proof: "proofs/gradient-calibration.md#g3",
        generate: { rng in StationaryCase(window: Int.random(in: 2...6, using: &rng), data: LayerCase.random(&rng)) },
        check: calibration)

    // MARK: G4

    public struct ConvergenceCase: Sendable, CustomStringConvertible {
        public var data: LayerCase
        public var momentum: Double
        public var steps: Int
        public init(data: LayerCase, momentum: Double, steps: Int) {
            self.data = data
            self.momentum = momentum
            self.steps = steps
        }
        public var description: String { "α = \(momentum), \(steps) steps: \(data)" }
    }

    public static func convergence(_ c: ConvergenceCase) throws -> ClaimOutcome {
        let d = c.data
        let x: TokenBatch<Double> = try d.input()
        let dy: TokenBatch<Double> = try d.gradient()
        // Warm-up regime of the calibrated paper mode: ψ ← α ψ + (1−α) g_σ with g_σ the same each step.
        var l = try UnifiedNorm<Double>(
            configuration: .init(
                channels: d.channels, forwardWindow: 2, warmupIters: 1_000_000, eps: d.eps, momentum: c.momentum),
            mode: .paper(.calibrated))
        let a = Rational(exactly: c.momentum)!
        var checks: [ClaimCheck] = []
        let psi0: [Rational] = l.emaGz.map { Rational(exactly: $0)! }
        var cvals: [Double] = []
        for t in 1...c.steps {
            let (_, cache) = try l.forwardTraining(x)
            _ = try l.backward(dy, cache: cache)
            if t == 1 {
                // The update from ψ_0 = 0 gives ψ_1 = fl((1−α) c): recover the float c the layer used.
                cvals = l.emaGz.map { $0 / (1 - c.momentum) }
            }
            guard t == c.steps || t % 10 == 0 else { continue }
            // Exact recurrence: ψ_t − c = α^t (ψ_0 − c).
            let at = try a.power(t)
            for j in 0..<d.channels {
                let cr = Rational(exactly: cvals[j])!
                let exact = cr + at * (psi0[j] - cr)
                // Float error: each step adds ≤ γ_3 max(|ψ|,|c|), contracted by α: ≤ γ_3 max/(1−α),
                // plus the recovery of c from ψ_1 (≤ 2u|c|/(1−α)).
                let mag = max(abs(cvals[j]), abs(l.emaGz[j]))
                let bound = (gamma(3) + 2 * Double.ulpOfOne) * mag / (1 - c.momentum) * 2 + Double.leastNormalMagnitude
                let err = abs(l.emaGz[j] - exact.doubleValue)
                checks.append(
                    ClaimCheck("t = \(t), channel \(j): |ψ_t − c − α^t(ψ_0 − c)| within bound", margin: 1 - err / bound)
                )
            }
        }
        // The identity itself, exactly, for ψ_0 ≠ 0: unroll the recurrence in rationals.
        let cr = Rational(exactly: 0.37)!
        let p0 = Rational(exactly: -1.25)!
        var p = p0
        for _ in 1...c.steps { p = a * p + (.one - a) * cr }
        let exactOK = try p - cr == a.power(c.steps) * (p0 - cr)
        checks.append(
            ClaimCheck("ψ_t − c = α^t (ψ_0 − c) (exact, rational α)", holds: exactOK, margin: exactOK ? 1 : -1))
        return ClaimOutcome(checks)
    }

    public static let g4 = Claim<ConvergenceCase>(
        id: "G4", title: "The moving average of g_σ converges geometrically",
        statement:
            """
            Under a constant g_σ = c, the moving average ψ_t = α ψ_{t−1} + (1−α) c satisfies |ψ_t − c| = α^t |ψ_0 \
            − c|; the implementation follows it within a derived rounding bound.
            """,
        symbols: "ψ_t − c = α^t (ψ_0 − c)",
        proof: "proofs/gradient-calibration.md#g4",
        generate: { rng in
            ConvergenceCase(
                data: LayerCase.random(&rng, padded: false),
                momentum: [0.9, 0.5, 0.99, 0.0][Int.random(in: 0..<4, using: &rng)],
                steps: Int.random(in: 5...40, using: &rng))
        }, check: convergence)
}
