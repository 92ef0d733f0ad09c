// Each pass alone: the graph before and after, and (for fusions) the same outputs from the
// fused and unfused graphs on the CPU backend.

import KilnCompiler
import KilnCPU
import KilnGraph
import KilnTensor
import Testing

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) * 0x1p-23 - 1
    }
}

/// Runs `graph` on the CPU with random weights for `parameters` and returns the output.
func evaluate(_ graph: Graph, _ parameters: [Parameter], tokens: [Int32] = [3, 1, 4, 1, 5]) throws -> [Float] {
    var base: [String: HostTensor] = [:]
    for (i, p) in parameters.enumerated() { base[p.name] = HostTensor(randomFloats(p.shape.reduce(1, *), seed: UInt64(i + 1)), shape: p.shape) }
    let weights = DerivedWeight.materialize(graph.weightNames, from: base).compactMapValues { $0 }
    let layout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 8, tokensPerBlock: 8, numBlocks: 1)
    let exe = try CPUExecutable(graph: graph, weights: weights, kvCache: layout)
    let step = StepInputs(sequences: [(tokens, SequenceStep(cachedTokens: 0, newTokens: tokens.count, blockTable: [0]))], tokensPerBlock: 8)
    return try exe.forward(step).floats()
}

func expectSameOutputs(_ a: [Float], _ b: [Float]) {
    #expect(a.count == b.count)
    let worst = zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? 0
    #expect(worst <= 1e-5, "max relative difference \(worst)")
}

func ops(_ graph: Graph) -> [String] { graph.nodes.map { "\($0.op)" } }

@Suite struct FusionRuleTests {
    let embed = Embedding("embed", vocabularySize: 8, dimension: 16)

    /// embed → gated MLP: silu(gate(x)) · up(x), then down.
    func mlpGraph(bias: Bool) -> (Graph, [Parameter]) {
        let mlp = GatedMLP("mlp", hiddenSize: 16, intermediateSize: 24, bias: bias, mapping: .single)
        let graph = Graph()
        graph.markOutput(mlp(embed(graph.input(.tokenIds))))
        return (graph, embed.parameters() + mlp.parameters())
    }

    @Test func elementwiseChainFusesSiluTimesUp() throws {
        let (graph, parameters) = mlpGraph(bias: false)
        let (fused, counts) = try ElementwiseChainFusion().run(graph)
        #expect(ops(graph).filter { $0 == "mul" || $0 == "activation.sigmoid" }.count == 3)
        #expect(ops(fused).contains("fused[$0 * sigmoid($0) * $1]"))
        #expect(!ops(fused).contains("mul") && !ops(fused).contains("activation.sigmoid"))
        #expect(counts["elementwise-chain"] == 1 && counts["ops fused"] == 3)
        expectSameOutputs(try evaluate(fused, parameters), try evaluate(graph, parameters))
    }

    @Test func matmulEpilogueTakesBiasAndActivation() throws {
        let linear = Linear("proj", inFeatures: 16, outFeatures: 12, bias: true)
        let graph = Graph()
        graph.markOutput(relu(linear(embed(graph.input(.tokenIds)))))
        let (fused, counts) = try MatmulEpilogueFusion().run(graph)
        #expect(ops(graph).suffix(4) == ["matmul_nt", "weight proj.bias", "add", "activation.relu"])
        #expect(ops(fused).last == "matmul_nt+bias+relu")
        #expect(counts["matmul-epilogue"] == 1)
        expectSameOutputs(try evaluate(fused, embed.parameters() + linear.parameters()), try evaluate(graph, embed.parameters() + linear.parameters()))
    }

    @Test func epilogueWithBiasOnlyAndChainAfterIt() throws {
        let (graph, parameters) = mlpGraph(bias: true)
        let compiled = try Compiler(disabledRules: ["concat-projections"]).compile(graph)
        #expect(ops(compiled.graph).filter { $0 == "matmul_nt+bias" }.count == 3)
        #expect(ops(compiled.graph).contains { $0.hasPrefix("fused[") })
        #expect(compiled.report.fusions == ["matmul-epilogue": 3, "elementwise-chain": 1])
        expectSameOutputs(try evaluate(compiled.graph, parameters), try evaluate(graph, parameters))
    }

