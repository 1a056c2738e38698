/// Shared arithmetic of the layers whose statistics are taken per token over its channels
/// (LayerNorm, RMSNorm, and PowerNorm's group scaling).
enum TokenwiseNormalization {
    /// Normalizes every token over contiguous channel groups of size `groupSize` and applies the
    /// affine map: `y = w ⊙ z + b` (`w = 1`, `b = 0` when not given). Returns `y`, `z` (empty
    /// unless `keepZ`), the per-(token, group) scale `s = sqrt(stat + ε)`, and the flat index of
    /// the first non-finite input (the outputs are then unspecified).
    ///
    /// `centered`: LayerNorm (`stat` = variance, subtract the mean); otherwise RMS (`stat` =
    /// mean square, no centering). Each group takes the vectorized path of ``RowKernels`` where
    /// that provably loses nothing, and the careful path otherwise.
    ///
    /// The careful path is range-safe: each group is scaled by a power of two (exact) before its
    /// sums, so no square or sum overflows or underflows where the inputs and outputs are
    /// representable (a token of size 1e30 in Float once normalized to zeros). With
    /// `x = x'·2^e` (`max|x'|` in [1/2, 1)), `s² = m2'·2^{2e} + ε` is evaluated as
    /// `2^{2k}(m2'·2^{2(e−k)} + ε·2^{−2k})` with `k` the exponent of the larger term, so both
    /// terms are at most a few units and one is of order 1.
    static func forward<S: NormScalar>(
        _ x: [S], rows: Int, channels: Int, groupSize: Int, centered: Bool, eps: S,
        weight: [S]? = nil, bias: [S]? = nil, keepZ: Bool = true
    ) -> (y: [S], z: [S], scale: [S], firstNonFinite: Int?, firstOverflow: Int?) {
        var storage = [S]()
        return forward(
            x, rows: rows, channels: channels, groupSize: groupSize, centered: centered, eps: eps, weight: weight,
            bias: bias, keepZ: keepZ, reusing: &storage)
    }

