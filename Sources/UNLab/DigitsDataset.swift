import Foundation

/// The 1,797 handwritten digits (8 × 8, pixel values 0–16, labels 0–9) that scikit-learn bundles
/// (UCI optdigits, Alpaydin & Kaynak 1998, CC BY 4.0), as exported by `scripts/export_digits.py`
/// to `Data/digits/digits.bin` with a fixed train/test split (format: that script's docstring).
///
/// Images are `count × 64` row-major, scaled to `[0, 1]` (pixel / 16).
public struct DigitsDataset: Sendable, Equatable {
    public struct Split: Sendable, Equatable {
        /// `count × 64`, values in `[0, 1]`.
        public let images: [Double]
        public let labels: [Int]
        public var count: Int { labels.count }

        /// The samples at `indices`, as a batch (`indices.count × 64`, labels).
        /// - Throws: ``LabError/indexOutOfRange(what:index:value:range:)`` for an index outside the split.
        public func batch(_ indices: [Int]) throws -> (images: [Double], labels: [Int]) {
            let px = DigitsDataset.pixels
            if let i = indices.firstIndex(where: { !(0..<count).contains($0) }) {
                throw LabError.indexOutOfRange(what: "sample indices", index: i, value: indices[i], range: 0..<count)
            }
            return (indices.flatMap { images[($0 * px)..<(($0 + 1) * px)] }, indices.map { labels[$0] })
        }
    }

    public static var pixels: Int { 64 }
    public let train: Split
    public let test: Split

    /// Reads and validates a digits file.
    /// - Throws: ``LabError/malformedData(file:reason:)`` if the file cannot be read, or its magic,
    ///   version, geometry, counts, length, a label (> 9) or a pixel (> 16) is not as documented.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LabError.malformedData(file: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(bytes: [UInt8](data), name: url.path)
    }

    /// Parses the bytes of a digits file (`name` appears in errors).
    /// - Throws: as ``init(contentsOf:)``.
    public init(bytes: [UInt8], name: String = "digits") throws {
        func bad(_ reason: String) -> LabError { .malformedData(file: name, reason: reason) }
        let header = 12
        guard bytes.count >= header else { throw bad("\(bytes.count) bytes, shorter than the 12-byte header") }
        guard bytes[0..<4].elementsEqual("UNDG".utf8) else { throw bad("magic is not \"UNDG\"") }
        guard bytes[4] == 1 else { throw bad("format version \(bytes[4]), expected 1") }
        guard bytes[5] == 8, bytes[6] == 8, bytes[7] == 16 else {
            throw bad("geometry \(bytes[5]) × \(bytes[6]) with maximum \(bytes[7]), expected 8 × 8 with maximum 16")
        }
        let count = Int(bytes[8]) | Int(bytes[9]) << 8
        let trainCount = Int(bytes[10]) | Int(bytes[11]) << 8
        guard count >= 2, (1..<count).contains(trainCount) else {
            throw bad("counts \(count) samples, \(trainCount) for training: both splits must be non-empty")
        }
        let record = 1 + Self.pixels
        guard bytes.count == header + count * record else {
            throw bad("\(bytes.count) bytes, expected \(header + count * record) for \(count) samples")
        }
        var images = [Double](repeating: 0, count: count * Self.pixels)
        var labels = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let base = header + i * record
            guard bytes[base] <= 9 else { throw bad("sample \(i) has label \(bytes[base])") }
            labels[i] = Int(bytes[base])
            for p in 0..<Self.pixels {
                let v = bytes[base + 1 + p]
                guard v <= 16 else { throw bad("sample \(i) pixel \(p) is \(v) (> 16)") }
                images[i * Self.pixels + p] = Double(v) / 16
            }
        }
        let cut = trainCount * Self.pixels
        train = Split(images: Array(images[..<cut]), labels: Array(labels[..<trainCount]))
        test = Split(images: Array(images[cut...]), labels: Array(labels[trainCount...]))
    }
}
