// The tensor-core prefill attention (bf16) on head sizes and GQA groups the fixtures do not
// have: random Llama models written here, their prefill checked against decode steps (the
// decode kernel, another code path) and against itself chunked and batched; decode steps
// that fill the GPU, which it also takes, against the same tokens decoded one sequence at a
// time; and the decode GEMVs at a real model's widths against prefill's cuBLASLt GEMMs.

import Foundation
import Kiln
import KilnCheckpoint
import KilnCUDA
import KilnGraph
import KilnRuntime
import KilnTensor
import Testing

@Suite(.enabled(if: gpuAvailable, "no GPU visible"), .serialized) struct FlashPrefillTests {
    struct Shape: CustomStringConvertible, Sendable {
        let headDim: Int, heads: Int, kvHeads: Int
        var hidden = 256, intermediate = 512, vocabulary = 512
        /// The LM head's weights are uniform in ± this: larger spreads the logits further.
        var logitScale: Float = 0.2
        var description: String { "head_dim \(headDim), \(heads) heads / \(kvHeads) KV heads, hidden \(hidden), MLP \(intermediate)" }
    }

    static let shapes = [Shape(headDim: 64, heads: 8, kvHeads: 2), Shape(headDim: 128, heads: 2, kvHeads: 2),
                         Shape(headDim: 64, heads: 6, kvHeads: 2), Shape(headDim: 96, heads: 4, kvHeads: 1),
                         Shape(headDim: 256, heads: 2, kvHeads: 1)]

    /// Prefill logits of every position equal the logits of decoding the same tokens one at a
    /// time (within bf16 rounding), across several 64-key tiles and query tiles.
    @Test(arguments: shapes)
    func prefillMatchesDecodeSteps(shape: Shape) throws {
        let llm = try Self.randomLlama(shape)
        let executable = llm.executable, width = executable.vocabularySize, tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let tokens = Self.tokens(count: 150, seed: 1)
        let prefill = try llm.promptLogits(tokens).floats()
        let table = (0..<((tokens.count + tokensPerBlock - 1) / tokensPerBlock)).reversed().map { Int32($0) }
        func step(_ new: ArraySlice<Int32>, after cached: Int) -> StepInputs {
            StepInputs(sequences: [(Array(new), SequenceStep(cachedTokens: cached, newTokens: new.count, blockTable: table))], tokensPerBlock: tokensPerBlock)
        }
        let start = 20
        _ = try executable.forward(step(tokens[0..<start], after: 0))
        var rows = RowAgreement()
        for row in start..<tokens.count {
            rows.add(try executable.forward(step(tokens[row...row], after: row)).floats(), expected: Array(prefill[(row * width)..<((row + 1) * width)]))
        }
        rows.expectClose("\(shape)")
    }

    /// A prompt prefilled in chunks, and two prompts prefilled in one step, give the last
    /// logits of prefilling each alone.
    @Test(arguments: shapes)
    func chunkedAndBatchedPrefillMatchOneShot(shape: Shape) throws {
        let llm = try Self.randomLlama(shape)
        let executable = llm.executable, width = executable.vocabularySize, tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let first = Self.tokens(count: 133, seed: 2), second = Self.tokens(count: 71, seed: 3)
        let tableA = (0..<9).map { Int32(2 * $0 + 1) }, tableB = (0..<9).map { Int32(2 * $0) }
        func sequence(_ tokens: ArraySlice<Int32>, after cached: Int, _ table: [Int32]) -> ([Int32], SequenceStep) {
            (Array(tokens), SequenceStep(cachedTokens: cached, newTokens: tokens.count, blockTable: table))
        }
        let alone = try executable.forward(StepInputs(sequences: [sequence(first[...], after: 0, tableA)], tokensPerBlock: tokensPerBlock)).floats()
        let secondAlone = try executable.forward(StepInputs(sequences: [sequence(second[...], after: 0, tableB)], tokensPerBlock: tokensPerBlock)).floats()
        var chunked: [Float] = []
        for start in stride(from: 0, to: first.count, by: 37) {
            let chunk = first[start..<min(first.count, start + 37)]
            chunked = try executable.forward(StepInputs(sequences: [sequence(chunk, after: start, tableA)], tokensPerBlock: tokensPerBlock)).floats()
        }
        let both = try executable.forward(StepInputs(sequences: [sequence(second[...], after: 0, tableB), sequence(first[...], after: 0, tableA)],
                                                     tokensPerBlock: tokensPerBlock)).floats()
        let scale = alone.map(abs).max() ?? 1
        #expect(maxAbsoluteDifference(chunked, alone) < 0.03 * scale, "\(shape): chunked")
        #expect(maxAbsoluteDifference(Array(both[width...]), alone) < 0.03 * scale, "\(shape): batched, first prompt")
        #expect(maxAbsoluteDifference(Array(both[..<width]), secondAlone) < 0.03 * scale, "\(shape): batched, second prompt")
    }

    /// A decode step of enough sequences to fill the GPU (the tensor-core kernel's, one token a
    /// block) gives each sequence the logits of decoding it alone (the split-K decode kernel).
    @Test(arguments: shapes)
    func fullDecodeStepMatchesSequencesAlone(shape: Shape) throws {
        var options = cudaBF16
        options.limits = StepLimits(maxNumTokens: 2048, maxBatchSize: 256)
        options.kvCacheFraction = 0.05  // blocks for every sequence at once
        let llm = try Self.randomLlama(shape, options: options)
        let executable = llm.executable, width = executable.vocabularySize, tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let multiprocessors = try #require(executable as? CUDAExecutable).device.info.multiprocessors
        let count = multiprocessors / shape.kvHeads + 3
        let prompts = (0..<count).map { Self.tokens(count: 20 + $0 * 37 % 100, seed: UInt64($0 + 10)) }
        let blocksEach = 120 / tokensPerBlock + 1
        for (s, prompt) in prompts.enumerated() {
            _ = try executable.forward(StepInputs(sequences: [Self.sequence(s, prompt.dropLast(), after: 0, blocksEach: blocksEach)], tokensPerBlock: tokensPerBlock))
        }
        let together = try executable.forward(StepInputs(sequences: prompts.enumerated().map { Self.sequence($0, $1.suffix(1), after: $1.count - 1, blocksEach: blocksEach) },
                                                         tokensPerBlock: tokensPerBlock)).floats()
        var rows = RowAgreement()
        for (s, prompt) in prompts.enumerated() {
            let alone = try executable.forward(StepInputs(sequences: [Self.sequence(s, prompt.suffix(1), after: prompt.count - 1, blocksEach: blocksEach)], tokensPerBlock: tokensPerBlock)).floats()
            rows.add(Array(together[(s * width)..<((s + 1) * width)]), expected: alone)
        }
        rows.expectClose("\(shape), \(count) sequences")
    }

    /// Decode GEMVs at a Llama-3.2-1B's widths (rows of several tiles, rows shared by two warps,
    /// thousands of rows a warp sweeps in turn) for 1, 2, 3, 5 and 8 sequences a step — each
    /// row count's kernel — give each sequence the logits of prefilling it alone (cuBLASLt).
    @Test func decodeGemvsMatchPrefillAtModelWidths() throws {
        let shape = Shape(headDim: 64, heads: 32, kvHeads: 8, hidden: 2048, intermediate: 8192)
        var options = cudaBF16
        options.kvCacheFraction = 0.05  // blocks for every sequence at once
        let llm = try Self.randomLlama(shape, options: options)
        let executable = llm.executable, width = executable.vocabularySize, tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let blocksEach = 64 / tokensPerBlock + 1
        var rows = RowAgreement()
        for count in [1, 2, 3, 5, 8] {
            let prompts = (0..<count).map { Self.tokens(count: 12 + 5 * $0, seed: UInt64(100 + count * 10 + $0)) }
            for (s, prompt) in prompts.enumerated() {
                _ = try executable.forward(StepInputs(sequences: [Self.sequence(s, prompt.dropLast(), after: 0, blocksEach: blocksEach)], tokensPerBlock: tokensPerBlock))
            }
            let decoded = try executable.forward(StepInputs(sequences: prompts.enumerated().map { Self.sequence($0, $1.suffix(1), after: $1.count - 1, blocksEach: blocksEach) },
                                                            tokensPerBlock: tokensPerBlock)).floats()
            for (s, prompt) in prompts.enumerated() {
                let prefilled = try llm.promptLogits(prompt).floats()
                rows.add(Array(decoded[(s * width)..<((s + 1) * width)]), expected: Array(prefilled[((prompt.count - 1) * width)...]))
            }
        }
        rows.expectClose("\(shape)")
    }

    /// Logit rows of one path against another's: within bf16 rounding of each other (3% of the
    /// largest logit), with the same argmax in at least 9 rows of 10.
    struct RowAgreement {
        var worst: Float = 0, largest: Float = 0, agreeing = 0, count = 0

        mutating func add(_ row: [Float], expected: [Float]) {
            worst = max(worst, maxAbsoluteDifference(row, expected))
            largest = max(largest, expected.map(abs).max() ?? 0)
            if row.indices.max(by: { row[$0] < row[$1] }) == expected.indices.max(by: { expected[$0] < expected[$1] }) { agreeing += 1 }
            count += 1
        }

        func expectClose(_ label: String) {
            #expect(worst < 0.03 * largest, "\(label): max |Δ| \(worst), logits up to \(largest)")
            #expect(agreeing >= count * 9 / 10, "\(label): \(agreeing) of \(count) argmaxes agree")
        }
    }

    /// Sequence `s`'s step of `tokens` after `cached` cached ones, in `blocksEach` KV blocks of
    /// its own (s · blocksEach …), so many sequences share one pool.
    static func sequence(_ s: Int, _ tokens: ArraySlice<Int32>, after cached: Int, blocksEach: Int) -> ([Int32], SequenceStep) {
        (Array(tokens), SequenceStep(cachedTokens: cached, newTokens: tokens.count, blockTable: (0..<blocksEach).map { Int32(s * blocksEach + $0) }))
    }

    static func tokens(count: Int, seed: UInt64) -> [Int32] {
        var generator = RandomSource(seed: seed)
        return (0..<count).map { _ in Int32(generator.next() % 500) + 1 }
    }

    /// A two-layer Llama with random f32 weights of the given attention shape, loaded with
    /// `options` (its temporary folder is removed once loaded).
    static func randomLlama(_ shape: Shape, options: BuildOptions = cudaBF16) throws -> LLM {
        let dir = try writeRandomLlama(shape)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try LLM(model: dir, options: options)
    }

    /// The folder of `randomLlama`.
    static func writeRandomLlama(_ shape: Shape) throws -> String {
        let dir = NSTemporaryDirectory() + "kiln-flash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let hidden = shape.hidden, intermediate = shape.intermediate, vocabulary = shape.vocabulary, layers = 2
        let config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": shape.heads, "num_key_value_heads": shape.kvHeads, "head_dim": shape.headDim,
            "vocab_size": vocabulary, "max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "tie_word_embeddings": false, "torch_dtype": "float32", "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var generator = RandomSource(seed: UInt64(shape.headDim * 31 + shape.heads * 7 + shape.kvHeads))
        func random(_ rows: Int, _ columns: Int, scale: Float) -> HostTensor {
            HostTensor((0..<(rows * columns)).map { _ in (Float(generator.next() % 20001) / 10000 - 1) * scale }, shape: [rows, columns])
        }
        func ones(_ n: Int) -> HostTensor { HostTensor([Float](repeating: 1, count: n), shape: [n]) }
        var tensors: [(name: String, tensor: HostTensor)] = [
            ("model.embed_tokens.weight", random(vocabulary, hidden, scale: 1)), ("lm_head.weight", random(vocabulary, hidden, scale: shape.logitScale)),
            ("model.norm.weight", ones(hidden)),
        ]
        let qWidth = shape.heads * shape.headDim, kvWidth = shape.kvHeads * shape.headDim
        for layer in 0..<layers {
            let prefix = "model.layers.\(layer)."
            tensors += [
                (prefix + "input_layernorm.weight", ones(hidden)), (prefix + "post_attention_layernorm.weight", ones(hidden)),
                (prefix + "self_attn.q_proj.weight", random(qWidth, hidden, scale: 0.25)),
                (prefix + "self_attn.k_proj.weight", random(kvWidth, hidden, scale: 0.25)),
                (prefix + "self_attn.v_proj.weight", random(kvWidth, hidden, scale: 0.1)),
                (prefix + "self_attn.o_proj.weight", random(hidden, qWidth, scale: 0.1)),
                (prefix + "mlp.gate_proj.weight", random(intermediate, hidden, scale: 0.1)),
                (prefix + "mlp.up_proj.weight", random(intermediate, hidden, scale: 0.1)),
                (prefix + "mlp.down_proj.weight", random(hidden, intermediate, scale: 0.1)),
            ]
        }
        try SafetensorsWriter.write(tensors, to: dir + "/model.safetensors")
        return dir
    }
}
