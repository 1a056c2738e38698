import Foundation

/// Runs every kernel on a backend and on the CPU reference, over shapes that include odd
/// sizes not dividing the work-group size, one token, and large inputs.
public struct ParityRunner {
    public struct Shape: Sendable {
        public var rows: Int
        public var channels: Int
    }

    /// The shapes: 1×1, 1×7, 13×5, 63×3 and 65×17 (around the 64-wide work group), 1000×64, 4096×96.
    public static let fullShapes = [
        Shape(rows: 1, channels: 1), Shape(rows: 1, channels: 7), Shape(rows: 13, channels: 5),
        Shape(rows: 63, channels: 3), Shape(rows: 65, channels: 17), Shape(rows: 1000, channels: 64),
        Shape(rows: 4096, channels: 96),
    ]
    /// A quicker set for `swift test`.
    public static let quickShapes = [
        Shape(rows: 1, channels: 1), Shape(rows: 1, channels: 7), Shape(rows: 63, channels: 3),
        Shape(rows: 65, channels: 17), Shape(rows: 300, channels: 32),
    ]

    public var shapes: [Shape]
    public var seed: UInt64
    public init(shapes: [Shape] = ParityRunner.fullShapes, seed: UInt64 = 2022) {
        self.shapes = shapes
        self.seed = seed
    }

    /// Deterministic inputs (SplitMix64), rounded to Float so both precisions see exact inputs.
    struct Inputs {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
        mutating func values(_ n: Int, lo: Double, hi: Double) -> [Double] {
            (0..<n).map { _ in Double(Float(lo + (hi - lo) * next())) }
        }
    }

    /// All kernels × shapes × precisions the device supports. Throws only on a backend failure.
    public func run(_ backend: any ComputeBackend, reference: any ComputeBackend = CPUBackend()) throws -> [ParityRow] {
        guard case .available(let device) = backend.availability else { return [] }
        var rows: [ParityRow] = []
        for p in Precision.allCases where backend.supports(p) {
            let u = p.unitRoundoff
            var g = Inputs(state: seed)
            for s in shapes {
                let n = s.rows * s.channels
                let c = s.channels
                let shape = "\(s.rows)×\(c)"
                func add(_ k: String, _ sh: String, _ cpu: [Double], _ dev: [Double], _ b: [Double]) {
                    rows.append(
                        ParityStatistics.row(
                            backend: backend.name, device: device, kernel: k, shape: sh, precision: p, cpu: cpu,
                            dev: dev, bound: b))
                }
                // (1) UN's inference affine map.
                let x = g.values(n, lo: -4, hi: 4)
                let a = g.values(c, lo: 0.2, hi: 3)
                let b = g.values(c, lo: -1, hi: 1)
                add(
                    "affine", shape, try reference.affine(x: x, scale: a, shift: b, channels: c, precision: p),
                    try backend.affine(x: x, scale: a, shift: b, channels: c, precision: p),
                    ParityBounds.affine(x: x, scale: a, shift: b, channels: c, u: u))
                // (2) folded linear on the device vs the unfolded pair (UN then linear) on the CPU.
                let outs = max(1, min(c, 48))
                let w = g.values(outs * c, lo: -1, hi: 1)
                let bias = g.values(outs, lo: -1, hi: 1)
                let normed = try reference.affine(x: x, scale: a, shift: b, channels: c, precision: p)
                let unfolded = try reference.linear(
                    x: normed, weight: w, bias: bias, inputs: c, outputs: outs, rows: s.rows, precision: p)
                var fw = w
                var fb = bias
                for o in 0..<outs {
                    var acc = 0.0
                    for k in 0..<c {
                        fw[o * c + k] = round(w[o * c + k] * a[k], p)
                        acc = round(acc + round(w[o * c + k] * b[k], p), p)
                    }
                    fb[o] = round(acc + bias[o], p)
                }
                add(
                    "folded linear", "\(shape)→\(outs)", unfolded,
                    try backend.linear(
                        x: x, weight: fw, bias: fb, inputs: c, outputs: outs, rows: s.rows, precision: p),
                    ParityBounds.fold(x: x, weight: w, bias: bias, scale: a, shift: b, inputs: c, outputs: outs, u: u))
                // (3a) quadratic mean over the real tokens (about a quarter padded, at least one real).
                var real = (0..<s.rows).map { _ in g.next() > 0.25 }
                real[s.rows / 2] = true
                let ms = try reference.meanSquare(x: x, realRows: real, channels: c, precision: p)
                add(
                    "mean square (padded)", shape, ms,
                    try backend.meanSquare(x: x, realRows: real, channels: c, precision: p),
                    ParityBounds.meanSquare(result: ms, realTokens: real.filter { $0 }.count, u: u))
                // (3b) log-domain geometric mean over windows 1, 2, 4, 8 of statistics spanning 1e-12…1e12.
                for m in [1, 2, 4, 8] {
                    let buf = (0..<(m * c)).map { _ in Double(Float(pow(10, -12 + 24 * g.next()))) }
                    let gm = try reference.logGeometricMean(buffer: buf, window: m, channels: c, precision: p)
                    add(
                        "log-domain GM (M=\(m))", "\(m)×\(c)", gm,
                        try backend.logGeometricMean(buffer: buf, window: m, channels: c, precision: p),
                        ParityBounds.geometricMean(buffer: buf, window: m, channels: c, result: gm, precision: p))
                }
                // (4) LayerNorm, the per-token comparison case.
                let gam = g.values(c, lo: 0.5, hi: 1.5)
                let bet = g.values(c, lo: -0.5, hi: 0.5)
                add(
                    "layer norm", shape,
                    try reference.layerNorm(x: x, gamma: gam, beta: bet, channels: c, eps: 1e-5, precision: p),
                    try backend.layerNorm(x: x, gamma: gam, beta: bet, channels: c, eps: 1e-5, precision: p),
                    ParityBounds.layerNorm(x: x, gamma: gam, beta: bet, channels: c, eps: 1e-5, u: u))
            }
        }
        return rows
    }

    func round(_ v: Double, _ p: Precision) -> Double { p == .float ? Double(Float(v)) : v }

    /// A fixed-width table of rows.
    public static func table(_ rows: [ParityRow]) -> String {
        var s =
            """
            backend  precision kernel                 shape           n        max ulp    p99 ulp    median ulp  \
            max rel    viol  worst/bound\n
            """
        for r in rows {
            func f(_ x: Double) -> String {
                x == 0 ? "0" : (x >= 0.01 && x < 1e5 ? String(format: "%.2f", x) : String(format: "%.2e", x))
            }
            s +=
                [
                    r.backend.padding(8), r.precision.padding(9), r.kernel.padding(22), r.shape.padding(15),
                    "\(r.count)".padding(8),
                    f(r.maxULPs).padding(10), f(r.p99ULPs).padding(10), f(r.medianULPs).padding(11),
                    f(r.maxRelative).padding(10),
                    "\(r.boundViolations)".padding(5), f(r.worstBoundRatio),
                ].joined(separator: " ") + "\n"
        }
        return s
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

#if canImport(Glibc)
import Glibc
#endif
