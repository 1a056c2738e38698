/// Why a safetensors file could not be read or written. Every malformed file gives one of these,
/// never a trap or a silently different tensor.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file ends before the 8-byte header length, the header or the data it announces.
    case truncated(reason: String)
    /// The header length is beyond ``Safetensors/maximumHeaderLength`` (the reference implementation's limit).
    case headerTooLarge(length: UInt64)
    /// The header is not a JSON object of the format's shape (with the decoder's reason).
    case malformedHeader(reason: String)
    /// A key appears twice in one JSON object of the header: tools would disagree on its value.
    case duplicateKey(key: String, path: String)
    /// A dtype this reader does not support (the format has more; they are refused, never guessed).
    case unsupportedDType(tensor: String, dtype: String)
    /// A shape whose element count or byte size overflows, or whose size disagrees with its offsets.
    case invalidShape(tensor: String, reason: String)
    /// Offsets that are reversed, overlap, leave a hole or do not end at the end of the data.
    case invalidOffsets(tensor: String, reason: String)
    /// A tensor asked for by name that the file does not hold.
    case missingTensor(name: String)
    /// A tensor read as a type it does not hold, or built from a value count that disagrees with its shape.
    case typeMismatch(tensor: String, reason: String)
    /// The file could not be read or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let r): return "safetensors: truncated file (\(r))"
        case .headerTooLarge(let n):
            return "safetensors: header length \(n) exceeds the limit \(Safetensors.maximumHeaderLength)"
        case .malformedHeader(let r): return "safetensors: malformed header (\(r))"
        case .duplicateKey(let k, let p): return "safetensors: key \"\(k)\" appears twice in \(p)"
        case .unsupportedDType(let t, let d): return "safetensors: tensor \"\(t)\" has unsupported dtype \(d)"
        case .invalidShape(let t, let r): return "safetensors: tensor \"\(t)\": \(r)"
        case .invalidOffsets(let t, let r): return "safetensors: tensor \"\(t)\": \(r)"
        case .missingTensor(let n): return "safetensors: no tensor named \"\(n)\""
        case .typeMismatch(let t, let r): return "safetensors: tensor \"\(t)\": \(r)"
        case .io(let p, let r): return "safetensors: \(p): \(r)"
        }
    }
}
