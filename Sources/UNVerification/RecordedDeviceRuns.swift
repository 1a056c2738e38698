import Foundation
import UNParity

/// What GPU machines recorded under `parity-results/` (`unverify-parity --out DIR`): parity runs
/// (`parity.json`) and block timings (`block-timing.json`), told apart by their `tool` field.
/// Every `*.json` at any depth is read; one that cannot be read, or whose tool is neither, is an
/// input error, never skipped.
struct RecordedDeviceRuns {
    var parity: [(file: String, document: ParityCLI.Document)] = []
    var blockTiming: [(file: String, document: BlockTiming.Document)] = []

    private struct Header: Decodable { var tool: String? }

    /// - Throws: `ReportInputError` naming the file.
    static func read(_ directory: String) throws -> RecordedDeviceRuns {
        var runs = RecordedDeviceRuns()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir) else { return runs }
        guard isDir.boolValue else { throw ReportInputError(file: directory, reason: "is not a directory") }
        guard let walker = fm.enumerator(atPath: directory) else {
            throw ReportInputError(file: directory, reason: "cannot be listed")
        }
        for f in (walker.allObjects as? [String] ?? []).filter({ $0.hasSuffix(".json") }).sorted() {
            let path = directory + "/" + f
            // The runner writes non-finite numbers as "inf", "-inf", "nan" (a failed run has them).
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let tool = try decoder.decode(Header.self, from: data).tool
                switch tool {
                case BlockTiming.Document.toolName:
                    runs.blockTiming.append((f, try decoder.decode(BlockTiming.Document.self, from: data)))
                case "unverify-parity":
                    runs.parity.append((f, try decoder.decode(ParityCLI.Document.self, from: data)))
                default:
                    throw ReportInputError(
                        file: path, reason: "not a recorded device run (tool \(tool.map { "\"\($0)\"" } ?? "missing"))")
                }
            } catch let e as ReportInputError {
                throw e
            } catch {
                throw ReportInputError(file: path, reason: "recorded device run cannot be read: \(error)")
            }
        }
        return runs
    }
}
