// The passes added for precision, folding and plugins, and the residual + RMSNorm rule:
// each alone, with the graph before and after and the CPU's outputs compared.

import Foundation
import KilnCompiler
import KilnCPU
import KilnGraph
import KilnTensor
import Testing

@Suite struct ResidualRMSNormTests {
    @Test func theResidualAddAndItsNormBecomeOneNodeWithTwoResults() throws {
        let embed = Embedding("embed", vocabularySize: 8, dimension: 16)
        let proj = Linear("proj", inFeatures: 16, outFeatures: 16, bias: false)
        let norm = RMSNorm("norm", dimension: 16, eps: 1e-5)
        let head = Linear("head", inFeatures: 16, outFeatures: 16, bias: false)
        let graph = Graph()
        let x = embed(graph.input(.tokenIds))
        let h = x + proj(x)
        graph.markOutput(h + head(norm(h)))
        let (fused, counts) = try ResidualRMSNormFusion().run(graph)
        #expect(ops(graph).contains("rms_norm(eps: 1e-05)"))
        #expect(ops(fused).contains("add+rms_norm(eps: 1e-05)") && !ops(fused).contains("rms_norm(eps: 1e-05)"))
        #expect(ops(fused).contains("select(0)") && ops(fused).contains("select(1)"))
        #expect(counts["residual-rmsnorm"] == 1)
        #expect(fused.nodes.first { "\($0.op)".hasPrefix("add+rms_norm") }?.shape == [.fixed(2), .numTokens, .fixed(16)])
        let parameters = embed.parameters() + proj.parameters() + norm.parameters() + head.parameters()
        // the same sums in the same order: bit for bit
        #expect(try evaluate(fused, parameters) == evaluate(graph, parameters))
        // the views take no arena bytes of their own
        let plan = MemoryPlan(fused, numTokens: 5, numSeqs: 1)
        #expect(fused.nodes.indices.filter { if case .select = fused.nodes[$0].op { true } else { false } }.allSatisfy { plan.offsets[$0] == nil })
    }

    @Test func aBiasAddIsNotAResidual() throws {
        let embed = Embedding("embed", vocabularySize: 8, dimension: 16)
        let bias = Parameter("bias", shape: [16])
        let norm = RMSNorm("norm", dimension: 16, eps: 1e-5)
        let graph = Graph()
        graph.markOutput(norm(embed(graph.input(.tokenIds)) + graph.weight(bias)))
        #expect(try ResidualRMSNormFusion().run(graph).counts.isEmpty)
    }
}

@Suite struct PrecisionAndFoldingTests {
    /// embed → norm → linear, with the weights declared as `dtype`.
    func normGraph(_ dtype: DType) -> (Graph, [Parameter]) {
        let embed = Embedding("embed", vocabularySize: 8, dimension: 32, dtype: dtype)
        let norm = RMSNorm("norm", dimension: 32, eps: 1e-6, dtype: dtype)
        let proj = Linear("proj", inFeatures: 32, outFeatures: 8, bias: false, dtype: dtype)
        let graph = Graph()
        graph.markOutput(proj(norm(embed(graph.input(.tokenIds)))))
        return (graph, embed.parameters() + norm.parameters() + proj.parameters())
    }

    @Test func weightsAKernelCannotReadAreWidenedThenFolded() throws {
        let (graph, _) = normGraph(.bf16)
        let (assigned, counts) = try PrecisionAssignment(CPUExecutable.precision()).run(graph)
        // the GEMM and the embedding read bf16 in place; the norm's scale goes through dequantize
        #expect(counts["weights widened"] == 1)
        #expect(ops(assigned).contains("plugin.dequantize"))
        let (folded, folding) = try ConstantFolding().run(assigned)
        #expect(folding["folded"] == 1 && !ops(folded).contains("plugin.dequantize"))
        #expect(ops(folded).contains("weight f32(norm.weight)"))
        #expect(Set(folded.weightNames) == ["embed.weight", "f32(norm.weight)", "proj.weight"])
        // a backend that reads only f32 matrices widens those too
        let strict = try PrecisionAssignment(PrecisionPolicy()).run(graph).graph
        #expect(try ConstantFolding().run(strict).graph.weightNames.allSatisfy { $0.hasPrefix("f32(") })
    }

    @Test func theStorageTypeIsARecipeTheBuildEvaluates() throws {
        let (graph, parameters) = normGraph(.f32)
        let built = try Compiler(precision: CPUExecutable.precision(weightType: .bf16)).compile(graph).graph
        #expect(Set(built.weightNames) == ["bf16(embed.weight)", "f32(bf16(norm.weight))", "bf16(proj.weight)"])
        var base: [String: HostTensor] = [:]
        for (i, p) in parameters.enumerated() { base[p.name] = HostTensor(randomFloats(p.shape.reduce(1, *), seed: UInt64(i + 1)), shape: p.shape) }
        let weights = DerivedWeight.materialize(built.weightNames, from: base)
        #expect(weights["bf16(proj.weight)"]??.dtype == .bf16)
        let norm = try #require(weights["f32(bf16(norm.weight))"] ?? nil)
        #expect(norm.dtype == .f32 && norm.floats() == base["norm.weight"]!.converted(to: .bf16).floats())
        #expect(DerivedWeight.baseNames(of: "f32(bf16(norm.weight))") == ["norm.weight"])
        #expect(DerivedWeight.baseNames(of: "concat_rows(a,f32(b))") == ["a", "b"])
    }

