import Foundation

/// Report section: the committed kernel benchmarks (`Benchmarks/results/`, made by
/// `Benchmarks/run.sh`), drawn as ratios to a memory copy, the toolkit beside torch at 1 and 2
/// threads. The report does not time them itself (they need a quiet machine and minutes); it
/// shows the recorded run, and an unreadable or missing result file is an input error.
public struct BenchmarkResultsSection: ReportSectionBuilder {
    public let id = "benchmarks"
    public var directory: String
    public init(directory: String = "Benchmarks/results") { self.directory = directory }

    struct File: Decodable {
        struct Result: Decodable {
            struct Ratio: Decodable { var median: Double }
            var name: String
            /// Absent for results that are times only (the checker's).
            var ratio: Ratio?
        }
        var results: [Result]
    }

    /// The targets (ratio to a memory copy of the same bytes).
    static let targets: [String: Double] = [
        "LayerNorm forward (inference)": 0.5, "RMSNorm forward (inference)": 0.5,
        "UN inference map (per-channel affine)": 0.7, "LayerNorm training forward + backward": 0.3,
        "UN training forward + backward": 0.3, "LayerNorm forward (inference), output reused": 0.5,
        "RMSNorm forward (inference), output reused": 0.5, "LayerNorm training forward + backward, buffers reused": 0.3,
        "RMSNorm training forward + backward, buffers reused": 0.3,
        "UN inference map (per-channel affine), output reused": 0.7,
        "UN training forward + backward, buffers reused": 0.3,
    ]

    public func build(_ context: ReportContext) throws -> ReportSection {
        func load(_ name: String) throws -> [String: Double] {
            let path = directory + "/" + name
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ReportInputError(file: path, reason: "unreadable: \(error.localizedDescription)")
            }
            do {
                let f = try JSONDecoder.toolkit.decode(File.self, from: data)
                return Dictionary(
                    f.results.compactMap { r in r.ratio.map { (r.name, $0.median) } }, uniquingKeysWith: { a, _ in a })
            } catch {
                throw ReportInputError(file: path, reason: "not a benchmark result: \(error)")
            }
        }
        let series = try [
            ("toolkit 1 thread", load("unbench-1thread.json")), ("toolkit 2 threads", load("unbench-2thread.json")),
            ("torch 1 thread", load("torch-1thread.json")), ("torch 2 threads", load("torch-2thread.json")),
        ]
        let operations = Self.targets.keys.sorted()
        let rows: [[Double]] = operations.enumerated().map { k, op in
            [Double(k)] + series.map { $0.1[op] ?? .nan } + [Self.targets[op]!]
        }
        let table = ReportTable(
            columns: [.init("operation")] + series.map { .init($0.0, .number) } + [.init("target", .number)],
            rows: operations.indices.map { k in
                [.text(operations[k])] + rows[k].dropFirst().map { $0.isNaN ? .text("—") : .number($0) }
            })
        let tics = operations.enumerated().map { "\"\($0.element)\" \($0.offset)" }.joined(separator: ", ")
        let figure = ReportFigure(
            id: "benchmark-ratios", title: "Kernel speed as a share of a memory copy (Float, 8×197×768)",
            caption: "median ratio of bytes per second to a memory copy of the same bytes in the same run; "
                + "the dashes are the targets; torch has no UN kernel",
            columns: ["operation index"] + series.map(\.0) + ["target"], rows: rows,
            script: """
                set terminal svg size 980,460 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'benchmark-ratios.svg'
                set style data histogram
                set style histogram clustered gap 1
                set style fill solid 0.8 border -1
                set boxwidth 0.9
                set ylabel 'ratio to a memory copy'
                set yrange [0:1.3]
                set xtics (\(tics)) rotate by -20 font ',9'
                set key top right
                set grid ytics
                plot for [i=2:5] 'DATA' using i title columnhead(i), \\
                     'DATA' using ($1):6 with points pt 6 ps 1.4 lc rgb 'black' title 'target'
                """)
        return ReportSection(
            id: id, title: "Kernel benchmarks (recorded)", verdict: .informational,
            summary:
                "recorded in \(directory); \(operations.count) operations, toolkit beside torch at 1 and 2 threads",
            blocks: [
                .text(
                    """
                    From `\(directory)/` (made by `Benchmarks/run.sh` from a client package's plain release build, \
                    ordo-one/benchmark and the torch script beside it; `SUMMARY.md` there has the full table with \
                    ranges). Measurements of this machine, not judged here.
                    """),
                .table(table), .figure(figure),
            ],
            data: try JSONValue(
                encoding: Dictionary(
                    uniqueKeysWithValues: operations.map { op in
                        (op, Dictionary(uniqueKeysWithValues: series.map { ($0.0, $0.1[op]) }))
                    })))
    }
}
