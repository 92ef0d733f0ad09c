// The top-level API: a model (Hugging Face folder, GGUF file or engine) in, tokens and logits out.

import Dispatch
import FoundationEssentials
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnCUDA
import KilnGraph
import KilnModels
import KilnRuntime
import KilnTensor
import KilnTokenizers

/// The Kiln release that builds and reads engines.
public let kilnVersion = "0.1.0"

/// A loaded model ready to generate, on the CPU or CUDA backend. Every generation goes through
/// one `Executor`, so requests from any number of tasks are batched together on the KV cache.
public final class LLM {
    /// The Hugging Face folder, GGUF file or engine folder the model came from.
    public let source: String
    /// The model's tokenizer: the folder's tokenizer.json, or the GGUF's tokenizer metadata.
    public let tokenizer: Tokenizer?
    /// The generation graph, ready to run. Stepping it directly writes KV-cache blocks the
    /// executor manages: only for tests and benchmarks, while no request is in flight.
    public let executable: any Executable
    /// Runs every request (`generate`, `stream`, `chat`) in in-flight batches.
    public let executor: Executor
    /// What the builder did to the graphs (for an engine: as recorded when it was built).
    public let buildReport: String
    private let engine: Engine
    private let tokenizerSource: TokenizerSource?
    private let kvCache: KVCacheLayout
    private let backend: Backend
    private let options: BuildOptions
    private var promptScorer: (any Executable)?

    /// Loads `model` — a Hugging Face folder, a `.gguf` file, or an engine folder from
    /// `kiln build` — for `options.backend`. Models are built in memory with `options`; an
    /// engine runs on the backend it was built for and keeps the options it was built with,
    /// except `maxSequenceLength` and the CUDA run settings when given. `progress` hears the
    /// build's stages.
    public convenience init(model path: String, options: BuildOptions = BuildOptions(), progress: BuildProgress? = nil) throws {
        self.init(try Self.load(model: path, options: options, progress: progress))
    }

