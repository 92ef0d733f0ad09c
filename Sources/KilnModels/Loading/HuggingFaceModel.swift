// A Hugging Face model folder → a model with its parameters bound to the checkpoint's
// memory-mapped tensors.

import FoundationEssentials
import KilnCheckpoint
import KilnGraph
import KilnTensor

/// A model read from a Hugging Face folder, its weights bound.
public struct HuggingFaceModel {
    public let directory: String
    public let spec: LlamaModelSpec
    public let model: LlamaForCausalLM
    public let checkpoint: Checkpoint
    public let generationConfig: GenerationConfig

    /// Reads `config.json` and `generation_config.json`, builds the model and binds every
    /// parameter to the checkpoint.
    public static func load(directory: String) throws(ModelLoadError) -> HuggingFaceModel {
        let spec: LlamaModelSpec
        do { spec = try readSpec(directory: directory) } catch { throw .config(error) }
        let generation: GenerationConfig
        do { generation = try GenerationConfig.read(directory: directory) } catch { throw .config(error) }
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint.open(directory: directory) } catch { throw .checkpoint(error) }
        let model = LlamaForCausalLM(spec)
        try bind(model.parameters(), to: checkpoint, directory: directory)
        return HuggingFaceModel(directory: directory, spec: spec, model: model, checkpoint: checkpoint, generationConfig: generation)
    }

    /// Decodes and validates `config.json` of `directory`.
    public static func readSpec(directory: String) throws(ModelConfigError) -> LlamaModelSpec {
        let file = filePath(directory, "config.json")
        let data = try readFile(file)
        struct Header: Decodable {
            var architectures: [String]?
            var model_type: String?
        }
        let header: Header = try decode(data, file: file)
        let family = try ModelRegistry.family(architectures: header.architectures, modelType: header.model_type, file: file)
        return try LlamaModelSpec(decode(data, file: file), family: family, file: file)
    }

    /// The end-of-sequence ids: generation_config.json's, else config.json's.
    public var eosTokenIds: [Int] { generationConfig.eosTokenIds.isEmpty ? spec.eosTokenIds : generationConfig.eosTokenIds }
}

/// Binds each parameter to the checkpoint tensor of the same name, checking shape and dtype.
func bind(_ parameters: [Parameter], to checkpoint: Checkpoint, directory: String) throws(ModelLoadError) {
    for parameter in parameters {
        let tensor: HostTensor
        do { tensor = try checkpoint.tensor(named: parameter.name) } catch { throw .checkpoint(error) }
        let file = checkpoint.files.first { $0.info(named: parameter.name) != nil }?.path ?? directory
        guard tensor.dtype.isFloatingPoint else {
            throw .unsupportedDType(file: file, tensor: parameter.name, dtype: tensor.dtype)
        }
        guard tensor.shape == parameter.shape else {
            throw .wrongShape(file: file, tensor: parameter.name, expected: parameter.shape, actual: tensor.shape)
        }
        parameter.bind(tensor)
    }
}

func readFile(_ path: String) throws(ModelConfigError) -> Data {
    var isDirectory = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw .unreadable(file: path, reason: "no such file")
    }
    guard !isDirectory, let data = FileManager.default.contents(atPath: path) else {
        throw .unreadable(file: path, reason: isDirectory ? "it is a folder" : "permission denied or unreadable")
    }
    return data
}

func decode<T: Decodable>(_ data: Data, file: String) throws(ModelConfigError) -> T {
    do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
        switch error {
        case .keyNotFound(let key, let context):
            throw .missingField(file: file, field: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            throw .invalidField(file: file, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                value: "(wrong type)", reason: context.debugDescription)
        case .dataCorrupted(let context):
            throw .invalidJSON(file: file, reason: context.debugDescription)
        @unknown default:
            throw .invalidJSON(file: file, reason: "\(error)")
        }
    } catch {
        throw .invalidJSON(file: file, reason: "\(error)")
    }
}

/// `directory/name`, without doubling a trailing slash.
func filePath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
