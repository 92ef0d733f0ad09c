import KilnGraph
import Testing

@Suite struct GraphRecordingTests {
    @Test func siluIsRecordedAsXTimesSigmoidX() {
        let graph = Graph()
        let x = graph.input(.positions)  // any [numTokens] value
        let w = Parameter("w", shape: [1, 1])
        let h = matmul(reshape(x, [.numTokens, 1]), w(in: graph), transposeB: true)
        let y = silu(h)
        #expect(y.node.op == .mul)
        let sigmoidNode = graph.nodes[y.node.inputs[1]]
        #expect(sigmoidNode.op == .activation(.sigmoid))
        #expect(y.node.inputs[0] == h.id && sigmoidNode.inputs == [h.id])
        #expect(relu(h).node.op == .activation(.relu))
    }

    @Test func symbolicShapesFlowThroughLayers() {
        let graph = Graph()
        let ids = graph.input(.tokenIds)
        let embed = Embedding("embed", vocabularySize: 100, dimension: 32)
        let mlp = GatedMLP("mlp", hiddenSize: 32, intermediateSize: 48, bias: false, mapping: .single)
        let h = mlp(embed(ids))
        #expect(h.shape == [.numTokens, 32])
        let last = gatherLastTokens(h)
        #expect(last.shape == [.numSeqs, 32])
        #expect(slice(h, axis: 1, start: 8, length: 8).shape == [.numTokens, 8])
        #expect(concat([h, h], axis: 1).shape == [.numTokens, 64])
        #expect(reshape(h, [.numTokens, 4, 8]).shape == [.numTokens, 4, 8])
    }

    @Test func parametersAreFoundThroughNestedModules() {
        let mlp = GatedMLP("model.layers.0.mlp", hiddenSize: 8, intermediateSize: 16, bias: true, mapping: .single)
        let names = mlp.parameters().map(\.name)
        #expect(names == [
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.gate_proj.bias",
            "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias",
            "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.down_proj.bias",
        ])
        #expect(mlp.parameters().first?.shape == [16, 8])
    }

    @Test func aWeightUsedTwiceIsOneNode() {
        let graph = Graph()
        let embed = Embedding("embed", vocabularySize: 10, dimension: 4)
        let h = embed(graph.input(.tokenIds))
        _ = embed.asLinear(h)
        #expect(graph.weightNames == ["embed.weight"])
    }

    @Test func listingShowsOpsOperandsAndShapes() {
        let graph = Graph()
        let norm = RMSNorm("norm", dimension: 4, eps: 1e-5)
        let embed = Embedding("embed", vocabularySize: 10, dimension: 4)
        graph.markOutput(norm(embed(graph.input(.tokenIds))))
        let text = graph.description
        #expect(text.contains("%0 = input tokenIds : i32[numTokens]"))
        #expect(text.contains("%2 = embedding(%1, %0) : f32[numTokens, 4]"))
        #expect(text.contains("rms_norm(eps: 1e-05)(%2, %3)"))
        #expect(text.hasSuffix("outputs: %4"))
    }

    @Test func parallelMappingBeyondOneRankIsRefusedClearly() {
        #expect(throws: MappingError.parallelismUnavailable(tpSize: 2, ppSize: 1)) { try Mapping(tpSize: 2, tpRank: 1) }
        #expect(throws: MappingError.invalid(tpSize: 1, tpRank: 1, ppSize: 1, ppRank: 0)) { try Mapping(tpSize: 1, tpRank: 1) }
    }
}

@Suite struct RotaryFrequencyTests {
    @Test func defaultFrequenciesFollowTheta() {
        let rope = RotaryEmbedding(theta: 10000, dimension: 8)
        let expected: [Float] = [1, 0.1, 0.01, 0.001]
        for (a, b) in zip(rope.inverseFrequencies, expected) { #expect(abs(a - b) / b < 1e-5) }
        #expect(rope.attentionFactor == 1)
    }

    @Test func linearScalingDividesEveryFrequency() {
        let plain = RotaryEmbedding(theta: 10000, dimension: 8).inverseFrequencies
        let scaled = RotaryEmbedding(theta: 10000, dimension: 8, scaling: .linear(factor: 4)).inverseFrequencies
        #expect(zip(plain, scaled).allSatisfy { abs($0 / 4 - $1) < 1e-9 })
    }

    @Test func llama3KeepsHighAndScalesLowFrequencies() {
        let base = RotaryEmbedding(theta: 500000, dimension: 128).inverseFrequencies
        let scaled = RotaryEmbedding(theta: 500000, dimension: 128,
                                     scaling: .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192)).inverseFrequencies
        #expect(scaled[0] == base[0])  // wavelength 2π: far below 8192/4
        #expect(abs(scaled[63] - base[63] / 8) < 1e-12)  // wavelength beyond 8192
        #expect(scaled.indices.allSatisfy { scaled[$0] <= base[$0] && scaled[$0] >= base[$0] / 8 * 0.999 })
    }

    @Test func yarnBlendsInterpolationAndScalesMagnitude() {
        let yarn = RotaryEmbedding(theta: 10000, dimension: 64, scaling: .yarn(YarnParameters(factor: 4, originalMaxPositions: 2048)))
        let base = RotaryEmbedding(theta: 10000, dimension: 64).inverseFrequencies
        let scaled = yarn.inverseFrequencies
        #expect(scaled[0] == base[0])  // fastest rotations are extrapolated
        #expect(abs(scaled[31] - base[31] / 4) < 1e-12)  // slowest are interpolated
        #expect(abs(yarn.attentionFactor - (0.1 * Float(1.3862943611198906) + 1)) < 1e-6)  // 0.1·ln 4 + 1
    }
}
