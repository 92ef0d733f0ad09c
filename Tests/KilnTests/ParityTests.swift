// Kiln against Hugging Face transformers on every reference fixture: greedy tokens exactly,
// logits within 1e-3, through prefill and through step-by-step decode over the paged cache.

import Foundation
import Kiln
import KilnCheckpoint
import KilnGraph
import KilnRuntime
import KilnTensor
import Testing

let fixturesDirectory = "/" + String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/") + "/Fixtures"
let parityFixtures = [
    "llama-gqa", "llama-gqa-bf16", "mistral-spm", "qwen2-tied", "llama3-rope-mha",
    "llama-rope-linear", "qwen2-yarn", "mistral-sliding-window",
]

struct Reference: Decodable {
    struct Prompt: Decodable {
        let text: String
        let input_ids: [Int32]
        let greedy_ids: [Int32]
        let greedy_text: String
    }
    let prompts: [Prompt]

    static func load(_ fixture: String) throws -> (Reference, SafetensorsFile) {
        let dir = fixturesDirectory + "/" + fixture
        let json = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/reference.json")))
        return (json, try SafetensorsFile(path: dir + "/reference.safetensors"))
    }
}

func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

@Suite struct ParityTests {
    @Test(arguments: parityFixtures)
    func greedyTokensMatchHuggingFace(fixture: String) throws {
        try Self.greedyTokensMatch(fixture: fixture, options: BuildOptions())
    }

    @Test(arguments: parityFixtures)
    func promptLogitsMatchHuggingFace(fixture: String) throws {
        try Self.promptLogitsMatch(fixture: fixture, options: BuildOptions())
    }

    @Test(arguments: parityFixtures)
    func finalLogitsAfterDecodeMatchHuggingFace(fixture: String) throws {
        try Self.finalLogitsAfterDecodeMatch(fixture: fixture, options: BuildOptions())
    }

    @Test func packedSequencesMatchSeparateRuns() throws {
        try Self.packedSequencesMatch(options: BuildOptions())
    }

    static func greedyTokensMatch(fixture: String, options: BuildOptions) throws {
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let (reference, _) = try Reference.load(fixture)
        for prompt in reference.prompts {
            var params = SamplingParams.greedy(maxTokens: prompt.greedy_ids.count)
            params.ignoreEOS = true
            let result = try llm.generate(prompt: prompt.input_ids, params)
            #expect(result.outputIds == prompt.greedy_ids, "\(fixture): \(prompt.text)")
            #expect(result.finishReason == .length)
        }
    }

    static func promptLogitsMatch(fixture: String, options: BuildOptions) throws {
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let (reference, tensors) = try Reference.load(fixture)
        for (i, prompt) in reference.prompts.enumerated() {
            let logits = try llm.promptLogits(prompt.input_ids)
            let expected = try tensors.tensor(named: "prompt\(i).logits")
            #expect(logits.shape == expected.shape)
            let difference = maxAbsoluteDifference(logits.floats(), expected.floats())
            #expect(difference < 1e-3, "\(fixture) prompt \(i): max |Δ| = \(difference)")
        }
    }

    /// Prefill, then one token per step through a block table whose blocks are scattered
    /// and out of order, as they are once the pool has been used.
    static func finalLogitsAfterDecodeMatch(fixture: String, options: BuildOptions) throws {
        var options = options
        (options.maxSequenceLength, options.tokensPerBlock) = (256, 4)
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let executable = llm.executable
        let tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let (reference, tensors) = try Reference.load(fixture)
        for (i, prompt) in reference.prompts.enumerated() {
            let tokens = prompt.input_ids + prompt.greedy_ids
            let blocks = (0..<Int32((tokens.count + tokensPerBlock - 1) / tokensPerBlock)).map { 60 - 3 * $0 }
            var logits = try executable.forward(StepInputs(
                sequences: [(prompt.input_ids, SequenceStep(cachedTokens: 0, newTokens: prompt.input_ids.count, blockTable: blocks))],
                tokensPerBlock: tokensPerBlock))
            for (offset, token) in prompt.greedy_ids.enumerated() {
                let cached = prompt.input_ids.count + offset
                logits = try executable.forward(StepInputs(
                    sequences: [([token], SequenceStep(cachedTokens: cached, newTokens: 1, blockTable: blocks))], tokensPerBlock: tokensPerBlock))
            }
            let difference = maxAbsoluteDifference(logits.floats(), try tensors.tensor(named: "prompt\(i).final_logits").floats())
            #expect(difference < 1e-3, "\(fixture) prompt \(i): max |Δ| = \(difference)")
        }
    }

    /// Two sequences in one step (one prefilling, one decoding) give each the logits it
    /// gets alone: the packed layout is what in-flight batching will rely on.
    static func packedSequencesMatch(options: BuildOptions) throws {
        var options = options
        (options.maxSequenceLength, options.tokensPerBlock) = (256, 8)
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let executable = llm.executable
        let (reference, tensors) = try Reference.load("llama-gqa")
        let a = reference.prompts[0].input_ids, b = reference.prompts[1].input_ids
        let blocksA: [Int32] = [0, 1], blocksB: [Int32] = [5, 4, 3, 2]
        // a's prompt minus its last token is already cached
        _ = try executable.forward(StepInputs(sequences: [(Array(a.dropLast()), SequenceStep(cachedTokens: 0, newTokens: a.count - 1, blockTable: blocksA))], tokensPerBlock: 8))
        let both = try executable.forward(StepInputs(sequences: [
            ([a.last!], SequenceStep(cachedTokens: a.count - 1, newTokens: 1, blockTable: blocksA)),
            (b, SequenceStep(cachedTokens: 0, newTokens: b.count, blockTable: blocksB)),
        ], tokensPerBlock: 8))
        #expect(both.shape == [2, 1024])
        let rows = both.floats()
        let expectedA = try tensors.tensor(named: "prompt0.logits").floats().suffix(1024)
        let expectedB = try tensors.tensor(named: "prompt1.logits").floats().suffix(1024)
        #expect(maxAbsoluteDifference(Array(rows[..<1024]), Array(expectedA)) < 1e-3)
        #expect(maxAbsoluteDifference(Array(rows[1024...]), Array(expectedB)) < 1e-3)
    }
}

/// F16 checkpoints take the widening path: the bf16 fixture's weights, stored as F16
/// (bf16 values fit F16 except the rare tiny ones), give Hugging Face's logits.
@Suite struct HalfPrecisionCheckpointTests {
    @Test func f16WeightsMatchTheBF16Reference() throws {
        let source = fixturesDirectory + "/llama-gqa-bf16"
        let dir = NSTemporaryDirectory() + "kiln-f16-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: source + "/config.json", toPath: dir + "/config.json")
        let weights = try SafetensorsFile(path: source + "/model.safetensors")
        let converted = try weights.tensorNames.map { name in
            let tensor = try weights.tensor(named: name)
            let halves = tensor.floats().map(halfBits(from:))
            return (name: name, tensor: halves.withUnsafeBytes { HostTensor(dtype: .f16, shape: tensor.shape, copying: $0) })
        }
        try SafetensorsWriter.write(converted, to: dir + "/model.safetensors")
        let llm = try LLM(model: dir)
        let (reference, tensors) = try Reference.load("llama-gqa-bf16")
        let logits = try llm.promptLogits(reference.prompts[1].input_ids)
        #expect(maxAbsoluteDifference(logits.floats(), try tensors.tensor(named: "prompt1.logits").floats()) < 1e-3)
    }
}
