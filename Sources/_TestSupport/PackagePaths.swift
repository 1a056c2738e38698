import Foundation

/// Where the package's files are, found from this source file so that tests work from any
/// working directory (one place; the test targets used to walk `#filePath` each in their own way).
public enum PackagePaths {
    /// The package root (the directory of `Package.swift`).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `Tests/Fixtures`.
    public static let fixtures = root.appendingPathComponent("Tests/Fixtures")
    /// `../shared` beside the package root (the authors' traces and the spec), when present.
    public static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")

    /// `Tests/Fixtures/<relative>`.
    public static func fixture(_ relative: String) -> URL { fixtures.appendingPathComponent(relative) }
}
