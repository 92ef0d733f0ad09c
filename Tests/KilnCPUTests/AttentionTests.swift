import KilnCPU
import KilnGraph
import KilnTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A one-layer attention graph run by the CPU backend against a direct computation of
/// causal (optionally windowed) grouped-query attention with rotary positions.
@Suite struct AttentionTests {
    let hidden = 16, heads = 4, kvHeads = 2, headDim = 8, vocab = 11

    func executable(window: Int?, tokensPerBlock: Int) throws -> (CPUExecutable, [String: [Float]]) {
        let rotary = RotaryEmbedding(theta: 10000, dimension: headDim)
        let config = AttentionConfig(hiddenSize: hidden, numHeads: heads, numKVHeads: kvHeads, headDim: headDim,
                                     qkvBias: false, outputBias: false, rotary: rotary, slidingWindow: window)
        let embed = Embedding("embed", vocabularySize: vocab, dimension: hidden)
        let layer = Attention("attn", config, layer: 0, mapping: .single)
        let graph = Graph()
        graph.markOutput(layer(embed(graph.input(.tokenIds)), positions: graph.input(.positions)))
        var values: [String: [Float]] = [:]
        var tensors: [String: HostTensor] = [:]
        for (i, p) in (embed.parameters() + layer.parameters()).enumerated() {
            let data = randomFloats(p.shape.reduce(1, *), seed: UInt64(i + 10))
            values[p.name] = data
            tensors[p.name] = HostTensor(data, shape: p.shape)
        }
        let layout = KVCacheLayout(numLayers: 1, numKVHeads: kvHeads, headDim: headDim, tokensPerBlock: tokensPerBlock, numBlocks: 16)
        return (try CPUExecutable(graph: graph, weights: tensors, kvCache: layout), values)
    }

    func reference(_ tokens: [Int32], _ w: [String: [Float]], window: Int?) -> [Float] {
        func project(_ x: [Float], _ name: String, out: Int) -> [Float] {
            let weight = w[name]!
            return (0..<out).map { o in x.indices.reduce(Float(0)) { $0 + x[$1] * weight[o * x.count + $1] } }
        }
        func rotate(_ v: [Float], position: Int) -> [Float] {
            var r = v
            for h in 0..<(v.count / headDim) {
                for i in 0..<(headDim / 2) {
                    let angle = Float(position) * (1 / powf(10000, Float(2 * i) / Float(headDim)))
                    let a = v[h * headDim + i], b = v[h * headDim + i + headDim / 2]
                    r[h * headDim + i] = a * cosf(angle) - b * sinf(angle)
                    r[h * headDim + i + headDim / 2] = b * cosf(angle) + a * sinf(angle)
                }
            }
            return r
        }
        let xs = tokens.map { Array(w["embed.weight"]![(Int($0) * hidden)..<(Int($0) * hidden + hidden)]) }
        let qs = xs.enumerated().map { rotate(project($1, "attn.q_proj.weight", out: heads * headDim), position: $0) }
        let ks = xs.enumerated().map { rotate(project($1, "attn.k_proj.weight", out: kvHeads * headDim), position: $0) }
        let vs = xs.map { project($0, "attn.v_proj.weight", out: kvHeads * headDim) }
        var result: [Float] = []
        for t in tokens.indices {
            var attended = [Float](repeating: 0, count: heads * headDim)
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let first = window.map { max(0, t - $0 + 1) } ?? 0
                let scores = (first...t).map { j in
                    (0..<headDim).reduce(Float(0)) { $0 + qs[t][h * headDim + $1] * ks[j][g * headDim + $1] } / Float(headDim).squareRoot()
                }
                let top = scores.max()!
                let weights = scores.map { expf($0 - top) }
                let total = weights.reduce(0, +)
                for (n, j) in (first...t).enumerated() {
                    for e in 0..<headDim { attended[h * headDim + e] += weights[n] / total * vs[j][g * headDim + e] }
                }
            }
            result += project(attended, "attn.o_proj.weight", out: hidden)
        }
        return result
    }

    @Test(arguments: [nil, 3] as [Int?])
    func pagedPrefillThenDecodeMatchesDirectAttention(window: Int?) throws {
        let (exe, weights) = try executable(window: window, tokensPerBlock: 2)
        let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6, 5]
        let blocks: [Int32] = [9, 2, 14, 0, 7]
        let prefill = Array(tokens.prefix(6))
        var rows = try exe.forward(StepInputs(sequences: [(prefill, SequenceStep(cachedTokens: 0, newTokens: 6, blockTable: blocks))], tokensPerBlock: 2)).floats()
        for t in 6..<tokens.count {
            rows += try exe.forward(StepInputs(sequences: [([tokens[t]], SequenceStep(cachedTokens: t, newTokens: 1, blockTable: blocks))], tokensPerBlock: 2)).floats()
        }
        let expected = reference(tokens, weights, window: window)
        #expect(rows.count == expected.count)
        #expect(zip(rows, expected).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func badStepsAreRejectedBeforeRunning() throws {
        let (exe, _) = try executable(window: nil, tokensPerBlock: 2)
        #expect(throws: CPUBackendError.self) {
            try exe.forward(StepInputs(tokenIds: [], positions: [], sequences: [], slotMapping: []))
        }
        #expect(throws: CPUBackendError.tokenOutOfRange(token: 11, vocabularySize: 11)) {
            try exe.forward(StepInputs(sequences: [([11], SequenceStep(cachedTokens: 0, newTokens: 1, blockTable: [0]))], tokensPerBlock: 2))
        }
        #expect(throws: CPUBackendError.self) {  // block table too short for 3 tokens
            try exe.forward(StepInputs(tokenIds: [1, 2, 3], positions: [0, 1, 2],
                                       sequences: [SequenceStep(cachedTokens: 0, newTokens: 3, blockTable: [0])], slotMapping: [0, 1, 2]))
        }
    }

    @Test func missingWeightIsNamed() throws {
        let graph = Graph()
        let embed = Embedding("embed", vocabularySize: 4, dimension: 2)
        graph.markOutput(embed(graph.input(.tokenIds)))
        let layout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 2, tokensPerBlock: 2, numBlocks: 1)
        #expect(throws: CPUBackendError.unboundWeight(name: "embed.weight")) {
            try CPUExecutable(graph: graph, weights: [:], kvCache: layout)
        }
    }
}
