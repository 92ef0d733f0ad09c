// The top-level API: a model (Hugging Face folder, GGUF file or engine) in, tokens and logits out.

import FoundationEssentials
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnGraph
import KilnModels
import KilnRuntime
import KilnTensor
import KilnTokenizers

/// The Kiln release that builds and reads engines.
public let kilnVersion = "0.1.0"

/// A loaded model ready to generate, on the CPU backend.
public final class LLM {
    /// The Hugging Face folder, GGUF file or engine folder the model came from.
    public let source: String
    /// The model's tokenizer: the folder's tokenizer.json, or the GGUF's tokenizer metadata.
    public let tokenizer: Tokenizer?
    public let generator: Generator
    /// What the builder did to the graphs (for an engine: as recorded when it was built).
    public let buildReport: String
    private let engine: Engine
    private let tokenizerSource: TokenizerSource?
    private let kvCache: KVCacheLayout
    private var promptScorer: CPUExecutable?

    /// Loads `model` — a Hugging Face folder, a `.gguf` file, or an engine folder from
    /// `kiln build` — with room in the KV cache for `maxSequenceLength` tokens (default: the
    /// model's context, at most 8192; an engine's own setting). Models are built in memory
    /// with every fusion rule but `disabledFusions` (default: those the CPU backend leaves
    /// out, `cpuDisabledFusions`), their weights stored as `weightType`
    /// (f32, bf16 or f16) when given, else as the checkpoint has them.
    public convenience init(model path: String, maxSequenceLength: Int? = nil, tokensPerBlock: Int = 32, disabledFusions: Set<String>? = nil,
                            weightType: DType? = nil) throws {
        if isEngineFolder(path) {
            try self.init(engine: Engine.load(from: path, backend: "cpu"), source: path,
                          tokenizer: TokenizerSource.stored(in: path), maxSequenceLength: maxSequenceLength)
        } else {
            let (engine, tokenizer) = try buildEngine(model: path, maxSequenceLength: maxSequenceLength, tokensPerBlock: tokensPerBlock,
                                                      disabledFusions: disabledFusions ?? cpuDisabledFusions, weightType: weightType)
            try self.init(engine: engine, source: path, tokenizer: tokenizer, maxSequenceLength: nil)
        }
    }

    private init(engine: Engine, source: String, tokenizer tokenizerSource: TokenizerSource?, maxSequenceLength: Int?) throws {
        self.engine = engine
        self.source = source
        self.tokenizerSource = tokenizerSource
        tokenizer = try tokenizerSource?.load()
        let h = engine.header
        let capacity = maxSequenceLength ?? h.maxSequenceLength
        kvCache = KVCacheLayout(numLayers: h.numLayers, numKVHeads: h.numKVHeads, headDim: h.headDim,
                                tokensPerBlock: h.tokensPerBlock, numBlocks: (capacity + h.tokensPerBlock - 1) / h.tokensPerBlock)
        let executable = try CPUExecutable(graph: engine.generateGraph, weights: engine.weights, kvCache: kvCache)
        // every end-of-sequence id the model or its tokenizer names (Llama 3 has several)
        let eos = Set(h.eosTokenIds).union(tokenizer?.eosTokenIds.map(Int.init) ?? [])
        generator = Generator(executable: executable, eosTokenIds: eos.sorted())
        buildReport = h.report
    }

    /// Saves the built model, weights and tokenizer as an engine folder that loads without
    /// rebuilding (`kiln build`).
    public func save(engine directory: String) throws {
        var engine = engine
        engine.header.eosTokenIds = generator.eosTokenIds.map(Int.init).sorted()
        try engine.save(to: directory)
        try tokenizerSource?.save(into: directory)
    }

    /// Activation memory the generation graph has needed so far (its largest step).
    public var activationBytes: Int { (generator.executable as? CPUExecutable)?.activationBytes ?? 0 }

    /// The tokenizer, or an error saying the folder has none (text needs one; ids do not).
    public func requireTokenizer() throws(TokenizerError) -> Tokenizer {
        guard let tokenizer else { throw .fileNotFound(file: source + "/tokenizer.json") }
        return tokenizer
    }

    /// Generates from `prompt` token ids; `onToken` sees each token as it is chosen.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (Int32) -> Bool = { _ in true }) throws -> GenerationResult {
        try generator.generate(prompt: prompt, params, onToken: onToken)
    }

    /// The logits at every position of `prompt`: F32 `[prompt.count, vocab]`.
    public func promptLogits(_ prompt: [Int32]) throws -> HostTensor {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= kvCache.capacityTokens else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: 0, capacity: kvCache.capacityTokens)
        }
        let scorer = try promptScorer ?? CPUExecutable(graph: engine.promptLogitsGraph, weights: engine.weights, kvCache: kvCache)
        promptScorer = scorer
        let blocks = (0..<Int32((prompt.count + kvCache.tokensPerBlock - 1) / kvCache.tokensPerBlock)).map { $0 }
        let step = StepInputs(sequences: [(prompt, SequenceStep(cachedTokens: 0, newTokens: prompt.count, blockTable: blocks))],
                              tokensPerBlock: kvCache.tokensPerBlock)
        return try scorer.forward(step)
    }
}
