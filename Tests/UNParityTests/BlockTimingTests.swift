import ArgumentParser
import Foundation
import Testing

@testable import UNParity

/// The block-timing path: the schedule against an independent Double reference, the OpenCL build
/// of the shared kernel text (PoCL) against the CPU, the memory accounting against hand-derived
/// live sets, and what can be checked of the CUDA path without a GPU (the cuBLAS argument mapping,
/// every launch's parameters against the PTX signatures, the precompiled PTX's freshness).
@Suite("Block timing")
struct BlockTimingTests {
    /// Shapes aimed at the edges: one token, one head, a head dimension of 1, widths and token
    /// counts that are not multiples of the 16-wide GEMM tile, an MLP ratio of 1.
    static func shapes(seed: UInt64, count: Int) -> [BlockShape] {
        var g = ParityRunner.Inputs(state: seed)
        func pick(_ n: Int) -> Int { Int(g.next() * Double(n)) }
        let pinned = [
            BlockShape(batch: 1, tokens: 1, width: 1, heads: 1, mlpRatio: 1),
            BlockShape(batch: 2, tokens: 17, width: 48, heads: 3, mlpRatio: 2),
            BlockShape(batch: 1, tokens: 33, width: 20, heads: 5, mlpRatio: 4),
        ]
        return pinned
            + (0..<count).map { _ in
                let heads = 1 + pick(4)
                return BlockShape(
                    batch: 1 + pick(2), tokens: 1 + pick(24), width: heads * (1 + pick(12)), heads: heads,
                    mlpRatio: 1 + pick(4))
            }
    }

