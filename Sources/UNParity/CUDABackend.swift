/// CUDA through the driver API (`libcuda.so.1`) with kernels compiled at run time by NVRTC
/// (`libnvrtc.so*`), both opened with `dlopen`: nothing CUDA is needed to build, and a machine
/// without a driver gets `.notAvailable` with the loader's reason. Where the driver is present
/// but NVRTC is not, the kernels load from the PTX compiled ahead of time (`PrecompiledPTX`).
public final class CUDABackend: KernelLauncher {
    typealias CUInit = @convention(c) (UInt32) -> Int32
    typealias CUDeviceGet = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    typealias CUDeviceGetName = @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32
    typealias CUPrimaryCtxRetain = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, Int32) -> Int32
    typealias CUCtxSetCurrent = @convention(c) (OpaquePointer?) -> Int32
    typealias CUModuleLoadData = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UnsafeRawPointer?) -> Int32
    typealias CUModuleGetFunction =
        @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, OpaquePointer?, UnsafePointer<CChar>?) -> Int32
    typealias CUMemAlloc = @convention(c) (UnsafeMutablePointer<UInt64>?, Int) -> Int32
    typealias CUMemFree = @convention(c) (UInt64) -> Int32
    typealias CUMemcpyHtoD = @convention(c) (UInt64, UnsafeRawPointer?, Int) -> Int32
    typealias CUMemcpyDtoH = @convention(c) (UnsafeMutableRawPointer?, UInt64, Int) -> Int32
    typealias CULaunchKernel =
        @convention(c) (
            OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
            UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        ) -> Int32
    typealias CUCtxSynchronize = @convention(c) () -> Int32
    typealias NVCreate =
        @convention(c) (
            UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32,
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
        ) -> Int32
    typealias NVCompile = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    typealias NVSize = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32
    typealias NVGet = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
    typealias NVDestroy = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32

    public let name = "cuda"
    public private(set) var availability: Availability
    let driver: DynamicLibrary?
    let nvrtc: DynamicLibrary?
    var context: OpaquePointer?
    var modules: [Precision: OpaquePointer] = [:]
    public let blockSize = 128
    /// Virtual architecture for NVRTC: PTX the driver JIT-compiles for the device at hand.
    public let architecture: String
    /// Where the kernels' PTX comes from: NVRTC at run time, or the precompiled PTX.
    public private(set) var compiler = "none"

    public static let driverNames = ["libcuda.so.1", "libcuda.so"]
    /// By soname, then in the toolkit's default directory (often not on the loader's path).
    public static let nvrtcNames = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"].flatMap {
        [$0, "/usr/local/cuda/lib64/" + $0]
    }

    public init(
        driverNames: [String] = CUDABackend.driverNames, nvrtcNames: [String] = CUDABackend.nvrtcNames,
        architecture: String = "compute_80"
    ) {
        self.architecture = architecture
        let (d, derr) = DynamicLibrary.open(driverNames)
        let (n, _) = DynamicLibrary.open(nvrtcNames)
        driver = d
        nvrtc = n
        guard let d else {
            availability = .notAvailable(reason: "CUDA driver not found (\(derr))")
            return
        }
        // Without NVRTC the kernels come from the PTX compiled ahead of time (PrecompiledPTX).
        compiler = n != nil ? "NVRTC (\(n!.path))" : "precompiled PTX (\(PrecompiledPTX.compiler); no NVRTC found)"
        do {
            guard try d.symbol("cuInit", as: CUInit.self)(0) == 0 else {
                availability = .notAvailable(reason: "cuInit failed: no usable GPU")
                return
            }
            var dev: Int32 = 0
            guard try d.symbol("cuDeviceGet", as: CUDeviceGet.self)(&dev, 0) == 0 else {
                availability = .notAvailable(reason: "no CUDA device")
                return
            }
            var nameBuf = [CChar](repeating: 0, count: 256)
            _ = try d.symbol("cuDeviceGetName", as: CUDeviceGetName.self)(&nameBuf, 256, dev)
            var ctx: OpaquePointer?
            guard try d.symbol("cuDevicePrimaryCtxRetain", as: CUPrimaryCtxRetain.self)(&ctx, dev) == 0,
                try d.symbol("cuCtxSetCurrent", as: CUCtxSetCurrent.self)(ctx) == 0
            else {
                availability = .notAvailable(reason: "could not make a CUDA context current")
                return
            }
            context = ctx
            availability = .available(
                device: String(decoding: nameBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        } catch {
            availability = .notAvailable(reason: "\(error)")
        }
    }

    public func supports(_ p: Precision) -> Bool { true }

    /// NVRTC options for the kernels.
    public var compileOptions: [String] { ["--gpu-architecture=\(architecture)", "--fmad=true"] }

    /// The launch geometry for `n` work items: whole blocks of `blockSize`.
    public func grid(for n: Int) -> (blocks: UInt32, threads: UInt32) {
        (UInt32(max(1, (n + blockSize - 1) / blockSize)), UInt32(blockSize))
    }

    /// The bytes behind each kernel parameter: a device pointer (8 bytes) for a buffer, the
    /// value itself for a scalar. `cuLaunchKernel` receives an array of pointers to these.
    public static func parameterSizes(_ args: [KernelArgument], _ p: Precision) -> [Int] {
        args.map { $0.isBuffer ? 8 : $0.packed(p).count }
    }

    func module(_ p: Precision) throws -> OpaquePointer {
        if let m = modules[p] { return m }
        let mod = try loadModule(source: KernelSources.cuda(p), fileName: "un_kernels.cu").module
        modules[p] = mod
        return mod
    }

    /// The kernels of `src` loaded into the current context, and where their PTX came from:
    /// NVRTC's compilation where NVRTC is here and its PTX loads; else the precompiled PTX of
    /// exactly this source (an NVRTC newer than the driver emits a PTX version the driver cannot
    /// JIT, CUDA_ERROR_UNSUPPORTED_PTX_VERSION; the precompiled PTX is ISA 8.0, CUDA 12.0).
    /// - Throws: `BackendError` with NVRTC's log when the source does not compile, or the
    ///   driver's error when no PTX loads.
    func loadModule(source src: String, fileName: String) throws -> (module: OpaquePointer, from: String) {
        guard let d = driver else { throw BackendError(name, "not available") }
        let pre = PrecompiledPTX.ptx(source: src, options: compileOptions)
        let preName = "precompiled PTX (\(PrecompiledPTX.compiler))"
        guard nvrtc != nil else {
            guard let pre else {
                throw BackendError(
                    name, "no NVRTC here and no precompiled PTX for \(fileName) (scripts/generate-ptx.sh)")
            }
            return (try load(ptx: Array(pre.utf8CString), driver: d), preName + "; no NVRTC found")
        }
        let ptx = try compilePTX(source: src, fileName: fileName)
        do {
            return (try load(ptx: ptx, driver: d), compiler)
        } catch let e as BackendError {
            guard let pre else { throw e }
            return (
                try load(ptx: Array(pre.utf8CString), driver: d), preName + "; NVRTC's PTX did not load: \(e.message)"
            )
        }
    }

    /// CUDA C compiled by NVRTC to NUL-terminated PTX.
    /// - Throws: `BackendError` with NVRTC's log when the source does not compile.
    func compilePTX(source src: String, fileName: String) throws -> [CChar] {
        guard let n = nvrtc else { throw BackendError(name, "no NVRTC") }
        var prog: OpaquePointer?
        guard
            try src.withCString({
                try n.symbol("nvrtcCreateProgram", as: NVCreate.self)(&prog, $0, fileName, 0, nil, nil)
            }) == 0
        else {
            throw BackendError(name, "nvrtcCreateProgram failed")
        }
        defer { _ = try? n.symbol("nvrtcDestroyProgram", as: NVDestroy.self)(&prog) }
        let opts = compileOptions.map { strdup($0) }
        defer { opts.forEach { free($0) } }
        let optPtrs = opts.map { UnsafePointer<CChar>($0) }
        let c = try optPtrs.withUnsafeBufferPointer {
            try n.symbol("nvrtcCompileProgram", as: NVCompile.self)(prog, Int32(optPtrs.count), $0.baseAddress)
        }
        if c != 0 {
            var size = 0
            _ = try n.symbol("nvrtcGetProgramLogSize", as: NVSize.self)(prog, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            _ = try n.symbol("nvrtcGetProgramLog", as: NVGet.self)(prog, &log)
            let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw BackendError(name, "NVRTC compile failed: \(text)")
        }
        var size = 0
        _ = try n.symbol("nvrtcGetPTXSize", as: NVSize.self)(prog, &size)
        var ptx = [CChar](repeating: 0, count: size + 1)
        _ = try n.symbol("nvrtcGetPTX", as: NVGet.self)(prog, &ptx)
        return ptx
    }

    /// Loads NUL-terminated PTX text into the current context (the driver compiles it for the device).
    func load(ptx: [CChar], driver d: DynamicLibrary) throws -> OpaquePointer {
        var mod: OpaquePointer?
        let r = try ptx.withUnsafeBytes {
            try d.symbol("cuModuleLoadData", as: CUModuleLoadData.self)(&mod, $0.baseAddress)
        }
        guard r == 0, let mod else { throw BackendError(name, "cuModuleLoadData failed: \(describe(r, driver: d))") }
        return mod
    }

    typealias CUGetErrorName = @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32

    /// The driver's name for a result code, e.g. `CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222)`.
    func describe(_ r: Int32, driver d: DynamicLibrary) -> String {
        var p: UnsafePointer<CChar>?
        guard let f = try? d.symbol("cuGetErrorName", as: CUGetErrorName.self), f(r, &p) == 0, let p else {
            return "CUresult \(r)"
        }
        return "\(String(cString: p)) (\(r))"
    }

    public func launch(_ kernel: String, _ arguments: [KernelArgument], globalSize: Int, precision: Precision) throws
        -> [[Double]]
    {
        guard let d = driver, context != nil else { throw BackendError(name, "not available") }
        let mod = try module(precision)
        var fn: OpaquePointer?
        guard try d.symbol("cuModuleGetFunction", as: CUModuleGetFunction.self)(&fn, mod, kernel) == 0 else {
            throw BackendError(name, "kernel \(kernel) not found")
        }
        let alloc = try d.symbol("cuMemAlloc_v2", as: CUMemAlloc.self)
        let free_ = try d.symbol("cuMemFree_v2", as: CUMemFree.self)
        let h2d = try d.symbol("cuMemcpyHtoD_v2", as: CUMemcpyHtoD.self)
        let d2h = try d.symbol("cuMemcpyDtoH_v2", as: CUMemcpyDtoH.self)
        var storage: [UnsafeMutableRawPointer] = []
        var devPtrs: [UInt64] = []
        defer {
            storage.forEach { $0.deallocate() }
            devPtrs.forEach { _ = free_($0) }
        }
        var outputs: [(UInt64, Int)] = []
        for arg in arguments {
            let bytes = arg.packed(precision)
            if arg.isBuffer {
                var ptr: UInt64 = 0
                guard alloc(&ptr, max(bytes.count, 4)) == 0 else { throw BackendError(name, "cuMemAlloc failed") }
                devPtrs.append(ptr)
                _ = bytes.withUnsafeBytes { h2d(ptr, $0.baseAddress, bytes.count) }
                if case .output = arg { outputs.append((ptr, bytes.count)) }
                let slot = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                slot.storeBytes(of: ptr, as: UInt64.self)
                storage.append(slot)
            } else {
                let slot = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 8), alignment: 8)
                bytes.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                storage.append(slot)
            }
        }
        var params: [UnsafeMutableRawPointer?] = storage.map { $0 }
        let g = grid(for: globalSize)
        let r = try d.symbol("cuLaunchKernel", as: CULaunchKernel.self)(
            fn, g.blocks, 1, 1, g.threads, 1, 1, 0, nil, &params, nil)
        guard r == 0 else { throw BackendError(name, "cuLaunchKernel failed (\(r))") }
        guard try d.symbol("cuCtxSynchronize", as: CUCtxSynchronize.self)() == 0 else {
            throw BackendError(name, "kernel execution failed")
        }
        return outputs.map { ptr, count in
            var out = [UInt8](repeating: 0, count: count)
            _ = out.withUnsafeMutableBytes { d2h($0.baseAddress, ptr, count) }
            return KernelArgument.unpack(out, precision)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