    /// ``forward(_:rows:channels:groupSize:centered:eps:weight:bias:keepZ:)`` writing `y` into
    /// `storage`'s buffer when it holds `x.count` entries and is not shared (no allocation: a
    /// fresh 4 MB array costs a thousand page faults, more than the kernel); `storage` is left empty.
    static func forward<S: NormScalar>(
        _ x: [S], rows: Int, channels: Int, groupSize: Int, centered: Bool, eps: S,
        weight: [S]? = nil, bias: [S]? = nil, keepZ: Bool = true, reusing storage: inout [S]
    ) -> (y: [S], z: [S], scale: [S], firstNonFinite: Int?, firstOverflow: Int?) {
        let groups = channels / groupSize
        let w = weight ?? [S](repeating: 1, count: channels)
        let b = bias ?? [S](repeating: 0, count: channels)
        var scale = [S](repeating: 0, count: rows * groups)
        var bad: Int?
        var over: Int?
        var z = [S]()
        var y = RowKernels.output(x.count, reusing: &storage)
        let wide = RowKernels.wide
        y.withUnsafeMutableBufferPointer { yb in
            x.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    b.withUnsafeBufferPointer { bb in
                        scale.withUnsafeMutableBufferPointer { sb in
                            z = [S](unsafeUninitializedCapacity: keepZ ? x.count : 0) { zb, zcount in
                                zcount = keepZ ? x.count : 0
                                let xp = xb.baseAddress!
                                let yp = yb.baseAddress!
                                let sp = sb.baseAddress!
                                let zp = keepZ ? zb.baseAddress : nil  // an empty array may still have an address
                                let wp = wb.baseAddress!
                                let bp = bb.baseAddress!
                                // Per chunk: the first non-finite input and the first group whose
                                // output left the range (w·z + b can overflow where z cannot), each
                                // group probed while it is in cache.
                                let firsts = RowKernels.chunked(rows, cost: channels) { lo, hi -> (Int?, Int?) in
                                    var first: Int?
                                    var overflow: Int?
                                    // Scratch for the careful path, allocated only if a group takes it.
                                    var work = [S]()
                                    for r in lo..<hi {
                                        for g in 0..<groups {
                                            let o = r * channels + g * groupSize
                                            if let (s, finite) = RowKernels.normalizeGroup(
                                                xp + o, groupSize, centered: centered, eps: eps,
                                                weight: wp + g * groupSize, bias: bp + g * groupSize, y: yp + o,
                                                z: zp.map { $0 + o }, wide: wide)
                                            {
                                                sp[r * groups + g] = s
                                                if overflow == nil, !finite { overflow = o }
                                                continue
                                            }
                                            if let i = (0..<groupSize).first(where: { !xp[o + $0].isFinite }) {
                                                first = first ?? (o + i)
                                                (yp + o).initialize(repeating: 0, count: groupSize)
                                                continue
                                            }
                                            if work.isEmpty { work = [S](repeating: 0, count: 2 * groupSize) }
                                            work.withUnsafeMutableBufferPointer { wk in
                                                let zs = zp.map { $0 + o } ?? (wk.baseAddress! + groupSize)
                                                sp[r * groups + g] = carefulGroup(
                                                    xp + o, groupSize, centered: centered, eps: eps,
                                                    scratch: wk.baseAddress!, z: zs)
                                                for k in 0..<groupSize {
                                                    yp[o + k] = wp[g * groupSize + k] * zs[k] + bp[g * groupSize + k]
                                                }
                                                if overflow == nil, !RowKernels.allFinite(yp + o, groupSize) {
                                                    overflow = o
                                                }
                                            }
                                        }
                                    }
                                    return (first, overflow)
                                }
                                bad = firsts.compactMap { $0.0 }.first
                                over = firsts.compactMap { $0.1 }.first
                            }
                        }
                    }
                }
            }
        }
        return (y, z, scale, bad, over)
    }

    /// The careful path for one group (see ``forward``): writes `z`, returns `s`.
    static func carefulGroup<S: NormScalar>(
        _ x: UnsafePointer<S>, _ n: Int, centered: Bool, eps: S, scratch xs: UnsafeMutablePointer<S>,
        z: UnsafeMutablePointer<S>
    ) -> S {
        var big: S = 0
        for k in 0..<n { big = max(big, abs(x[k])) }
        let e = big > 0 ? Int(big.exponent) + 1 : 0
        for k in 0..<n { xs[k] = scaled(x[k], -e) }
        var mean: S = 0
        if centered {
            for k in 0..<n { mean += xs[k] }
            mean /= S(n)
        }
        var m2: S = 0
        for k in 0..<n {
            let d = xs[k] - mean
            m2 += d * d
        }
        m2 /= S(n)
        // kk: the exponent of the larger of m2'·2^{2e} and ε, halved (s is their root).
        let epsHalf = Int(eps.exponent) / 2
        let kk = m2 > 0 && Int(m2.exponent) / 2 + e >= epsHalf ? Int(m2.exponent) / 2 + e : epsHalf
        let sp = (scaled(m2, 2 * (e - kk)) + scaled(eps, -2 * kk)).squareRoot()
        for k in 0..<n { z[k] = scaled((xs[k] - mean) / sp, e - kk) }
        return scaled(sp, kk)
    }

    /// `v · 2^k`, correctly rounded (exact unless the result leaves the normal range).
    @inline(__always)
    static func scaled<S: NormScalar>(_ v: S, _ k: Int) -> S {
        v == 0 || !v.isFinite ? v : S(sign: .plus, exponent: S.Exponent(k), significand: v)
    }

    /// Exact backward of `forward`: given `∂L/∂y` (`dy`) and the affine weight `w` (1 when not
    /// given), returns `∂L/∂x` and the flat index of the first non-finite `dy`, if any.
    ///
    /// Per group, with `G = w ⊙ dy` and means over the group's `n` channels:
    /// `∂L/∂x = (G − mean(G) − z ⊙ mean(G ⊙ z)) / s` (centered), or
    /// `∂L/∂x = (G − z ⊙ mean(G ⊙ z)) / s` (RMS).
    ///
    /// The careful path is range-safe as `forward`'s: `G` is scaled by a power of two per group,
    /// and `s = m·2^E` is divided by through its significand, the exponents applied once at the end.
    static func backward<S: NormScalar>(
        _ dy: [S], weight: [S]? = nil, z: [S], scale: [S], rows: Int, channels: Int,
        groupSize: Int, centered: Bool
    ) -> (dx: [S], firstNonFinite: Int?) {
        let groups = channels / groupSize
        let w = weight ?? [S](repeating: 1, count: channels)
        var bad: Int?
        let dx = [S](unsafeUninitializedCapacity: dy.count) { db, count in
            dy.withUnsafeBufferPointer { gb in
                z.withUnsafeBufferPointer { zb in
                    w.withUnsafeBufferPointer { wb in
                        let gp = gb.baseAddress!
                        let zp = zb.baseAddress!
                        let wp = wb.baseAddress!
                        let dp = db.baseAddress!
                        let firsts = RowKernels.chunked(rows, cost: channels) { lo, hi -> Int? in
                            var first: Int?
                            var gs = [S](repeating: 0, count: groupSize)
                            for r in lo..<hi {
                                for g in 0..<groups {
                                    let o = r * channels + g * groupSize
                                    let s = scale[r * groups + g]
                                    if RowKernels.backwardGroup(
                                        gp + o, zp + o, groupSize, scale: s, centered: centered,
                                        weight: wp + g * groupSize, dx: dp + o) != nil
                                    {
                                        continue
                                    }
                                    if let i = (0..<groupSize).first(where: { !gp[o + $0].isFinite }) {
                                        first = first ?? (o + i)
                                        (dp + o).initialize(repeating: 0, count: groupSize)
                                        continue
                                    }
                                    gs.withUnsafeMutableBufferPointer { scratch in
                                        carefulBackwardGroup(
                                            gp + o, zp + o, groupSize, scale: s, centered: centered,
                                            weight: wp + g * groupSize, scratch: scratch.baseAddress!, dx: dp + o)
                                    }
                                }
                            }
                            return first
                        }
                        bad = firsts.compactMap { $0 }.first
                    }
                }
            }
            count = dy.count
        }
        return (dx, bad)
    }

    /// Rows per block of the affine parameters' gradients: partial sums are formed per block and
    /// added in block order, so the result does not depend on the number of threads.
    static let parameterBlock = 64

    /// The whole backward of LayerNorm or RMSNorm from the forward's *input* (not a stored `z`:
    /// recomputing `z` per group in cache costs less than writing and reading a tensor):
    /// `∂L/∂x` as ``backward(_:weight:z:scale:rows:channels:groupSize:centered:)``, and the affine
    /// gradients `Σ_rows ∂L/∂y ⊙ z`, `Σ_rows ∂L/∂y` (over every row, as the authors' code does).
    /// `z` is recomputed exactly as ``forward`` computed it (same path, same operations).
    /// `dx` is written into `storage`'s buffer as `forward`'s `y` is (`reusing:`).
    static func backward<S: NormScalar>(
        _ dy: [S], weight: [S], input x: [S], rows: Int, channels: Int, groupSize: Int, centered: Bool, eps: S,
        scale: [S], reusing storage: inout [S]
    ) -> (dx: [S], weight: [S], bias: [S], firstNonFinite: Int?, firstOverflowGroup: Int?) {
        let groups = channels / groupSize
        let blocks = (rows + parameterBlock - 1) / parameterBlock
        var partial = [S](repeating: 0, count: blocks * 2 * channels)
        var bad: Int?
        var over: Int?
        var dx = RowKernels.output(dy.count, reusing: &storage)
        // The same form as the forward that made `scale`, so that `z` is recomputed bit for bit.
        let wide = RowKernels.wide
        dx.withUnsafeMutableBufferPointer { db in
            dy.withUnsafeBufferPointer { gb in
                x.withUnsafeBufferPointer { xb in
                    weight.withUnsafeBufferPointer { wb in
                        scale.withUnsafeBufferPointer { sb in
                            partial.withUnsafeMutableBufferPointer { pb in
                                let gp = gb.baseAddress!
                                let xp = xb.baseAddress!
                                let wp = wb.baseAddress!
                                let sp = sb.baseAddress!
                                let dp = db.baseAddress!
                                let pp = pb.baseAddress!
                                // Per chunk: the first non-finite dy, and the first group whose dx
                                // left the range (probed while it is in cache).
                                let firsts = RowKernels.chunked(blocks, cost: parameterBlock * channels) {
                                    lo, hi -> (Int?, Int?) in
                                    var first: Int?
                                    var overflow: Int?
                                    var work = [S](repeating: 0, count: 3 * groupSize)
                                    work.withUnsafeMutableBufferPointer { wk in
                                        let zs = wk.baseAddress!
                                        let scratch = zs + groupSize
                                        for blk in lo..<hi {
                                            let pw = pp + blk * 2 * channels
                                            let pbias = pw + channels
                                            for r in (blk * parameterBlock)..<min(rows, (blk + 1) * parameterBlock) {
                                                for g in 0..<groups {
                                                    let o = r * channels + g * groupSize
                                                    let c0 = g * groupSize
                                                    let s = sp[r * groups + g]
                                                    if RowKernels.normalizeGroup(
                                                        xp + o, groupSize, centered: centered, eps: eps, weight: wp,
                                                        bias: wp, y: nil, z: zs, wide: wide) == nil
                                                    {
                                                        _ = carefulGroup(
                                                            xp + o, groupSize, centered: centered, eps: eps,
                                                            scratch: scratch, z: zs)
                                                    }
                                                    // The fast path adds to the parameters' partial
                                                    // sums in its output pass; the others add after.
                                                    if let finite = RowKernels.backwardGroup(
                                                        gp + o, zs, groupSize, scale: s, centered: centered,
                                                        weight: wp + c0, dx: dp + o, weightGradient: pw + c0,
                                                        biasGradient: pbias + c0)
                                                    {
                                                        if !finite { overflow = overflow ?? o }
                                                        continue
                                                    }
                                                    if let i = (0..<groupSize).first(where: { !gp[o + $0].isFinite }) {
                                                        first = first ?? (o + i)
                                                        (dp + o).initialize(repeating: 0, count: groupSize)
                                                        continue
                                                    }
                                                    carefulBackwardGroup(
                                                        gp + o, zs, groupSize, scale: s, centered: centered,
                                                        weight: wp + c0, scratch: scratch, dx: dp + o)
                                                    if !RowKernels.allFinite(dp + o, groupSize) {
                                                        overflow = overflow ?? o
                                                    }
                                                    RowKernels.accumulateParameterGradients(
                                                        gp + o, zs, groupSize, weight: pw + c0, bias: pbias + c0)
                                                }
                                            }
                                        }
                                    }
                                    return (first, overflow)
                                }
                                bad = firsts.compactMap { $0.0 }.first
                                over = firsts.compactMap { $0.1 }.first
                            }
                        }
                    }
                }
            }
        }
        var gw = [S](repeating: 0, count: channels)
        var gbias = [S](repeating: 0, count: channels)
        for blk in 0..<blocks {
            for c in 0..<channels {
                gw[c] += partial[blk * 2 * channels + c]
                gbias[c] += partial[blk * 2 * channels + channels + c]
            }
        }
        return (dx, gw, gbias, bad, over)
    }

    /// `γ ⊙ z + β` again where it overflowed: γ·z can exceed the range where the output does not
    /// (3e38·1.22 − 1e38), so z is recomputed and each entry formed by ``RowKernels/multiplyAdd(_:_:_:)``.
    /// - Throws: ``NormalizationError/nonFinite(what:index:)`` where an output is beyond the range.
    static func rangeSafeAffine<S: NormScalar>(_ x: TokenBatch<S>, centered: Bool, eps: S, _ w: [S], _ b: [S]) throws
        -> [S]
    {
        let c = x.channels
        let z = forward(x.values, rows: x.rows, channels: c, groupSize: c, centered: centered, eps: eps).z
        let y = z.indices.map { RowKernels.multiplyAdd(w[$0 % c], z[$0], b[$0 % c]) }
        if let i = RowKernels.firstNonFinite(y) {
            throw NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: i)
        }
        return y
    }

    /// LayerNorm's and RMSNorm's backward results checked: a non-finite `∂L/∂Y`, an `∂L/∂X` beyond the
    /// range, and affine gradients whose plain sums overflowed (recomputed range-safe from `z`; a typed
    /// error only where the true sum is beyond the range).
    static func checkedGradients<S: NormScalar>(
        _ r: (dx: [S], weight: [S], bias: [S], firstNonFinite: Int?, firstOverflowGroup: Int?), dy: TokenBatch<S>,
        input x: [S], channels: Int, centered: Bool, eps: S
    ) throws -> NormGradients<S> {
        if let i = r.firstNonFinite { throw NormalizationError.nonFinite(what: "gradOutput", index: i) }
        // The backward probed every group's dx; the index is looked up only where one overflowed.
        if let o = r.firstOverflowGroup, let i = RowKernels.firstNonFinite(Array(r.dx[o...])).map({ $0 + o }) {
            throw NormalizationError.nonFinite(what: "input gradient (beyond the range of the type)", index: i)
        }
        var (gw, gb) = (r.weight, r.bias)
        if RowKernels.firstNonFinite(gw + gb) != nil {
            // Σ ∂L/∂Y over the tokens can overflow where the sum itself is representable
            // (3e38 + 3e38 − 3e38): the sums again, per channel, by the range-safe dot product.
            let z = forward(x, rows: dy.rows, channels: channels, groupSize: channels, centered: centered, eps: eps).z
            let ones = [S](repeating: 1, count: dy.rows)
            for c in 0..<channels {
                let col = (0..<dy.rows).map { dy.values[$0 * channels + c] }
                let zc = (0..<dy.rows).map { z[$0 * channels + c] }
                gw[c] = col.withUnsafeBufferPointer { a in
                    zc.withUnsafeBufferPointer {
                        RowKernels.carefulDot(a.baseAddress!, $0.baseAddress!, dy.rows, plus: 0)
                    }
                }
                gb[c] = col.withUnsafeBufferPointer { a in
                    ones.withUnsafeBufferPointer {
                        RowKernels.carefulDot(a.baseAddress!, $0.baseAddress!, dy.rows, plus: 0)
                    }
                }
            }
            if let i = RowKernels.firstNonFinite(gw + gb) {
                throw NormalizationError.nonFinite(
                    what: "parameter gradient (beyond the range of the type)", index: i % channels)
            }
        }
        return NormGradients(input: dy.withUnchecked(values: r.dx), weight: gw, bias: gb)
    }

    /// The careful (range-safe) backward of one group: `G = w ⊙ dy` scaled by a power of two,
    /// `s = m·2^E` divided by through its significand, the exponents applied once at the end.
    static func carefulBackwardGroup<S: NormScalar>(
        _ dy: UnsafePointer<S>, _ z: UnsafePointer<S>, _ n: Int, scale s: S, centered: Bool,
        weight w: UnsafePointer<S>, scratch gs: UnsafeMutablePointer<S>, dx: UnsafeMutablePointer<S>
    ) {
        // w and dy are scaled apart: their product can overflow where dx does not (it trapped on
        // the exponent of ∞). G' = (w·2^{−ew})(dy·2^{−ed}) has |G'| < 1, and eg = ew + ed.
        var bw: S = 0
        var bd: S = 0
        for k in 0..<n {
            bw = max(bw, abs(w[k]))
            bd = max(bd, abs(dy[k]))
        }
        let ew = bw > 0 ? Int(bw.exponent) + 1 : 0
        let ed = bd > 0 ? Int(bd.exponent) + 1 : 0
        let eg = ew + ed
        for k in 0..<n { gs[k] = scaled(w[k], -ew) * scaled(dy[k], -ed) }
        var mg: S = 0
        var mgz: S = 0
        for k in 0..<n {
            mg += gs[k]
            mgz += gs[k] * z[k]
        }
        mg = centered ? mg / S(n) : 0
        mgz /= S(n)
        let es = s.isFinite && s > 0 ? Int(s.exponent) : 0
        let sm = s.isFinite && s > 0 ? s.significand : s
        for k in 0..<n { dx[k] = scaled((gs[k] - mg - z[k] * mgz) / sm, eg - es) }
    }
}