    @Test func shapeCheckCatchesAMissingCast() throws {
        let nodes = [
            Node(op: .input(.tokenIds), inputs: [], dtype: .i32, shape: [.numTokens]),
            Node(op: .weight("embed"), inputs: [], dtype: .f32, shape: [8, 4]),
            Node(op: .embedding, inputs: [1, 0], dtype: .bf16, shape: [.numTokens, 4]),
            Node(op: .add, inputs: [2, 2], dtype: .f32, shape: [.numTokens, 4]),
        ]
        #expect(throws: CompileError.shapeMismatch(node: "node %3 (add)", detail: "operand %2 is BF16, the result F32: a cast is missing")) {
            try ShapeCheck().run(Graph(nodes: nodes, outputs: [3]))
        }
    }

    @Test func activationTypesFollowThePolicyAndTheLogitsStayF32() throws {
        let (graph, _) = normGraph(.f32)
        let (assigned, counts) = try PrecisionAssignment(PrecisionPolicy(activationType: .bf16)).run(graph)
        #expect(counts["values retyped"] == 2)  // embedding and norm; the logits stay f32
        #expect(assigned.nodes[assigned.outputs[0]].dtype == .f32)
        #expect(assigned.nodes.filter { if case .rmsNorm = $0.op { true } else { false } }.allSatisfy { $0.dtype == .bf16 })
        // the CPU computes in f32 and says so
        #expect(throws: CPUBackendError.self) {
            try CPUExecutable(graph: assigned, weights: [:], kvCache: KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 8, tokensPerBlock: 8, numBlocks: 1))
        }
    }
}

/// A test plugin: `x · factor`.
struct ScalePlugin: Plugin {
    static let pluginName = "test-scale"
    var factor: Float

    func result(operands: [ValueType]) -> Result<ValueType, PluginOperandError> {
        operands.count == 1 ? .success(operands[0]) : .failure(PluginOperandError("takes one operand"))
    }

    var description: String { "scale(\(factor))" }
}

struct ScaleKernel: CPUPluginKernel {
    let factor: Float
    init(plugin: any Plugin) throws(CPUBackendError) {
        guard let scale = plugin as? ScalePlugin else { throw .unsupportedOp("\(plugin)") }
        factor = scale.factor
    }

    func run(_ context: CPUPluginContext) throws(CPUBackendError) {
        let x = try context.floats(0)
        for i in x.indices { context.result[i] = x[i] * factor }
    }
}

@Suite struct PluginTests {
    @Test func aRegisteredPluginRunsAsAGraphNode() throws {
        CPUPluginKernels.register(ScaleKernel.self, for: ScalePlugin.self)
        let embed = Embedding("embed", vocabularySize: 8, dimension: 8)
        let graph = Graph(), direct = Graph()
        graph.markOutput(plugin(ScalePlugin(factor: 3), [embed(graph.input(.tokenIds))]))
        direct.markOutput(embed(direct.input(.tokenIds)))
        #expect(try evaluate(graph, embed.parameters()) == evaluate(direct, embed.parameters()).map { $0 * 3 })
        // graphs holding it survive JSON, as engines store them
        let nodes = try JSONDecoder().decode([Node].self, from: JSONEncoder().encode(graph.nodes))
        #expect(nodes == graph.nodes)
    }

    @Test func anUnknownPluginIsNamedWhenDecoding() throws {
        let json = #"{"plugin":{"_0":{"name":"no-such-plugin","attributes":{}}}}"#
        do {
            _ = try JSONDecoder().decode(Op.self, from: Data(json.utf8))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("unknown plugin 'no-such-plugin'"))
        }
    }

    @Test func aPluginWithoutACPUKernelIsRefusedAtLoad() throws {
        struct Unimplemented: Plugin {
            static let pluginName = "test-unimplemented"
            func result(operands: [ValueType]) -> Result<ValueType, PluginOperandError> { .success(operands[0]) }
            var description: String { "unimplemented" }
        }
        let embed = Embedding("embed", vocabularySize: 8, dimension: 8)
        let graph = Graph()
        graph.markOutput(plugin(Unimplemented(), [embed(graph.input(.tokenIds))]))
        #expect(throws: CPUBackendError.unsupportedOp("plugin 'test-unimplemented': no CPU kernel is registered for it (CPUPluginKernels.register)")) {
            try evaluate(graph, embed.parameters())
        }
    }

    @Test func shapeErrorsNameTheModelCodeThatRecordedTheNode() throws {
        let embed = Embedding("embed", vocabularySize: 8, dimension: 8)
        let graph = Graph()
        let x = embed(graph.input(.tokenIds))
        let attention = attention(x, x, x, AttentionPlugin(layer: 0, numHeads: 1, numKVHeads: 1, headDim: 8, scale: 1))
        graph.markOutput(attention)
        // a rewrite that breaks the plugin's contract (more heads than q has columns for)
        var nodes = graph.nodes
        let id = attention.id
        guard case .plugin(let call) = nodes[id].op, var plugin = call.plugin as? AttentionPlugin else { throw CancellationError() }
        plugin.numHeads = 2  // q would need 16 columns
        nodes[id] = Node(op: .plugin(PluginCall(plugin)), inputs: nodes[id].inputs, dtype: .f32, shape: nodes[id].shape, origin: nodes[id].origin)
        do {
            _ = try ShapeCheck().run(Graph(nodes: nodes, outputs: graph.outputs))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("recorded at KilnCompilerTests/BuilderPassTests.swift:"))
            #expect(error.description.contains("node %\(id) (plugin.attention("))
        }
    }
}
