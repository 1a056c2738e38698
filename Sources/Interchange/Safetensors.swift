import Foundation

/// The safetensors format (Hugging Face), the ecosystem's standard for weights: an 8-byte
/// little-endian header length `n`, `n` bytes of a UTF-8 JSON object (`{"name": {"dtype": "F64",
/// "shape": [2, 3], "data_offsets": [0, 48]}, …, "__metadata__": {"key": "value"}}`, possibly padded
/// with spaces), then the raw little-endian tensor data; offsets are relative to the start of the
/// data and the tensors cover it exactly (no hole, no overlap).
///
/// Source: https://github.com/huggingface/safetensors (format description in its README).
/// The checks follow the reference implementation's `validate` (header length at most 100 MB,
/// contiguous offsets, size = element count × dtype size, all checked for overflow) and add one:
/// a duplicated JSON key is an error (Python's `json` keeps the last value, other readers the first).
public enum Safetensors {
    /// The largest header length accepted, as in the reference implementation.
    public static let maximumHeaderLength: UInt64 = 100_000_000
    /// The name of the header's free-form string map.
    public static let metadataKey = "__metadata__"
}

/// A tensor element type of the safetensors format. Only these are read; a file with another
/// dtype (`F16`, `BF16`, `F8_E4M3`, …) is refused with ``SafetensorsError/unsupportedDType(tensor:dtype:)``.
public enum SafetensorsDType: String, Sendable, CaseIterable, Codable {
    case float64 = "F64"
    case float32 = "F32"
    case int64 = "I64"
    case int32 = "I32"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .uint8, .bool: return 1
        }
    }
}

/// One tensor: dtype, shape (row-major, outermost first) and its raw little-endian bytes.
public struct SafeTensor: Sendable, Equatable {
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// `shape`'s product × `dtype.byteCount` bytes, little-endian.
    public let bytes: [UInt8]

    /// The number of elements, the product of `shape` (1 for a scalar, shape `[]`).
    public var elementCount: Int { shape.reduce(1, *) }

    /// A tensor from raw bytes.
    /// - Throws: ``SafetensorsError/invalidShape(tensor:reason:)`` for a negative extent, a size that
    ///   overflows, or a byte count that disagrees with the shape.
    public init(dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) throws {
        let size = try Self.byteSize(dtype: dtype, shape: shape, name: "(new)")
        guard size == bytes.count else {
            throw SafetensorsError.invalidShape(
                tensor: "(new)", reason: "shape \(shape) needs \(size) bytes, got \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A float64 tensor (`F64`). NaN payloads and signed zeros are kept bit for bit.
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)`` where `values.count` is not the shape's product.
    public init(float64 values: [Double], shape: [Int]) throws {
        try self.init(values.map(\.bitPattern), shape: shape, dtype: .float64)
    }

    /// A float32 tensor (`F32`).
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)`` where `values.count` is not the shape's product.
    public init(float32 values: [Float], shape: [Int]) throws {
        try self.init(values.map(\.bitPattern), shape: shape, dtype: .float32)
    }

    /// An int64 tensor (`I64`).
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)`` where `values.count` is not the shape's product.
    public init(int64 values: [Int64], shape: [Int]) throws {
        try self.init(values.map { UInt64(bitPattern: $0) }, shape: shape, dtype: .int64)
    }

    private init<W: FixedWidthInteger>(_ words: [W], shape: [Int], dtype: SafetensorsDType) throws {
        let n = try Self.byteSize(dtype: dtype, shape: shape, name: "(new)") / dtype.byteCount
        guard n == words.count else {
            throw SafetensorsError.typeMismatch(
                tensor: "(new)", reason: "shape \(shape) holds \(n) elements, got \(words.count) values")
        }
        var out = [UInt8]()
        out.reserveCapacity(words.count * MemoryLayout<W>.size)
        for w in words { withUnsafeBytes(of: w.littleEndian) { out.append(contentsOf: $0) } }
        self.dtype = dtype
        self.shape = shape
        self.bytes = out
    }

