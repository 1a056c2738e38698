import CVectorKernels
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vectorized fast path of the per-token normalizations (LayerNorm, RMSNorm, PowerNorm's
/// group scaling) and of the per-channel maps, over contiguous memory in `SIMD8` lanes.
///
/// Why a fast path and a careful one: the careful one (``TokenwiseNormalization``) scales each
/// group by a power of two so that no square over- or underflows anywhere in the range, which
/// costs a pass and an exponent operation per entry. Here the sums are formed directly, and the
/// result is accepted only where that provably loses nothing: every sum finite (no overflow), and
/// `m2 + ε ≥ 2¹⁰ n·λ/ε_mach` (`λ` the least normal), so that squares lost to underflow (each
/// below `λ`, at most `n` of them) change `s²` by less than `2⁻¹⁰` ulp. Anything else (a huge or
/// tiny group, a non-finite input) goes to the careful path, group by group.
///
/// Rounding: the sums run in 32 interleaved lanes (each a plain left-to-right sum of every 32nd
/// entry), combined pairwise, then the tail; so the classical bound `γ_{n−1} Σ|x_i|` of a
/// length-`n` sum still holds (in any binary summation tree over `n` terms each term takes part in
/// at most `n − 1` additions; the zero-initialized lanes only add exact `+ 0`s). `z` is
/// `(x − mean)·(1/s)`: one rounding more than a division (relative error `≤ 2u + u²` instead of
/// `u`), in exchange for a multiply.
/// How many threads the layers' kernels use (both cores of this machine, by default, for tensors
/// of at least 2¹⁶ entries). Set `UN_THREADS` in the environment for a process-wide limit.
public enum KernelThreads {
    /// The number the kernels use now (`UN_THREADS` if set, else the online processors, ≤ 8,
    /// lowered by an enclosing ``withLimit(_:_:)``).
    public static var current: Int { RowKernels.threads }

    /// Runs `body` with the kernels limited to `threads` threads (at least 1) in the current task:
    /// how a caller measures one core against two in one process.
    public static func withLimit<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        try RowKernels.$limit.withValue(max(threads, 1), operation: body)
    }
}

@usableFromInline
enum RowKernels {
    /// Below this, a work item is not split across threads (thread start-up would dominate).
    static let parallelThreshold = 1 << 16

