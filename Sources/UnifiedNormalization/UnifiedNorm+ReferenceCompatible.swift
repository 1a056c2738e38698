/// The authors' `UN1d` step by step (spec section 4). Item numbers refer to that section.
extension UnifiedNorm {
    mutating func referenceForwardStatistics(_ x2: [Scalar]) throws -> (
        variance: [Scalar], r: [Scalar], regime: UnifiedNormRegime
    ) {
        let m = configuration.forwardWindow
        let t = iters
        var skip = m <= 1  // item 6
        // Item 3: pooled unbiased variance of sqrt of all M·C entries, before the write.
        let recordedVar = GeometricMeanWindow.varianceOfSquareRoots(bufferX2, unbiased: true)
        let slot = t % m
        bufferX2.replaceSubrange(slotRange(slot), with: x2)  // item 4
        if t >= configuration.warmupIters && configuration.outlierFiltration {  // item 5
            let threshold = recordedVar * Scalar(m)
            let fires = try (0..<channels).contains { c in
                try OutlierFilter.previousWindow(window(bufferX2, slots: m, channel: c), threshold: threshold).fires
            }
            if fires {
                bufferX2.replaceSubrange(slotRange(slot), with: runningVar)
                skip = true
                skipCounter += 1
            }
        }
        let useCurrent = t <= m || t < configuration.warmupIters || skip  // item 7
        let variance =
            useCurrent
            ? x2
            : try (0..<channels).map {
                try GeometricMeanWindow.geometricMean(window(bufferX2, slots: m, channel: $0))
            }
        // Item 8: gradient compensation factor.
        let r: [Scalar]
        if t <= max(1000, configuration.warmupIters) || skip {
            r = Array(repeating: 1, count: channels)
        } else {
            r = (0..<channels).map { c in
                let v = (variance[c] + eps).squareRoot() / (runningVar[c] + eps).squareRoot()
                return min(max(v, 1 / 5), 5)
            }
        }
        return (variance, r, skip ? .skip : (useCurrent ? .current : .smoothed))
    }

    mutating func referenceBackward(_ dy: TokenBatch<Scalar>, cache: Cache) -> NormGradients<Scalar> {
        let mbp = configuration.backwardWindow
        let t = cache.iteration
        let skip = cache.regime == .skip
        let r = cache.compensation
        let g = RowKernels.channelScale(dy.values, rows: dy.rows, channels: channels, weight, r)  // item 1
        let n = Scalar(dy.rows)
        let gz = RowKernels.columnDot(g, cache.z, rows: dy.rows, channels: channels).map { $0 / n }  // item 2
        bufferGz.replaceSubrange(slotRange(t % mbp), with: skip ? emaGz : gz)  // item 3
        let meanGz: [Scalar]  // item 4
        if t <= mbp || t < configuration.warmupIters || skip {
            meanGz = gz
        } else {
            meanGz = (0..<channels).map {
                GeometricMeanWindow.arithmeticMean(window(bufferGz, slots: mbp, channel: $0))
            }
        }
        for c in 0..<channels { emaGz[c] = emaGz[c] * alpha + (1 - alpha) * meanGz[c] }  // item 5
        let corr = skip ? meanGz : emaGz  // item 6
        let s = cache.variance.map { ($0 + eps).squareRoot() }
        let dx = RowKernels.channelCorrect(
            g, cache.z, rows: dy.rows, channels: channels, correction: corr, divisor: s, mask: nil)
        // Item 7: the weight gradient uses r ⊙ z.
        let p = RowKernels.parameterGradients(dy.values, cache.z, rows: dy.rows, channels: channels, zScale: r)
        return NormGradients(input: dy.with(values: dx), weight: p.weight, bias: p.bias)
    }
}
