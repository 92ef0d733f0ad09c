// The top-level API: a model folder in, tokens and logits out.

import FoundationEssentials
import KilnCPU
import KilnGraph
import KilnModels
import KilnRuntime
import KilnTensor
import KilnTokenizers

/// A loaded model ready to generate, on the CPU backend.
public final class LLM {
    public let model: HuggingFaceModel
    /// The folder's tokenizer, when it has a tokenizer.json.
    public let tokenizer: Tokenizer?
    public let generator: Generator
    private let kvCache: KVCacheLayout
    private var promptScorer: CPUExecutable?

    /// Loads the Hugging Face folder at `modelDirectory`, with room in the KV cache for
    /// `maxSequenceLength` tokens (default: the model's context, at most 8192).
    public init(modelDirectory: String, maxSequenceLength: Int? = nil, tokensPerBlock: Int = 32) throws {
        model = try HuggingFaceModel.load(directory: modelDirectory)
        tokenizer = FileManager.default.fileExists(atPath: modelDirectory + "/tokenizer.json")
            ? try Tokenizer.load(directory: modelDirectory) : nil
        let spec = model.spec
        let capacity = maxSequenceLength ?? min(spec.maxPositionEmbeddings, 8192)
        kvCache = KVCacheLayout(numLayers: spec.numLayers, numKVHeads: spec.numKVHeads, headDim: spec.headDim,
                                tokensPerBlock: tokensPerBlock, numBlocks: (capacity + tokensPerBlock - 1) / tokensPerBlock)
        let executable = try CPUExecutable(graph: model.model.recordGraph(logits: .lastTokens), weights: model.boundWeights, kvCache: kvCache)
        // every end-of-sequence id either file names (Llama 3 has several)
        let eos = Set(model.eosTokenIds).union(tokenizer?.eosTokenIds.map(Int.init) ?? [])
        generator = Generator(executable: executable, eosTokenIds: eos.sorted())
    }

    /// The tokenizer, or an error saying the folder has none (text needs one; ids do not).
    public func requireTokenizer() throws(TokenizerError) -> Tokenizer {
        guard let tokenizer else { throw .fileNotFound(file: model.directory + "/tokenizer.json") }
        return tokenizer
    }

    /// Generates from `prompt` token ids; `onToken` sees each token as it is chosen.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (Int32) -> Void = { _ in }) throws -> GenerationResult {
        try generator.generate(prompt: prompt, params, onToken: onToken)
    }

    /// The logits at every position of `prompt`: F32 `[prompt.count, vocab]`.
    public func promptLogits(_ prompt: [Int32]) throws -> HostTensor {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= kvCache.capacityTokens else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: 0, capacity: kvCache.capacityTokens)
        }
        let scorer = try promptScorer ?? CPUExecutable(graph: model.model.recordGraph(logits: .allTokens),
                                                       weights: model.boundWeights, kvCache: kvCache)
        promptScorer = scorer
        let blocks = (0..<Int32((prompt.count + kvCache.tokensPerBlock - 1) / kvCache.tokensPerBlock)).map { $0 }
        let step = StepInputs(sequences: [(prompt, SequenceStep(cachedTokens: 0, newTokens: prompt.count, blockTable: blocks))],
                              tokensPerBlock: kvCache.tokensPerBlock)
        return try scorer.forward(step)
    }
}

extension HuggingFaceModel {
    /// Every bound parameter's data by name.
    var boundWeights: [String: HostTensor] {
        Dictionary(model.parameters().compactMap { p in p.value.map { (p.name, $0) } }, uniquingKeysWith: { first, _ in first })
    }
}