    /// Threads the kernels may use: `UN_THREADS` from the environment if set (≥ 1), else the
    /// number of online processors, at most 8.
    static let available: Int = {
        if let s = getenv("UN_THREADS"), let n = Int(String(cString: s)), n >= 1 { return min(n, 64) }
        return max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 8))
    }()

    /// A limit set by ``KernelThreads/withLimit(_:_:)`` for the current task, if any.
    @TaskLocal static var limit: Int?

    /// Whether the processor runs the 256-bit (AVX2) forms of the fast paths (`CVectorKernels`):
    /// checked once; `UN_PORTABLE_KERNELS` in the environment turns them off for the process.
    static let wideAvailable: Bool = cvk_avx2_available() != 0 && getenv("UN_PORTABLE_KERNELS") == nil

    /// Set to `true` for the current task to run the portable Swift forms only (how the tests
    /// compare the two forms, and how a benchmark measures one against the other).
    @TaskLocal static var portableOnly = false

    /// Whether the kernels called now use the 256-bit forms (read once per layer call).
    static var wide: Bool { wideAvailable && !portableOnly }

    /// Threads the kernels use now.
    static var threads: Int { min(available, max(limit ?? available, 1)) }

    /// Runs `body(lo, hi)` over `0..<count` in up to ``threads`` contiguous chunks (serially when
    /// the work, `count × cost`, is small). Returns the chunks' results in order.
    static func chunked<R>(_ count: Int, cost: Int, _ body: (Int, Int) -> R) -> [R] {
        let t = count * cost >= parallelThreshold ? min(threads, count) : 1
        if t <= 1 { return [body(0, count)] }
        var results = [R?](repeating: nil, count: t)
        results.withUnsafeMutableBufferPointer { out in
            withoutActuallyEscaping(body) { body in
                // Each iteration writes only its own slot, and `body` only its own rows: the
                // unchecked box is what lets the non-Sendable pointer and closure cross threads.
                let shared = Shared(slots: out.baseAddress!, body: body)
                DispatchQueue.concurrentPerform(iterations: t) { i in
                    shared.slots[i] = shared.body(count * i / t, count * (i + 1) / t)
                }
            }
        }
        return results.map { $0! }
    }

    struct Shared<R>: @unchecked Sendable {
        let slots: UnsafeMutablePointer<R?>
        let body: (Int, Int) -> R
    }

    /// An array of `count` entries to be overwritten: `storage` itself when it has that count (its
    /// buffer, not a copy, when it is not shared), else a new one; `storage` is left empty.
    static func output<S: NormScalar>(_ count: Int, reusing storage: inout [S]) -> [S] {
        var out = [S]()
        swap(&out, &storage)
        // Every caller writes each entry before anything reads it, and `S` (Float, Double) is a
        // trivial type: a new buffer is not zero-filled first (that would be one more pass).
        if out.count != count { out = [S](unsafeUninitializedCapacity: count) { _, n in n = count } }
        return out
    }

    @inline(__always)
    static func load<S: NormScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    @inline(__always)
    static func store<S: NormScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
    }

    /// Whether `m2 + ε` is far enough above the underflow threshold for `n` squares (see above).
    @inline(__always)
    static func clearOfUnderflow<S: NormScalar>(_ s2: S, _ n: Int) -> Bool {
        S(n) * S.leastNormalMagnitude <= s2 * S.ulpOfOne / 1024
    }

    /// `Σ x_k` over `n` entries, in four `SIMD8` accumulators (32 independent lanes, so that the
    /// additions are not serialized on one register's latency), then the tail.
    @inline(__always)
    static func laneSum<S: NormScalar>(_ x: UnsafePointer<S>, _ n: Int, wide: Bool) -> S {
        if wide, S.self == Float.self {
            return S(cvk_lane_sum_f32(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), n))
        }
        if wide, S.self == Double.self {
            return S(cvk_lane_sum_f64(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self), n))
        }
        var (a0, a1, a2, a3) = (SIMD8<S>(), SIMD8<S>(), SIMD8<S>(), SIMD8<S>())
        var k = 0
        while k + 32 <= n {
            a0 += load(x + k)
            a1 += load(x + k + 8)
            a2 += load(x + k + 16)
            a3 += load(x + k + 24)
            k += 32
        }
        while k + 8 <= n {
            a0 += load(x + k)
            k += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while k < n {
            sum += x[k]
            k += 1
        }
        return sum
    }

    /// `Σ (x_k − m)²` over `n` entries, in the lanes of ``laneSum(_:_:)``.
    @inline(__always)
    static func laneSquares<S: NormScalar>(_ x: UnsafePointer<S>, _ n: Int, minus m: S, wide: Bool) -> S {
        if wide, let mf = m as? Float {
            return S(cvk_lane_squares_f32(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), n, mf))
        }
        if wide, let md = m as? Double {
            return S(cvk_lane_squares_f64(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self), n, md))
        }
        let mv = SIMD8<S>(repeating: m)
        var (a0, a1, a2, a3) = (SIMD8<S>(), SIMD8<S>(), SIMD8<S>(), SIMD8<S>())
        var k = 0
        while k + 32 <= n {
            let d0 = load(x + k) - mv
            let d1 = load(x + k + 8) - mv
            let d2 = load(x + k + 16) - mv
            let d3 = load(x + k + 24) - mv
            a0 += d0 * d0
            a1 += d1 * d1
            a2 += d2 * d2
            a3 += d3 * d3
            k += 32
        }
        while k + 8 <= n {
            let d = load(x + k) - mv
            a0 += d * d
            k += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while k < n {
            let d = x[k] - m
            sum += d * d
            k += 1
        }
        return sum
    }

    /// The vector part of ``normalizeGroup``'s output pass in the 256-bit form; whether every `y`
    /// written is finite, or `nil` for a scalar type without one.
    @inline(__always)
    static func wideWrite<S: NormScalar>(
        _ x: UnsafePointer<S>, _ n: Int, mean: S, inv: S, _ w: UnsafePointer<S>, _ b: UnsafePointer<S>,
        _ y: UnsafeMutablePointer<S>?, _ z: UnsafeMutablePointer<S>?
    ) -> Bool? {
        func p<T>(_ q: UnsafePointer<S>, _: T.Type) -> UnsafePointer<T> {
            UnsafeRawPointer(q).assumingMemoryBound(to: T.self)
        }
        func m<T>(_ q: UnsafeMutablePointer<S>?, _: T.Type) -> UnsafeMutablePointer<T>? {
            q.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: T.self) }
        }
        if let mf = mean as? Float, let invf = inv as? Float {
            return cvk_normalize_write_f32(
                p(x, Float.self), n, mf, invf, p(w, Float.self), p(b, Float.self), m(y, Float.self), m(z, Float.self))
                != 0
        }
        if let md = mean as? Double, let invd = inv as? Double {
            return cvk_normalize_write_f64(
                p(x, Double.self), n, md, invd, p(w, Double.self), p(b, Double.self), m(y, Double.self),
                m(z, Double.self)) != 0
        }
        return nil
    }

    /// One group of `n` entries at `x`: `z = (x − mean)/s` (`mean = 0` unless `centered`),
    /// `y = w ⊙ z + b`; writes `y` (and `z` when non-nil), returns `s` and whether every `y` is
    /// finite (`true` when `y` is nil), or `nil` where the fast path cannot vouch for the result
    /// (the caller then takes the careful path).
    ///
    /// Three passes over the group (sum, squared deviations, output) while it is in cache; the
    /// output's finiteness is probed in the output pass (`y − y` is 0 for finite `y`, NaN
    /// otherwise), not in a fourth.
    @inline(__always)
    static func normalizeGroup<S: NormScalar>(
        _ x: UnsafePointer<S>, _ n: Int, centered: Bool, eps: S, weight w: UnsafePointer<S>,
        bias b: UnsafePointer<S>, y: UnsafeMutablePointer<S>?, z: UnsafeMutablePointer<S>?, wide: Bool = false
    ) -> (scale: S, outputFinite: Bool)? {
        let v = n - n % 8
        var mean: S = 0
        if centered {
            let sum = laneSum(x, n, wide: wide)
            guard sum.isFinite else { return nil }
            mean = sum / S(n)
        }
        let m2 = laneSquares(x, n, minus: mean, wide: wide) / S(n)
        let s2 = m2 + eps
        guard m2.isFinite, s2.isFinite, clearOfUnderflow(s2, n) else { return nil }
        let s = s2.squareRoot()
        let inv = 1 / s
        let iv = SIMD8<S>(repeating: inv)
        let mv = SIMD8<S>(repeating: mean)
        var probe = SIMD8<S>()
        var tail: S = 0
        var k = 0
        if wide, v > 0, let wideFinite = wideWrite(x, n, mean: mean, inv: inv, w, b, y, z) {
            k = v
            if !wideFinite { tail = .nan }
        }
        switch (k < v ? y : nil, k < v ? z : nil) {
        case (let y?, nil):
            while k < v {
                let yk = load(w + k) * ((load(x + k) - mv) * iv) + load(b + k)
                probe += yk - yk
                store(yk, y + k)
                k += 8
            }
        case (let y?, let z?):
            while k < v {
                let zk = (load(x + k) - mv) * iv
                store(zk, z + k)
                let yk = load(w + k) * zk + load(b + k)
                probe += yk - yk
                store(yk, y + k)
                k += 8
            }
        case (nil, let z?):
            while k < v {
                store((load(x + k) - mv) * iv, z + k)
                k += 8
            }
        case (nil, nil):
            k = max(k, v)
        }
        while k < n {
            let zk = (x[k] - mean) * inv
            z?[k] = zk
            if let y {
                let yk = w[k] * zk + b[k]
                tail += yk - yk
                y[k] = yk
            }
            k += 1
        }
        return (s, (probe.sum() + tail).isFinite)
    }

    /// One group of the backward: `G = w ⊙ dy`, `dx = (G − mean(G) − z ⊙ mean(G ⊙ z)) / s`
    /// (`mean(G)` only when `centered`); `nil` where the fast path cannot vouch for it, else whether
    /// every `dx` is finite (probed in the output pass). With `weightGradient`/`biasGradient`, also
    /// adds `dy ⊙ z` and `dy` to them in the same pass (the affine parameters' partial sums).
    ///
    /// The sums run in two sets of lanes (16 independent lanes each), so that the additions are not
    /// serialized on one register's latency; the summation bound of ``laneSum(_:_:)`` holds.
    @inline(__always)
    static func backwardGroup<S: NormScalar>(
        _ dy: UnsafePointer<S>, _ z: UnsafePointer<S>, _ n: Int, scale s: S, centered: Bool,
        weight w: UnsafePointer<S>, dx: UnsafeMutablePointer<S>,
        weightGradient pw: UnsafeMutablePointer<S>? = nil, biasGradient pb: UnsafeMutablePointer<S>? = nil
    ) -> Bool? {
        let v = n - n % 8
        var (ag0, agz0, aa0) = (SIMD8<S>(), SIMD8<S>(), SIMD8<S>())
        var (ag1, agz1, aa1) = (SIMD8<S>(), SIMD8<S>(), SIMD8<S>())
        var k = 0
        while k + 16 <= n {
            let g0 = load(w + k) * load(dy + k)
            let g1 = load(w + k + 8) * load(dy + k + 8)
            ag0 += g0
            ag1 += g1
            agz0 += g0 * load(z + k)
            agz1 += g1 * load(z + k + 8)
            aa0 += g0 * g0
            aa1 += g1 * g1
            k += 16
        }
        while k < v {
            let g = load(w + k) * load(dy + k)
            ag0 += g
            agz0 += g * load(z + k)
            aa0 += g * g
            k += 8
        }
        var sg = (ag0 + ag1).sum()
        var sgz = (agz0 + agz1).sum()
        var sa = (aa0 + aa1).sum()
        while k < n {
            let g = w[k] * dy[k]
            sg += g
            sgz += g * z[k]
            sa += g * g
            k += 1
        }
        // q = Σ G² finite: no G·z (|z| ≤ √n) or partial sum overflows. q ≥ 2²⁰λ: max|G| ≥ √(q/n), so
        // the products lost to underflow (< λ each, n of them) are at most n^{3/2}·√λ·2⁻¹⁰ relative
        // to max|G|: below 2⁻³⁷ in Float and far less in Double, for n ≤ 2²⁴.
        let q = sa
        guard q.isFinite, sg.isFinite, sgz.isFinite, s.isFinite, s > 0, q >= 0x1p20 * S.leastNormalMagnitude else {
            return nil
        }
        let mg = centered ? sg / S(n) : 0
        let mgz = sgz / S(n)
        let inv = 1 / s
        guard inv.isFinite else { return nil }
        let mgv = SIMD8<S>(repeating: mg)
        let mgzv = SIMD8<S>(repeating: mgz)
        let iv = SIMD8<S>(repeating: inv)
        var probe = SIMD8<S>()
        var tail: S = 0
        k = 0
        if let pw, let pb {
            while k < v {
                let d = load(dy + k)
                let zk = load(z + k)
                let r = (load(w + k) * d - mgv - zk * mgzv) * iv
                probe += r - r
                store(r, dx + k)
                store(load(pw + k) + d * zk, pw + k)
                store(load(pb + k) + d, pb + k)
                k += 8
            }
        } else {
            while k < v {
                let r = (load(w + k) * load(dy + k) - mgv - load(z + k) * mgzv) * iv
                probe += r - r
                store(r, dx + k)
                k += 8
            }
        }
        while k < n {
            let r = (w[k] * dy[k] - mg - z[k] * mgz) * inv
            tail += r - r
            dx[k] = r
            if let pw, let pb {
                pw[k] += dy[k] * z[k]
                pb[k] += dy[k]
            }
            k += 1
        }
        return (probe.sum() + tail).isFinite
    }

    /// `y = a[c]·x + b[c]` per channel over `rows × channels`; returns the flat index of the first
    /// non-finite input, if any, else of the first output beyond the range (the output is then unspecified).
    static func channelAffine<S: NormScalar>(_ x: [S], rows: Int, channels c: Int, scale a: [S], shift b: [S])
        -> (values: [S], firstNonFinite: Int?, firstOverflow: Int?)
    {
        var storage = [S]()
        return channelAffine(x, rows: rows, channels: c, scale: a, shift: b, reusing: &storage)
    }

    /// The same, written into `storage`'s buffer where it fits (see ``output(_:reusing:)``).
    static func channelAffine<S: NormScalar>(
        _ x: [S], rows: Int, channels c: Int, scale a: [S], shift b: [S], reusing storage: inout [S]
    ) -> (values: [S], firstNonFinite: Int?, firstOverflow: Int?) {
        var bad: Int?
        var overflow: Int?
        var result = output(x.count, reusing: &storage)
        result.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { xb in
                a.withUnsafeBufferPointer { ab in
                    b.withUnsafeBufferPointer { bb in
                        let xp = xb.baseAddress!
                        let op = out.baseAddress!
                        let ap = ab.baseAddress!
                        let bp = bb.baseAddress!
                        let v = c - c % 8
                        let wide = RowKernels.wide
                        let flags = chunked(rows, cost: c) { lo, hi -> Bool in
                            // y − y is 0 for every finite y and NaN otherwise: a finiteness check
                            // that vectorizes with the map itself. A non-finite input gives a
                            // non-finite output, so probing y catches it and an overflowing y alike.
                            var probe = SIMD8<S>()
                            var tail: S = 0
                            for r in lo..<hi {
                                let xr = xp + r * c
                                let yr = op + r * c
                                var k = 0
                                if wide, v > 0, let finite = wideAffine(xr, c, ap, bp, yr) {
                                    k = v
                                    if !finite { tail = .nan }
                                }
                                while k < v {
                                    let yv = load(ap + k) * load(xr + k) + load(bp + k)
                                    probe += yv - yv
                                    store(yv, yr + k)
                                    k += 8
                                }
                                while k < c {
                                    let yv = ap[k] * xr[k] + bp[k]
                                    tail += yv - yv
                                    yr[k] = yv
                                    k += 1
                                }
                            }
                            return (probe.sum() + tail).isFinite
                        }
                        if flags.contains(false) {
                            bad = xb.firstIndex { !$0.isFinite }
                            if bad == nil {
                                // a·x can overflow where a·x + b does not: those entries again, halved.
                                for i in 0..<x.count where !op[i].isFinite {
                                    op[i] = multiplyAdd(ap[i % c], xp[i], bp[i % c])
                                }
                                overflow = UnsafeBufferPointer(out).firstIndex { !$0.isFinite }
                            }
                        }
                    }
                }
            }
        }
        return (result, bad, overflow)
    }

    /// The vector part of one row of ``channelAffine(_:rows:channels:scale:shift:)`` in the 256-bit
    /// form; whether every `y` written is finite, or `nil` for a scalar type without one.
    @inline(__always)
    static func wideAffine<S: NormScalar>(
        _ x: UnsafePointer<S>, _ c: Int, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>
    ) -> Bool? {
        func p<T>(_ q: UnsafePointer<S>, _: T.Type) -> UnsafePointer<T> {
            UnsafeRawPointer(q).assumingMemoryBound(to: T.self)
        }
        let yr = UnsafeMutableRawPointer(y)
        if S.self == Float.self {
            return cvk_channel_affine_f32(
                p(x, Float.self), c, p(a, Float.self), p(b, Float.self), yr.assumingMemoryBound(to: Float.self)) != 0
        }
        if S.self == Double.self {
            return cvk_channel_affine_f64(
                p(x, Double.self), c, p(a, Double.self), p(b, Double.self), yr.assumingMemoryBound(to: Double.self))
                != 0
        }
        return nil
    }

    /// `2·√(Σ v_i²)`, an upper bound on `max |v_i|` (∞ when the sum overflows), in 8 lanes.
    /// Why a bound and not the maximum: `pointwiseMax` on SIMD types is not inlined here and costs
    /// more than the backward it guards, while multiply-adds vectorize. The computed sum is at least
    /// `(1 − n·u)` times the true one (Higham, sums of non-negative terms), so its root is above
    /// `max |v_i| / 2` for any `n·u < 3/4`; the factor 2 restores the bound.
    static func magnitudeBound<S: NormScalar>(_ values: [S]) -> S {
        values.withUnsafeBufferPointer { vb -> S in
            guard let p = vb.baseAddress else { return 0 }
            let n = vb.count
            var acc = SIMD8<S>()
            var k = 0
            while k + 8 <= n {
                let v = load(p + k)
                acc += v * v
                k += 8
            }
            var tail: S = 0
            while k < n {
                tail += p[k] * p[k]
                k += 1
            }
            return 2 * (acc.sum() + tail).squareRoot()
        }
    }

    /// `sqrt(v + ε)` for `v, ε ≥ 0` without a spurious overflow: where `v + ε` exceeds the range
    /// (ε up to the largest value is a valid configuration), `2·sqrt(v/4 + ε/4)` (exact scalings).
    @inline(__always)
    static func rootOfSum<S: NormScalar>(_ v: S, _ eps: S) -> S {
        let t = v + eps
        return t.isFinite ? t.squareRoot() : 2 * (v / 4 + eps / 4).squareRoot()
    }

    /// `a·x + b`, without the spurious overflow of the product where the sum is representable
    /// (3e38·1.2 − 1e38 in Float): `2·((a/2)·x + b/2)` there (exact halvings).
    @inline(__always)
    static func multiplyAdd<S: NormScalar>(_ a: S, _ x: S, _ b: S) -> S {
        let y = a * x + b
        return y.isFinite || !(a.isFinite && x.isFinite && b.isFinite) ? y : 2 * ((a / 2) * x + b / 2)
    }

    /// Whether `n` entries at `p` are all finite (a vectorized `v − v` probe; see ``firstNonFinite(_:)``).
    @inline(__always)
    static func allFinite<S: NormScalar>(_ p: UnsafePointer<S>, _ n: Int) -> Bool {
        var probe = SIMD8<S>()
        var tail: S = 0
        var k = 0
        while k + 8 <= n {
            let v = load(p + k)
            probe += v - v
            k += 8
        }
        while k < n {
            tail += p[k] - p[k]
            k += 1
        }
        return (probe.sum() + tail).isFinite
    }

    /// `Σ a_i b_i + c`, range-safe: `a` and `b` scaled by powers of two so that no product or partial
    /// sum overflows, the result scaled back (∞ only where the true value is beyond the range).
    /// The careful path of a dot product whose plain evaluation overflowed.
    static func carefulDot<S: NormScalar>(_ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ n: Int, plus c: S) -> S {
        var ma: S = 0
        var mb: S = 0
        for k in 0..<n {
            // A NaN propagates (max would drop it and the result would be c).
            guard !a[k].isNaN, !b[k].isNaN else { return .nan }
            ma = max(ma, a[k].magnitude)
            mb = max(mb, b[k].magnitude)
        }
        guard ma > 0, mb > 0 else { return c }
        // |Σ a'b'| ≤ n with |a'|, |b'| < 1; c' = c·2^{−ea−eb} is bounded by the range divided by 2^{ea+eb}.
        let (ea, eb) = (Int(ma.exponent) + 1, Int(mb.exponent) + 1)
        var s: S = 0
        for k in 0..<n {
            s += TokenwiseNormalization.scaled(a[k], -ea) * TokenwiseNormalization.scaled(b[k], -eb)
        }
        let e = ea + eb
        // Add c in whichever units keep both terms in range.
        let cs = TokenwiseNormalization.scaled(c, -e)
        return cs.isFinite ? TokenwiseNormalization.scaled(s + cs, e) : TokenwiseNormalization.scaled(s, e) + c
    }

    /// The index of the first non-finite entry, if any. `v − v` is 0 for every finite `v` and NaN
    /// otherwise, so a vectorized sum of it answers "all finite?" without a branch per entry;
    /// only a block that fails is searched.
    static func firstNonFinite<S: NormScalar>(_ values: [S]) -> Int? {
        values.withUnsafeBufferPointer { vb -> Int? in
            guard let p = vb.baseAddress else { return nil }
            let n = vb.count
            let block = 4096
            var lo = 0
            while lo < n {
                let hi = min(lo + block, n)
                var probe = SIMD8<S>()
                var tail: S = 0
                var k = lo
                while k + 8 <= hi {
                    let v = load(p + k)
                    probe += v - v
                    k += 8
                }
                while k < hi {
                    tail += p[k] - p[k]
                    k += 1
                }
                if !(probe.sum() + tail).isFinite { return (lo..<hi).first { !p[$0].isFinite } }
                lo = hi
            }
            return nil
        }
    }

    /// `y_r = W x_r + b` for every row (`W` is `outputs × inputs`, row-major): each output a dot
    /// product of two contiguous rows in 8 lanes (the summation bound `γ_{n−1} Σ|w_i x_i|` holds:
    /// 8 partial sums of `n/8` terms, then 8 terms), rows split across threads.
    static func matrixRows<S: NormScalar>(
        _ x: [S], rows: Int, weight: [S], bias: [S], outputs: Int, inputs n: Int
    ) -> [S] {
        [S](unsafeUninitializedCapacity: rows * outputs) { ob, count in
            x.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    bias.withUnsafeBufferPointer { bb in
                        let (xp, wp, bp, op) = (xb.baseAddress!, wb.baseAddress!, bb.baseAddress!, ob.baseAddress!)
                        let v = n - n % 8
                        eachRow(rows, channels: outputs * n) { r in
                            let xr = xp + r * n
                            for o in 0..<outputs {
                                let wr = wp + o * n
                                var acc = SIMD8<S>()
                                var k = 0
                                while k < v {
                                    acc += load(wr + k) * load(xr + k)
                                    k += 8
                                }
                                var s = acc.sum()
                                while k < n {
                                    s += wr[k] * xr[k]
                                    k += 1
                                }
                                op[r * outputs + o] = s + bp[o]
                            }
                        }
                    }
                }
            }
            count = rows * outputs
        }
    }

    /// `w += dy ⊙ z`, `b += dy` over one group of `n` channels.
    @inline(__always)
    static func accumulateParameterGradients<S: NormScalar>(
        _ dy: UnsafePointer<S>, _ z: UnsafePointer<S>, _ n: Int, weight w: UnsafeMutablePointer<S>,
        bias b: UnsafeMutablePointer<S>
    ) {
        let v = n - n % 8
        var k = 0
        while k < v {
            let d = load(dy + k)
            store(load(w + k) + d * load(z + k), w + k)
            store(load(b + k) + d, b + k)
            k += 8
        }
        while k < n {
            w[k] += dy[k] * z[k]
            b[k] += dy[k]
            k += 1
        }
    }

    /// Per channel, over all rows: `Σ dy ⊙ z` and `Σ dy` (the affine parameters' gradients).
    static func parameterGradients<S: NormScalar>(_ dy: [S], _ z: [S], rows: Int, channels c: Int)
        -> (weight: [S], bias: [S])
    {
        // Multiplying z by exactly 1 changes nothing: one kernel serves both forms.
        parameterGradients(dy, z, rows: rows, channels: c, zScale: [S](repeating: 1, count: c))
    }
}

