/// The block's kernels on an OpenCL device (PoCL's CPU device here, an NVIDIA GPU where the driver
/// provides OpenCL), sharing `OpenCLBackend`'s loader, context and queue. Buffers stay on the
/// device between calls; launches are queued in order and `synchronize()` is `clFinish`.
public final class OpenCLBlockDevice: KernelBlockDevice {
    typealias EnqueueWrite =
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UInt32, Int, Int, UnsafeRawPointer?, UInt32,
            UnsafePointer<OpaquePointer?>?, UnsafeMutablePointer<OpaquePointer?>?
        ) -> Int32

    public let name = "opencl"
    public let device: String
    public let gemmPath = "kernel"
    let backend: OpenCLBackend
    let api: OpenCLBackend.API
    let write: EnqueueWrite
    let program: OpaquePointer
    var kernels: [String: OpaquePointer] = [:]
    /// Whether the device is a CPU (`CL_DEVICE_TYPE_CPU`), as PoCL's is: a timing there says
    /// nothing about a GPU.
    public let isCPU: Bool

    /// - Throws: `BackendError` when the backend is not available or the kernels do not build
    ///   (the build log is in the message).
    public init(_ backend: OpenCLBackend = OpenCLBackend()) throws {
        guard case .available(let d) = backend.availability, let a = backend.api, let lib = backend.library,
            let ctx = backend.context
        else { throw BackendError("opencl", "not available: \(backend.availability)") }
        self.backend = backend
        device = d
        api = a
        write = try lib.symbol("clEnqueueWriteBuffer", as: EnqueueWrite.self)
        var type: UInt64 = 0
        _ = a.getDeviceInfo(backend.device, 0x1000, 8, &type, nil)  // CL_DEVICE_TYPE
        isCPU = type & 2 != 0  // CL_DEVICE_TYPE_CPU
        var err: Int32 = 0
        let prog: OpaquePointer? = BlockKernelSource.openCL.withCString { s in
            var ptr: UnsafePointer<CChar>? = s
            return a.createProgram(ctx, 1, &ptr, nil, &err)
        }
        guard err == 0, let prog else { throw BackendError("opencl", "clCreateProgramWithSource failed (\(err))") }
        var dev: OpaquePointer? = backend.device
        let b = a.buildProgram(prog, 1, &dev, nil, nil, nil)
        if b != 0 {
            let log = OpenCLBackend.string { a.buildInfo(prog, backend.device, 0x1183, $1, $2, $3) }
            _ = a.releaseProgram(prog)
            throw BackendError("opencl", "block kernels did not build (\(b)): \(log)")
        }
        program = prog
    }

    deinit {
        for k in kernels.values { _ = api.releaseKernel(k) }
        _ = api.releaseProgram(program)
    }

    static func mem(_ b: DeviceBuffer) -> OpaquePointer? { OpaquePointer(bitPattern: UInt(b.handle)) }

    public func allocate(count: Int) throws -> DeviceBuffer {
        try checkCount(count)
        var err: Int32 = 0
        guard let m = api.createBuffer(backend.context, 1, count * 4, nil, &err), err == 0 else {
            throw BackendError(name, "clCreateBuffer of \(count * 4) bytes failed (\(err))")
        }
        return DeviceBuffer(handle: UInt64(UInt(bitPattern: m)), count: count)
    }

    public func upload(_ values: [Float], to buffer: DeviceBuffer) throws {
        guard values.count <= buffer.count else { throw BackendError(name, "upload larger than the buffer") }
        let r = values.withUnsafeBytes {
            write(backend.queue, Self.mem(buffer), 1, 0, $0.count, $0.baseAddress, 0, nil, nil)
        }
        guard r == 0 else { throw BackendError(name, "clEnqueueWriteBuffer failed (\(r))") }
    }

    public func download(_ buffer: DeviceBuffer) throws -> [Float] {
        var out = [Float](repeating: 0, count: buffer.count)
        let r = out.withUnsafeMutableBytes {
            api.enqueueRead(backend.queue, Self.mem(buffer), 1, 0, $0.count, $0.baseAddress, 0, nil, nil)
        }
        guard r == 0 else { throw BackendError(name, "clEnqueueReadBuffer failed (\(r))") }
        return out
    }

    public func release(_ buffer: DeviceBuffer) { _ = api.releaseMem(Self.mem(buffer)) }

    public func synchronize() throws {
        let r = api.finish(backend.queue)
        guard r == 0 else { throw BackendError(name, "clFinish failed (\(r))") }
    }

    public func memoryInfo() -> (free: Int, total: Int)? { nil }

    public func gemm(_ g: BlockGEMM) throws { try kernelGEMM(g) }

    public func launch(_ kernel: String, _ arguments: [BlockArgument], _ geometry: LaunchGeometry) throws {
        var err: Int32 = 0
        let k: OpaquePointer
        if let cached = kernels[kernel] {
            k = cached
        } else {
            guard let made = api.createKernel(program, kernel, &err), err == 0 else {
                throw BackendError(name, "clCreateKernel \(kernel) failed (\(err))")
            }
            kernels[kernel] = made
            k = made
        }
        for (i, a) in arguments.enumerated() {
            let s: Int32
            if case .buffer(let b) = a {
                var m = Self.mem(b)
                s = api.setKernelArg(k, UInt32(i), MemoryLayout<OpaquePointer?>.size, &m)
            } else {
                s = a.scalarBytes.withUnsafeBytes { api.setKernelArg(k, UInt32(i), $0.count, $0.baseAddress) }
            }
            guard s == 0 else { throw BackendError(name, "\(kernel): clSetKernelArg \(i) failed (\(s))") }
        }
        let g = geometry
        var global = [g.groups.x * g.local.x, g.groups.y * g.local.y, g.groups.z]
        var local = [g.local.x, g.local.y, 1]
        let e = api.enqueueNDRange(backend.queue, k, 3, nil, &global, &local, 0, nil, nil)
        guard e == 0 else { throw BackendError(name, "\(kernel): clEnqueueNDRangeKernel failed (\(e))") }
    }
}
