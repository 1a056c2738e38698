import Foundation
import Testing
import UNClaims
import _TestSupport

/// Every claim has a written proof, and every test a proof names exists.
@Suite("Proofs and their tests")
struct ProofReferenceTests {
    static let root = PackagePaths.root

    static func testSources() throws -> String {
        let dir = root.appendingPathComponent("Tests")
        var all = ""
        let e = FileManager.default.enumerator(atPath: dir.path)
        while let f = e?.nextObject() as? String {
            if f.hasSuffix(".swift") {
                all += try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8) + "\n"
            }
        }
        return all
    }

    @Test func everyClaimHasAProof() throws {
        for c in try ClaimCatalogue.entries(referencePath: PackagePaths.fixture("scipy/reference.json").path) {
            let parts = c.proof.split(separator: "#")
            try #require(parts.count == 2, "\(c.id): proof link \(c.proof) needs FILE#anchor")
            let file = Self.root.appendingPathComponent(String(parts[0]))
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains("<a id=\"\(parts[1])\"></a>"), "\(c.id): \(c.proof) has no anchor \(parts[1])")
        }
    }

    @Test func everyNamedTestExists() throws {
        let sources = try Self.testSources()
        let proofs = Self.root.appendingPathComponent("proofs")
        var named = 0
        for f in try FileManager.default.contentsOfDirectory(atPath: proofs.path) where f.hasSuffix(".md") {
            let text = try String(contentsOf: proofs.appendingPathComponent(f), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("test: ") {
                let ref = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
                let parts = ref.split(separator: ".")
                try #require(parts.count == 2, "\(f): malformed test reference \(ref)")
                named += 1
                #expect(sources.contains("struct \(parts[0])"), "\(f) names suite \(parts[0]), which does not exist")
                #expect(sources.contains("func \(parts[1])("), "\(f) names test \(parts[1]), which does not exist")
            }
        }
        #expect(named >= 11)
    }
}
