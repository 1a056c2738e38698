/// The block's kernels on a CUDA GPU through the driver API, compiled by NVRTC from the same text
/// OpenCL builds (`BlockKernelSource`), sharing `CUDABackend`'s libraries and context. With
/// `useCUBLAS` the matrix products go through cuBLAS (`libcublas`, opened with `dlopen`, FP32
/// default math mode: no TF32) followed by the `block_epilogue` kernel, as PyTorch's own
/// inference does; without it they run the `block_gemm` kernel. Launches go to the default
/// stream in order; `synchronize()` is `cuCtxSynchronize`.
public final class CUDABlockDevice: KernelBlockDevice {
    typealias MemGetInfo = @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Int32
    typealias CublasCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    typealias CublasDestroy = @convention(c) (OpaquePointer?) -> Int32
    typealias CublasSgemm =
        @convention(c) (
            OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>?, UInt64, Int32, UInt64, Int32,
            UnsafePointer<Float>?, UInt64, Int32
        ) -> Int32
    typealias CublasSgemmStrided =
        @convention(c) (
            OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>?, UInt64, Int32, Int64, UInt64,
            Int32, Int64, UnsafePointer<Float>?, UInt64, Int32, Int64, Int32
        ) -> Int32

    public let name = "cuda"
    public let device: String
    public var gemmPath: String { cublas != nil ? "cublas" : "kernel" }
    let backend: CUDABackend
    let module: OpaquePointer
    var functions: [String: OpaquePointer] = [:]
    let cublasLibrary: DynamicLibrary?
    var cublas: OpaquePointer?

    public static let cublasNames = ["libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"]

    /// - Throws: `BackendError` when CUDA is not available, the kernels do not compile (NVRTC's
    ///   log in the message), or `useCUBLAS` is asked and cuBLAS cannot be opened or initialized.
    public init(_ backend: CUDABackend = CUDABackend(), useCUBLAS: Bool) throws {
        guard case .available(let d) = backend.availability, backend.context != nil else {
            throw BackendError("cuda", "not available: \(backend.availability)")
        }
        self.backend = backend
        device = "\(d); kernels: \(backend.compiler)"
        module = try backend.compileModule(source: BlockKernelSource.cuda, fileName: "block_kernels.cu")
        if useCUBLAS {
            let (lib, err) = DynamicLibrary.open(Self.cublasNames)
            guard let lib else { throw BackendError("cuda", "cuBLAS not found (\(err))") }
            var h: OpaquePointer?
            let s = try lib.symbol("cublasCreate_v2", as: CublasCreate.self)(&h)
            guard s == 0, h != nil else { throw BackendError("cuda", "cublasCreate failed (status \(s))") }
            cublasLibrary = lib
            cublas = h
        } else {
            cublasLibrary = nil
        }
    }

    deinit {
        if let h = cublas, let lib = cublasLibrary {
            _ = try? lib.symbol("cublasDestroy_v2", as: CublasDestroy.self)(h)
        }
    }

    var driver: DynamicLibrary {
        get throws {
            guard let d = backend.driver else { throw BackendError(name, "not available") }
            return d
        }
    }

    public func allocate(count: Int) throws -> DeviceBuffer {
        guard count > 0 else { throw BackendError(name, "a buffer needs at least one value (asked \(count))") }
        var p: UInt64 = 0
        let r = try driver.symbol("cuMemAlloc_v2", as: CUDABackend.CUMemAlloc.self)(&p, count * 4)
        guard r == 0 else { throw BackendError(name, "cuMemAlloc of \(count * 4) bytes failed (\(r))") }
        return DeviceBuffer(handle: p, count: count)
    }

    public func upload(_ values: [Float], to buffer: DeviceBuffer) throws {
        guard values.count <= buffer.count else { throw BackendError(name, "upload larger than the buffer") }
        let h2d = try driver.symbol("cuMemcpyHtoD_v2", as: CUDABackend.CUMemcpyHtoD.self)
        let r = values.withUnsafeBytes { h2d(buffer.handle, $0.baseAddress, $0.count) }
        guard r == 0 else { throw BackendError(name, "cuMemcpyHtoD failed (\(r))") }
    }

    public func download(_ buffer: DeviceBuffer) throws -> [Float] {
        let d2h = try driver.symbol("cuMemcpyDtoH_v2", as: CUDABackend.CUMemcpyDtoH.self)
        var out = [Float](repeating: 0, count: buffer.count)
        let r = out.withUnsafeMutableBytes { d2h($0.baseAddress, buffer.handle, $0.count) }
        guard r == 0 else { throw BackendError(name, "cuMemcpyDtoH failed (\(r))") }
        return out
    }

    public func release(_ buffer: DeviceBuffer) {
        _ = try? driver.symbol("cuMemFree_v2", as: CUDABackend.CUMemFree.self)(buffer.handle)
    }