// MARK: Per-channel kernels of the layers with statistics over tokens (UN, BatchNorm, PowerNorm)

extension RowKernels {
    /// Runs `body(r)` for every row, in contiguous chunks across threads for large tensors.
    @inline(__always)
    static func eachRow(_ rows: Int, channels: Int, _ body: (Int) -> Void) {
        _ = chunked(rows, cost: channels) { lo, hi -> Bool in
            for r in lo..<hi { body(r) }
            return true
        }
    }

    /// Per channel, `Σ x²` over the rows with `include(r)` (left to right in row order: the same
    /// sum, bit for bit, as a scalar loop), vectorized across channels.
    static func columnSumOfSquares<S: NormScalar>(_ x: [S], rows: Int, channels c: Int, mask: [Bool]?) -> [S] {
        var acc = [S](repeating: 0, count: c)
        x.withUnsafeBufferPointer { xb in
            acc.withUnsafeMutableBufferPointer { ab in
                let xp = xb.baseAddress!
                let ap = ab.baseAddress!
                let v = c - c % 8
                for r in 0..<rows where mask.map({ !$0[r] }) ?? true {
                    let xr = xp + r * c
                    var k = 0
                    while k < v {
                        let xv = load(xr + k)
                        store(load(ap + k) + xv * xv, ap + k)
                        k += 8
                    }
                    while k < c {
                        ap[k] += xr[k] * xr[k]
                        k += 1
                    }
                }
            }
        }
        return acc
    }