    /// The block in Double from the same parameters, written from the formulas and sharing no code
    /// with the devices: `x₁ = x + Attn(N₁(x))`, `y = x₁ + W₂·GELU(W₁·N₂(x₁) + c₁) + c₂`. UN's
    /// map uses the unfolded `a`, `b`, so the folded schedule's fold is checked too.
    static func reference(_ p: BlockParameters, _ x: [Float], _ n: BlockNormalization) -> [Double] {
        let s = p.shape
        let (rows, c, t, h, d) = (s.rows, s.width, s.tokens, s.heads, s.headDim)
        func norm(_ v: [Double], _ i: Int) -> [Double] {
            var out = v
            for r in 0..<rows {
                let row = Array(v[(r * c)..<((r + 1) * c)])
                for j in 0..<c {
                    if n == .layerNorm {
                        let mean = row.reduce(0, +) / Double(c)
                        let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
                        out[r * c + j] =
                            Double(p.layerNormGamma[i][j]) * (row[j] - mean)
                            / (variance + Double(BlockParameters.eps)).squareRoot() + Double(p.layerNormBeta[i][j])
                    } else {
                        out[r * c + j] = Double(p.unScale[i][j]) * row[j] + Double(p.unShift[i][j])
                    }
                }
            }
            return out
        }
        func linear(_ v: [Double], _ l: BlockLinear) -> [Double] {
            let (i, o) = (l.inputs(s), l.outputs(s))
            let w = p.weights[l]!
            let b = p.biases[l]!
            return (0..<(rows * o)).map { e in
                let (r, j) = (e / o, e % o)
                return (0..<i).reduce(Double(b[j])) { $0 + Double(w[j * i + $1]) * v[r * i + $1] }
            }
        }
        let x0 = x.map(Double.init)
        let qkv = linear(norm(x0, 0), .qkv)
        var attn = [Double](repeating: 0, count: rows * c)
        for bt in 0..<s.batch {
            for head in 0..<h {
                func at(_ tok: Int, _ which: Int, _ k: Int) -> Double {
                    qkv[(bt * t + tok) * 3 * c + which * c + head * d + k]
                }
                for q in 0..<t {
                    let scores = (0..<t).map { key in
                        (0..<d).reduce(0.0) { $0 + at(q, 0, $1) * at(key, 1, $1) } / Double(d).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for k in 0..<d {
                        attn[(bt * t + q) * c + head * d + k] = (0..<t).reduce(0.0) { $0 + e[$1] / z * at($1, 2, k) }
                    }
                }
            }
        }
        let x1 = zip(x0, linear(attn, .projection)).map { $0 + $1 }
        let hidden = linear(norm(x1, 1), .fc1).map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        return zip(x1, linear(hidden, .fc2)).map { $0 + $1 }
    }

    static func normwise(_ y: [Float], _ ref: [Double]) -> Double {
        let m = ref.map(abs).max() ?? 0
        return zip(y, ref).map { abs(Double($0) - $1) }.max().map { $0 / m } ?? .infinity
    }

    @Test func cpuScheduleMatchesAnIndependentDoubleReference() throws {
        let seed: UInt64 = 41
        var worst = 0.0
        for s in Self.shapes(seed: seed, count: 12) {
            let p = BlockParameters(shape: s, seed: seed)
            let x = p.input(seed: seed)
            for n in BlockNormalization.allCases {
                let prog = try BlockProgram(CPUBlockDevice(), n, p, input: x)
                let d = Self.normwise(try prog.run(), Self.reference(p, x, n))
                worst = max(worst, d)
                #expect(d <= BlockTiming.validationThreshold, "seed \(seed), \(s), \(n): normwise \(d)")
            }
        }
        // Rounding is visible (the comparison is not vacuous) and far below the gate.
        #expect(worst > 0 && worst < BlockTiming.validationThreshold / 64, "worst \(worst)")
    }

    /// The OpenCL build of the kernel text that NVRTC compiles for CUDA, run under PoCL.
    @Test func openCLRunsTheSameScheduleAsTheCPU() throws {
        let cl = OpenCLBackend()
        guard case .available = cl.availability else {
            Issue.record("OpenCL is not available here (\(cl.availability)); scripts/bootstrap.sh installs PoCL")
            return
        }
        let device = try OpenCLBlockDevice(cl)
        for s in Self.shapes(seed: 5, count: 4) {
            for a in try BlockTiming.validate(device, shape: s) {
                #expect(a.withinThreshold, "seed 5: \(a.what): \(a.normwiseDifference)")
            }
        }
    }

    /// `block_gemm` against exact products entry by entry: for any summation order, with or
    /// without fused multiply-adds, `|fl(Σ aₖbₖ) − Σ aₖbₖ| ≤ γ_K Σ|aₖbₖ|` (Higham, Accuracy and
    /// Stability of Numerical Algorithms, 2nd ed., §3.1), and the epilogue's α, bias and residual
    /// add three more roundings, each relative to a partial sum bounded by
    /// `|α|Σ|aₖbₖ| + |bias| + |r|`: so `γ_{K+3}` times that. The exact value is computed in
    /// Double from the Float inputs (its own error, `γ_K` in Double, is below 10⁻¹³ of the bound's
    /// scale and is added).
    @Test func gemmKernelIsWithinTheDerivedBoundOnOddShapes() throws {
        let cl = OpenCLBackend()
        guard case .available = cl.availability else {
            Issue.record("OpenCL is not available here (\(cl.availability))")
            return
        }
        let device = try OpenCLBlockDevice(cl)
        var g = ParityRunner.Inputs(state: 99)
        let u = Double(Float.ulpOfOne) / 2
        var checked = 0
        for (m, n, k, batch) in [
            (1, 1, 1, 1), (17, 5, 33, 2), (64, 64, 16, 1), (3, 40, 7, 3), (70, 130, 33, 1), (129, 65, 17, 2),
        ] {
            for transposeB in [true, false] {
                for mode in [0, 1, 4, 5] {
                    let a = (0..<(batch * m * k)).map { _ in Float(g.next() * 4 - 2) }
                    let b = (0..<(batch * n * k)).map { _ in Float(g.next() * 4 - 2) }
                    let bias = (0..<n).map { _ in Float(g.next() - 0.5) }
                    let r = (0..<(batch * m * n)).map { _ in Float(g.next() * 8 - 4) }
                    let alpha: Float = 0.375
                    func put(_ v: [Float]) throws -> DeviceBuffer {
                        let buf = try device.allocate(count: v.count)
                        try device.upload(v, to: buf)
                        return buf
                    }
                    let (ab, bb, biasb, rb) = (try put(a), try put(b), try put(bias), try put(r))
                    let cb = try device.allocate(count: batch * m * n)
                    defer { [ab, bb, biasb, rb, cb].forEach(device.release) }
                    try device.gemm(
                        BlockGEMM(
                            a: ab, b: bb, c: cb, m: m, n: n, k: k, transposeB: transposeB, batch: batch,
                            strideA: m * k, strideB: n * k, strideC: m * n, alpha: alpha,
                            epilogue: .init(bias: mode & 1 != 0 ? biasb : nil, residual: mode & 4 != 0 ? rb : nil)))
                    try device.synchronize()
                    let got = try device.download(cb)
                    let gamma = Double(k + 3) * u / (1 - Double(k + 3) * u)
                    for z in 0..<batch {
                        for i in 0..<m {
                            for j in 0..<n {
                                var exact = 0.0
                                var size = 0.0
                                for t in 0..<k {
                                    let bv = transposeB ? b[z * n * k + j * k + t] : b[z * n * k + t * n + j]
                                    let prod = Double(a[z * m * k + i * k + t]) * Double(bv)
                                    exact += prod
                                    size += abs(prod)
                                }
                                exact *= Double(alpha)
                                size *= Double(alpha)
                                if mode & 1 != 0 {
                                    exact += Double(bias[j])
                                    size += abs(Double(bias[j]))
                                }
                                let idx = z * m * n + i * n + j
                                if mode & 4 != 0 {
                                    exact += Double(r[idx])
                                    size += abs(Double(r[idx]))
                                }
                                let bound = gamma * size + 1e-13 * size
                                #expect(
                                    abs(Double(got[idx]) - exact) <= bound,
                                    "\(m)×\(n)×\(k) batch \(batch) transB \(transposeB) mode \(mode) at \(idx)")
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(checked > 10_000)
    }

    /// The CPU device behind a class whose subclasses plant one fault each.
    class Forwarding: BlockDevice {
        let base = CPUBlockDevice()
        var name: String { "faulty" }
        var device: String { "CPU with a planted fault" }
        var gemmPath: String { "kernel" }
        func allocate(count: Int) throws -> DeviceBuffer { try base.allocate(count: count) }
        func upload(_ v: [Float], to b: DeviceBuffer) throws { try base.upload(v, to: b) }
        func download(_ b: DeviceBuffer) throws -> [Float] { try base.download(b) }
        func release(_ b: DeviceBuffer) { base.release(b) }
        func layerNorm(
            x: DeviceBuffer, gamma: DeviceBuffer, beta: DeviceBuffer, y: DeviceBuffer, rows: Int, channels: Int,
            eps: Float
        ) throws { try base.layerNorm(x: x, gamma: gamma, beta: beta, y: y, rows: rows, channels: channels, eps: eps) }
        func affine(
            x: DeviceBuffer, scale: DeviceBuffer, shift: DeviceBuffer, y: DeviceBuffer, channels: Int, count: Int
        ) throws { try base.affine(x: x, scale: scale, shift: shift, y: y, channels: channels, count: count) }
        func gemm(_ g: BlockGEMM) throws { try base.gemm(g) }
        func softmax(_ s: DeviceBuffer, rows: Int, cols: Int) throws { try base.softmax(s, rows: rows, cols: cols) }
        func splitHeads(
            qkv: DeviceBuffer, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, batch: Int, tokens: Int,
            heads: Int, dim: Int
        ) throws {
            try base.splitHeads(qkv: qkv, q: q, k: k, v: v, batch: batch, tokens: tokens, heads: heads, dim: dim)
        }
        func mergeHeads(o: DeviceBuffer, y: DeviceBuffer, batch: Int, tokens: Int, heads: Int, dim: Int) throws {
            try base.mergeHeads(o: o, y: y, batch: batch, tokens: tokens, heads: heads, dim: dim)
        }
        func synchronize() throws {}
        func memoryInfo() -> (free: Int, total: Int)? { nil }
    }

    /// Drops the residual of every product (a plausible porting fault).
    final class DroppedResidual: Forwarding {
        override func gemm(_ g: BlockGEMM) throws {
            var g = g
            g.epilogue.residual = nil
            try base.gemm(g)
        }
    }

    /// Skips the softmax above 64 rows: a fault that only the timed shape reaches.
    final class SoftmaxSkippedWhenLarge: Forwarding {
        override func softmax(_ s: DeviceBuffer, rows: Int, cols: Int) throws {
            if rows <= 64 { try base.softmax(s, rows: rows, cols: cols) }
        }
    }

    @Test func aWrongComputationIsNotTimed() throws {
        let small = BlockShape(batch: 1, tokens: 9, width: 16, heads: 2)
        let r = try BlockTiming.run(
            DroppedResidual(), .init(shape: small, repetitions: 2, warmup: 0, validationShape: small))
        #expect(!r.validated)
        #expect(r.schedules.isEmpty && r.foldedOverLayerNorm == nil)
        #expect(r.validation.contains { !$0.withinThreshold && $0.normwiseDifference > 0.01 })
        #expect(BlockTiming.text(r).contains("NOT TIMED"))
    }

    @Test func cpuTimingReportIsComplete() throws {
        let small = BlockShape(batch: 1, tokens: 9, width: 16, heads: 2)
        let r = try BlockTiming.run(
            CPUBlockDevice(), .init(shape: small, repetitions: 3, warmup: 1, validationShape: small))
        #expect(r.validated)
        #expect(r.schedules.map(\.normalization) == BlockNormalization.allCases)
        #expect(r.schedules.map(\.launches) == [11, 11, 9])
        for e in r.schedules {
            #expect(e.medianSeconds > 0 && e.lowerQuartileSeconds <= e.medianSeconds)
            #expect(e.medianSeconds <= e.upperQuartileSeconds)
        }
        let f = try #require(r.foldedOverLayerNorm)
        #expect(f.median > 0 && f.median.isFinite)
        let doc = BlockTiming.Document(backends: [], runs: [r])
        let back = try JSONDecoder().decode(BlockTiming.Document.self, from: BlockTiming.json(doc))
        #expect(back.runs.first?.schedules.count == 3 && back.schemaVersion == 1)
        #expect(BlockTiming.text(doc).contains("folded UN ÷ LayerNorm, wall time"))
    }

    /// The live sets written out by hand for each step (R = rows × width values, S the
    /// attention scores, H the MLP's hidden activation), against `peakLiveBytes`' own analysis.
    @Test func memoryAccountingMatchesHandDerivedLiveSets() {
        for s in Self.shapes(seed: 3, count: 20) + [.vitBase(batch: 8), .vitBase(batch: 1)] {
            let r = s.rows * s.width
            let sc = s.batch * s.heads * s.tokens * s.tokens
            let h = s.rows * s.hidden
            let ln = [
                2 * r, 5 * r, 7 * r, 4 * r + sc, 2 * r + sc, 3 * r + sc, 3 * r, 3 * r, 2 * r, 2 * r + h, r * 2 + h,
            ]
            let folded = [4 * r, 7 * r, 4 * r + sc, 2 * r + sc, 3 * r + sc, 3 * r, 3 * r, r + h, 2 * r + h]
            #expect(BlockSchedule.peakLiveBytes(.layerNorm, s) == 4 * ln.max()!, "\(s)")
            #expect(BlockSchedule.peakLiveBytes(.unMap, s) == 4 * ln.max()!, "\(s)")
            #expect(BlockSchedule.peakLiveBytes(.unFolded, s) == 4 * folded.max()!, "\(s)")
            // Every tensor allocated: 13 in the unfolded schedules, the two normalized ones fewer folded.
            let all = 4 * (r * 13 + sc + h)
            #expect(BlockSchedule.activationBytes(.layerNorm, s) == all)
            #expect(BlockSchedule.activationBytes(.unFolded, s) == all - 8 * r)
            // qkv and projection (weights and biases), fc1 and fc2.
            let attention = (s.width + 1) * 3 * s.width + (s.width + 1) * s.width
            let linear = 4 * (attention + 2 * (s.width * s.hidden) + s.hidden + s.width)
            #expect(BlockSchedule.parameterBytes(.unFolded, s) == linear)
            #expect(BlockSchedule.parameterBytes(.layerNorm, s) == linear + 16 * s.width)
        }
    }

    /// cuBLAS's documented column-major SGEMM (`C = α·op(A)·op(B) + β·C`, element (i, j) of a
    /// column-major matrix at `i + j·ld`), applied to the arguments `CUBLASCall` makes, equals the
    /// row-major product the CPU device computes.
    @Test func cublasArgumentsComputeTheRowMajorProduct() throws {
        func columnMajor(_ c: CUBLASCall, _ a: [Float], _ b: [Float], batch: Int) -> [Float] {
            var out = [Float](repeating: 0, count: Int(c.ldc) * Int(c.n) + Int(c.strideC) * (batch - 1))
            for z in 0..<batch {
                for i in 0..<Int(c.m) {
                    for j in 0..<Int(c.n) {
                        var acc: Float = 0
                        for l in 0..<Int(c.k) {
                            let av =
                                c.transa == 1
                                ? a[z * Int(c.strideA) + l + i * Int(c.lda)]
                                : a[z * Int(c.strideA) + i + l * Int(c.lda)]
                            let bv =
                                c.transb == 1
                                ? b[z * Int(c.strideB) + j + l * Int(c.ldb)]
                                : b[z * Int(c.strideB) + l + j * Int(c.ldb)]
                            acc += av * bv
                        }
                        out[z * Int(c.strideC) + i + j * Int(c.ldc)] = acc
                    }
                }
            }
            return out
        }
        var g = ParityRunner.Inputs(state: 12)
        for (m, n, k, batch) in [(1, 1, 1, 1), (5, 3, 7, 1), (4, 9, 2, 3), (197, 64, 16, 2)] {
            for transposeB in [true, false] {
                let a = (0..<(batch * m * k)).map { _ in Float(Int(g.next() * 9) - 4) }
                let b = (0..<(batch * n * k)).map { _ in Float(Int(g.next() * 9) - 4) }
                let cpu = CPUBlockDevice()
                let (ab, bb, cb) = (
                    try cpu.allocate(count: a.count), try cpu.allocate(count: b.count),
                    try cpu.allocate(count: batch * m * n)
                )
                try cpu.upload(a, to: ab)
                try cpu.upload(b, to: bb)
                let gemm = BlockGEMM(
                    a: ab, b: bb, c: cb, m: m, n: n, k: k, transposeB: transposeB, batch: batch, strideA: m * k,
                    strideB: n * k, strideC: m * n)
                try cpu.gemm(gemm)
                let call = CUBLASCall(gemm)
                #expect(call.a == bb.handle && call.b == ab.handle && call.c == cb.handle)
                // Small integers: every product and sum is exact in Float, so equality is exact.
                let rowMajor = try cpu.download(cb)
                #expect(columnMajor(call, b, a, batch: batch) == rowMajor, "\(m)×\(n)×\(k) \(transposeB)")
            }
        }
    }

    /// The parameter list of every PTX entry point: byte sizes in order.
    static func ptxSignatures(_ ptx: String) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        var current: String?
        for line in ptx.split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix(".visible .entry ") || l.hasPrefix(".entry ") {
                let name = l.split(separator: " ").last!.split(separator: "(").first!
                current = String(name)
                out[current!] = []
            } else if let c = current, l.hasPrefix(".param ") {
                let type = l.split(separator: " ")[1]
                out[c]!.append(["u64", "s64", "b64", "f64"].contains(String(type.dropFirst())) ? 8 : 4)
            } else if l.hasPrefix(")") {
                current = nil
            }
        }
        return out
    }

    /// A kernel device that records launches instead of running them.
    final class Recorder: KernelBlockDevice {
        var launches: [(String, [BlockArgument], LaunchGeometry)] = []
        var next: UInt64 = 0x1000
        let name = "recorder"
        let device = "none"
        let gemmPath = "kernel"
        func allocate(count: Int) throws -> DeviceBuffer {
            try checkCount(count)
            next += 0x1000
            return DeviceBuffer(handle: next, count: count)
        }
        func upload(_ values: [Float], to buffer: DeviceBuffer) throws {}
        func download(_ buffer: DeviceBuffer) throws -> [Float] { [Float](repeating: 0, count: buffer.count) }
        func release(_ buffer: DeviceBuffer) {}
        func synchronize() throws {}
        func memoryInfo() -> (free: Int, total: Int)? { nil }
        func gemm(_ g: BlockGEMM) throws { try kernelGEMM(g) }
        func launch(_ kernel: String, _ arguments: [BlockArgument], _ geometry: LaunchGeometry) throws {
            launches.append((kernel, arguments, geometry))
        }
    }

    /// Every launch the CUDA device would make passes exactly the parameters the compiled entry
    /// point declares (count and byte size), in a geometry CUDA accepts.
    @Test func everyLaunchMatchesItsPTXSignature() throws {
        let ptx = try #require(
            PrecompiledPTX.ptx(source: BlockKernelSource.cuda, options: CUDABackend(driverNames: []).compileOptions))
        let signatures = Self.ptxSignatures(ptx)
        #expect(Set(signatures.keys) == Set(BlockKernelSource.names))
        let rec = Recorder()
        for n in BlockNormalization.allCases {
            let s = BlockShape(batch: 2, tokens: 17, width: 48, heads: 3)
            let p = try BlockProgram(
                rec, n, BlockParameters(shape: s), input: [Float](repeating: 1, count: s.rows * s.width))
            try p.enqueue()
        }
        try rec.epilogue(DeviceBuffer(handle: 8, count: 6), rows: 2, cols: 3, .init(gelu: true))
        #expect(Set(rec.launches.map(\.0)) == Set(BlockKernelSource.names))
        for (k, args, geo) in rec.launches {
            #expect(args.map { $0.scalarBytes.count } == signatures[k], "\(k)")
            #expect(geo.local.x * geo.local.y <= 1024 && geo.groups.y <= 65_535 && geo.groups.z <= 65_535, "\(k)")
            #expect(geo.groups.x >= 1 && geo.groups.y >= 1 && geo.groups.z >= 1, "\(k)")
        }
        for (k, _, geo) in rec.launches where k == "block_layer_norm" || k == "block_softmax" {
            #expect(geo.local.x == BlockKernelSource.rowGroup, "the tree reduction needs exactly RG work-items")
        }
    }

    /// The parity kernels' packed parameters against their PTX, both precisions.
    @Test func parityKernelParametersMatchTheirPTX() throws {
        final class Capture: KernelLauncher {
            var calls: [(String, [KernelArgument])] = []
            let name = "capture"
            var availability: Availability { .available(device: "none") }
            func supports(_ p: Precision) -> Bool { true }
            func launch(_ kernel: String, _ arguments: [KernelArgument], globalSize: Int, precision: Precision) throws
                -> [[Double]]
            {
                calls.append((kernel, arguments))
                return [[]]
            }
        }
        let options = CUDABackend(driverNames: []).compileOptions
        for p in Precision.allCases {
            let sig = Self.ptxSignatures(
                try #require(PrecompiledPTX.ptx(source: KernelSources.cuda(p), options: options)))
            #expect(Set(sig.keys) == Set(KernelSources.names))
            let c = Capture()
            _ = try c.affine(x: [1, 2], scale: [1], shift: [0], channels: 1, precision: p)
            _ = try c.linear(x: [1], weight: [1], bias: [0], inputs: 1, outputs: 1, rows: 1, precision: p)
            _ = try c.meanSquare(x: [1], realRows: [true], channels: 1, precision: p)
            _ = try c.logGeometricMean(buffer: [1], window: 1, channels: 1, precision: p)
            _ = try c.layerNorm(x: [1], gamma: [1], beta: [0], channels: 1, eps: 1e-5, precision: p)
            #expect(Set(c.calls.map(\.0)) == Set(KernelSources.names))
            for (k, args) in c.calls { #expect(CUDABackend.parameterSizes(args, p) == sig[k], "\(k) \(p)") }
        }
    }

    /// The committed PTX is the compilation of the current sources with the current options (a
    /// kernel edited without `scripts/generate-ptx.sh` fails here), and declares every kernel.
    @Test func precompiledPTXIsFresh() throws {
        let options = CUDABackend(driverNames: []).compileOptions
        #expect(PrecompiledPTX.options == options.joined(separator: " "))
        let sources = [BlockKernelSource.cuda] + Precision.allCases.map(KernelSources.cuda)
        for src in sources {
            let ptx = PrecompiledPTX.ptx(source: src, options: options)
            #expect(ptx != nil, "stale: run scripts/generate-ptx.sh")
            #expect(ptx?.contains(".version 8.0") == true, "PTX ISA 8.0 (CUDA 12.0 drivers and later)")
        }
        #expect(PrecompiledPTX.entries.count == sources.count)
        #expect(PrecompiledPTX.ptx(source: BlockKernelSource.cuda + " ", options: options) == nil)
        #expect(PrecompiledPTX.ptx(source: BlockKernelSource.cuda, options: options + ["-G"]) == nil)
        // FNV-1a-64 test vectors from the reference implementation's test suite.
        #expect(PrecompiledPTX.fnv1a(Array("".utf8)) == 0xCBF2_9CE4_8422_2325)
        #expect(PrecompiledPTX.fnv1a(Array("a".utf8)) == 0xAF63_DC4C_8601_EC8C)
        #expect(PrecompiledPTX.fnv1a(Array("foobar".utf8)) == 0x8594_4171_F739_67E8)
    }

    @Test func badShapesAndOptionsAreTypedErrors() throws {
        #expect(throws: BackendError.self) { try BlockShape(batch: 1, tokens: 4, width: 10, heads: 3).validate() }
        #expect(throws: BackendError.self) { try BlockShape(batch: 0).validate() }
        #expect(throws: BackendError.self) {
            try BlockShape(batch: 1 << 20, tokens: 1 << 12, width: 1 << 10, heads: 16).validate()
        }
        let s = BlockShape(batch: 1, tokens: 2, width: 4, heads: 2)
        #expect(throws: BackendError.self) {
            _ = try BlockProgram(CPUBlockDevice(), .layerNorm, BlockParameters(shape: s), input: [1, 2, 3])
        }
        #expect(throws: BackendError.self) { _ = try CPUBlockDevice().allocate(count: 0) }
        #expect(throws: BackendError.self) {
            try CPUBlockDevice().softmax(DeviceBuffer(handle: 77, count: 4), rows: 2, cols: 2)
        }
        #expect(throws: BackendError.self) {
            _ = try BlockTiming.run(CPUBlockDevice(), .init(shape: s, repetitions: 0, validationShape: s))
        }
        #expect(throws: (any Error).self) { _ = try ParityOptions.parse(["--backend", "cpu"]) }
        #expect(throws: (any Error).self) { _ = try ParityOptions.parse(["--block-timing", "--block-batch", "0"]) }
        #expect(throws: (any Error).self) { _ = try ParityOptions.parse(["--backend", "metal"]) }
        let ok = try ParityOptions.parse(["--backend", "cpu", "--block-timing-only", "--block-repetitions", "3"])
        #expect(ok.backend == .cpu && ok.blockRepetitions == 3 && ok.blockBatches == [1])
        #expect(try ParityOptions.parse(["--block-timing"]).blockBatches == [1, 8, 64])
        #expect(
            try ParityOptions.parse(["--block-timing", "--block-batch", "2", "--block-batch", "5"]).blockBatches == [
                2, 5,
            ])
    }

