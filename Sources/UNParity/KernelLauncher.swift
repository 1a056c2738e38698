#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An argument of a device kernel, in the order of the kernel's parameters.
public enum KernelArgument: Sendable, Equatable {
    /// An input array of reals, converted to the kernel's precision.
    case reals([Double])
    /// An input array of 32-bit integers.
    case ints([Int32])
    /// An output array of `count` reals, read back after the launch.
    case output(count: Int)
    case int(Int32)
    case real(Double)

    /// The bytes the device receives: buffers as packed `float`/`double`/`int`, scalars as one value.
    public func packed(_ p: Precision) -> [UInt8] {
        func bytes<T>(_ v: [T]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
        switch self {
        case .reals(let a): return p == .float ? bytes(a.map { Float($0) }) : bytes(a)
        case .ints(let a): return bytes(a)
        case .output(let n): return [UInt8](repeating: 0, count: n * (p == .float ? 4 : 8))
        case .int(let v): return bytes([v])
        case .real(let v): return p == .float ? bytes([Float(v)]) : bytes([v])
        }
    }

    public var isBuffer: Bool {
        switch self {
        case .reals, .ints, .output: return true
        default: return false
        }
    }

    /// Reads reals back from device bytes.
    static func unpack(_ bytes: [UInt8], _ p: Precision) -> [Double] {
        bytes.withUnsafeBytes { raw in
            p == .float ? raw.bindMemory(to: Float.self).map { Double($0) } : Array(raw.bindMemory(to: Double.self))
        }
    }
}

/// A backend that launches the named kernels of `KernelSources`; the five operations of
/// `ComputeBackend` are written once, on top of `launch`, for every such backend.
public protocol KernelLauncher: ComputeBackend {
    /// Runs `kernel` over `globalSize` work items; returns the contents of the `.output`
    /// arguments, in order.
    func launch(_ kernel: String, _ arguments: [KernelArgument], globalSize: Int, precision: Precision) throws
        -> [[Double]]
}

extension KernelLauncher {
    func one(_ kernel: String, _ args: [KernelArgument], _ n: Int, _ p: Precision) throws -> [Double] {
        guard supports(p) else { throw BackendError(name, "\(p.rawValue) is not supported by this device") }
        return try launch(kernel, args, globalSize: n, precision: p)[0]
    }

    public func affine(x: [Double], scale: [Double], shift: [Double], channels: Int, precision: Precision) throws
        -> [Double]
    {
        try one(
            "un_affine",
            [
                .reals(x), .reals(scale), .reals(shift), .output(count: x.count), .int(Int32(channels)),
                .int(Int32(x.count)),
            ], x.count, precision)
    }

    public func linear(
        x: [Double], weight: [Double], bias: [Double], inputs: Int, outputs: Int, rows: Int, precision: Precision
    ) throws -> [Double] {
        try one(
            "linear",
            [
                .reals(x), .reals(weight), .reals(bias), .output(count: rows * outputs), .int(Int32(inputs)),
                .int(Int32(outputs)), .int(Int32(rows)),
            ],
            rows * outputs, precision)
    }

    public func meanSquare(x: [Double], realRows: [Bool], channels: Int, precision: Precision) throws -> [Double] {
        try one(
            "mean_square",
            [
                .reals(x), .ints(realRows.map { $0 ? 1 : 0 }), .output(count: channels), .int(Int32(realRows.count)),
                .int(Int32(channels)),
            ],
            channels, precision)
    }

    public func logGeometricMean(buffer: [Double], window: Int, channels: Int, precision: Precision) throws -> [Double]
    {
        try one(
            "log_gm", [.reals(buffer), .output(count: channels), .int(Int32(window)), .int(Int32(channels))], channels,
            precision)
    }

    public func layerNorm(
        x: [Double], gamma: [Double], beta: [Double], channels: Int, eps: Double, precision: Precision
    ) throws -> [Double] {
        let rows = x.count / channels
        return try one(
            "layer_norm",
            [
                .reals(x), .reals(gamma), .reals(beta), .output(count: x.count), .int(Int32(rows)),
                .int(Int32(channels)), .real(eps),
            ],
            rows, precision)
    }
}

/// A shared library opened at run time, so that building needs no GPU headers or libraries.
final class DynamicLibrary {
    let handle: UnsafeMutableRawPointer
    let path: String

    /// Tries each name in turn; `nil` with the loader's message when none opens.
    static func open(_ names: [String]) -> (DynamicLibrary?, String) {
        var errors: [String] = []
        for n in names {
            if let h = dlopen(n, RTLD_NOW | RTLD_LOCAL) { return (DynamicLibrary(handle: h, path: n), "") }
            errors.append(dlerror().map { String(cString: $0) } ?? "\(n): not found")
        }
        return (nil, errors.joined(separator: "; "))
    }

    private init(handle: UnsafeMutableRawPointer, path: String) {
        self.handle = handle
        self.path = path
    }
    deinit { dlclose(handle) }

    func symbol<T>(_ name: String, as: T.Type) throws -> T {
        guard let p = dlsym(handle, name) else { throw BackendError(path, "symbol \(name) not found") }
        return unsafeBitCast(p, to: T.self)
    }
}
