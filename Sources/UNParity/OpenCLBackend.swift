import Foundation

/// OpenCL through the ICD loader (`libOpenCL.so.1`), opened with `dlopen`: the package builds
/// with no OpenCL headers or libraries, and a machine without them gets `.notAvailable`.
/// Runs on PoCL's CPU device in CI, and on NVIDIA GPUs where the driver provides OpenCL.
public final class OpenCLBackend: KernelLauncher {
    typealias GetPlatformIDs =
        @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<UInt32>?) -> Int32
    typealias GetDeviceIDs =
        @convention(c) (
            OpaquePointer?, UInt64, UInt32, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<UInt32>?
        ) -> Int32
    typealias GetInfo =
        @convention(c) (OpaquePointer?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Int32
    typealias CreateContext =
        @convention(c) (
            UnsafePointer<Int>?, UInt32, UnsafePointer<OpaquePointer?>?, OpaquePointer?, UnsafeMutableRawPointer?,
            UnsafeMutablePointer<Int32>?
        ) -> OpaquePointer?
    typealias CreateQueue =
        @convention(c) (OpaquePointer?, OpaquePointer?, UInt64, UnsafeMutablePointer<Int32>?) -> OpaquePointer?
    typealias CreateProgram =
        @convention(c) (
            OpaquePointer?, UInt32, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?,
            UnsafeMutablePointer<Int32>?
        ) -> OpaquePointer?
    typealias BuildProgram =
        @convention(c) (
            OpaquePointer?, UInt32, UnsafePointer<OpaquePointer?>?, UnsafePointer<CChar>?, OpaquePointer?,
            UnsafeMutableRawPointer?
        ) -> Int32
    typealias BuildInfo =
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?
        ) -> Int32
    typealias CreateKernel =
        @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Int32>?) -> OpaquePointer?
    typealias CreateBuffer =
        @convention(c) (OpaquePointer?, UInt64, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) ->
        OpaquePointer?
    typealias SetKernelArg = @convention(c) (OpaquePointer?, UInt32, Int, UnsafeRawPointer?) -> Int32
    typealias EnqueueNDRange =
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UInt32, UnsafePointer<Int>?, UnsafePointer<Int>?, UnsafePointer<Int>?,
            UInt32, UnsafePointer<OpaquePointer?>?, UnsafeMutablePointer<OpaquePointer?>?
        ) -> Int32
    typealias EnqueueRead =
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UInt32, Int, Int, UnsafeMutableRawPointer?, UInt32,
            UnsafePointer<OpaquePointer?>?, UnsafeMutablePointer<OpaquePointer?>?
        ) -> Int32
    typealias Unary = @convention(c) (OpaquePointer?) -> Int32

    struct API {
        var getPlatformIDs: GetPlatformIDs, getDeviceIDs: GetDeviceIDs, getDeviceInfo: GetInfo, getPlatformInfo: GetInfo
        var createContext: CreateContext, createQueue: CreateQueue, createProgram: CreateProgram,
            buildProgram: BuildProgram
        var buildInfo: BuildInfo, createKernel: CreateKernel, createBuffer: CreateBuffer, setKernelArg: SetKernelArg
        var enqueueNDRange: EnqueueNDRange, enqueueRead: EnqueueRead, finish: Unary
        var releaseMem: Unary, releaseKernel: Unary, releaseProgram: Unary, releaseQueue: Unary, releaseContext: Unary
    }

    public let name = "opencl"
    public private(set) var availability: Availability
    let library: DynamicLibrary?
    var api: API?
    var context: OpaquePointer?
    var queue: OpaquePointer?
    var device: OpaquePointer?
    var hasDouble = false
    var programs: [Precision: OpaquePointer] = [:]
    static let discovery = NSLock()
    /// Work-group size: problem sizes that are not multiples of it exercise the guards.
    public let localSize = 64

    /// Opens the ICD loader and the first device of the first platform that has one
    /// (`platformHint`: prefer a platform whose name contains it, e.g. "NVIDIA" or "Portable").
    public init(libraryNames: [String] = ["libOpenCL.so.1", "libOpenCL.so"], platformHint: String? = nil) {
        // The ICD loader's first platform query is not safe to run concurrently (two backends made
        // at once on PoCL: one of them saw no device), so discovery runs one at a time.
        Self.discovery.lock()
        defer { Self.discovery.unlock() }
        let (lib, err) = DynamicLibrary.open(libraryNames)
        library = lib
        guard let lib else {
            availability = .notAvailable(reason: "OpenCL ICD loader not found (\(err))")
            return
        }
        do {
            let a = try API(
                getPlatformIDs: lib.symbol("clGetPlatformIDs", as: GetPlatformIDs.self),
                getDeviceIDs: lib.symbol("clGetDeviceIDs", as: GetDeviceIDs.self),
                getDeviceInfo: lib.symbol("clGetDeviceInfo", as: GetInfo.self),
                getPlatformInfo: lib.symbol("clGetPlatformInfo", as: GetInfo.self),
                createContext: lib.symbol("clCreateContext", as: CreateContext.self),
                createQueue: lib.symbol("clCreateCommandQueue", as: CreateQueue.self),
                createProgram: lib.symbol("clCreateProgramWithSource", as: CreateProgram.self),
                buildProgram: lib.symbol("clBuildProgram", as: BuildProgram.self),
                buildInfo: lib.symbol("clGetProgramBuildInfo", as: BuildInfo.self),
                createKernel: lib.symbol("clCreateKernel", as: CreateKernel.self),
                createBuffer: lib.symbol("clCreateBuffer", as: CreateBuffer.self),
                setKernelArg: lib.symbol("clSetKernelArg", as: SetKernelArg.self),
                enqueueNDRange: lib.symbol("clEnqueueNDRangeKernel", as: EnqueueNDRange.self),
                enqueueRead: lib.symbol("clEnqueueReadBuffer", as: EnqueueRead.self),
                finish: lib.symbol("clFinish", as: Unary.self),
                releaseMem: lib.symbol("clReleaseMemObject", as: Unary.self),
                releaseKernel: lib.symbol("clReleaseKernel", as: Unary.self),
                releaseProgram: lib.symbol("clReleaseProgram", as: Unary.self),
                releaseQueue: lib.symbol("clReleaseCommandQueue", as: Unary.self),
                releaseContext: lib.symbol("clReleaseContext", as: Unary.self))
            api = a
            availability = .notAvailable(reason: "no OpenCL device")
            var n: UInt32 = 0
            guard a.getPlatformIDs(0, nil, &n) == 0, n > 0 else {
                availability = .notAvailable(reason: "the OpenCL loader reports no platform (no ICD installed)")
                return
            }
            var platforms = [OpaquePointer?](repeating: nil, count: Int(n))
            _ = a.getPlatformIDs(n, &platforms, nil)
            let named = platforms.map { pl in (p: pl, name: Self.string { a.getPlatformInfo(pl, 0x0902, $1, $2, $3) }) }
            let ordered = named.sorted { x, _ in platformHint.map { x.name.contains($0) } ?? false }
            for (p, pname) in ordered {
                var dn: UInt32 = 0
                guard a.getDeviceIDs(p, 0xFFFF_FFFF, 0, nil, &dn) == 0, dn > 0 else { continue }
                var devs = [OpaquePointer?](repeating: nil, count: Int(dn))
                _ = a.getDeviceIDs(p, 0xFFFF_FFFF, dn, &devs, nil)
                device = devs[0]
                let dname = Self.string { a.getDeviceInfo(devs[0], 0x102B, $1, $2, $3) }
                hasDouble = Self.string { a.getDeviceInfo(devs[0], 0x1030, $1, $2, $3) }.contains("cl_khr_fp64")
                var err: Int32 = 0
                context = a.createContext(nil, 1, &devs, nil, nil, &err)
                guard err == 0, context != nil else {
                    availability = .notAvailable(reason: "clCreateContext failed (\(err))")
                    return
                }
                queue = a.createQueue(context, devs[0], 0, &err)
                guard err == 0, queue != nil else {
                    availability = .notAvailable(reason: "clCreateCommandQueue failed (\(err))")
                    return
                }
                availability = .available(device: "\(dname) [\(pname)]")
                return
            }
        } catch {
            availability = .notAvailable(reason: "\(error)")
        }
    }

    deinit {
        if let a = api {
            for p in programs.values { _ = a.releaseProgram(p) }
            if let q = queue { _ = a.releaseQueue(q) }
            if let c = context { _ = a.releaseContext(c) }
        }
    }

    static func string(_ query: (Int, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Int32) -> String {
        var size = 0
        guard query(0, 0, nil, &size) == 0, size > 0 else { return "" }
        var buf = [CChar](repeating: 0, count: size + 1)
        _ = buf.withUnsafeMutableBytes { query(0, size, $0.baseAddress, nil) }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func supports(_ p: Precision) -> Bool { p == .float || hasDouble }

    func program(_ p: Precision) throws -> OpaquePointer {
        if let prog = programs[p] { return prog }
        guard let a = api, let ctx = context else { throw BackendError(name, "not available") }
        let src = KernelSources.openCL(p)
        var err: Int32 = 0
        let prog: OpaquePointer? = src.withCString { s in
            var ptr: UnsafePointer<CChar>? = s
            return a.createProgram(ctx, 1, &ptr, nil, &err)
        }
        guard err == 0, let prog else { throw BackendError(name, "clCreateProgramWithSource failed (\(err))") }
        var dev: OpaquePointer? = device
        let b = a.buildProgram(prog, 1, &dev, nil, nil, nil)
        if b != 0 {
            let log = Self.string { a.buildInfo(prog, device, 0x1183, $1, $2, $3) }
            _ = a.releaseProgram(prog)
            throw BackendError(name, "kernel build failed (\(b)): \(log)")
        }
        programs[p] = prog
        return prog
    }

    public func launch(_ kernelName: String, _ arguments: [KernelArgument], globalSize: Int, precision: Precision)
        throws -> [[Double]]
    {
        guard let a = api, let ctx = context, let q = queue else { throw BackendError(name, "not available") }
        let prog = try program(precision)
        var err: Int32 = 0
        guard let kernel = a.createKernel(prog, kernelName, &err), err == 0 else {
            throw BackendError(name, "clCreateKernel \(kernelName) failed (\(err))")
        }
        defer { _ = a.releaseKernel(kernel) }
        var buffers: [OpaquePointer?] = []
        defer { for b in buffers { _ = a.releaseMem(b) } }
        var outputs: [(Int, Int)] = []  // (buffer index, byte count)
        for (i, arg) in arguments.enumerated() {
            var bytes = arg.packed(precision)
            if arg.isBuffer {
                let size = max(bytes.count, 4)
                if bytes.isEmpty { bytes = [0, 0, 0, 0] }
                let mem = bytes.withUnsafeMutableBytes { a.createBuffer(ctx, 1 | 32, size, $0.baseAddress, &err) }
                guard err == 0, mem != nil else { throw BackendError(name, "clCreateBuffer failed (\(err))") }
                buffers.append(mem)
                if case .output = arg { outputs.append((buffers.count - 1, bytes.count)) }
                var m = mem
                let s = a.setKernelArg(kernel, UInt32(i), MemoryLayout<OpaquePointer?>.size, &m)
                guard s == 0 else { throw BackendError(name, "clSetKernelArg \(i) failed (\(s))") }
            } else {
                let s = bytes.withUnsafeBytes { a.setKernelArg(kernel, UInt32(i), $0.count, $0.baseAddress) }
                guard s == 0 else { throw BackendError(name, "clSetKernelArg \(i) failed (\(s))") }
            }
        }
        var global = (globalSize + localSize - 1) / localSize * localSize
        var local = localSize
        let e = a.enqueueNDRange(q, kernel, 1, nil, &global, &local, 0, nil, nil)
        guard e == 0 else { throw BackendError(name, "clEnqueueNDRangeKernel failed (\(e))") }
        var results: [[Double]] = []
        for (bi, count) in outputs {
            var out = [UInt8](repeating: 0, count: count)
            let r = out.withUnsafeMutableBytes {
                a.enqueueRead(q, buffers[bi], 1, 0, count, $0.baseAddress, 0, nil, nil)
            }
            guard r == 0 else { throw BackendError(name, "clEnqueueReadBuffer failed (\(r))") }
            results.append(KernelArgument.unpack(out, precision))
        }
        _ = a.finish(q)
        return results
    }
}