    @Test func projectionsOfOneInputBecomeOneMatmul() throws {
        let (graph, parameters) = mlpGraph(bias: false)
        let (fused, counts) = try ProjectionConcatFusion().run(graph)
        #expect(ops(graph).filter { $0 == "matmul_nt" }.count == 3)
        #expect(ops(fused).filter { $0 == "matmul_nt" }.count == 2)  // gate+up, and down
        #expect(ops(fused).contains("concat(axis: 0)"))  // of the two weights: constant folding makes it one weight
        let folded = try ConstantFolding().run(fused).graph
        #expect(ops(folded).contains("weight concat_rows(mlp.gate_proj.weight,mlp.up_proj.weight)") && !ops(folded).contains("concat(axis: 0)"))
        #expect(ops(fused).contains("slice(axis: 1, start: 0, length: 24)") && ops(fused).contains("slice(axis: 1, start: 24, length: 24)"))
        #expect(counts["concat-projections"] == 1 && counts["projections merged"] == 2)
        expectSameOutputs(try evaluate(fused, parameters), try evaluate(graph, parameters))
        // the whole table: concatenation, then the chain over the two slices
        let compiled = try Compiler().compile(graph)
        #expect(compiled.report.fusions == ["concat-projections": 1, "elementwise-chain": 1])
        expectSameOutputs(try evaluate(compiled.graph, parameters), try evaluate(graph, parameters))
    }

    @Test func derivedWeightsConcatenateRowsInEveryFormat() {
        let a = HostTensor([1, 2, 3, 4], shape: [2, 2]), b = HostTensor([5, 6], shape: [1, 2])
        let name = DerivedWeight.concatenatedRows(["a", "b"])
        #expect(DerivedWeight.baseNames(of: name) == ["a", "b"])
        #expect(DerivedWeight.materialize([name], from: ["a": a, "b": b])[name]??.floats() == [1, 2, 3, 4, 5, 6])
        let missing = DerivedWeight.materialize([name], from: ["a": a])[name]
        #expect(missing != nil && missing! == nil)  // a source is missing: known name, no tensor
        let blocks = [UInt8](repeating: 7, count: 18).withUnsafeBytes { HostTensor(dtype: .q4_0, shape: [1, 32], copying: $0) }
        #expect(DerivedWeight.materialize([DerivedWeight.concatenatedRows(["q", "q"])], from: ["q": blocks]).values.first??.shape == [2, 32])
    }

    @Test func ropeMovesIntoAttention() throws {
        let rotary = RotaryEmbedding(theta: 10000, dimension: 8, scaling: .linear(factor: 2))
        let config = AttentionConfig(hiddenSize: 16, numHeads: 2, numKVHeads: 1, headDim: 8, qkvBias: false, outputBias: false, rotary: rotary)
        let layer = Attention("attn", config, layer: 0, mapping: .single)
        let graph = Graph()
        graph.markOutput(layer(embed(graph.input(.tokenIds)), positions: graph.input(.positions)))
        let (fused, counts) = try RopeIntoAttention().run(graph)
        #expect(ops(graph).filter { $0.hasPrefix("rope") }.count == 2)
        #expect(!ops(fused).contains { $0.hasPrefix("rope") })
        #expect(ops(fused).contains { $0.hasPrefix("plugin.attention(") && $0.contains("rope: theta: 10000.0, dim: 8, linear x2.0") })
        #expect(counts["rope-into-attention"] == 1)
        let parameters = embed.parameters() + layer.parameters()
        expectSameOutputs(try evaluate(fused, parameters), try evaluate(graph, parameters))
    }

    @Test func aValueReadTwiceIsNotFusedAway() throws {
        let graph = Graph()
        let x = embed(graph.input(.tokenIds))
        let s = sigmoid(x)
        graph.markOutput(concat([s * x, s], axis: 1))  // s is read twice: it must stay
        let (fused, _) = try ElementwiseChainFusion().run(graph)
        #expect(ops(fused).contains("activation.sigmoid"))
        expectSameOutputs(try evaluate(fused, embed.parameters()), try evaluate(graph, embed.parameters()))
    }

    @Test func rulesCanBeSwitchedOffByName() throws {
        let (graph, _) = mlpGraph(bias: true)
        let compiled = try Compiler(disabledRules: ["elementwise-chain", "concat-projections"]).compile(graph)
        #expect(compiled.report.fusions == ["matmul-epilogue": 3])
        #expect(throws: CompileError.unknownFusionRule("nope", known: ["concat-projections", "rope-into-attention", "residual-rmsnorm",
                                                                       "matmul-epilogue", "elementwise-chain"])) {
            try Compiler(disabledRules: ["nope"])
        }
    }
}

