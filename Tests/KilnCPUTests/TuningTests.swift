// Kernel selection: every candidate the tuner may pick computes the same product, the
// choices cover each weight shape, and a stored choice this CPU cannot run is ignored.

@testable import KilnCPU
import KilnGraph
import KilnTensor
import Testing

@Suite struct TuningTests {
    @Test func everyCandidateComputesTheSameProduct() {
        let (m, n, k) = (3, 40, 64)
        let a = (0..<(m * k)).map { Float(($0 * 37) % 17) / 17 - 0.5 }
        let b = (0..<(n * k)).map { Float(($0 * 11) % 23) / 23 - 0.5 }
        var results: [[Float]] = []
        b.withUnsafeBytes { bytes in
            let matrix = WeightMatrix(format: .f32, base: bytes.baseAddress!, rows: n, columns: k)
            for variant in GemmVariant.candidates {
                var c = [Float](repeating: 0, count: m * n)
                a.withUnsafeBufferPointer { a in
                    c.withUnsafeMutableBufferPointer { gemmTransposedB(a: a.baseAddress!, m: m, b: matrix, c: $0.baseAddress!, variant: variant) }
                }
                results.append(c)
            }
        }
        #expect(results.count >= 2)
        for c in results.dropFirst() {
            #expect(zip(c, results[0]).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        }
    }

    @Test func theTunerChoosesForEveryWeightShapeAndKeepsKnownChoices() throws {
        let embed = Embedding("embed", vocabularySize: 8, dimension: 32)
        let proj = Linear("proj", inFeatures: 32, outFeatures: 48, bias: false)
        let graph = Graph()
        graph.markOutput(proj(embed(graph.input(.tokenIds))))
        let weights = ["embed.weight": HostTensor([Float](repeating: 0.5, count: 256), shape: [8, 32]),
                       "proj.weight": HostTensor([Float](repeating: 0.25, count: 48 * 32), shape: [48, 32])]
        let selection = CPUKernelTuner.tune(graphs: [graph], weights: weights)
        #expect(Set(selection.choices.keys) == ["gemm_nt f32 48x32 m=1", "gemm_nt f32 48x32 m=64"])
        #expect(selection.choices.values.allSatisfy { GemmVariant(parameters: $0) != nil })
        let pinned = KernelSelection(choices: ["gemm_nt f32 48x32 m=1": ["vector_bits": 128, "threads": 1]])
        #expect(CPUKernelTuner.tune(graphs: [graph], weights: weights, known: pinned).choices["gemm_nt f32 48x32 m=1"] == ["vector_bits": 128, "threads": 1])
        #expect(GemmVariant(parameters: ["vector_bits": 4096, "threads": 1]) == nil)  // wider than any CPU: ignored
    }
}
