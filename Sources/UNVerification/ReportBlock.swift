import Foundation

/// One piece of a report section: prose, a typed table, a figure, or code. A section is a list of
/// blocks; the Markdown, the JSON and the figures are renderings of them (``Report/markdown()``,
/// ``Report/json()``, ``FigureRenderer``). Schema: `docs/report-schema.md`.
public enum ReportBlock: Sendable, Equatable {
    /// Markdown prose.
    case text(String)
    case table(ReportTable)
    case figure(ReportFigure)
    /// A code listing (`language` as in a Markdown fence, e.g. `swift`).
    case code(language: String, source: String)
}

extension ReportBlock: Codable {
    private enum Key: String, CodingKey { case kind, text, table, figure, language, source }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "text": self = .text(try c.decode(String.self, forKey: .text))
        case "table": self = .table(try c.decode(ReportTable.self, forKey: .table))
        case "figure": self = .figure(try c.decode(ReportFigure.self, forKey: .figure))
        case "code":
            self = .code(
                language: try c.decode(String.self, forKey: .language),
                source: try c.decode(String.self, forKey: .source))
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: c, debugDescription: "unknown block kind \(other)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .text(let t):
            try c.encode("text", forKey: .kind)
            try c.encode(t, forKey: .text)
        case .table(let t):
            try c.encode("table", forKey: .kind)
            try c.encode(t, forKey: .table)
        case .figure(let f):
            try c.encode("figure", forKey: .kind)
            try c.encode(f, forKey: .figure)
        case .code(let l, let s):
            try c.encode("code", forKey: .kind)
            try c.encode(l, forKey: .language)
            try c.encode(s, forKey: .source)
        }
    }

    /// The block as GitHub Markdown. Figures link `figures/<id>.svg` (drawn by ``FigureRenderer``)
    /// and name their data and script; `drawn` says which figures exist.
    public func markdown(drawn: Set<String>? = nil) -> String {
        switch self {
        case .text(let t): return t.hasSuffix("\n") ? t : t + "\n"
        case .table(let t): return t.markdown()
        case .code(let l, let s): return "```\(l)\n\(s.hasSuffix("\n") ? s : s + "\n")```\n"
        case .figure(let f):
            let files = "data `figures/\(f.id).csv`, gnuplot script `figures/\(f.id).gp`"
            if let drawn, !drawn.contains(f.id) {
                return "*Figure \"\(f.title)\" not drawn (gnuplot was not available); \(files).*\n"
            }
            return "![\(f.title)](figures/\(f.id).svg)\n\n*\(f.caption)* (\(files))\n"
        }
    }
}

/// A table with typed columns: numbers stay numbers in the JSON, and the Markdown formats them.
public struct ReportTable: Sendable, Equatable, Codable {
    public struct Column: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable {
            /// Free text (Markdown allowed).
            case text
            /// A real number, shown with 3 significant digits (`1.23e-04`).
            case number
            case integer
            /// A fraction in [0, 1], shown as a percentage with one decimal.
            case fraction
        }
        public var name: String
        public var kind: Kind
        /// The unit of the values (`s`, `ulp`, …), shown in the header; `nil` for pure numbers.
        public var unit: String?
        public init(_ name: String, _ kind: Kind = .text, unit: String? = nil) {
            self.name = name
            self.kind = kind
            self.unit = unit
        }
    }

    /// One value; `missing` renders as an em dash and encodes as JSON `null`.
    public enum Cell: Sendable, Equatable, Codable {
        case text(String)
        case number(Double)
        case integer(Int)
        case missing

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .missing
            } else if let i = try? c.decode(Int.self) {
                self = .integer(i)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                let s = try c.decode(String.self)
                // Non-finite numbers are written as strings (JSON has none).
                switch s {
                case "inf": self = .number(.infinity)
                case "-inf": self = .number(-.infinity)
                case "nan": self = .number(.nan)
                default: self = .text(s)
                }
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .integer(let i): try c.encode(i)
            case .missing: try c.encodeNil()
            case .number(let d):
                if d.isFinite { try c.encode(d) } else { try c.encode(d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf")) }
            }
        }

        public static func == (a: Cell, b: Cell) -> Bool {
            switch (a, b) {
            case (.text(let x), .text(let y)): return x == y
            case (.integer(let x), .integer(let y)): return x == y
            case (.missing, .missing): return true
            case (.number(let x), .number(let y)): return x == y || (x.isNaN && y.isNaN)
            // JSON writes 3.0 as 3: a whole number read back as an integer is the same value.
            case (.integer(let x), .number(let y)), (.number(let y), .integer(let x)): return Double(x) == y
            default: return false
            }
        }
    }

    public var columns: [Column]
    public var rows: [[Cell]]

    public init(columns: [Column], rows: [[Cell]]) {
        self.columns = columns
        self.rows = rows
    }

    /// Formats one cell for a column.
    static func format(_ cell: Cell, _ kind: Column.Kind) -> String {
        switch cell {
        case .missing: return "—"
        case .text(let s): return s.replacingOccurrences(of: "|", with: "\\|")
        case .integer(let i): return "\(i)"
        case .number(let d):
            if kind == .fraction, d.isFinite { return String(format: "%.1f%%", 100 * d) }
            return sci(d)
        }
    }

    public func markdown() -> String {
        let header = columns.map { c in c.unit.map { "\(c.name) (\($0))" } ?? c.name }
        var s = "| " + header.joined(separator: " | ") + " |\n|" + columns.map { _ in "---|" }.joined() + "\n"
        for row in rows {
            let cells = columns.indices.map { k in k < row.count ? Self.format(row[k], columns[k].kind) : "—" }
            s += "| " + cells.joined(separator: " | ") + " |\n"
        }
        return s
    }
}

/// A figure: its data (named columns of numbers, written as CSV) and the gnuplot script that draws
/// it from that data (so a reader can re-plot). The script reads `'DATA'` (replaced by the CSV's
/// path) and must not set its own terminal or output: the renderer writes SVG.
public struct ReportFigure: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var caption: String
    public var columns: [String]
    public var rows: [[Double]]
    public var script: String

    public init(id: String, title: String, caption: String, columns: [String], rows: [[Double]], script: String) {
        self.id = id
        self.title = title
        self.caption = caption
        self.columns = columns
        self.rows = rows
        self.script = script
    }

    /// The data as CSV (a header line, then one line per row; non-finite values as `NaN`, which
    /// gnuplot skips).
    public var csv: String {
        // RFC 4180: a name with a comma or a quote is quoted (quotes doubled), so the header keeps
        // one field per column in any CSV reader and in gnuplot's `columnhead`.
        let header = columns.map { c in
            c.contains(",") || c.contains("\"") ? "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : c
        }
        var s = header.joined(separator: ",") + "\n"
        for r in rows { s += r.map { $0.isFinite ? "\($0)" : "NaN" }.joined(separator: ",") + "\n" }
        return s
    }

    public static func == (a: ReportFigure, b: ReportFigure) -> Bool {
        a.id == b.id && a.title == b.title && a.caption == b.caption && a.columns == b.columns && a.script == b.script
            && a.rows.count == b.rows.count
            && zip(a.rows, b.rows).allSatisfy { zip($0, $1).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } }
    }
}
