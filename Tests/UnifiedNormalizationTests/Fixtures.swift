import Foundation
import _TestSupport

@testable import UnifiedNormalization

/// Locates `Tests/Fixtures` from this source file, so tests work from any working directory.
enum Fixtures {
    static let root = PackagePaths.fixtures

    struct LayerCase: Decodable {
        var name: String
        var shape: [Int]
        var x: [Double]?
        var padMask: [Bool]?
        var gradOutput: [Double]?
        var weight: [Double]
        var bias: [Double]
        var y: [Double]?
        var gradInput: [Double]?
        var gradWeight: [Double]?
        var gradBias: [Double]?
        var warmupIters: Int?
        var window: Int?
        var steps: [Step]?
    }
    struct Step: Decodable {
        var x: [Double]
        var gradOutput: [Double]
        var y: [Double]
        var gradInput: [Double]?
        var gradInputCalibrated: [Double]?
        var gradInputExact: [Double]?
        var gradWeight: [Double]
        var gradBias: [Double]
        var runningPhi: [Double]?
        var emaGz: [Double]?
        var smoothed: Bool?
    }
    struct LayerFile: Decodable { var cases: [LayerCase] }

    static func layerCases() throws -> [String: LayerCase] {
        let data = try Data(contentsOf: root.appendingPathComponent("reference/layers.json"))
        let file = try JSONDecoder().decode(LayerFile.self, from: data)
        return Dictionary(uniqueKeysWithValues: file.cases.map { ($0.name, $0) })
    }

    static func batch<S: NormScalar>(_ shape: [Int], _ v: [Double], _ mask: [Bool]?, as: S.Type = S.self) throws
        -> TokenBatch<S>
    {
        try TokenBatch(batch: shape[0], tokens: shape[1], channels: shape[2], values: v.map { S($0) }, padMask: mask)
    }
}
