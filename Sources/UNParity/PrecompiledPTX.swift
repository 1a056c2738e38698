/// The CUDA kernels compiled ahead of time to PTX by NVRTC (`scripts/generate-ptx.sh`), for a GPU
/// machine whose driver is present but NVRTC is not: the driver JIT-compiles PTX for the device.
/// An entry is used only for the exact source and options it was compiled from (FNV-1a-64 of
/// both), so a stale entry is never loaded; `PrecompiledPTXTests` fails while one is stale.
public enum PrecompiledPTX {
    struct Entry {
        var file: String
        var sourceHash: UInt64
        var ptx: String
    }

    /// FNV-1a, 64-bit (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/), of the
    /// source's UTF-8 bytes, a zero byte, and the options joined by spaces.
    public static func key(source: String, options: [String]) -> UInt64 {
        fnv1a(Array(source.utf8) + [0] + Array(options.joined(separator: " ").utf8))
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The PTX compiled from exactly this source with these options, if one was generated.
    public static func ptx(source: String, options: [String]) -> String? {
        let k = key(source: source, options: options)
        return entries.first { $0.sourceHash == k }?.ptx
    }
}
