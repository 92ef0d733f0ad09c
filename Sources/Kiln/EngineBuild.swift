// Building a model into an engine (in memory, or saved by `kiln build`), and keeping its
// tokenizer with it.

import FoundationEssentials
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnGraph
import KilnModels
import KilnTensor
import KilnTokenizers

/// Records, builds, binds and tunes the model at `path` (a Hugging Face folder or GGUF file)
/// for `options.backend`.
func buildEngine(model path: String, options: BuildOptions, progress: BuildProgress?) throws -> (Engine, TokenizerSource?) {
    let report = progress ?? { _, _ in }
    let backend = options.backend
    let disabled = options.disabledFusions ?? backend.defaultDisabledFusions
    let target = try backend.target()
    let compiler = try Compiler(disabledRules: disabled, precision: backend.precision(weightType: options.weightType),
                                limits: options.limits)
    report("loading \(path)", 0)
    let spec: LlamaModelSpec, network: LlamaForCausalLM, tokenizer: TokenizerSource?, eos: [Int]
    if isGGUFFile(path) {
        let gguf = try GGUFModel.load(path: path)
        (spec, network, eos) = (gguf.spec, gguf.model, [])
        tokenizer = .gguf(try GGUFTokenizerMetadata(gguf.file), file: path)
    } else {
        let folder = try HuggingFaceModel.load(directory: path)
        (spec, network, eos) = (folder.spec, folder.model, folder.eosTokenIds)
        tokenizer = FileManager.default.fileExists(atPath: path + "/tokenizer.json") ? .folder(path) : nil
    }
    // two graphs share the work: 0.1–0.5 of the bar for the passes, then weights and tuning
    func passes(_ offset: Double) -> (String, Int, Int) -> Void {
        { name, index, count in report(name, offset + 0.2 * Double(index) / Double(count)) }
    }
    var (generate, buildReport) = try compiler.compile(network.recordGraph(logits: .lastTokens), progress: passes(0.1))
    let (promptLogits, _) = try compiler.compile(network.recordGraph(logits: .allTokens), progress: passes(0.3))
    report("binding weights", 0.5)
    let base = network.boundWeights()
    // the weights the built graphs read: checkpoint tensors and those derived from them
    let names = Set(generate.weightNames + promptLogits.weightNames).sorted()
    let weights = DerivedWeight.materialize(names, from: base).compactMapValues { $0 }
    if let missing = names.first(where: { weights[$0] == nil }) { throw CPUBackendError.unboundWeight(name: missing) }

    var kernels = KernelSelection()
    // the GPU measures its GEMMs when the executable is made, on the device's memory
    if options.autotune && backend == .cpu {
        report("measuring kernels", 0.7)
        let clock = ContinuousClock(), start = clock.now
        let cache = KernelCache(deviceKey: CPUExecutable.tuningKey)
        let known = cache.load()
        // the engine keeps the choices its graphs use; the cache keeps every one measured here
        kernels = CPUKernelTuner.tune(graphs: [generate, promptLogits], weights: weights, known: known)
        let measured = kernels.choices.keys.filter { known.choices[$0] == nil }.count
        if measured > 0 { cache.store(KernelSelection(choices: known.choices.merging(kernels.choices) { stored, _ in stored })) }
        buildReport.record("kernel-selection", nodes: generate.nodes.count, time: clock.now - start,
                           counts: ["signatures": kernels.choices.count, "measured": measured].filter { $0.value > 0 })
    }
    report("done", 1)
    let header = EngineHeader(kilnVersion: kilnVersion, backend: backend.rawValue, architecture: target.architecture,
                              device: target.device, source: path, disabledFusions: disabled.sorted(),
                              weightType: backend.precision(weightType: options.weightType).weightType,
                              maxSequenceLength: options.maxSequenceLength ?? min(spec.maxPositionEmbeddings, 8192),
                              tokensPerBlock: options.tokensPerBlock, limits: options.limits, kernels: kernels,
                              numLayers: spec.numLayers, numKVHeads: spec.numKVHeads, headDim: spec.headDim,
                              eosTokenIds: eos, report: buildReport.description)
    return (Engine(header: header, generateGraph: generate, promptLogitsGraph: promptLogits, weights: weights), tokenizer)
}

/// Where a model's tokenizer comes from, and how an engine keeps it.
enum TokenizerSource {
    /// A folder with tokenizer.json and its config files.
    case folder(String)
    /// A GGUF file's tokenizer metadata.
    case gguf(GGUFTokenizerMetadata, file: String)

    static let folderFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"]
    static let ggufFile = "gguf_tokenizer.json"

    func load() throws -> Tokenizer {
        switch self {
        case .folder(let directory): try Tokenizer.load(directory: directory)
        case .gguf(let metadata, let file): try Tokenizer(gguf: metadata, file: file)
        }
    }

    /// Copies the tokenizer into `engine/tokenizer/`.
    func save(into engine: String) throws {
        let target = engine + "/tokenizer"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        switch self {
        case .folder(let directory):
            for name in Self.folderFiles where FileManager.default.fileExists(atPath: directory + "/" + name) {
                try FileManager.default.copyItem(atPath: directory + "/" + name, toPath: target + "/" + name)
            }
        case .gguf(let metadata, _):
            guard FileManager.default.createFile(atPath: target + "/" + Self.ggufFile, contents: try JSONEncoder().encode(metadata)) else {
                throw EngineError.cannotWrite(file: target + "/" + Self.ggufFile, reason: "the folder is not writable")
            }
        }
    }

    /// The tokenizer an engine folder holds, if any.
    static func stored(in engine: String) throws -> TokenizerSource? {
        let folder = engine + "/tokenizer"
        if let data = FileManager.default.contents(atPath: folder + "/" + ggufFile) {
            do { return .gguf(try JSONDecoder().decode(GGUFTokenizerMetadata.self, from: data), file: folder + "/" + ggufFile) } catch {
                throw EngineError.unreadable(file: folder + "/" + ggufFile, reason: "\(error)")
            }
        }
        return FileManager.default.fileExists(atPath: folder + "/tokenizer.json") ? .folder(folder) : nil
    }
}
