// The top-level API: a model folder in, tokens and logits out.

import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnGraph
import KilnModels
import KilnRuntime
import KilnTensor
import KilnTokenizers

/// A loaded model ready to generate, on the CPU backend.
public final class LLM {
    /// The Hugging Face folder or GGUF file the model came from.
    public let source: String
    public let spec: LlamaModelSpec
    public let network: LlamaForCausalLM
    /// The model's tokenizer: the folder's tokenizer.json, or the GGUF's tokenizer metadata.
    public let tokenizer: Tokenizer?
    public let generator: Generator
    /// What the builder did to the generation graph.
    public let buildReport: BuildReport
    private let compiler: Compiler
    private let weights: [String: HostTensor]
    private let kvCache: KVCacheLayout
    private var promptScorer: CPUExecutable?

    /// Loads `model` — a Hugging Face folder or a `.gguf` file — with room in the KV cache
    /// for `maxSequenceLength` tokens (default: the model's context, at most 8192), and
    /// builds its graph with every fusion rule but `disabledFusions`.
    public init(model path: String, maxSequenceLength: Int? = nil, tokensPerBlock: Int = 32, disabledFusions: Set<String> = []) throws {
        source = path
        compiler = try Compiler(disabledRules: disabledFusions)
        let modelEOS: [Int]
        if isGGUFFile(path) {
            let gguf = try GGUFModel.load(path: path)
            (spec, network) = (gguf.spec, gguf.model)
            tokenizer = try Tokenizer.load(gguf: gguf.file)
            modelEOS = []
        } else {
            let folder = try HuggingFaceModel.load(directory: path)
            (spec, network) = (folder.spec, folder.model)
            tokenizer = FileManager.default.fileExists(atPath: path + "/tokenizer.json") ? try Tokenizer.load(directory: path) : nil
            modelEOS = folder.eosTokenIds
        }
        weights = Dictionary(network.parameters().compactMap { p in p.value.map { (p.name, $0) } }, uniquingKeysWith: { first, _ in first })
        let capacity = maxSequenceLength ?? min(spec.maxPositionEmbeddings, 8192)
        kvCache = KVCacheLayout(numLayers: spec.numLayers, numKVHeads: spec.numKVHeads, headDim: spec.headDim,
                                tokensPerBlock: tokensPerBlock, numBlocks: (capacity + tokensPerBlock - 1) / tokensPerBlock)
        let (graph, report) = try compiler.compile(network.recordGraph(logits: .lastTokens))
        buildReport = report
        let executable = try CPUExecutable(graph: graph, weights: weights, kvCache: kvCache)
        // every end-of-sequence id either source names (Llama 3 has several)
        let eos = Set(modelEOS).union(tokenizer?.eosTokenIds.map(Int.init) ?? [])
        generator = Generator(executable: executable, eosTokenIds: eos.sorted())
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
        let scorer = try promptScorer ?? CPUExecutable(graph: compiler.compile(network.recordGraph(logits: .allTokens)).graph,
                                                       weights: weights, kvCache: kvCache)
        promptScorer = scorer
        let blocks = (0..<Int32((prompt.count + kvCache.tokensPerBlock - 1) / kvCache.tokensPerBlock)).map { $0 }
        let step = StepInputs(sequences: [(prompt, SequenceStep(cachedTokens: 0, newTokens: prompt.count, blockTable: blocks))],
                              tokensPerBlock: kvCache.tokensPerBlock)
        return try scorer.forward(step)
    }
}

/// Whether `path` is a GGUF file (by its magic), rather than a model folder.
public func isGGUFFile(_ path: String) -> Bool {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var magic = [UInt8](repeating: 0, count: 4)
    return read(descriptor, &magic, 4) == 4 && magic == Array("GGUF".utf8)
}
