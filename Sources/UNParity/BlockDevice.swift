/// A buffer of `count` single-precision values on a `BlockDevice`. `handle` is the device's own
/// name for it: a CUDA device pointer, an OpenCL `cl_mem` bit pattern, or the CPU device's index.
public struct DeviceBuffer: Hashable, Sendable {
    public var handle: UInt64
    public var count: Int
    public var bytes: Int { count * MemoryLayout<Float>.size }
}

/// One matrix product of the block, row-major: `C[z] = alpha · A[z] · op(B[z])` for `z < batch`,
/// then the epilogue. `A` is `m × k`; `B` is `n × k` when `transposeB` (so `C = A·Bᵀ`, a linear
/// layer's `X·Wᵀ`) and `k × n` otherwise; matrix `z` starts `z·strideA` (`strideB`, `strideC`)
/// values into its buffer.
public struct BlockGEMM: Sendable {
    public var a: DeviceBuffer, b: DeviceBuffer, c: DeviceBuffer
    public var m: Int, n: Int, k: Int
    public var transposeB: Bool
    public var batch = 1
    public var strideA = 0, strideB = 0, strideC = 0
    public var alpha: Float = 1
    public var epilogue = Epilogue()

    /// What follows the product, entry by entry, in this order: `+ bias[column]`, the exact GELU
    /// `v·(1 + erf(v/√2))/2`, `+ residual` (same index as `C`).
    public struct Epilogue: Sendable {
        public var bias: DeviceBuffer?
        public var gelu = false
        public var residual: DeviceBuffer?
        public init(bias: DeviceBuffer? = nil, gelu: Bool = false, residual: DeviceBuffer? = nil) {
            self.bias = bias
            self.gelu = gelu
            self.residual = residual
        }
        /// The kernels' `mode` bits: 1 bias, 2 GELU, 4 residual.
        public var mode: Int32 { (bias != nil ? 1 : 0) | (gelu ? 2 : 0) | (residual != nil ? 4 : 0) }
        public var isEmpty: Bool { mode == 0 }
    }
}

/// The operations one Transformer block's inference needs, on some device: the CPU reference
/// (`CPUBlockDevice`), OpenCL (`OpenCLBlockDevice`, PoCL here) or CUDA (`CUDABlockDevice`).
/// Calls may run asynchronously; `synchronize()` waits for every earlier call. Every operation
/// throws `BackendError` when the device refuses it; none traps.
public protocol BlockDevice: AnyObject {
    /// The backend: "cpu", "opencl" or "cuda".
    var name: String { get }
    /// The device, in the vendor's words.
    var device: String { get }
    /// How the matrix products run: "kernel" (`block_gemm`, or Swift loops on the CPU) or a
    /// vendor library ("cublas").
    var gemmPath: String { get }
    func allocate(count: Int) throws -> DeviceBuffer
    func upload(_ values: [Float], to buffer: DeviceBuffer) throws
    func download(_ buffer: DeviceBuffer) throws -> [Float]
    func release(_ buffer: DeviceBuffer)
    /// LayerNorm of `rows` rows of `channels` values: `y = γ ⊙ (x − μ)/√(σ² + ε) + β`.
    func layerNorm(
        x: DeviceBuffer, gamma: DeviceBuffer, beta: DeviceBuffer, y: DeviceBuffer, rows: Int, channels: Int,
        eps: Float) throws
    /// UN's inference map `y = a ⊙ x + b` per channel over `count` values.
    func affine(x: DeviceBuffer, scale: DeviceBuffer, shift: DeviceBuffer, y: DeviceBuffer, channels: Int, count: Int)
        throws
    func gemm(_ g: BlockGEMM) throws
    /// Softmax of each of `rows` rows of `cols` values, in place.
    func softmax(_ s: DeviceBuffer, rows: Int, cols: Int) throws
    /// `qkv` as `[B, T, 3, H, D]` into `q`, `k`, `v` as `[B, H, T, D]`.
    func splitHeads(
        qkv: DeviceBuffer, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, batch: Int, tokens: Int, heads: Int,
        dim: Int) throws
    /// `o` as `[B, H, T, D]` into `y` as `[B, T, H·D]`.
    func mergeHeads(o: DeviceBuffer, y: DeviceBuffer, batch: Int, tokens: Int, heads: Int, dim: Int) throws
    func synchronize() throws
    /// Free and total device memory in bytes, where the device reports them.
    func memoryInfo() -> (free: Int, total: Int)?
    /// Runs `body` (which queues work), waits for all of it, and returns the device's own time
    /// for it in seconds where the device can measure it (CUDA events), else nil.
    func measure(_ body: () throws -> Void) throws -> Double?
}