    public func synchronize() throws {
        let r = try driver.symbol("cuCtxSynchronize", as: CUDABackend.CUCtxSynchronize.self)()
        guard r == 0 else { throw BackendError(name, "kernel execution failed (cuCtxSynchronize \(r))") }
    }

    public func memoryInfo() -> (free: Int, total: Int)? {
        var free = 0
        var total = 0
        guard let f = try? driver.symbol("cuMemGetInfo_v2", as: MemGetInfo.self), f(&free, &total) == 0 else {
            return nil
        }
        return (free, total)
    }

    public func launch(_ kernel: String, _ arguments: [BlockArgument], _ geometry: LaunchGeometry) throws {
        let d = try driver
        let fn: OpaquePointer
        if let f = functions[kernel] {
            fn = f
        } else {
            var f: OpaquePointer?
            guard
                try d.symbol("cuModuleGetFunction", as: CUDABackend.CUModuleGetFunction.self)(&f, module, kernel) == 0,
                let f
            else { throw BackendError(name, "kernel \(kernel) not found") }
            functions[kernel] = f
            fn = f
        }
        // cuLaunchKernel takes one pointer per parameter, to the parameter's bytes.
        let slots = arguments.map { a -> UnsafeMutableRawPointer in
            let bytes = a.scalarBytes
            let slot = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
            bytes.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return slot
        }
        defer { slots.forEach { $0.deallocate() } }
        var params: [UnsafeMutableRawPointer?] = slots
        let g = geometry
        let r = try d.symbol("cuLaunchKernel", as: CUDABackend.CULaunchKernel.self)(
            fn, UInt32(g.groups.x), UInt32(g.groups.y), UInt32(g.groups.z), UInt32(g.local.x), UInt32(g.local.y), 1,
            0, nil, &params, nil)
        guard r == 0 else { throw BackendError(name, "\(kernel): cuLaunchKernel failed (\(r))") }
    }

    public func gemm(_ g: BlockGEMM) throws {
        guard let h = cublas, let lib = cublasLibrary else { return try kernelGEMM(g) }
        try guardSizes("gemm", g.m, g.n, g.k, g.batch, g.m * g.n, g.m * g.k, g.n * g.k)
        let c = CUBLASCall(g)
        var alpha = g.alpha
        var beta: Float = 0
        let s: Int32
        if g.batch == 1 {
            s = try lib.symbol("cublasSgemm_v2", as: CublasSgemm.self)(
                h, c.transa, c.transb, c.m, c.n, c.k, &alpha, c.a, c.lda, c.b, c.ldb, &beta, c.c, c.ldc)
        } else {
            s = try lib.symbol("cublasSgemmStridedBatched", as: CublasSgemmStrided.self)(
                h, c.transa, c.transb, c.m, c.n, c.k, &alpha, c.a, c.lda, c.strideA, c.b, c.ldb, c.strideB, &beta,
                c.c, c.ldc, c.strideC, Int32(g.batch))
        }
        guard s == 0 else { throw BackendError(name, "cuBLAS SGEMM failed (status \(s))") }
        try epilogue(g.c, rows: g.batch * g.m, cols: g.n, g.epilogue)
    }
}

/// The cuBLAS arguments for a row-major `BlockGEMM`. cuBLAS is column-major, and a row-major
/// matrix read column-major is its transpose, so the row-major `C = A·op(B)` is computed as the
/// column-major `Cᵀ = op(B)ᵀ·Aᵀ`: cuBLAS's first operand is our `B` (transposed back when `B` is
/// stored `n × k`), its second our `A`, with `m = n`, `n = m`. (cuBLAS documentation, "cublas<t>gemm",
/// https://docs.nvidia.com/cuda/cublas/.)
public struct CUBLASCall: Equatable, Sendable {
    /// `CUBLAS_OP_N` = 0, `CUBLAS_OP_T` = 1.
    public var transa: Int32, transb: Int32
    public var m: Int32, n: Int32, k: Int32
    public var a: UInt64, lda: Int32, strideA: Int64
    public var b: UInt64, ldb: Int32, strideB: Int64
    public var c: UInt64, ldc: Int32, strideC: Int64

    public init(_ g: BlockGEMM) {
        transa = g.transposeB ? 1 : 0
        transb = 0
        m = Int32(g.n)
        n = Int32(g.m)
        k = Int32(g.k)
        a = g.b.handle
        lda = Int32(g.transposeB ? g.k : g.n)
        strideA = Int64(g.strideB)
        b = g.a.handle
        ldb = Int32(g.k)
        strideB = Int64(g.strideA)
        c = g.c.handle
        ldc = Int32(g.n)
        strideC = Int64(g.strideC)
    }
}
