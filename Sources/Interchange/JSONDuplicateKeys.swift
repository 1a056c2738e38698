import Foundation

/// Finds the first object key that appears twice in the same JSON object. Foundation's decoders
/// accept such documents and keep one of the values (which one differs between tools: Python's
/// `json` keeps the last), so two tools can read the same file differently; a trace with a
/// duplicated key is rejected instead. A small scanner over the UTF-8 bytes: strings (with
/// escapes), objects and arrays; everything else is skipped. Malformed JSON is left to the decoder.
/// Used for traces and for safetensors headers.
public enum JSONDuplicateKeys {
    /// The duplicated key and a path to its object (`config`, `steps[3].expected`), or nil.
    ///
    /// - Parameter data: a JSON document, UTF-8.
    public static func first(in data: Data) -> (key: String, path: String)? {
        let b = [UInt8](data)
        var i = 0
        // A stack of open containers: for objects, the keys seen so far and the path.
        enum Frame {
            case object(keys: Set<String>, path: String, pendingKey: String?), array(path: String, index: Int)
        }
        var stack: [Frame] = []
        var expectKey = false
        func currentPath() -> String {
            guard let top = stack.last else { return "" }
            switch top {
            case .object(_, let p, let k): return k.map { p.isEmpty ? $0 : p + "." + $0 } ?? p
            case .array(let p, let idx): return p + "[\(idx)]"
            }
        }
        func readString() -> String? {
            // b[i] == '"'
            var out = [UInt8]()
            i += 1
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\\") {
                    if i + 1 < b.count {
                        out.append(c)
                        out.append(b[i + 1])
                    }
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") {
                    i += 1
                    guard out.contains(UInt8(ascii: "\\")) else { return String(decoding: out, as: UTF8.self) }
                    // Keys compare as the decoder will see them: "ep\u0073" is "eps". (Swift's String
                    // equality is also canonical equivalence, as the decoder's keyed containers use.)
                    let quoted = Data([UInt8(ascii: "\"")] + out + [UInt8(ascii: "\"")])
                    return (try? JSONDecoder().decode(String.self, from: quoted))
                        ?? String(decoding: out, as: UTF8.self)
                }
                out.append(c)
                i += 1
            }
            return nil
        }
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "{"):
                stack.append(.object(keys: [], path: currentPath(), pendingKey: nil))
                expectKey = true
                i += 1
            case UInt8(ascii: "["):
                stack.append(.array(path: currentPath(), index: 0))
                expectKey = false
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectKey = false
                i += 1
            case UInt8(ascii: ","):
                if let top = stack.last {
                    switch top {
                    case .object(let keys, let p, _):
                        stack[stack.count - 1] = .object(keys: keys, path: p, pendingKey: nil)
                        expectKey = true
                    case .array(let p, let idx): stack[stack.count - 1] = .array(path: p, index: idx + 1)
                    }
                }
                i += 1
            case UInt8(ascii: "\""):
                guard let s = readString() else { return nil }
                if expectKey, case .object(let keys, let p, _)? = stack.last {
                    if keys.contains(s) { return (s, p.isEmpty ? "(document)" : p) }
                    stack[stack.count - 1] = .object(keys: keys.union([s]), path: p, pendingKey: s)
                    expectKey = false
                }
            default:
                i += 1
            }
        }
        return nil
    }
}