extension BlockDevice {
    /// A buffer holds 1…2³¹ − 1 values (the kernels index with 32-bit `int`).
    func checkCount(_ count: Int) throws {
        guard count > 0, count <= Int(Int32.max) else {
            throw BackendError(name, "a buffer holds 1…\(Int32.max) values (asked \(count))")
        }
    }

    /// Every matrix of a batched product lies inside its buffer (a device would read or write
    /// past it: a fault on a GPU, a trap on the CPU).
    func checkExtents(_ g: BlockGEMM) throws {
        guard g.m > 0, g.n > 0, g.k > 0, g.batch > 0, g.strideA >= 0, g.strideB >= 0, g.strideC >= 0 else {
            throw BackendError(name, "gemm: sizes must be positive and strides non-negative")
        }
        func extent(_ stride: Int, _ size: Int) -> Int {
            let (a, o1) = (g.batch - 1).multipliedReportingOverflow(by: stride)
            let (b, o2) = a.addingReportingOverflow(mul(size))
            return o1 || o2 ? Int.max : b
        }
        let needs: [(DeviceBuffer?, Int, String)] = [
            (g.a, extent(g.strideA, mul(g.m, g.k)), "A"), (g.b, extent(g.strideB, mul(g.n, g.k)), "B"),
            (g.c, extent(g.strideC, mul(g.m, g.n)), "C"), (g.epilogue.bias, g.n, "bias"),
            (g.epilogue.residual, extent(g.strideC, mul(g.m, g.n)), "residual"),
        ]
        for (b, n, what) in needs {
            if let b, b.count < n {
                throw BackendError(name, "gemm: \(what) needs \(n) values, its buffer has \(b.count)")
            }
        }
    }

    public func measure(_ body: () throws -> Void) throws -> Double? {
        try body()
        try synchronize()
        return nil
    }
}

/// The block's operations in plain Swift, one loop nest per kernel of `BlockKernelSource`, in the
/// same order of operations within each output (sums in increasing index order). The reference
/// the devices are compared with, and a fallback that runs the same schedule where no GPU is.
public final class CPUBlockDevice: BlockDevice {
    public let name = "cpu"
    public let device = "host CPU (Swift loops, 1 thread)"
    public let gemmPath = "kernel"
    var storage: [UInt64: [Float]] = [:]
    var nextHandle: UInt64 = 1

    public init() {}

    /// Positive sizes whose products fit the same 32-bit range the kernels have.
    func sizes(_ what: String, _ values: Int...) throws {
        for v in values where v <= 0 || v > Int(Int32.max) - 1024 {
            throw BackendError(name, "\(what): size \(v) is outside 1…\(Int(Int32.max) - 1024)")
        }
    }

    func check(_ b: DeviceBuffer, _ atLeast: Int) throws {
        guard let s = storage[b.handle] else { throw BackendError(name, "unknown buffer \(b.handle)") }
        guard s.count >= atLeast else { throw BackendError(name, "buffer of \(s.count) values, \(atLeast) needed") }
    }

    public func allocate(count: Int) throws -> DeviceBuffer {
        try checkCount(count)
        let b = DeviceBuffer(handle: nextHandle, count: count)
        nextHandle += 1
        storage[b.handle] = [Float](repeating: 0, count: count)
        return b
    }
    public func upload(_ values: [Float], to buffer: DeviceBuffer) throws {
        try check(buffer, values.count)
        storage[buffer.handle]!.replaceSubrange(0..<values.count, with: values)
    }
    public func download(_ buffer: DeviceBuffer) throws -> [Float] {
        try check(buffer, 0)
        return storage[buffer.handle]!
    }
    public func release(_ buffer: DeviceBuffer) { storage[buffer.handle] = nil }
    public func synchronize() throws {}
    public func memoryInfo() -> (free: Int, total: Int)? { nil }

    public func layerNorm(
        x: DeviceBuffer, gamma: DeviceBuffer, beta: DeviceBuffer, y: DeviceBuffer, rows: Int, channels: Int,
        eps: Float
    ) throws {
        try sizes("layerNorm", rows, channels, mul(rows, channels))
        for b in [x, y] { try check(b, rows * channels) }
        for b in [gamma, beta] { try check(b, channels) }
        let xs = storage[x.handle]!
        let g = storage[gamma.handle]!
        let bt = storage[beta.handle]!
        var out = storage[y.handle]!
        for r in 0..<rows {
            let o = r * channels
            var s: Float = 0
            for c in 0..<channels { s += xs[o + c] }
            let mean = s / Float(channels)
            var v: Float = 0
            for c in 0..<channels {
                let d = xs[o + c] - mean
                v += d * d
            }
            let inv = 1 / (v / Float(channels) + eps).squareRoot()
            for c in 0..<channels { out[o + c] = g[c] * ((xs[o + c] - mean) * inv) + bt[c] }
        }
        storage[y.handle] = out
    }

