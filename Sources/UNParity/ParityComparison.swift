import UnifiedNormalization

/// The distribution of differences between a device result and the CPU reference for one
/// kernel, shape and precision, with the per-entry bound derived for that kernel.
public struct ParityRow: Sendable, Codable, Equatable {
    public var backend: String
    public var device: String
    public var kernel: String
    public var shape: String
    public var precision: String
    public var count: Int
    public var maxULPs: Double
    public var p99ULPs: Double
    public var medianULPs: Double
    public var maxRelative: Double
    public var medianRelative: Double
    /// Entries whose difference exceeds the derived bound.
    public var boundViolations: Int
    /// `max |device − cpu| / bound` (≤ 1 when every entry is within its bound).
    public var worstBoundRatio: Double
}

enum ParityStatistics {
    static func ulp(_ x: Double, _ p: Precision) -> Double {
        p == .float ? Double(Float(x).ulp) : x.ulp
    }

    static func row(
        backend: String, device: String, kernel: String, shape: String, precision: Precision,
        cpu: [Double], dev: [Double], bound: [Double]
    ) -> ParityRow {
        precondition(cpu.count == dev.count && cpu.count == bound.count)
        var ulps: [Double] = []
        var rels: [Double] = []
        var violations = 0
        var worst = 0.0
        for i in cpu.indices {
            let d = abs(dev[i] - cpu[i])
            let ok = d <= bound[i] || (d == 0)
            if !ok || dev[i].isNaN { violations += 1 }
            worst = max(worst, bound[i] > 0 ? d / bound[i] : (d == 0 ? 0 : .infinity))
            ulps.append(d / ulp(cpu[i] == 0 ? .leastNormalMagnitude : cpu[i], precision))
            rels.append(cpu[i] == 0 ? d : d / abs(cpu[i]))
        }
        func q(_ a: [Double], _ f: Double) -> Double {
            let s = a.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * f).rounded()))]
        }
        return ParityRow(
            backend: backend, device: device, kernel: kernel, shape: shape, precision: precision.rawValue,
            count: cpu.count,
            maxULPs: ulps.max() ?? 0, p99ULPs: q(ulps, 0.99), medianULPs: q(ulps, 0.5),
            maxRelative: rels.max() ?? 0, medianRelative: q(rels, 0.5), boundViolations: violations,
            worstBoundRatio: worst)
    }

    static func gamma(_ k: Int, _ u: Double) -> Double { RoundingError.gamma(k, unitRoundoff: u) }
}

/// The derived per-entry bounds on `|device − cpu|` (both sides carry rounding; the bound is
/// the sum of both sides' forward-error bounds). `u` is the precision's unit roundoff; device
/// math functions are allowed the OpenCL limits (log, exp ≤ 3 ulp, sqrt ≤ 3 ulp, division ≤ 2.5
/// ulp in single precision) and may contract `a*b+c` into one fused operation.
public enum ParityBounds {
    /// (1) `a x + b`: at most two roundings per side: `2 γ₂ (|a x| + |b|)`.
    public static func affine(x: [Double], scale: [Double], shift: [Double], channels: Int, u: Double) -> [Double] {
        x.indices.map { i in
            let c = i % channels
            return 2 * ParityStatistics.gamma(2, u) * (abs(scale[c] * x[i]) + abs(shift[c]))
        }
    }

    /// (2) folded `W' x + b'` vs unfolded `W(a x + b) + c`: claim F2's `2 γ_{n+3} M_i`, whatever
    /// the summation order (the `γ_n` bound holds for any order, and fused operations only remove roundings).
    public static func fold(
        x: [Double], weight: [Double], bias: [Double], scale: [Double], shift: [Double],
        inputs n: Int, outputs o: Int, u: Double
    ) -> [Double] {
        Fusion.followingFoldErrorBound(
            scale: scale, shift: shift, weight: weight, bias: bias, input: x, inputs: n, outputs: o, unitRoundoff: u)
    }

    /// (3a) mean of `T` non-negative terms: `2 γ_{T+1} · result` (no cancellation).
    public static func meanSquare(result: [Double], realTokens t: Int, u: Double) -> [Double] {
        result.map { 2 * ParityStatistics.gamma(t + 1, u) * $0 }
    }

    /// (3b) log-domain geometric mean: host `((M+2)L + 3)` ulps (K4, libm within one ulp) plus
    /// device `((M+6)L + 6)` ulps (log and exp within three ulps), `L = max|ln w|`.
    public static func geometricMean(
        buffer: [Double], window m: Int, channels: Int, result: [Double], precision: Precision
    ) -> [Double] {
        (0..<channels).map { c in
            let l = (0..<m).map { abs(log(buffer[$0 * channels + c])) }.max() ?? 0
            let ulps = (Double(m + 2) * l + 3) + (Double(m + 6) * l + 6)
            return ulps * ParityStatistics.ulp(result[c], precision)
        }
    }

    /// (4) LayerNorm per entry, both sides:
    /// `2 [ |g| (γ_{C+1} mean|x| + u|x − m|)/s + (C + 16) u |g z| + 2u (|g z| + |b|) ]`:
    /// the mean's error shifts every centred value, the variance's relative error (≤ (C+2)u/2,
    /// the cross term vanishing because the centred values sum to zero) and the square root and
    /// division (≤ 6u and 5u on the device) scale `z`.
    public static func layerNorm(x: [Double], gamma: [Double], beta: [Double], channels c: Int, eps: Double, u: Double)
        -> [Double]
    {
        let rows = x.count / c
        var out: [Double] = []
        for r in 0..<rows {
            let row = Array(x[(r * c)..<((r + 1) * c)])
            let m = row.reduce(0, +) / Double(c)
            let v = row.reduce(0.0) { $0 + ($1 - m) * ($1 - m) } / Double(c)
            let s = (v + eps).squareRoot()
            let meanAbs = row.reduce(0.0) { $0 + abs($1) } / Double(c)
            for k in 0..<c {
                let gz = abs(gamma[k] * (row[k] - m) / s)
                let b =
                    abs(gamma[k]) * (ParityStatistics.gamma(c + 1, u) * meanAbs + u * abs(row[k] - m)) / s
                    + Double(c + 16) * u * gz + 2 * u * (gz + abs(beta[k]))
                out.append(2 * b)
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
