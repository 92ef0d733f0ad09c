// Building a model into an engine (in memory, or saved by `kiln build`), and keeping its
// tokenizer with it.

import FoundationEssentials
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnModels
import KilnTensor
import KilnTokenizers

/// Records, builds and binds the model at `path` (a Hugging Face folder or GGUF file).
func buildEngine(model path: String, maxSequenceLength: Int?, tokensPerBlock: Int,
                 disabledFusions: Set<String>, weightType: DType?) throws -> (Engine, TokenizerSource?) {
    let compiler = try Compiler(disabledRules: disabledFusions, planningTokens: min(maxSequenceLength ?? 2048, 8192))
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
    let (generate, report) = try compiler.compile(network.recordGraph(logits: .lastTokens))
    let (promptLogits, _) = try compiler.compile(network.recordGraph(logits: .allTokens))
    let base = network.boundWeights()
    // the weights the built graphs read: checkpoint tensors and those derived from them
    let names = Set(generate.weightNames + promptLogits.weightNames).sorted()
    var weights = DerivedWeight.materialize(names, from: base).compactMapValues { $0 }
    if let weightType { weights = weights.mapValues { $0.converted(to: weightType) } }
    let header = EngineHeader(kilnVersion: kilnVersion, backend: "cpu", device: CPUExecutable.deviceDescription, source: path,
                              disabledFusions: disabledFusions.sorted(),
                              maxSequenceLength: maxSequenceLength ?? min(spec.maxPositionEmbeddings, 8192), tokensPerBlock: tokensPerBlock,
                              numLayers: spec.numLayers, numKVHeads: spec.numKVHeads, headDim: spec.headDim,
                              eosTokenIds: eos, report: report.description)
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

extension HostTensor {
    /// The tensor stored as `dtype` (f32, bf16 or f16), rounding to nearest; other targets
    /// and non-float tensors are returned unchanged.
    func converted(to dtype: DType) -> HostTensor {
        guard dtype != self.dtype, self.dtype.isFloatingPoint else { return self }
        switch dtype {
        case .f32: return HostTensor(floats(), shape: shape)
        case .bf16: return floats().map(bfloat16Bits(from:)).withUnsafeBytes { HostTensor(dtype: .bf16, shape: shape, copying: $0) }
        case .f16: return floats().map(halfBits(from:)).withUnsafeBytes { HostTensor(dtype: .f16, shape: shape, copying: $0) }
        default: return self
        }
    }
}
