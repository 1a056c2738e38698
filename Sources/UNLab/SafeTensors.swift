import Foundation

/// The safetensors file format (Hugging Face; the ecosystem's standard weight format) for `F64`
/// tensors: an 8-byte little-endian unsigned header length `N`, `N` bytes of a JSON header
/// `{"name": {"dtype": "F64", "shape": [...], "data_offsets": [begin, end]}, …, "__metadata__":
/// {string: string}}`, then the data buffer of raw little-endian values, each tensor row-major at
/// `[begin, end)` of the buffer. The reader enforces the format's rules: the header is valid JSON
/// opening with `{`, at most 100 MB; every size is consistent (`end − begin = 8·Π shape`);
/// tensors do not overlap and cover the buffer exactly; only `F64` is accepted (this lab computes
/// in Double). The writer lays tensors out in name order and pads the header with spaces to a
/// multiple of 8 bytes, as the reference implementation does. Values round-trip bit for bit.
public struct SafeTensors: Sendable, Equatable {
    /// One tensor: its shape and its `Π shape` values, row-major.
    public struct Tensor: Sendable, Equatable {
        public let shape: [Int]
        public let values: [Double]

        /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` unless `values` has `Π shape`
        ///   entries (every dimension ≥ 0, the product not overflowing).
        public init(shape: [Int], values: [Double]) throws {
            guard let n = SafeTensors.elementCount(shape), n == values.count else {
                throw LabError.shapeMismatch(what: "tensor values", expected: shape, actual: [values.count])
            }
            self.shape = shape
            self.values = values
        }

        /// Equal bit patterns (so NaN payloads and signed zeros compare as stored).
        public static func == (a: Tensor, b: Tensor) -> Bool {
            a.shape == b.shape && a.values.map(\.bitPattern) == b.values.map(\.bitPattern)
        }
    }

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    /// The largest header the reader accepts (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    // MARK: Writing

    /// The file's bytes.
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for the reserved
    ///   name `__metadata__` used as a tensor name.
    public func serialized() throws -> [UInt8] {
        guard tensors["__metadata__"] == nil else {
            throw LabError.invalidConfiguration(
                parameter: "tensor name", value: "__metadata__", requirement: "is reserved for the metadata")
        }
        let names = tensors.keys.sorted()
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let end = offset + 8 * t.values.count
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(Self.quoted(name)):{\"dtype\":\"F64\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out += header
        for name in names {
            for v in tensors[name]!.values {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// A JSON string literal (RFC 8259 escapes: quote, backslash, control characters).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Writes ``serialized()`` to `url` (atomically).
    /// - Throws: as ``serialized()``; ``LabError/malformedData(file:reason:)`` if it cannot be written.
    public func write(to url: URL) throws {
        let bytes = try serialized()
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw LabError.malformedData(file: url.path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }

    // MARK: Reading

    /// Reads a safetensors file.
    /// - Throws: ``LabError/malformedData(file:reason:)`` if it cannot be read or breaks a rule of the format.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LabError.malformedData(file: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(bytes: [UInt8](data), name: url.path)
    }

    private struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case offsets = "data_offsets"
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The header: tensor entries and metadata, keys as written.
    private struct Header: Decodable {
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try c.decode(Entry.self, forKey: key)
                }
            }
        }
    }

    /// Parses a file's bytes (`name` appears in errors).
    /// - Throws: as ``init(contentsOf:)``.
    public init(bytes: [UInt8], name: String = "safetensors") throws {
        func bad(_ reason: String) -> LabError { .malformedData(file: name, reason: reason) }
        guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let n = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(Self.maximumHeaderBytes) else {
            throw bad("header length \(n) exceeds \(Self.maximumHeaderBytes) bytes")
        }
        let headerBytes = Int(n)
        guard headerBytes <= bytes.count - 8 else {
            throw bad("header length \(headerBytes) exceeds the \(bytes.count - 8) bytes after it")
        }
        let json = bytes[8..<(8 + headerBytes)]
        guard json.first == UInt8(ascii: "{") else { throw bad("the header does not start with '{'") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(json)) } catch {
            throw bad("the header is not the documented JSON (\(error))")
        }
        let buffer = bytes[(8 + headerBytes)...]
        var spans: [(begin: Int, end: Int, name: String)] = []
        var tensors: [String: Tensor] = [:]
        for (key, e) in header.entries {
            guard e.dtype == "F64" else { throw bad("tensor \"\(key)\" has dtype \(e.dtype); only F64 is supported") }
            guard let count = Self.elementCount(e.shape) else { throw bad("tensor \"\(key)\" has shape \(e.shape)") }
            guard e.offsets.count == 2, e.offsets[0] >= 0, e.offsets[0] <= e.offsets[1] else {
                throw bad("tensor \"\(key)\" has data_offsets \(e.offsets)")
            }
            let (bytesNeeded, overflow) = count.multipliedReportingOverflow(by: 8)
            guard !overflow, e.offsets[1] - e.offsets[0] == bytesNeeded else {
                throw bad(
                    "tensor \"\(key)\" spans \(e.offsets[1] - e.offsets[0]) bytes, "
                        + "its shape \(e.shape) needs 8 × \(count)"
                )
            }
            spans.append((e.offsets[0], e.offsets[1], key))
        }
        // Contiguous, non-overlapping, covering the whole buffer (the format's validity rule).
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for s in spans {
            guard s.begin == cursor else {
                throw bad("tensor \"\(s.name)\" starts at \(s.begin), expected \(cursor) (overlap or gap)")
            }
            cursor = s.end
        }
        guard cursor == buffer.count else { throw bad("the tensors cover \(cursor) of \(buffer.count) data bytes") }
        let base = buffer.startIndex
        for s in spans {
            let values = stride(from: base + s.begin, to: base + s.end, by: 8).map { i -> Double in
                var bits: UInt64 = 0
                for k in 0..<8 { bits |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
                return Double(bitPattern: bits)
            }
            tensors[s.name] = try Tensor(shape: header.entries[s.name]!.shape, values: values)
        }
        self.tensors = tensors
        metadata = header.metadata
    }
}