    /// Per channel, `Σ_rows a ⊙ b` over every row (or the rows `mask` does not pad), in row order
    /// (bit for bit the scalar loop's sum).
    static func columnDot<S: NormScalar>(_ a: [S], _ b: [S], rows: Int, channels c: Int, mask: [Bool]? = nil) -> [S] {
        var acc = [S](repeating: 0, count: c)
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                acc.withUnsafeMutableBufferPointer { sb in
                    let ap = ab.baseAddress!
                    let bp = bb.baseAddress!
                    let sp = sb.baseAddress!
                    let v = c - c % 8
                    for r in 0..<rows where mask.map({ !$0[r] }) ?? true {
                        let ar = ap + r * c
                        let br = bp + r * c
                        var k = 0
                        while k < v {
                            store(load(sp + k) + load(ar + k) * load(br + k), sp + k)
                            k += 8
                        }
                        while k < c {
                            sp[k] += ar[k] * br[k]
                            k += 1
                        }
                    }
                }
            }
        }
        return acc
    }

    /// `z = x / s[c]` and `y = w[c]·z + b[c]` (the operations of the scalar definition, in order).
    static func channelNormalize<S: NormScalar>(
        _ x: [S], rows: Int, channels c: Int, divisor s: [S], weight w: [S], bias b: [S]
    ) -> (z: [S], y: [S]) {
        var storage = [S]()
        let r = channelNormalize(x, rows: rows, channels: c, divisor: s, weight: w, bias: b, reusing: &storage)
        return (r.z, r.y)
    }

    /// The same, `y` written into `storage`'s buffer where it fits (see ``output(_:reusing:)``), and
    /// whether every `y` is finite, probed in the same pass (`y − y`): a non-finite `z` makes `y`
    /// non-finite too (`w·z` is ±∞ or NaN, NaN where `w = 0`), so `true` vouches for both.
    static func channelNormalize<S: NormScalar>(
        _ x: [S], rows: Int, channels c: Int, divisor s: [S], weight w: [S], bias b: [S], reusing storage: inout [S]
    ) -> (z: [S], y: [S], finite: Bool) {
        var y = output(x.count, reusing: &storage)
        var finite = true
        let z = [S](unsafeUninitializedCapacity: x.count) { zb, zc in
            y.withUnsafeMutableBufferPointer { yb in
                x.withUnsafeBufferPointer { xb in
                    s.withUnsafeBufferPointer { sb in
                        w.withUnsafeBufferPointer { wb in
                            b.withUnsafeBufferPointer { bb in
                                let (xp, zp, yp) = (xb.baseAddress!, zb.baseAddress!, yb.baseAddress!)
                                let (sp, wp, bp) = (sb.baseAddress!, wb.baseAddress!, bb.baseAddress!)
                                let v = c - c % 8
                                let flags = chunked(rows, cost: c) { lo, hi -> Bool in
                                    var probe = SIMD8<S>()
                                    var tail: S = 0
                                    for r in lo..<hi {
                                        let o = r * c
                                        var k = 0
                                        while k < v {
                                            let zk = load(xp + o + k) / load(sp + k)
                                            store(zk, zp + o + k)
                                            let yk = load(wp + k) * zk + load(bp + k)
                                            probe += yk - yk
                                            store(yk, yp + o + k)
                                            k += 8
                                        }
                                        while k < c {
                                            let zk = xp[o + k] / sp[k]
                                            zp[o + k] = zk
                                            let yk = wp[k] * zk + bp[k]
                                            tail += yk - yk
                                            yp[o + k] = yk
                                            k += 1
                                        }
                                    }
                                    return (probe.sum() + tail).isFinite
                                }
                                finite = !flags.contains(false)
                            }
                        }
                    }
                }
            }
            zc = x.count
        }
        return (z, y, finite)
    }

    /// `out = (x ⊙ a[c]) ⊙ b[c]` (in that order).
    static func channelScale<S: NormScalar>(_ x: [S], rows: Int, channels c: Int, _ a: [S], _ b: [S]) -> [S] {
        [S](unsafeUninitializedCapacity: x.count) { ob, count in
            x.withUnsafeBufferPointer { xb in
                a.withUnsafeBufferPointer { ab in
                    b.withUnsafeBufferPointer { bb in
                        let (xp, op, ap, bp) = (xb.baseAddress!, ob.baseAddress!, ab.baseAddress!, bb.baseAddress!)
                        let v = c - c % 8
                        eachRow(rows, channels: c) { r in
                            let o = r * c
                            var k = 0
                            while k < v {
                                store(load(xp + o + k) * load(ap + k) * load(bp + k), op + o + k)
                                k += 8
                            }
                            while k < c {
                                op[o + k] = xp[o + k] * ap[k] * bp[k]
                                k += 1
                            }
                        }
                    }
                }
            }
            count = x.count
        }
    }

    /// `dx = (g − corr[c]·z) / s[c]`, the correction applied on the rows with `corrected(r)` only
    /// (`(g − 0)/s` elsewhere).
    static func channelCorrect<S: NormScalar>(
        _ g: [S], _ z: [S], rows: Int, channels c: Int, correction corr: [S], divisor s: [S], mask: [Bool]?
    ) -> [S] {
        var storage = [S]()
        return channelCorrect(
            g, z, rows: rows, channels: c, correction: corr, divisor: s, mask: mask, reusing: &storage)
    }

    /// The same, written into `storage`'s buffer where it fits (see ``output(_:reusing:)``).
    static func channelCorrect<S: NormScalar>(
        _ g: [S], _ z: [S], rows: Int, channels c: Int, correction corr: [S], divisor s: [S], mask: [Bool]?,
        reusing storage: inout [S]
    ) -> [S] {
        var out = output(g.count, reusing: &storage)
        out.withUnsafeMutableBufferPointer { ob in
            g.withUnsafeBufferPointer { gb in
                z.withUnsafeBufferPointer { zb in
                    corr.withUnsafeBufferPointer { cb in
                        s.withUnsafeBufferPointer { sb in
                            let (gp, zp, op) = (gb.baseAddress!, zb.baseAddress!, ob.baseAddress!)
                            let (cp, sp) = (cb.baseAddress!, sb.baseAddress!)
                            let v = c - c % 8
                            eachRow(rows, channels: c) { r in
                                let o = r * c
                                var k = 0
                                if let mask, mask[r] {
                                    while k < c {
                                        op[o + k] = (gp[o + k] - 0) / sp[k]
                                        k += 1
                                    }
                                    return
                                }
                                while k < v {
                                    store(
                                        (load(gp + o + k) - load(cp + k) * load(zp + o + k)) / load(sp + k), op + o + k)
                                    k += 8
                                }
                                while k < c {
                                    op[o + k] = (gp[o + k] - cp[k] * zp[o + k]) / sp[k]
                                    k += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `dx = (dy ⊙ a[c] − corr[c]·z) / s[c]` on every row: `channelScale` and `channelCorrect` fused,
    /// so the scaled gradient `g = dy ⊙ a` is never stored (one tensor written instead of two).
    static func channelCorrectScaled<S: NormScalar>(
        _ dy: [S], _ z: [S], rows: Int, channels c: Int, scale a: [S], correction corr: [S], divisor s: [S]
    ) -> [S] {
        var storage = [S]()
        return channelCorrectScaled(
            dy, z, rows: rows, channels: c, scale: a, correction: corr, divisor: s, reusing: &storage)
    }

    /// The same, written into `storage`'s buffer where it fits (see ``output(_:reusing:)``).
    static func channelCorrectScaled<S: NormScalar>(
        _ dy: [S], _ z: [S], rows: Int, channels c: Int, scale a: [S], correction corr: [S], divisor s: [S],
        reusing storage: inout [S]
    ) -> [S] {
        var out = output(dy.count, reusing: &storage)
        out.withUnsafeMutableBufferPointer { ob in
            dy.withUnsafeBufferPointer { db in
                z.withUnsafeBufferPointer { zb in
                    corr.withUnsafeBufferPointer { cb in
                        s.withUnsafeBufferPointer { sb in
                            a.withUnsafeBufferPointer { ab in
                                let (dp, zp, op) = (db.baseAddress!, zb.baseAddress!, ob.baseAddress!)
                                let (cp, sp, ap) = (cb.baseAddress!, sb.baseAddress!, ab.baseAddress!)
                                let v = c - c % 8
                                eachRow(rows, channels: c) { r in
                                    let o = r * c
                                    var k = 0
                                    while k < v {
                                        let g = load(dp + o + k) * load(ap + k)
                                        store((g - load(cp + k) * load(zp + o + k)) / load(sp + k), op + o + k)
                                        k += 8
                                    }
                                    while k < c {
                                        op[o + k] = (dp[o + k] * ap[k] - cp[k] * zp[o + k]) / sp[k]
                                        k += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Per channel over every row: `Σ dy ⊙ (a[c]·z)` and `Σ dy` (`a = 1`: the plain affine gradients).
    static func parameterGradients<S: NormScalar>(
        _ dy: [S], _ z: [S], rows: Int, channels c: Int, zScale a: [S]
    ) -> (weight: [S], bias: [S]) {
        var gw = [S](repeating: 0, count: c)
        var gb = [S](repeating: 0, count: c)
        dy.withUnsafeBufferPointer { db in
            z.withUnsafeBufferPointer { zb in
                a.withUnsafeBufferPointer { sb in
                    gw.withUnsafeMutableBufferPointer { wb in
                        gb.withUnsafeMutableBufferPointer { bb in
                            let (dp, zp, ap) = (db.baseAddress!, zb.baseAddress!, sb.baseAddress!)
                            let (wp, bp) = (wb.baseAddress!, bb.baseAddress!)
                            let v = c - c % 8
                            for r in 0..<rows {
                                let dr = dp + r * c
                                let zr = zp + r * c
                                var k = 0
                                while k < v {
                                    let d = load(dr + k)
                                    store(load(wp + k) + d * (load(ap + k) * load(zr + k)), wp + k)
                                    store(load(bp + k) + d, bp + k)
                                    k += 8
                                }
                                while k < c {
                                    wp[k] += dr[k] * (ap[k] * zr[k])
                                    bp[k] += dr[k]
                                    k += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return (gw, gb)
    }
}

// MARK: Per-channel statistics over tokens, range-safe

extension RowKernels {
    /// Per channel over the real rows: the mean (when `centered`) and the mean of squared
    /// deviations `v = (1/T) Σ (x − μ)²` (`μ = 0` when not centered: the mean square).
    ///
    /// Range-safe: the sums run in `Double` (a `Float` input's squares cannot overflow or
    /// underflow there); a `Double` channel whose sums overflow is recomputed scaled by a power
    /// of two (exact) and scaled back. Each result is correctly rounded from its sum where it is
    /// representable; a variance or mean beyond the type's range comes back infinite (the caller
    /// throws: the true result is not representable then).
    /// With `eps`, also `scale = sqrt(variance + eps)` formed from the unrounded variance (in the
    /// scaled units where it was rescaled), so a variance that is subnormal in `S` still gives an
    /// accurate scale.
    static func columnMoments<S: NormScalar>(
        _ x: [S], rows: Int, channels c: Int, mask: [Bool]?, centered: Bool, eps: Double? = nil
    ) -> (mean: [S], variance: [S], scale: [S]) {
        let real = (0..<rows).filter { r in mask.map { !$0[r] } ?? true }
        let t = Double(real.count)
        var mean = [Double](repeating: 0, count: c)
        var m2 = [Double](repeating: 0, count: c)
        var variance = [Double](repeating: 0, count: c)
        var scale = [Double](repeating: eps.map { $0.squareRoot() } ?? 0, count: eps == nil ? 0 : c)
        x.withUnsafeBufferPointer { xb in
            let xp = xb.baseAddress!
            let v = c - c % 8
            mean.withUnsafeMutableBufferPointer { mb in
                m2.withUnsafeMutableBufferPointer { qb in
                    let mp = mb.baseAddress!
                    let qp = qb.baseAddress!
                    if centered {
                        for r in real {
                            let xr = xp + r * c
                            var k = 0
                            while k < v {
                                store(load(mp + k) + SIMD8<Double>(load(xr + k)), mp + k)
                                k += 8
                            }
                            while k < c {
                                mp[k] += Double(xr[k])
                                k += 1
                            }
                        }
                        for k in 0..<c { mp[k] /= t }
                    }
                    for r in real {
                        let xr = xp + r * c
                        var k = 0
                        while k < v {
                            let d = SIMD8<Double>(load(xr + k)) - load(mp + k)
                            store(load(qp + k) + d * d, qp + k)
                            k += 8
                        }
                        while k < c {
                            let d = Double(xr[k]) - mp[k]
                            qp[k] += d * d
                            k += 1
                        }
                    }
                }
            }
            for k in 0..<c { variance[k] = m2[k] / t }
            if let eps { for k in 0..<c { scale[k] = (variance[k] + eps).squareRoot() } }
            // Rescaled where the sums overflowed (Double input near its largest values) or where the
            // squares may have lost bits to underflow (a channel whose variance is below 2^−900):
            // the channel scaled by 2^−e, e the exponent of its largest entry.
            for k in 0..<c where !(mean[k].isFinite && m2[k].isFinite) || m2[k] < 0x1p-900 {
                var big = 0.0
                for r in real { big = max(big, abs(Double(xp[r * c + k]))) }
                guard big > 0, big.isFinite else { continue }
                let e = Int(big.exponent) + 1
                var mu = 0.0
                if centered {
                    for r in real { mu += scalbn(Double(xp[r * c + k]), -e) }
                    mu /= t
                }
                var s2 = 0.0
                for r in real {
                    let d = scalbn(Double(xp[r * c + k]), -e) - mu
                    s2 += d * d
                }
                mean[k] = scalbn(mu, e)
                // One rounding into the type, then an exact power of two (∞ only beyond the range).
                variance[k] = scalbn(s2 / t, 2 * e)
                // sqrt(v'·2^{2e} + ε) as 2^kk·sqrt(v'·2^{2(e−kk)} + ε·2^{−2kk}), kk the larger term's
                // half exponent: neither term overflows or underflows (ε·2^{−2e} overflowed for a
                // channel of entries below 1e−157, giving a scale of ∞ and outputs of 0).
                if let eps {
                    let v = s2 / t
                    let half = Int(eps.exponent) / 2
                    let kk = v > 0 ? max(Int(v.exponent) / 2 + e, half) : half
                    scale[k] = scalbn((scalbn(v, 2 * (e - kk)) + scalbn(eps, -2 * kk)).squareRoot(), kk)
                }
            }
        }
        return (mean.map { S($0) }, variance.map { S($0) }, scale.map { S($0) })
    }
}

@inline(__always)
private func scalbn(_ v: Double, _ k: Int) -> Double {
    v == 0 || !v.isFinite ? v : Double(sign: .plus, exponent: k, significand: v)
}