    /// Loads `model` as the synchronous initializer does, building on a thread outside Swift's
    /// cooperative pool (a build takes seconds to minutes).
    public convenience init(model path: String, options: BuildOptions = BuildOptions(), progress: BuildProgress? = nil) async throws {
        let loaded = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try Self.load(model: path, options: options, progress: progress) })
            }
        }
        self.init(loaded)
    }

    /// What a model is made of once loaded and built, before an `LLM` holds it.
    private struct LoadedModel {
        var engine: Engine
        var source: String
        var tokenizerSource: TokenizerSource?
        var tokenizer: Tokenizer?
        var kvCache: KVCacheLayout
        var executable: any Executable
        var options: BuildOptions
    }

    private static func load(model path: String, options: BuildOptions, progress: BuildProgress?) throws -> LoadedModel {
        var options = options
        let engine: Engine, tokenizerSource: TokenizerSource?, capacity: Int?
        if isEngineFolder(path) {
            let backend = Engine.backend(of: path).flatMap(Backend.init(rawValue:)) ?? .cpu
            engine = try Engine.load(from: path, backend: backend.rawValue, architectures: try backend.runnableArchitectures())
            options.backend = backend
            tokenizerSource = try TokenizerSource.stored(in: path)
            capacity = options.maxSequenceLength
        } else {
            (engine, tokenizerSource) = try buildEngine(model: path, options: options, progress: progress)
            capacity = nil
        }
        let h = engine.header
        let tokens = capacity ?? h.maxSequenceLength
        let kvCache = KVCacheLayout(numLayers: h.numLayers, numKVHeads: h.numKVHeads, headDim: h.headDim,
                                    tokensPerBlock: h.tokensPerBlock, numBlocks: (tokens + h.tokensPerBlock - 1) / h.tokensPerBlock)
        let executable = try Self.executable(engine.generateGraph, engine: engine, kvCache: kvCache, options: options, ownsKVPool: true,
                                             engineFolder: isEngineFolder(path) ? path : nil)
        return LoadedModel(engine: engine, source: path, tokenizerSource: tokenizerSource, tokenizer: try tokenizerSource?.load(),
                           kvCache: kvCache, executable: executable, options: options)
    }

    private init(_ loaded: LoadedModel) {
        engine = loaded.engine
        source = loaded.source
        tokenizerSource = loaded.tokenizerSource
        tokenizer = loaded.tokenizer
        backend = loaded.options.backend
        options = loaded.options
        kvCache = loaded.kvCache
        executable = loaded.executable
        // every end-of-sequence id the model or its tokenizer names (Llama 3 has several)
        let eos = Set(engine.header.eosTokenIds).union(tokenizer?.eosTokenIds.map(Int.init) ?? [])
        // with a tokenizer, completions come with their text and may stop on strings
        executor = Executor(executable: loaded.executable, eosTokenIds: eos.sorted(), text: loaded.tokenizer.map(Self.completionText))
        buildReport = engine.header.report
    }

    /// Makes each completion's text with `tokenizer`, cut before a stop string.
    private static func completionText(_ tokenizer: Tokenizer) -> CompletionTextFactory {
        { stop, skipSpecialTokens in DetokenizedCompletion(tokenizer: tokenizer, stop: stop, skipSpecialTokens: skipSpecialTokens) }
    }

    /// Replaces the weights of the engine folder `engine` with those of the Hugging Face
    /// folder `weights` (same names, shapes and dtypes; derived weights are rebuilt) and
    /// returns how many checkpoint tensors were read.
    @discardableResult
    public static func refit(engine: String, weights folder: String) throws -> Int {
        let tensors = try HuggingFaceModel.load(directory: folder).model.boundWeights()
        let backend = Engine.backend(of: engine).flatMap(Backend.init(rawValue:)) ?? .cpu
        try Engine.refit(engine, with: tensors, backend: backend.rawValue, architectures: try backend.runnableArchitectures())
        return tensors.count
    }

    /// Saves the built model, weights and tokenizer as an engine folder that loads without
    /// rebuilding (`kiln build`).
    public func save(engine directory: String) throws {
        var engine = engine
        engine.header.eosTokenIds = executor.eosTokenIds.map(Int.init).sorted()
        // the GPU's GEMM algorithm choices, measured when the executable was made
        let cuda = executable as? CUDAExecutable
        if let cuda, !cuda.kernelSelection.choices.isEmpty { engine.header.kernels = cuda.kernelSelection }
        try engine.save(to: directory)
        // and its compiled kernels, so the engine loads without compiling
        if let cuda {
            let folder = directory + "/" + Self.cudaKernelFolder
            try? FileManager.default.removeItem(atPath: folder)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for module in cuda.compiledKernels where !FileManager.default.createFile(atPath: folder + "/" + module.fileName, contents: Data(module.cubin)) {
                throw EngineError.cannotWrite(file: folder + "/" + module.fileName, reason: "the folder is not writable")
            }
        }
        try tokenizerSource?.save(into: directory)
    }

    /// Makes `graph` of `engine` runnable on the options' backend. On the GPU the generation
    /// executable's KV pool takes `kvCacheFraction` of the free memory (`ownsKVPool`); a
    /// second one (prompt scoring) gets a pool for one sequence.
    private static func executable(_ graph: Graph, engine: Engine, kvCache: KVCacheLayout, options: BuildOptions,
                                   ownsKVPool: Bool, engineFolder: String?) throws -> any Executable {
        let h = engine.header
        switch options.backend {
        case .cpu:
            return try CPUExecutable(graph: graph, weights: engine.weights, kvCache: kvCache, limits: h.limits, kernels: h.kernels)
        case .cuda:
            var cuda = CUDAOptions(kvCacheFraction: ownsKVPool ? options.kvCacheFraction : nil, cudaGraphs: options.cudaGraphs,
                                   autotune: options.autotune, cacheDirectory: cudaKernelCacheDirectory)
            if let engineFolder { cuda.kernelDirectories = [engineFolder + "/" + Self.cudaKernelFolder] }
            cuda.persistentDecode = options.persistentDecode
            return try CUDAExecutable(graph: graph, weights: engine.weights, kvCache: kvCache, limits: h.limits, kernels: h.kernels,
                                      options: cuda, device: CUDAContext.shared().device)
        }
    }

    /// Where a CUDA engine keeps its compiled kernels.
    static let cudaKernelFolder = "cuda"

    /// The device the model runs on, as its engine header names it.
    public var deviceDescription: String { engine.header.device }

    /// Bytes of the generation graph's activation arena (planned for the largest step).
    public var activationBytes: Int {
        switch executable {
        case let cpu as CPUExecutable: cpu.activationBytes
        case let cuda as CUDAExecutable: cuda.memory.activations
        default: 0
        }
    }

    /// The tokenizer, or an error saying the folder has none (text needs one; ids do not).
    public func requireTokenizer() throws(TokenizerError) -> Tokenizer {
        guard let tokenizer else { throw .fileNotFound(file: source + "/tokenizer.json") }
        return tokenizer
    }

    /// Generates `params.n` completions of `prompt` token ids (or a beam search's best beams)
    /// through the executor, batched with any other requests, while the calling thread waits;
    /// with the text when the model has a tokenizer. `onToken` sees each token (and the text
    /// it releases) as it is chosen and returns whether to go on.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> GenerationResult {
        try executor.generate(prompt: prompt, params, onToken: onToken)
    }

    /// The logits at every position of `prompt`: F32 `[prompt.count, vocab]`.
    public func promptLogits(_ prompt: [Int32]) throws -> HostTensor {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= kvCache.capacityTokens else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: 0, capacity: kvCache.capacityTokens)
        }
        let h = engine.header
        let scorer = try promptScorer ?? Self.executable(engine.promptLogitsGraph, engine: engine, kvCache: kvCache, options: options,
                                                         ownsKVPool: false, engineFolder: isEngineFolder(source) ? source : nil)
        promptScorer = scorer
        let blocks = (0..<Int32((prompt.count + kvCache.tokensPerBlock - 1) / kvCache.tokensPerBlock)).map { $0 }
        // steps of at most the engine's token limit, each appending its rows of logits
        var rows: [Float] = []
        rows.reserveCapacity(prompt.count * scorer.vocabularySize)
        for start in stride(from: 0, to: prompt.count, by: h.limits.maxNumTokens) {
            let chunk = Array(prompt[start..<min(prompt.count, start + h.limits.maxNumTokens)])
            let step = StepInputs(sequences: [(chunk, SequenceStep(cachedTokens: start, newTokens: chunk.count, blockTable: blocks))],
                                  tokensPerBlock: kvCache.tokensPerBlock)
            rows += try scorer.forward(step).floats()
        }
        return HostTensor(rows, shape: [prompt.count, scorer.vocabularySize])
    }
}
