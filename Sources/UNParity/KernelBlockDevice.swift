/// An argument of a `BlockKernelSource` kernel, in the kernel's parameter order.
public enum BlockArgument: Sendable, Equatable {
    case buffer(DeviceBuffer)
    case int(Int32)
    /// A C `long` (64-bit on both device compilers).
    case long(Int64)
    case float(Float)

    /// The bytes a scalar parameter carries.
    var scalarBytes: [UInt8] {
        switch self {
        case .buffer(let b): return withUnsafeBytes(of: b.handle) { Array($0) }
        case .int(let v): return withUnsafeBytes(of: v) { Array($0) }
        case .long(let v): return withUnsafeBytes(of: v) { Array($0) }
        case .float(let v): return withUnsafeBytes(of: v) { Array($0) }
        }
    }
}

/// The launch geometry of one kernel call: `groups` work-groups of `local` work-items each.
public struct LaunchGeometry: Sendable, Equatable {
    public var groups: (x: Int, y: Int, z: Int)
    public var local: (x: Int, y: Int)
    public static func == (l: Self, r: Self) -> Bool { l.groups == r.groups && l.local == r.local }
}

/// A device that runs the block's operations as `BlockKernelSource` kernels: the operations are
/// written once here, on top of `launch`, for OpenCL and CUDA alike.
public protocol KernelBlockDevice: BlockDevice {
    func launch(_ kernel: String, _ arguments: [BlockArgument], _ geometry: LaunchGeometry) throws
}

/// The geometries, so that tests can check them without a device.
public enum BlockLaunch {
    static let rg = BlockKernelSource.rowGroup
    static let ts = BlockKernelSource.tile

    /// One work-group per row.
    public static func rows(_ rows: Int) -> LaunchGeometry {
        LaunchGeometry(groups: (rows, 1, 1), local: (rg, 1))
    }
    /// `count` elements, one per work-item, in whole groups.
    public static func elements(_ count: Int) -> LaunchGeometry {
        LaunchGeometry(groups: ((count + rg - 1) / rg, 1, 1), local: (rg, 1))
    }
    /// Blocks of `C` (columns along x, rows along y), one batch matrix per z; 16 × 16 items each.
    public static func gemm(m: Int, n: Int, batch: Int) -> LaunchGeometry {
        LaunchGeometry(groups: ((n + ts - 1) / ts, (m + ts - 1) / ts, batch), local: (16, 16))
    }
}

/// The product, or `Int.max` where it overflows (so that a size check, not a trap, rejects it).
func mul(_ values: Int...) -> Int {
    values.reduce(1) { p, v in
        let (r, o) = p.multipliedReportingOverflow(by: v)
        return o ? Int.max : r
    }
}

extension KernelBlockDevice {
    /// Sizes the kernels index with 32-bit `int`, with room for the last group's overhang.
    func guardSizes(_ what: String, _ values: Int...) throws {
        let limit = Int(Int32.max) - 1024
        for v in values where v <= 0 || v > limit {
            throw BackendError(name, "\(what): size \(v) is outside 1…\(limit) (the kernels' 32-bit index)")
        }
    }

    /// Each buffer holds at least the values the kernel will touch (a GPU would fault past it).
    func need(_ what: String, _ pairs: (DeviceBuffer, Int)...) throws {
        for (b, n) in pairs where b.count < n {
            throw BackendError(name, "\(what): a buffer of \(b.count) values where \(n) are needed")
        }
    }

    public func layerNorm(
        x: DeviceBuffer, gamma: DeviceBuffer, beta: DeviceBuffer, y: DeviceBuffer, rows: Int, channels: Int,
        eps: Float
    ) throws {
        try guardSizes("layerNorm", rows, channels, mul(rows, channels))
        try need("layerNorm", (x, mul(rows, channels)), (y, mul(rows, channels)), (gamma, channels), (beta, channels))
        try launch(
            "block_layer_norm",
            [.buffer(x), .buffer(gamma), .buffer(beta), .buffer(y), .int(Int32(channels)), .float(eps)],
            BlockLaunch.rows(rows))
    }

