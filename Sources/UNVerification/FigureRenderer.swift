import Foundation

/// Draws a report's figures with gnuplot (Debian's `gnuplot-nox`), as SVG, which GitHub shows
/// inline. Beside each `figures/<id>.svg` it writes the data (`<id>.csv`) and the complete script
/// (`<id>.gp`), so a reader can re-plot. Without gnuplot nothing is drawn, the data and scripts are
/// still written, and the Markdown says which figures are missing.
public enum FigureRenderer {
    /// What happened to each figure.
    public struct Outcome: Sendable {
        public var drawn: Set<String> = []
        /// `id: reason` for each figure not drawn.
        public var notDrawn: [String] = []
    }

    /// The first `gnuplot` on `PATH` (or `UN_GNUPLOT`), if any.
    public static func gnuplot() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let p = env["UN_GNUPLOT"] { return FileManager.default.isExecutableFile(atPath: p) ? p : nil }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The script as written to disk: SVG terminal, output beside it, CSV input, then the figure's own.
    static func fullScript(_ f: ReportFigure) -> String {
        """
        # \(f.title) — \(f.caption)
        # Re-plot: gnuplot \(f.id).gp   (reads \(f.id).csv, writes \(f.id).svg)
        set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
        set output '\(f.id).svg'
        set datafile separator ','
        set key autotitle columnhead
        set title "\(f.title.replacingOccurrences(of: "\"", with: "'"))"
        \(f.script.replacingOccurrences(of: "'DATA'", with: "'\(f.id).csv'"))

        """
    }

    /// Writes every figure of `sections` into `directory/figures` and draws what it can.
    /// - Throws: a file-system error when the data or scripts cannot be written (an unwritable
    ///   directory is an error, never a silently missing figure).
    public static func render(_ sections: [ReportSection], into directory: String) throws -> Outcome {
        let figures = sections.flatMap { $0.blocks }.compactMap { b -> ReportFigure? in
            if case .figure(let f) = b { return f } else { return nil }
        }
        var outcome = Outcome()
        guard !figures.isEmpty else { return outcome }
        let dir = directory + "/figures"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let program = gnuplot()
        for f in figures {
            try Data(f.csv.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(f.id).csv"))
            try Data(fullScript(f).utf8).write(to: URL(fileURLWithPath: "\(dir)/\(f.id).gp"))
            guard let program else {
                outcome.notDrawn.append("\(f.id): gnuplot not found (install gnuplot-nox)")
                continue
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = ["\(f.id).gp"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            do {
                try p.run()
                let message = err.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                let svg = "\(dir)/\(f.id).svg"
                let size = (try? FileManager.default.attributesOfItem(atPath: svg)[.size] as? Int) ?? 0
                if p.terminationStatus == 0 && size > 0 {
                    outcome.drawn.insert(f.id)
                } else {
                    outcome.notDrawn.append(
                        "\(f.id): gnuplot exited \(p.terminationStatus): \(String(decoding: message, as: UTF8.self))")
                }
            } catch {
                outcome.notDrawn.append("\(f.id): gnuplot could not run: \(error)")
            }
        }
        return outcome
    }
}
