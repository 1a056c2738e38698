/// The block's kernels on a CUDA GPU through the driver API, compiled by NVRTC from the same text
/// OpenCL builds (`BlockKernelSource`), sharing `CUDABackend`'s libraries and context. With
/// `useCUBLAS` the matrix products go through cuBLAS (`libcublas`, opened with `dlopen`, FP32
/// default math mode: no TF32) followed by the `block_epilogue` kernel, as PyTorch's own
/// inference does; without it they run the `block_gemm` kernel. Launches go to the default
/// stream in order; `synchronize()` is `cuCtxSynchronize`.
public final class CUDABlockDevice: KernelBlockDevice {
    typealias MemGetInfo = @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Int32
    typealias EventCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32) -> Int32
    typealias EventRecord = @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32
    typealias EventSync = @convention(c) (OpaquePointer?) -> Int32
    typealias EventElapsed = @convention(c) (UnsafeMutablePointer<Float>?, OpaquePointer?, OpaquePointer?) -> Int32
    typealias GetErrorName = @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32
    typealias ModuleUnload = @convention(c) (OpaquePointer?) -> Int32
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

    /// The driver entry points, looked up once: a lookup per call would be timed with the work.
    struct Driver {
        var alloc: CUDABackend.CUMemAlloc, free: CUDABackend.CUMemFree
        var toDevice: CUDABackend.CUMemcpyHtoD, toHost: CUDABackend.CUMemcpyDtoH
        var launch: CUDABackend.CULaunchKernel, synchronize: CUDABackend.CUCtxSynchronize
        var function: CUDABackend.CUModuleGetFunction, unload: ModuleUnload, memInfo: MemGetInfo
        var eventCreate: EventCreate, eventRecord: EventRecord, eventSynchronize: EventSync
        var eventElapsed: EventElapsed, errorName: GetErrorName

        init(_ d: DynamicLibrary) throws {
            alloc = try d.symbol("cuMemAlloc_v2", as: CUDABackend.CUMemAlloc.self)
            free = try d.symbol("cuMemFree_v2", as: CUDABackend.CUMemFree.self)
            toDevice = try d.symbol("cuMemcpyHtoD_v2", as: CUDABackend.CUMemcpyHtoD.self)
            toHost = try d.symbol("cuMemcpyDtoH_v2", as: CUDABackend.CUMemcpyDtoH.self)
            launch = try d.symbol("cuLaunchKernel", as: CUDABackend.CULaunchKernel.self)
            synchronize = try d.symbol("cuCtxSynchronize", as: CUDABackend.CUCtxSynchronize.self)
            function = try d.symbol("cuModuleGetFunction", as: CUDABackend.CUModuleGetFunction.self)
            unload = try d.symbol("cuModuleUnload", as: ModuleUnload.self)
            memInfo = try d.symbol("cuMemGetInfo_v2", as: MemGetInfo.self)
            eventCreate = try d.symbol("cuEventCreate", as: EventCreate.self)
            eventRecord = try d.symbol("cuEventRecord", as: EventRecord.self)
            eventSynchronize = try d.symbol("cuEventSynchronize", as: EventSync.self)
            eventElapsed = try d.symbol("cuEventElapsedTime", as: EventElapsed.self)
            errorName = try d.symbol("cuGetErrorName", as: GetErrorName.self)
        }
    }

    public let name = "cuda"
    public let device: String
    public var gemmPath: String { cublas != nil ? "cublas" : "kernel" }
    let backend: CUDABackend
    let api: Driver
    let module: OpaquePointer
    var functions: [String: OpaquePointer] = [:]
    var events: (OpaquePointer, OpaquePointer)?
    let cublasLibrary: DynamicLibrary?
    var cublas: OpaquePointer?
    var sgemm: CublasSgemm?
    var sgemmStrided: CublasSgemmStrided?

    /// By soname, then in the toolkit's default directory (often not on the loader's path).
    public static let cublasNames = ["libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"].flatMap {
        [$0, "/usr/local/cuda/lib64/" + $0]
    }

    /// - Throws: `BackendError` when CUDA is not available, the kernels neither compile nor load
    ///   (NVRTC's log or the driver's error in the message), or `useCUBLAS` is asked and cuBLAS
    ///   cannot be opened or initialized.
    public init(_ backend: CUDABackend = CUDABackend(), useCUBLAS: Bool) throws {
        guard case .available(let d) = backend.availability, backend.context != nil, let lib = backend.driver else {
            throw BackendError("cuda", "not available: \(backend.availability)")
        }
        self.backend = backend
        api = try Driver(lib)
        let (m, from) = try backend.loadModule(source: BlockKernelSource.cuda, fileName: "block_kernels.cu")
        module = m
        device = "\(d); kernels: \(from)"
        if useCUBLAS {
            let (lib, err) = DynamicLibrary.open(Self.cublasNames)
            guard let lib else { throw BackendError("cuda", "cuBLAS not found (\(err))") }
            var h: OpaquePointer?
            let s = try lib.symbol("cublasCreate_v2", as: CublasCreate.self)(&h)
            guard s == 0, h != nil else { throw BackendError("cuda", "cublasCreate failed (status \(s))") }
            sgemm = try lib.symbol("cublasSgemm_v2", as: CublasSgemm.self)
            sgemmStrided = try lib.symbol("cublasSgemmStridedBatched", as: CublasSgemmStrided.self)
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
        _ = api.unload(module)
    }

    /// The driver's name for a result code, e.g. `CUDA_ERROR_OUT_OF_MEMORY (2)`.
    func describe(_ r: Int32) -> String {
        var p: UnsafePointer<CChar>?
        guard api.errorName(r, &p) == 0, let p else { return "CUresult \(r)" }
        return "\(String(cString: p)) (\(r))"
    }

    public func allocate(count: Int) throws -> DeviceBuffer {
        try checkCount(count)
        var p: UInt64 = 0
        let r = api.alloc(&p, count * 4)
        guard r == 0 else { throw BackendError(name, "cuMemAlloc of \(count * 4) bytes failed: \(describe(r))") }
        return DeviceBuffer(handle: p, count: count)
    }

    public func upload(_ values: [Float], to buffer: DeviceBuffer) throws {
        guard values.count <= buffer.count else { throw BackendError(name, "upload larger than the buffer") }
        let r = values.withUnsafeBytes { api.toDevice(buffer.handle, $0.baseAddress, $0.count) }
        guard r == 0 else { throw BackendError(name, "cuMemcpyHtoD failed: \(describe(r))") }
    }

    public func download(_ buffer: DeviceBuffer) throws -> [Float] {
        var out = [Float](repeating: 0, count: buffer.count)
        let r = out.withUnsafeMutableBytes { api.toHost($0.baseAddress, buffer.handle, $0.count) }
        guard r == 0 else { throw BackendError(name, "cuMemcpyDtoH failed: \(describe(r))") }
        return out
    }

    public func release(_ buffer: DeviceBuffer) { _ = api.free(buffer.handle) }

    public func synchronize() throws {
        let r = api.synchronize()
        guard r == 0 else { throw BackendError(name, "kernel execution failed: \(describe(r))") }
    }

    public func memoryInfo() -> (free: Int, total: Int)? {
        var free = 0
        var total = 0
        guard api.memInfo(&free, &total) == 0 else { return nil }
        return (free, total)
    }

    /// Events recorded on the default stream before and after `body`'s work.
    public func measure(_ body: () throws -> Void) throws -> Double? {
        if events == nil {
            var a: OpaquePointer?
            var b: OpaquePointer?
            let r = api.eventCreate(&a, 0)
            let r2 = api.eventCreate(&b, 0)
            guard r == 0, r2 == 0, let a, let b else {
                throw BackendError(name, "cuEventCreate failed: \(describe(r != 0 ? r : r2))")
            }
            events = (a, b)
        }
        let (start, stop) = events!
        var r = api.eventRecord(start, nil)
        guard r == 0 else { throw BackendError(name, "cuEventRecord failed: \(describe(r))") }
        try body()
        r = api.eventRecord(stop, nil)
        guard r == 0 else { throw BackendError(name, "cuEventRecord failed: \(describe(r))") }
        try synchronize()
        var ms: Float = 0
        r = api.eventElapsed(&ms, start, stop)
        guard r == 0 else { throw BackendError(name, "cuEventElapsedTime failed: \(describe(r))") }
        return Double(ms) * 1e-3
    }

    public func launch(_ kernel: String, _ arguments: [BlockArgument], _ geometry: LaunchGeometry) throws {
        let fn: OpaquePointer
        if let f = functions[kernel] {
            fn = f
        } else {
            var f: OpaquePointer?
            let r = api.function(&f, module, kernel)
            guard r == 0, let f else { throw BackendError(name, "kernel \(kernel) not found: \(describe(r))") }
            functions[kernel] = f
            fn = f
        }
        // cuLaunchKernel takes one pointer per parameter, to the parameter's bytes: one 8-byte
        // slot each (every parameter here is 4 or 8 bytes), in one stack buffer.
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(arguments.count, 1)) { slots in
            try withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: max(arguments.count, 1)) {
                params in
                for (k, a) in arguments.enumerated() {
                    let slot = UnsafeMutableRawPointer(slots.baseAddress! + k)
                    switch a {
                    case .buffer(let b): slot.storeBytes(of: b.handle, as: UInt64.self)
                    case .int(let v): slot.storeBytes(of: v, as: Int32.self)
                    case .long(let v): slot.storeBytes(of: v, as: Int64.self)
                    case .float(let v): slot.storeBytes(of: v, as: Float.self)
                    }
                    params[k] = slot
                }
                let g = geometry
                let r = api.launch(
                    fn, UInt32(g.groups.x), UInt32(g.groups.y), UInt32(g.groups.z), UInt32(g.local.x),
                    UInt32(g.local.y), 1, 0, nil, params.baseAddress, nil)
                guard r == 0 else { throw BackendError(name, "\(kernel): cuLaunchKernel failed: \(describe(r))") }
            }
        }
    }

    public func gemm(_ g: BlockGEMM) throws {
        guard let h = cublas, let sgemm, let sgemmStrided else { return try kernelGEMM(g) }
        try guardSizes("gemm", g.m, g.n, g.k, g.batch, mul(g.m, g.n), mul(g.m, g.k), mul(g.n, g.k))
        try checkExtents(g)
        let c = CUBLASCall(g)
        var alpha = g.alpha
        var beta: Float = 0
        let s: Int32
        if g.batch == 1 {
            s = sgemm(h, c.transa, c.transb, c.m, c.n, c.k, &alpha, c.a, c.lda, c.b, c.ldb, &beta, c.c, c.ldc)
        } else {
            s = sgemmStrided(
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