@Suite struct CleanupPassTests {
    @Test func deadCodeIsRemovedButAttentionStays() throws {
        let graph = Graph()
        let embed = Embedding("embed", vocabularySize: 8, dimension: 8)
        let x = embed(graph.input(.tokenIds))
        _ = relu(x)  // unread
        let attributes = AttentionPlugin(layer: 0, numHeads: 1, numKVHeads: 1, headDim: 8, scale: 1)
        _ = attention(x, x, x, attributes)  // unread, but it writes the KV cache
        graph.markOutput(sigmoid(x))
        let (pruned, counts) = try DeadCodeElimination().run(graph)
        #expect(ops(pruned) == ["input tokenIds", "weight embed.weight", "embedding",
                                "plugin.attention(layer: 0, heads: 1, kv_heads: 1, head_dim: 8)", "activation.sigmoid"])
        #expect(counts["removed"] == 1)
        #expect(pruned.outputs == [4])
    }

    @Test func repeatedValuesAreComputedOnce() throws {
        let graph = Graph()
        let embed = Embedding("embed", vocabularySize: 8, dimension: 8)
        let x = embed(graph.input(.tokenIds))
        graph.markOutput(sigmoid(x) + sigmoid(x))
        let (merged, counts) = try CommonSubexpressionElimination().run(graph)
        #expect(counts["merged"] == 1)
        #expect(ops(merged).filter { $0 == "activation.sigmoid" }.count == 1)
        expectSameOutputs(try evaluate(merged, embed.parameters()), try evaluate(graph, embed.parameters()))
    }

    @Test func shapeCheckNamesTheNodeAndOp() throws {
        let nodes = [
            Node(op: .input(.tokenIds), inputs: [], dtype: .i32, shape: [.numTokens]),
            Node(op: .weight("w"), inputs: [], dtype: .f32, shape: [4, 3]),
            Node(op: .weight("x"), inputs: [], dtype: .f32, shape: [2, 5]),
            Node(op: .matmul(transposeB: false), inputs: [2, 1], dtype: .f32, shape: [2, 3]),
        ]
        #expect(throws: CompileError.shapeMismatch(node: "node %3 (matmul)", detail: "[2, 5] · [4, 3] cannot give [2, 3]")) {
            try ShapeCheck().run(Graph(nodes: nodes, outputs: [3]))
        }
    }
}

@Suite struct MemoryPlanTests {
    @Test func valuesAliveTogetherNeverShareBytes() throws {
        let mlp = GatedMLP("mlp", hiddenSize: 16, intermediateSize: 24, bias: true, mapping: .single)
        let embed = Embedding("embed", vocabularySize: 8, dimension: 16)
        let graph = Graph()
        let x = embed(graph.input(.tokenIds))
        graph.markOutput(x + mlp(x))
        let plan = MemoryPlan(graph, numTokens: 10, numSeqs: 1)
        #expect(plan.arenaBytes < plan.unplannedBytes)
        // lifetimes from the graph itself, checked pairwise
        var last = Array(graph.nodes.indices)
        for (id, node) in graph.nodes.enumerated() { for input in node.inputs { last[input] = max(last[input], id) } }
        for output in graph.outputs { last[output] = graph.nodes.count }
        let sized = plan.offsets.keys.map { id in (id, graph.nodes[id].shape.map { $0.resolved(numTokens: 10, numSeqs: 1) }.reduce(4, *)) }
        #expect(plan.offsets.values.allSatisfy { $0 % MemoryPlan.alignment == 0 })
        for (a, sizeA) in sized {
            for (b, sizeB) in sized where a < b && last[a] >= b {
                let (oa, ob) = (plan.offsets[a]!, plan.offsets[b]!)
                #expect(oa + sizeA <= ob || ob + sizeB <= oa, "%\(a) and %\(b) overlap")
            }
        }
    }

    @Test func theReportShowsPlannedAgainstUnplanned() throws {
        let (graph, _) = FusionRuleTests().mlpGraph(bias: false)
        let report = try Compiler(limits: StepLimits(maxNumTokens: 64, maxBatchSize: 4)).compile(graph).report
        #expect(report.activationBytes.planned < report.activationBytes.unplanned)
        #expect(report.description.contains("activations for the largest step (64 tokens, 4 sequences)"))
    }
}