    /// Under `--backend all` a CPU OpenCL device (PoCL here) is listed with the reason, not timed.
    @Test func cpuOpenCLIsNotTimedUnderAll() throws {
        let cl = OpenCLBackend()
        guard case .available = cl.availability, try OpenCLBlockDevice(cl).isCPU else { return }
        let tiny = BlockShape(batch: 1, tokens: 3, width: 4, heads: 2)
        let doc = ParityCLI.runBlockTiming(backend: .all, [.init(shape: tiny, repetitions: 1, validationShape: tiny)])
        let row = try #require(doc.backends.first { $0.name == "opencl" })
        #expect(!row.available && row.reason?.contains("CPU device") == true)
        #expect(doc.runs.allSatisfy { $0.backend != "opencl" })
        let asked = ParityCLI.runBlockTiming(
            backend: .opencl, [.init(shape: tiny, repetitions: 1, validationShape: tiny)])
        #expect(asked.runs.count == 1 && asked.runs[0].validated)
    }

    /// `--out` is checked before anything runs (a GPU lease is not spent on results that cannot
    /// be kept): a path under a regular file, and a results name taken by a directory.
    @Test func unwritableOutIsRefusedBeforeRunning() throws {
        let file = NSTemporaryDirectory() + "unv-bt-\(UUID().uuidString)"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        var o = try ParityOptions.parse(["--backend", "cpu", "--block-timing-only", "--out", file + "/sub"])
        #expect(throws: BackendError.self) { _ = try ParityCLI.execute(o) }
        let dir = NSTemporaryDirectory() + "unv-bt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/block-timing.json", withIntermediateDirectories: true)
        o = try ParityOptions.parse(["--backend", "cpu", "--block-timing-only", "--out", dir])
        do {
            _ = try ParityCLI.execute(o)
            Issue.record("expected a refusal")
        } catch let e as BackendError {
            #expect(e.message.contains("block-timing.json is a directory"))
        }
    }

    /// Outcomes: a backend that failed before producing any row fails the run (exit 1), it is not
    /// "nothing ran" (exit 2); with `--json` two parts are one JSON object.
    @Test func failuresAreFailuresAndJSONIsOneDocument() throws {
        let failed = ParityCLI.BackendStatus(
            name: "cuda", available: true, device: "GPU", reason: nil, error: "cuModuleLoadData failed")
        let absent = ParityCLI.BackendStatus(name: "opencl", available: false, device: nil, reason: "none", error: nil)
        #expect(ParityCLI.outcome(.init(backends: [failed], rows: [], allWithinBounds: false)) == .failed)
        #expect(ParityCLI.outcome(.init(backends: [absent], rows: [], allWithinBounds: true)) == .nothingRan)
        #expect(!BlockTiming.Document(backends: [failed], runs: []).allHeld)
        #expect(BlockTiming.Document(backends: [absent], runs: []).allHeld)
        let a = try ParityCLI.json(.init(backends: [absent], rows: [], allWithinBounds: true))
        let b = try BlockTiming.json(BlockTiming.Document(backends: [absent], runs: []))
        let one = try JSONSerialization.jsonObject(
            with: Data(ParityCLI.combinedJSON([("parity", a), ("blockTiming", b)]).utf8))
        #expect((one as? [String: Any]).map { Set($0.keys) } == ["parity", "blockTiming"])
        #expect(ParityCLI.combinedJSON([("parity", a)]) == String(decoding: a, as: UTF8.self) + "\n")
    }

    /// A NaN anywhere, on either side, is a disagreement (Swift's `max` would skip it).
    @Test func nonFiniteOutputsNeverValidate() {
        #expect(BlockTiming.normwise([1, 2], [1, .nan]) == .infinity)
        #expect(BlockTiming.normwise([.nan, 2], [1, 2]) == .infinity)
        #expect(BlockTiming.normwise([1, .infinity], [1, 2]) == .infinity)
        #expect(BlockTiming.normwise([1, 2], [1, 2, 3]) == .infinity)
        #expect(BlockTiming.normwise([1, 2.5], [1, 2]) == 0.25)
    }

    /// The library path has one call per linear layer more: its epilogue kernel.
    @Test func callCountsPerGEMMPath() {
        #expect(BlockNormalization.allCases.map { BlockSchedule.calls($0, gemmPath: "kernel") } == [11, 11, 9])
        #expect(BlockNormalization.allCases.map { BlockSchedule.calls($0, gemmPath: "cublas") } == [15, 15, 13])
    }

    /// At the timed shape every schedule's first sample is checked against the CPU's run of that
    /// sample alone: a fault common to both UN schedules (which agree with each other) is caught.
    @Test func timedShapeFaultCommonToBothUNSchedulesIsCaught() throws {
        let small = BlockShape(batch: 1, tokens: 4, width: 8, heads: 2)
        let timed = BlockShape(batch: 5, tokens: 9, width: 8, heads: 2)  // 90 softmax rows; one sample: 18
        let r = try BlockTiming.run(
            SoftmaxSkippedWhenLarge(), .init(shape: timed, repetitions: 1, validationShape: small))
        #expect(!r.validated && r.schedules.isEmpty)
        let unPair = try #require(r.validation.first { $0.what.hasPrefix("unFolded vs unMap") })
        #expect(unPair.withinThreshold, "the two UN schedules share the fault and agree")
        #expect(r.validation.contains { $0.what.contains("first sample") && !$0.withinThreshold })
    }

    /// Sizes at the edges of `Int` and buffers smaller than the call needs are typed errors on
    /// every device (the kernel devices would otherwise fault or read past a buffer), never a trap.
    @Test func badArgumentsAreTypedErrorsOnEveryDevice() throws {
        var devices: [any BlockDevice] = [CPUBlockDevice(), Recorder()]
        let cl = OpenCLBackend()
        if case .available = cl.availability { devices.append(try OpenCLBlockDevice(cl)) }
        let huge = [Int.max, Int.min, -1, 0, Int(Int32.max) + 1, 1 << 40]
        for d in devices {
            for n in huge {
                #expect(throws: BackendError.self, "\(d.name) allocate \(n)") { _ = try d.allocate(count: n) }
            }
            let small = try d.allocate(count: 16)
            let big = try d.allocate(count: 64)
            defer { [small, big].forEach(d.release) }
            for n in huge + [5] {
                #expect(throws: BackendError.self, "\(d.name) gemm m=\(n)") {
                    try d.gemm(BlockGEMM(a: big, b: big, c: small, m: n, n: 4, k: 4, transposeB: true))
                }
                #expect(throws: BackendError.self, "\(d.name) softmax rows \(n)") {
                    try d.softmax(small, rows: n, cols: 4)
                }
                #expect(throws: BackendError.self, "\(d.name) layerNorm rows \(n)") {
                    try d.layerNorm(x: big, gamma: small, beta: small, y: small, rows: n, channels: 16, eps: 1e-5)
                }
                #expect(throws: BackendError.self, "\(d.name) splitHeads dim \(n)") {
                    try d.splitHeads(qkv: big, q: small, k: small, v: small, batch: 1, tokens: 2, heads: 2, dim: n)
                }
            }
            // A batch whose last matrix runs past its buffer, and a negative stride.
            #expect(throws: BackendError.self) {
                try d.gemm(
                    BlockGEMM(
                        a: big, b: big, c: big, m: 4, n: 4, k: 4, transposeB: false, batch: 5, strideA: 16,
                        strideB: 16, strideC: 16))
            }
            #expect(throws: BackendError.self) {
                try d.gemm(
                    BlockGEMM(a: big, b: big, c: big, m: 4, n: 4, k: 4, transposeB: false, batch: 2, strideA: -16))
            }
            // The same call within its buffers is accepted.
            try d.gemm(
                BlockGEMM(
                    a: big, b: big, c: big, m: 4, n: 4, k: 4, transposeB: false, batch: 4, strideA: 16,
                    strideB: 16, strideC: 16))
        }
    }

    /// Without a GPU the CUDA rows say why; nothing is reported as timed.
    @Test func cudaAbsentIsReportedNotTimed() {
        let doc = ParityCLI.runBlockTiming(
            backend: .cuda, [.init(shape: BlockShape(batch: 1, tokens: 3, width: 4, heads: 2), repetitions: 1)])
        if case .available = CUDABackend().availability { return }  // a GPU machine: covered by the run itself
        #expect(doc.runs.isEmpty)
        #expect(doc.backends.map(\.name) == ["cuda"] && doc.backends[0].available == false)
        #expect(BlockTiming.text(doc).contains("nothing was timed"))
    }
}
