/// The authors' `UN1d` step by step (spec section 4). Item numbers refer to that section.
extension UnifiedNorm {
    mutating func referenceForwardStatistics(_ x2: [Scalar]) throws -> (
        variance: [Scalar], r: [Scalar], regime: UnifiedNormRegime
    ) {
        let m = configuration.forwardWindow
        let d = deviations
        let t = d.contains(.counterAfterStep) ? iters - 1 : iters
        let warmup = d.contains(.noWarmup) ? 0 : configuration.warmupIters
        var skip = m <= 1  // item 6
        // Item 3: pooled unbiased variance of sqrt of all M·C entries, before the write.
        func thresholds() -> [Scalar] {
            let unbiased = !d.contains(.biasedThreshold)
            if d.contains(.perChannelThreshold) {
                return (0..<channels).map {
                    Scalar(m)
                        * GeometricMeanWindow.varianceOfSquareRoots(
                            window(bufferX2, slots: m, channel: $0), unbiased: unbiased)
                }
            }
            let v = GeometricMeanWindow.varianceOfSquareRoots(bufferX2, unbiased: unbiased)
            return Array(repeating: v * Scalar(m), count: channels)
        }
        var threshold = d.contains(.sameWindowThreshold) ? [] : thresholds()
        let before = bufferX2
        let slot = t % m
        bufferX2.replaceSubrange(slotRange(slot), with: x2)  // item 4
        if t >= warmup && configuration.outlierFiltration {  // item 5
            if d.contains(.sameWindowThreshold) { threshold = thresholds() }
            let fires = try (0..<channels).contains { c in
                try OutlierFilter.previousWindow(window(bufferX2, slots: m, channel: c), threshold: threshold[c]).fires
            }
            if fires {
                if !d.contains(.noSlotRewriteOnSkip) { bufferX2.replaceSubrange(slotRange(slot), with: runningVar) }
                skip = true
                skipCounter += 1
            }
        }
        let useCurrent = (d.contains(.smoothingFromFullWindow) ? t < m : t <= m) || t < warmup || skip  // item 7
        let variance =
            useCurrent
            ? x2
            : try (0..<channels).map {
                try GeometricMeanWindow.geometricMean(
                    window(d.contains(.currentOutsideWindow) ? before : bufferX2, slots: m, channel: $0))
            }
        // Item 8: gradient compensation factor.
        let r: [Scalar]
        let start = d.contains(.compensationFromWarmup) ? warmup : max(1000, warmup)
        if t <= start || skip || d.contains(.noCompensation) {
            r = Array(repeating: 1, count: channels)
        } else {
            r = (0..<channels).map { c in
                let v = RowKernels.rootOfSum(variance[c], eps) / RowKernels.rootOfSum(runningVar[c], eps)
                return d.contains(.noCompensationClamp) ? v : min(max(v, 1 / 5), 5)
            }
        }
        return (variance, r, skip ? .skip : (useCurrent ? .current : .smoothed))
    }

    mutating func referenceBackward(
        _ dy: TokenBatch<Scalar>, cache: Cache, reusing storage: inout [Scalar]
    ) -> NormGradients<Scalar> {
        let mbp = configuration.backwardWindow
        let d = deviations
        let t = d.contains(.counterAfterStep) ? cache.iteration - 1 : cache.iteration
        let warmup = d.contains(.noWarmup) ? 0 : configuration.warmupIters
        let skip = cache.regime == .skip
        let r = cache.compensation
        let n = Scalar(d.contains(.backwardMeansOverRealTokens) ? cache.realTokens : dy.rows)
        let overReal = d.contains(.backwardMeansOverRealTokens) && dy.padMask != nil
        // Item 1: g = ∂L/∂Y ⊙ γ ⊙ r. Where item 2's mean runs over every row, Σ g⊙z = γ r Σ ∂L/∂Y⊙z is
        // the sum the weight gradient needs too, so g is never stored: one pass gives both sums and
        // one more writes ∂L/∂X (five tensor passes instead of nine).
        let a = (0..<channels).map { weight[$0] * r[$0] }
        let plain = RowKernels.parameterGradients(
            dy.values, cache.z, rows: dy.rows, channels: channels, zScale: [Scalar](repeating: 1, count: channels))
        let g = overReal ? RowKernels.channelScale(dy.values, rows: dy.rows, channels: channels, weight, r) : []
        let gz =
            overReal
            ? RowKernels.columnDot(g, cache.z, rows: dy.rows, channels: channels, mask: dy.padMask).map { $0 / n }
            : (0..<channels).map { a[$0] * plain.weight[$0] / n }  // item 2
        bufferGz.replaceSubrange(slotRange(t % mbp), with: skip ? emaGz : gz)  // item 3
        let meanGz: [Scalar]  // item 4
        if t <= mbp || t < warmup || skip {
            meanGz = gz
        } else {
            meanGz = (0..<channels).map {
                GeometricMeanWindow.arithmeticMean(window(bufferGz, slots: mbp, channel: $0))
            }
        }
        let previous = emaGz
        let (keep, take) = d.contains(.pytorchMomentum) ? (1 - alpha, alpha) : (alpha, 1 - alpha)
        let seeded = d.contains(.movingAverageSeeded) && cache.iteration == 1
        for c in 0..<channels { emaGz[c] = seeded ? meanGz[c] : emaGz[c] * keep + take * meanGz[c] }  // item 5
        var corr = skip ? meanGz : (d.contains(.correctionWithPreviousAverage) ? previous : emaGz)  // item 6
        if d.contains(.exactGradientThroughSmoothing) && cache.regime == .smoothed {
            let mw = Scalar(configuration.forwardWindow)
            corr = (0..<channels).map { c in
                let s2 = cache.currentStatistic[c]
                return s2 > 0 ? gz[c] * (cache.variance[c] / s2) / mw : 0  // the ratio first (range)
            }
        }
        let s = cache.variance.map { RowKernels.rootOfSum($0, eps) }
        let dx =
            overReal
            ? RowKernels.channelCorrect(
                g, cache.z, rows: dy.rows, channels: channels, correction: corr, divisor: s, mask: nil,
                reusing: &storage)
            : RowKernels.channelCorrectScaled(
                dy.values, cache.z, rows: dy.rows, channels: channels, scale: a, correction: corr, divisor: s,
                reusing: &storage)
        // Item 7: the weight gradient uses r ⊙ z: Σ ∂L/∂Y ⊙ r z = r Σ ∂L/∂Y ⊙ z.
        let gw =
            d.contains(.weightGradientWithoutCompensation)
            ? plain.weight : (0..<channels).map { r[$0] * plain.weight[$0] }
        return NormGradients(input: dy.withUnchecked(values: dx), weight: gw, bias: plain.bias)
    }
}