    /// The values as `Double`: `F64` as stored, `F32` widened (exactly).
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)`` for any other dtype.
    public func float64() throws -> [Double] {
        switch dtype {
        case .float64: return words(UInt64.self).map(Double.init(bitPattern:))
        case .float32: return words(UInt32.self).map { Double(Float(bitPattern: $0)) }
        default: throw SafetensorsError.typeMismatch(tensor: "", reason: "\(dtype.rawValue) read as float64")
        }
    }

    /// The values as `Int64`: `I64` as stored, `I32` and `U8` widened.
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)`` for any other dtype.
    public func int64() throws -> [Int64] {
        switch dtype {
        case .int64: return words(UInt64.self).map { Int64(bitPattern: $0) }
        case .int32: return words(UInt32.self).map { Int64(Int32(bitPattern: $0)) }
        case .uint8: return bytes.map { Int64($0) }
        default: throw SafetensorsError.typeMismatch(tensor: "", reason: "\(dtype.rawValue) read as int64")
        }
    }

    /// The values of a `BOOL` tensor; a byte other than 0 or 1 is an error (as in PyTorch's reader).
    /// - Throws: ``SafetensorsError/typeMismatch(tensor:reason:)``.
    public func bool() throws -> [Bool] {
        guard dtype == .bool else {
            throw SafetensorsError.typeMismatch(tensor: "", reason: "\(dtype.rawValue) read as BOOL")
        }
        return try bytes.map {
            guard $0 <= 1 else { throw SafetensorsError.typeMismatch(tensor: "", reason: "BOOL byte \($0)") }
            return $0 == 1
        }
    }

    private func words<W: FixedWidthInteger>(_: W.Type) -> [W] {
        let n = bytes.count / MemoryLayout<W>.size
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { W(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<W>.size, as: W.self)) }
        }
    }

    /// The byte size of a tensor, every product overflow-checked.
    static func byteSize(dtype: SafetensorsDType, shape: [Int], name: String) throws -> Int {
        var n = dtype.byteCount
        for d in shape {
            guard d >= 0 else { throw SafetensorsError.invalidShape(tensor: name, reason: "negative extent \(d)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { throw SafetensorsError.invalidShape(tensor: name, reason: "size of \(shape) overflows") }
            n = p
        }
        return n
    }
}

/// The contents of one safetensors file: named tensors and the string metadata.
public struct SafetensorsFile: Sendable, Equatable {
    public var tensors: [String: SafeTensor]
    public var metadata: [String: String]

    public init(tensors: [String: SafeTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`.
    /// - Throws: ``SafetensorsError/missingTensor(name:)``.
    public func tensor(_ name: String) throws -> SafeTensor {
        guard let t = tensors[name] else { throw SafetensorsError.missingTensor(name: name) }
        return t
    }

    /// Reads a file.
    /// - Throws: ``SafetensorsError/io(path:reason:)`` where it cannot be read; otherwise as ``init(bytes:)``.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafetensorsError.io(path: url.path, reason: error.localizedDescription)
        }
        try self.init(bytes: [UInt8](data))
    }

    /// Parses a file's bytes, validating everything the format requires (see ``Safetensors``).
    /// - Throws: ``SafetensorsError`` for a truncated file, a header too large or malformed, a duplicated
    ///   key, an unsupported dtype, an invalid shape or offsets (holes, overlaps, reversed, out of the data).
    public init(bytes b: [UInt8]) throws {
        guard b.count >= 8 else { throw SafetensorsError.truncated(reason: "\(b.count) bytes, no header length") }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(b[i]) }
        guard n <= Safetensors.maximumHeaderLength else { throw SafetensorsError.headerTooLarge(length: n) }
        guard UInt64(b.count - 8) >= n else {
            throw SafetensorsError.truncated(reason: "header of \(n) bytes, \(b.count - 8) present")
        }
        let headerEnd = 8 + Int(n)
        let header = Data(b[8..<headerEnd])
        guard header.first == UInt8(ascii: "{") else {
            throw SafetensorsError.malformedHeader(reason: "the header does not start with '{'")
        }
        guard String(bytes: header, encoding: .utf8) != nil else {
            throw SafetensorsError.malformedHeader(reason: "the header is not valid UTF-8")
        }
        try Self.strictSyntax(header)
        if let dup = JSONDuplicateKeys.first(in: header) {
            throw SafetensorsError.duplicateKey(key: dup.key, path: dup.path)
        }
        let parsed: Header
        do { parsed = try JSONDecoder().decode(Header.self, from: header) } catch let e as SafetensorsError {
            throw e
        } catch {
            throw SafetensorsError.malformedHeader(reason: "\(error)")
        }
        let dataCount = b.count - headerEnd
        // Sorted by offsets, the tensors must tile the data: each begins where the previous ended
        // (an empty tensor first among those that begin at its offset).
        let order = parsed.entries.sorted {
            ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key)
        }
        var end = 0
        var tensors: [String: SafeTensor] = [:]
        for (name, e) in order {
            guard let dtype = SafetensorsDType(rawValue: e.dtype) else {
                throw SafetensorsError.unsupportedDType(tensor: name, dtype: e.dtype)
            }
            guard e.begin <= e.end else {
                throw SafetensorsError.invalidOffsets(tensor: name, reason: "begin \(e.begin) > end \(e.end)")
            }
            guard e.begin == UInt64(end) else {
                throw SafetensorsError.invalidOffsets(
                    tensor: name,
                    reason: e.begin > UInt64(end) ? "a hole before offset \(e.begin)" : "overlaps at \(e.begin)")
            }
            guard e.end <= UInt64(dataCount) else {
                throw SafetensorsError.invalidOffsets(
                    tensor: name, reason: "ends at \(e.end), beyond the \(dataCount) bytes of data")
            }
            let shape = try e.shape.map { d -> Int in
                guard d <= UInt64(Int.max) else {
                    throw SafetensorsError.invalidShape(tensor: name, reason: "extent \(d) overflows")
                }
                return Int(d)
            }
            let size = try SafeTensor.byteSize(dtype: dtype, shape: shape, name: name)
            guard UInt64(size) == e.end - e.begin else {
                throw SafetensorsError.invalidShape(
                    tensor: name,
                    reason: "shape \(shape) of \(dtype.rawValue) is \(size) bytes, offsets span \(e.end - e.begin)")
            }
            let lo = headerEnd + Int(e.begin)
            tensors[name] = try SafeTensor(dtype: dtype, shape: shape, bytes: Array(b[lo..<(lo + size)]))
            end = Int(e.end)
        }
        guard end == dataCount else {
            throw SafetensorsError.invalidOffsets(
                tensor: order.last?.key ?? "(none)", reason: "the tensors end at \(end), the data at \(dataCount)")
        }
        self.init(tensors: tensors, metadata: parsed.metadata)
    }

    /// What the reference reader (serde_json into integers) refuses and Foundation's decoder accepts: a
    /// number that is not an unsigned integer literal (`1.0`, `1e0`, `-0` decode as integers there) and a
    /// trailing comma. Every number in a safetensors header is an extent or an offset.
    static func strictSyntax(_ header: Data) throws {
        let b = [UInt8](header)
        var i = 0
        var inString = false
        while i < b.count {
            let c = b[i]
            if inString {
                if c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"):
                // Outside strings, '-' starts a negative number, and '.', 'e', 'E', '+' right after a digit
                // continue a non-integer one ("true" and "false" have an 'e' after a letter: not numbers).
                let prev = i > 0 ? b[i - 1] : 0
                let inNumber = (c == UInt8(ascii: "-")) || (prev >= 0x30 && prev <= 0x39)
                if inNumber {
                    throw SafetensorsError.malformedHeader(reason: "numbers must be unsigned integers (at byte \(i))")
                }
            case UInt8(ascii: ","):
                var j = i + 1
                while j < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[j]) { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "}") || b[j] == UInt8(ascii: "]") {
                    throw SafetensorsError.malformedHeader(reason: "trailing comma (at byte \(i))")
                }
            default: break
            }
            i += 1
        }
    }

    /// The file's bytes: tensors in name order, the header's keys sorted, the header padded with spaces
    /// to a multiple of 8 bytes (so every tensor's data is 8-byte aligned, as the reference writer does).
    /// - Throws: ``SafetensorsError/malformedHeader(reason:)`` where the name `__metadata__` is used for a tensor.
    public func serialized() throws -> [UInt8] {
        guard tensors[Safetensors.metadataKey] == nil else {
            throw SafetensorsError.malformedHeader(reason: "a tensor may not be named \(Safetensors.metadataKey)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func quoted(_ s: String) throws -> String {
            do { return String(decoding: try encoder.encode(s), as: UTF8.self) } catch {
                throw SafetensorsError.malformedHeader(reason: "cannot encode \(s): \(error)")
            }
        }
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = try metadata.keys.sorted().map { "\(try quoted($0)):\(try quoted(metadata[$0]!))" }
            parts.append("\(try quoted(Safetensors.metadataKey)):{\(m.joined(separator: ","))}")
        }
        var offset = 0
        var body: [UInt8] = []
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append(
                "\(try quoted(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
            body += t.bytes
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + body.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + body
    }

    /// Writes ``serialized()`` to `url` atomically.
    /// - Throws: as ``serialized()``, and ``SafetensorsError/io(path:reason:)`` where it cannot be written.
    public func write(to url: URL) throws {
        let bytes = try serialized()
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw SafetensorsError.io(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// The header: tensor entries and the optional metadata map, decoded with JSONDecoder so that
/// every number is checked as an unsigned integer (a `2.5`, `-1`, `true` or `1e30` extent is an error).
private struct Header: Decodable {
    struct Entry: Decodable {
        let dtype: String
        let shape: [UInt64]
        let dataOffsets: [UInt64]
        var begin: UInt64 { dataOffsets[0] }
        var end: UInt64 { dataOffsets[1] }
        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }
    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for k in c.allKeys {
            if k.stringValue == Safetensors.metadataKey {
                metadata = try c.decodeIfPresent([String: String].self, forKey: k) ?? [:]
                continue
            }
            let e = try c.decode(Entry.self, forKey: k)
            guard e.dataOffsets.count == 2 else {
                throw SafetensorsError.invalidOffsets(
                    tensor: k.stringValue, reason: "data_offsets has \(e.dataOffsets.count) entries, not 2")
            }
            entries[k.stringValue] = e
        }
    }
}
