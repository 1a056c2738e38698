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
        // A stack of open containers: for objects, the keys seen so far and the key being read; for
        // arrays, the index. Linear in the document: keys are inserted in place, and a path is
        // formed only for the answer, from the stack (a path per frame and a set copied per key
        // made deep or wide documents quadratic: 40,000 levels took 2.4 GB).
        struct Frame {
            var isObject: Bool
            var keys: Set<String> = []
            var pendingKey: String?
            var index = 0
        }
        var stack: [Frame] = []
        var expectKey = false
        // The path of the innermost open container (`config`, `steps[3].expected`; "" at the top).
        func currentPath() -> String {
            var p = ""
            for f in stack.dropLast() {
                if f.isObject {
                    if let k = f.pendingKey { p = p.isEmpty ? k : p + "." + k }
                } else {
                    p += "[\(f.index)]"
                }
            }
            return p
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
                stack.append(Frame(isObject: true))
                expectKey = true
                i += 1
            case UInt8(ascii: "["):
                stack.append(Frame(isObject: false))
                expectKey = false
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectKey = false
                i += 1
            case UInt8(ascii: ","):
                if !stack.isEmpty {
                    if stack[stack.count - 1].isObject {
                        stack[stack.count - 1].pendingKey = nil
                        expectKey = true
                    } else {
                        stack[stack.count - 1].index += 1
                    }
                }
                i += 1
            case UInt8(ascii: "\""):
                guard let s = readString() else { return nil }
                if expectKey, let top = stack.last, top.isObject {
                    if top.keys.contains(s) {
                        let p = currentPath()
                        return (s, p.isEmpty ? "(document)" : p)
                    }
                    stack[stack.count - 1].keys.insert(s)
                    stack[stack.count - 1].pendingKey = s
                    expectKey = false
                }
            default:
                i += 1
            }
        }
        return nil
    }
}
