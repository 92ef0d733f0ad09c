import KilnCPU
import KilnGraph
import KilnTensor
import Testing

/// Ops that Llama-family models do not use yet, run through the CPU backend on a small
/// graph and checked against hand-computed values.
@Suite struct GraphExecutionTests {
    let layout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 2, tokensPerBlock: 4, numBlocks: 2)

    func run(_ build: (Graph, Tensor) -> Tensor, table: [Float], tokens: [Int32], extra: [String: HostTensor] = [:]) throws -> HostTensor {
        let graph = Graph()
        let embed = Embedding("table", vocabularySize: table.count / 4, dimension: 4)
        graph.markOutput(build(graph, embed(graph.input(.tokenIds))))
        var weights = extra
        weights["table.weight"] = HostTensor(table, shape: [table.count / 4, 4])
        let exe = try CPUExecutable(graph: graph, weights: weights, kvCache: layout)
        let step = StepInputs(sequences: [(tokens, SequenceStep(cachedTokens: 0, newTokens: tokens.count, blockTable: [0]))], tokensPerBlock: 4)
        return try exe.forward(step)
    }

    let table: [Float] = [1, -2, 3, -4,
                          5, 6, -7, 8]

    @Test func sliceConcatAndReshape() throws {
        let out = try run({ _, x in
            let left = slice(x, axis: 1, start: 0, length: 2), right = slice(x, axis: 1, start: 2, length: 2)
            return reshape(concat([right, left], axis: 1), [.numTokens, 4])
        }, table: table, tokens: [1, 0])
        #expect(out.shape == [2, 4])
        #expect(out.floats() == [-7, 8, 5, 6, 3, -4, 1, -2])
    }

    @Test func reluAndSigmoidAndProducts() throws {
        let out = try run({ _, x in relu(x) * sigmoid(x) + x }, table: table, tokens: [0])
        let expected = table.prefix(4).map { max($0, 0) * (1 / (1 + expf(-$0))) + $0 }
        #expect(zip(out.floats(), expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func plainMatmulAgainstAWeight() throws {
        let w = Parameter("w", shape: [4, 3])
        let out = try run({ graph, x in matmul(x, w(in: graph)) }, table: table, tokens: [0, 1],
                          extra: ["w": HostTensor([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], shape: [4, 3])])
        #expect(out.shape == [2, 3])
        let expected: [Float] = [-3, -6, -1, 13, 14, 1]  // x · w: the first three columns plus the fourth
        #expect(out.floats() == expected)
    }

    @Test func gatherLastTokensPicksEachSequencesLastRow() throws {
        let graph = Graph()
        let embed = Embedding("table", vocabularySize: 2, dimension: 4)
        graph.markOutput(gatherLastTokens(embed(graph.input(.tokenIds))))
        let exe = try CPUExecutable(graph: graph, weights: ["table.weight": HostTensor(table, shape: [2, 4])], kvCache: layout)
        let out = try exe.forward(StepInputs(sequences: [
            ([0, 0, 1], SequenceStep(cachedTokens: 0, newTokens: 3, blockTable: [0])),
            ([0], SequenceStep(cachedTokens: 0, newTokens: 1, blockTable: [1])),
        ], tokensPerBlock: 4))
        #expect(out.shape == [2, 4])
        #expect(out.floats() == Array(table[4...]) + Array(table[..<4]))
    }
}

#if canImport(Glibc)
import Glibc
#endif
