import Testing

@testable import UNParity

@Suite("GPU-vs-CPU parity")
struct ParityTests {
    /// The OpenCL path runs for real under PoCL (installed by scripts/bootstrap.sh): every
    /// kernel, every quick shape, Float and Double, within the derived bounds.
    @Test func openCLMatchesCPUWithinBounds() throws {
        let cl = OpenCLBackend()
        guard case .available(let device) = cl.availability else {
            Issue.record("OpenCL is not available here (\(cl.availability)); scripts/bootstrap.sh installs PoCL")
            return
        }
        let rows = try ParityRunner(shapes: ParityRunner.quickShapes).run(cl)
        #expect(!rows.isEmpty)
        #expect(Set(rows.map(\.precision)).contains("float"))
        for r in rows {
            #expect(
                r.boundViolations == 0,
                """
                \(device): \(r.kernel) \(r.shape) \(r.precision): \(r.boundViolations) entries beyond the bound, \
                worst ratio \(r.worstBoundRatio), max \(r.maxULPs) ulp
                """
            )
        }
        // The comparison measures something: some kernels differ from the CPU in the last bits.
        #expect(rows.contains { $0.maxULPs > 0 } || rows.allSatisfy { $0.maxULPs == 0 })
    }

    /// A planted wrong kernel result is caught by the bound.
    @Test func boundCatchesAWrongResult() {
        let cpu = [1.0, 2.0, 3.0]
        let row = ParityStatistics.row(
            backend: "t", device: "t", kernel: "k", shape: "3", precision: .float,
            cpu: cpu, dev: [1.0, 2.0 * (1 + 1e-4), 3.0],
            bound: ParityBounds.affine(x: cpu, scale: [1], shift: [0], channels: 1, u: Precision.float.unitRoundoff))
        #expect(row.boundViolations == 1)
        #expect(row.worstBoundRatio > 1)
    }

    /// An unavailable backend is reported, not crashed on.
    @Test func missingLibrariesAreReported() throws {
        let cl = OpenCLBackend(libraryNames: ["libOpenCL-does-not-exist.so.9"])
        guard case .notAvailable(let reason) = cl.availability else {
            Issue.record("expected not available")
            return
        }
        #expect(reason.contains("not found"))
        #expect(throws: BackendError.self) {
            _ = try cl.affine(x: [1], scale: [1], shift: [0], channels: 1, precision: .float)
        }
        #expect(try ParityRunner().run(cl).isEmpty)
        let cu = CUDABackend(driverNames: ["libcuda-does-not-exist.so.1"])
        guard case .notAvailable(let r2) = cu.availability else {
            Issue.record("expected not available")
            return
        }
        #expect(r2.contains("CUDA driver not found"))
        #expect(throws: BackendError.self) { _ = try cu.launch("un_affine", [], globalSize: 1, precision: .float) }
    }

    /// What can be tested of CUDA without a GPU: the generated source, the parameter packing,
    /// the launch geometry.
    @Test func cudaSourceAndPacking() {
        for p in Precision.allCases {
            let src = KernelSources.cuda(p)
            for k in KernelSources.names { #expect(src.contains("extern \"C\" __global__ void \(k)(")) }
            #expect(src.hasPrefix("#define REAL \(p == .double ? "double" : "float")"))
            let cl = KernelSources.openCL(p)
            for k in KernelSources.names { #expect(cl.contains("__kernel void \(k)(")) }
        }
        let args: [KernelArgument] = [.reals([1, 2, 3]), .output(count: 3), .int(7), .real(0.5)]
        #expect(CUDABackend.parameterSizes(args, .float) == [8, 8, 4, 4])
        #expect(CUDABackend.parameterSizes(args, .double) == [8, 8, 4, 8])
        #expect(KernelArgument.reals([1.5, -2]).packed(.float) == [0, 0, 192, 63, 0, 0, 0, 192])
        #expect(KernelArgument.unpack(KernelArgument.reals([1.5, -2]).packed(.double), .double) == [1.5, -2])
        let cu = CUDABackend(driverNames: ["nope.so"])
        #expect(cu.grid(for: 1) == (1, 128))
        #expect(cu.grid(for: 129) == (2, 128))
        #expect(cu.compileOptions.contains("--gpu-architecture=compute_80"))
    }
}