    public func affine(
        x: DeviceBuffer, scale: DeviceBuffer, shift: DeviceBuffer, y: DeviceBuffer, channels: Int, count: Int
    ) throws {
        try sizes("affine", channels, count)
        for b in [x, y] { try check(b, count) }
        for b in [scale, shift] { try check(b, channels) }
        let xs = storage[x.handle]!
        let a = storage[scale.handle]!
        let s = storage[shift.handle]!
        var out = storage[y.handle]!
        for i in 0..<count { out[i] = a[i % channels] * xs[i] + s[i % channels] }
        storage[y.handle] = out
    }

    public func gemm(_ g: BlockGEMM) throws {
        try sizes("gemm", g.m, g.n, g.k, g.batch, mul(g.m, g.n), mul(g.m, g.k), mul(g.n, g.k))
        for b in [g.a, g.b, g.c] + [g.epilogue.bias, g.epilogue.residual].compactMap({ $0 }) { try check(b, 0) }
        try checkExtents(g)
        let a = storage[g.a.handle]!
        let bm = storage[g.b.handle]!
        let bias = g.epilogue.bias.map { storage[$0.handle]! }
        let res = g.epilogue.residual.map { storage[$0.handle]! }
        var c = storage[g.c.handle]!
        for z in 0..<g.batch {
            let ao = z * g.strideA
            let bo = z * g.strideB
            let co = z * g.strideC
            for i in 0..<g.m {
                for j in 0..<g.n {
                    var acc: Float = 0
                    if g.transposeB {
                        for t in 0..<g.k { acc += a[ao + i * g.k + t] * bm[bo + j * g.k + t] }
                    } else {
                        for t in 0..<g.k { acc += a[ao + i * g.k + t] * bm[bo + t * g.n + j] }
                    }
                    let idx = co + i * g.n + j
                    c[idx] = Self.apply(g.alpha * acc, bias: bias?[j], gelu: g.epilogue.gelu, residual: res?[idx])
                }
            }
        }
        storage[g.c.handle] = c
    }

    /// The epilogue of `block_apply`.
    static func apply(_ v: Float, bias: Float?, gelu: Bool, residual: Float?) -> Float {
        var v = v
        if let bias { v += bias }
        if gelu { v = 0.5 * v * (1 + Float(erf(Double(v * 0.707_106_781_186_547_52)))) }
        if let residual { v += residual }
        return v
    }

    public func softmax(_ s: DeviceBuffer, rows: Int, cols: Int) throws {
        try sizes("softmax", rows, cols, mul(rows, cols))
        try check(s, rows * cols)
        var v = storage[s.handle]!
        for r in 0..<rows {
            let o = r * cols
            var m = -Float.greatestFiniteMagnitude
            for c in 0..<cols { m = max(m, v[o + c]) }
            var sum: Float = 0
            for c in 0..<cols {
                let e = Float(exp(Double(v[o + c] - m)))
                v[o + c] = e
                sum += e
            }
            let inv = 1 / sum
            for c in 0..<cols { v[o + c] *= inv }
        }
        storage[s.handle] = v
    }

    public func splitHeads(
        qkv: DeviceBuffer, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, batch: Int, tokens: Int, heads: Int,
        dim: Int
    ) throws {
        try sizes("splitHeads", batch, tokens, heads, dim, mul(batch, tokens, 3, heads, dim))
        let width = heads * dim
        try check(qkv, batch * tokens * 3 * width)
        for b in [q, k, v] { try check(b, batch * tokens * width) }
        let src = storage[qkv.handle]!
        var dst = [storage[q.handle]!, storage[k.handle]!, storage[v.handle]!]
        for i in 0..<(batch * tokens * 3 * width) {
            let d = i % dim
            let h = (i / dim) % heads
            let which = (i / width) % 3
            let t = (i / (3 * width)) % tokens
            let bt = i / (3 * width * tokens)
            dst[which][((bt * heads + h) * tokens + t) * dim + d] = src[i]
        }
        storage[q.handle] = dst[0]
        storage[k.handle] = dst[1]
        storage[v.handle] = dst[2]
    }

    public func mergeHeads(o: DeviceBuffer, y: DeviceBuffer, batch: Int, tokens: Int, heads: Int, dim: Int) throws {
        try sizes("mergeHeads", batch, tokens, heads, dim, mul(batch, tokens, heads, dim))
        let n = batch * tokens * heads * dim
        for b in [o, y] { try check(b, n) }
        let src = storage[o.handle]!
        var dst = storage[y.handle]!
        for i in 0..<n {
            let d = i % dim
            let t = (i / dim) % tokens
            let h = (i / (dim * tokens)) % heads
            let bt = i / (dim * tokens * heads)
            dst[((bt * tokens + t) * heads + h) * dim + d] = src[i]
        }
        storage[y.handle] = dst
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
