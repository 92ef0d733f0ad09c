// Which kernels a CUDA decode step folds into its GEMVs, read off the built graph (no GPU
// needed): every norm and the SwiGLU product of a Llama decoder, and the memory plan keeping
// the absorbed nodes' inputs alive until the GEMV that reads them has run.

import KilnCompiler
@testable import KilnCUDA
@testable import KilnGraph
import KilnModels
import KilnTensor
import Testing

@Suite struct DecodeFusionTests {
    /// The bf16 generation graph of a fixture as the CUDA backend builds it.
    static func cudaGraph(_ fixture: String) throws -> Graph {
        let network = try HuggingFaceModel.load(directory: fixturesDirectory + "/" + fixture).model
        return try Compiler(precision: CUDAExecutable.precision()).compile(network.recordGraph(logits: .lastTokens)).graph
    }

    @Test(arguments: ["llama-gqa", "qwen2-tied"])
    func everyNormAndSwiGLUFeedsAGEMV(fixture: String) throws {
        let graph = try Self.cudaGraph(fixture)
        let fusion = DecodeFusion(graph, activation: .bf16, readers: graph.readers)
        let layers = 2
        var norms: [GemvPrologue] = [], elementwise = 0
        for prologue in fusion.prologues.values {
            if case .elementwise = prologue { elementwise += 1 } else { norms.append(prologue) }
        }
        // per layer the attention norm (q|k|v) and the MLP norm (gate|up), plus the final norm (LM head)
        #expect(norms.count == 2 * layers + 1)
        #expect(elementwise == layers)
        // the first layer normalizes the embedding alone; the final norm folds the last add and
        // the last-token gather, and keeps no sum (nothing reads it); the others write the residual stream
        let plain = norms.filter { if case .rmsNorm(_, nil, nil, _, _) = $0 { true } else { false } }
        let final = norms.filter { if case .rmsNorm(_, .some, nil, _, _) = $0 { true } else { false } }
        #expect(plain.count == 1 && final.count == 1)
        let absorbed = Set(fusion.absorbedBy.keys.map { "\(graph.nodes[$0].op)".prefix(while: { $0 != "(" }) })
        #expect(absorbed.isSuperset(of: ["add+rms_norm", "rms_norm", "gather_last_tokens", "add"]))
        #expect(absorbed.contains { $0.hasPrefix("fused") })  // silu(gate) · up
        // every absorbed node is computed by a GEMV that has a prologue
        #expect(fusion.absorbedBy.values.allSatisfy { fusion.prologues[$0] != nil })
    }

    @Test func theMemoryPlanKeepsAbsorbedInputsAlive() throws {
        let graph = try Self.cudaGraph("llama-gqa")
        let fusion = DecodeFusion(graph, activation: .bf16, readers: graph.readers)
        let plan = MemoryPlan(graph, numTokens: 8, numSeqs: 8, extraReads: fusion.extraReads)
        let size = MemoryPlan.valueBytes(graph, numTokens: 8, numSeqs: 8)
        let lifetimes = graph.lifetimes(readInPlace: [], extraReads: fusion.extraReads)
        for (gemv, inputs) in fusion.extraReads {
            guard let out = plan.offsets[gemv] else { continue }
            for input in inputs {
                let owner = lifetimes.owner[input]
                guard let start = plan.offsets[owner] else { continue }
                // the GEMV's output never shares bytes with a value its prologue reads
                #expect(out + size[gemv]! <= start || start + size[owner]! <= out, "GEMV \(gemv) over input \(input)")
            }
        }
    }

    @Test func f32GraphsKeepTheirNormKernels() throws {
        let network = try HuggingFaceModel.load(directory: fixturesDirectory + "/llama-gqa").model
        let graph = try Compiler(precision: CUDAExecutable.precision(weightType: .f32)).compile(network.recordGraph(logits: .lastTokens)).graph
        #expect(DecodeFusion(graph, activation: .f32, readers: graph.readers).prologues.isEmpty)
    }
}
