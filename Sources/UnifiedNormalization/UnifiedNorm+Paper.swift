/// UN as the paper's section 3 states it, with a calibrated and an exact backward.
extension UnifiedNorm {
    /// Whether iteration `t` smooths: warm-up over and the window full of real statistics.
    func paperSmooths(at t: Int) -> Bool {
        configuration.forwardWindow > 1 && t >= configuration.forwardWindow && t >= configuration.warmupIters
    }

    mutating func paperForwardStatistics(_ x2: [Scalar]) throws -> (
        variance: [Scalar], r: [Scalar], regime: UnifiedNormRegime
    ) {
        let m = configuration.forwardWindow
        let t = iters
        bufferX2.replaceSubrange(slotRange(t % m), with: x2)
        let ones = [Scalar](repeating: 1, count: channels)
        guard paperSmooths(at: t) else { return (x2, ones, m <= 1 ? .skip : .current) }
        if configuration.outlierFiltration {
            let fires = try (0..<channels).contains {
                try OutlierFilter.sameWindow(window(bufferX2, slots: m, channel: $0)).fires
            }
            if fires {
                skipCounter += 1
                return (x2, ones, .skip)
            }
        }
        let gm = try (0..<channels).map {
            try GeometricMeanWindow.geometricMean(window(bufferX2, slots: m, channel: $0))
        }
        return (gm, ones, .smoothed)
    }

    mutating func paperBackward(
        _ dy: TokenBatch<Scalar>, cache: Cache, exact: Bool, reusing storage: inout [Scalar]
    ) -> NormGradients<Scalar> {
        let mbp = configuration.backwardWindow
        let t = cache.iteration
        let g = AffineOutput.scaledGradient(dy, weight: weight)
        let tokens = Scalar(cache.realTokens)
        // g_σ,t = Σ_all G⊙z / T: padded positions are normalized by σ̂ too, so they belong in the
        // sum, while σ² averages over the T real tokens only.
        let gSigma = RowKernels.columnDot(g, cache.z, rows: dy.rows, channels: channels).map { $0 / tokens }
        bufferGz.replaceSubrange(slotRange(t % mbp), with: gSigma)
        let psi: [Scalar]
        switch cache.regime {
        case .current, .skip:
            for c in 0..<channels { emaGz[c] = alpha * emaGz[c] + (1 - alpha) * gSigma[c] }
            psi = gSigma
        case .smoothed:
            let full = t >= mbp
            let meanG =
                full
                ? (0..<channels).map { GeometricMeanWindow.arithmeticMean(window(bufferGz, slots: mbp, channel: $0)) }
                : gSigma
            for c in 0..<channels { emaGz[c] = alpha * emaGz[c] + (1 - alpha) * meanG[c] }
            if exact {
                // ∂σ̂²/∂σ²_t = σ̂² / (M σ²_t) for the geometric mean with the history held fixed.
                let m = Scalar(configuration.forwardWindow)
                psi = (0..<channels).map { c in
                    let s2 = cache.currentStatistic[c]
                    // A zero-variance channel has z = 0 on every real token: the term vanishes.
                    // The ratio first: σ̂²/σ²_t is of order 1 where σ̂² and g_σ alone may be huge.
                    return s2 > 0 ? gSigma[c] * (cache.variance[c] / s2) / m : 0
                }
            } else {
                psi = emaGz
            }
        }
        let s = cache.variance.map { RowKernels.rootOfSum($0, eps) }
        let dx = RowKernels.channelCorrect(
            g, cache.z, rows: dy.rows, channels: channels, correction: psi, divisor: s, mask: dy.padMask,
            reusing: &storage)
        let p = AffineOutput.parameterGradients(dy, z: cache.z)
        return NormGradients(input: dy.withUnchecked(values: dx), weight: p.weight, bias: p.bias)
    }
}