/// `γ ⊙ z + β` and the affine gradients `Σ ∂L/∂Y ⊙ z`, `Σ ∂L/∂Y` over all rows.
enum AffineOutput {
    /// - Throws: ``NormalizationError/nonFinite(what:index:)`` where an output is beyond the range.
    static func apply<S: NormScalar>(_ z: [S], weight: [S], bias: [S], like x: TokenBatch<S>) throws -> TokenBatch<S> {
        let r = RowKernels.channelAffine(z, rows: x.rows, channels: x.channels, scale: weight, shift: bias)
        if let i = r.firstOverflow ?? r.firstNonFinite {
            throw NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: i)
        }
        return x.withUnchecked(values: r.values)
    }

    /// `G = γ ⊙ ∂L/∂Y`.
    static func scaledGradient<S: NormScalar>(_ dy: TokenBatch<S>, weight: [S]) -> [S] {
        let zero = [S](repeating: 0, count: weight.count)
        return RowKernels.channelAffine(dy.values, rows: dy.rows, channels: dy.channels, scale: weight, shift: zero)
            .values
    }

    static func parameterGradients<S: NormScalar>(_ dy: TokenBatch<S>, z: [S]) -> (weight: [S], bias: [S]) {
        RowKernels.parameterGradients(dy.values, z, rows: dy.rows, channels: dy.channels)
    }
}