    public func affine(
        x: DeviceBuffer, scale: DeviceBuffer, shift: DeviceBuffer, y: DeviceBuffer, channels: Int, count: Int
    ) throws {
        try guardSizes("affine", channels, count)
        try need("affine", (x, count), (y, count), (scale, channels), (shift, channels))
        try launch(
            "block_affine",
            [.buffer(x), .buffer(scale), .buffer(shift), .buffer(y), .int(Int32(channels)), .int(Int32(count))],
            BlockLaunch.elements(count))
    }

    /// `block_gemm` with its epilogue fused.
    public func kernelGEMM(_ g: BlockGEMM) throws {
        try guardSizes("gemm", g.m, g.n, g.k, g.batch, mul(g.m, g.n), mul(g.m, g.k), mul(g.n, g.k))
        try checkExtents(g)
        let geometry = BlockLaunch.gemm(m: g.m, n: g.n, batch: g.batch)
        // CUDA's limit on a grid's y and z extents (OpenCL's is larger).
        guard geometry.groups.y <= 65_535, geometry.groups.z <= 65_535 else {
            throw BackendError(name, "gemm: \(g.m) rows × batch \(g.batch) exceeds the 65,535 grid limit in y or z")
        }
        let e = g.epilogue
        // An unused pointer parameter still needs a valid buffer: C stands in (never read).
        try launch(
            "block_gemm",
            [
                .buffer(g.a), .buffer(g.b), .buffer(g.c), .buffer(e.bias ?? g.c), .buffer(e.residual ?? g.c),
                .int(Int32(g.m)), .int(Int32(g.n)), .int(Int32(g.k)), .int(g.transposeB ? 1 : 0),
                .long(Int64(g.strideA)), .long(Int64(g.strideB)), .long(Int64(g.strideC)), .float(g.alpha),
                .int(e.mode),
            ], geometry)
    }

    /// The epilogue alone over `rows × cols` values of `c` (after a vendor GEMM).
    public func epilogue(_ c: DeviceBuffer, rows: Int, cols: Int, _ e: BlockGEMM.Epilogue) throws {
        guard !e.isEmpty else { return }
        try guardSizes("epilogue", rows, cols, mul(rows, cols))
        try need(
            "epilogue", (c, mul(rows, cols)), (e.bias ?? c, e.bias == nil ? 0 : cols),
            (e.residual ?? c, mul(rows, cols)))
        try launch(
            "block_epilogue",
            [
                .buffer(c), .buffer(e.bias ?? c), .buffer(e.residual ?? c), .int(Int32(cols)), .int(Int32(rows * cols)),
                .int(e.mode),
            ],
            BlockLaunch.elements(rows * cols))
    }

    public func softmax(_ s: DeviceBuffer, rows: Int, cols: Int) throws {
        try guardSizes("softmax", rows, cols, mul(rows, cols))
        try need("softmax", (s, mul(rows, cols)))
        try launch("block_softmax", [.buffer(s), .int(Int32(cols))], BlockLaunch.rows(rows))
    }

    public func splitHeads(
        qkv: DeviceBuffer, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, batch: Int, tokens: Int, heads: Int,
        dim: Int
    ) throws {
        let n = mul(batch, tokens, 3, heads, dim)
        try guardSizes("splitHeads", batch, tokens, heads, dim, n)
        try need("splitHeads", (qkv, n), (q, n / 3), (k, n / 3), (v, n / 3))
        try launch(
            "block_split_heads",
            [
                .buffer(qkv), .buffer(q), .buffer(k), .buffer(v), .int(Int32(tokens)), .int(Int32(heads)),
                .int(Int32(dim)), .int(Int32(n)),
            ], BlockLaunch.elements(n))
    }

    public func mergeHeads(o: DeviceBuffer, y: DeviceBuffer, batch: Int, tokens: Int, heads: Int, dim: Int) throws {
        let n = mul(batch, tokens, heads, dim)
        try guardSizes("mergeHeads", batch, tokens, heads, dim, n)
        try need("mergeHeads", (o, n), (y, n))
        try launch(
            "block_merge_heads",
            [.buffer(o), .buffer(y), .int(Int32(tokens)), .int(Int32(heads)), .int(Int32(dim)), .int(Int32(n))],
            BlockLaunch.elements(n))
    }
}
