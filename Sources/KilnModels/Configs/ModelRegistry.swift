// Which model families Kiln runs, keyed the way Hugging Face names them.

/// A supported model family.
public enum ModelFamily: String, CaseIterable, Hashable, Sendable {
    case llama
    case mistral
    case qwen2

    /// The `architectures` entry Hugging Face writes for the family.
    public var architecture: String {
        switch self {
        case .llama: "LlamaForCausalLM"
        case .mistral: "MistralForCausalLM"
        case .qwen2: "Qwen2ForCausalLM"
        }
    }

    /// transformers' default `max_position_embeddings` for the family.
    var defaultMaxPositions: Int {
        switch self {
        case .llama: 2048
        case .mistral: 4096 * 32
        case .qwen2: 32768
        }
    }
}

/// Finds the family of a config by its `architectures`, else its `model_type`.
public enum ModelRegistry {
    public static var supportedArchitectures: [String] { ModelFamily.allCases.map(\.architecture) }

    public static func family(architectures: [String]?, modelType: String?, file: String) throws(ModelConfigError) -> ModelFamily {
        if let names = architectures, !names.isEmpty {
            for name in names {
                if let family = ModelFamily.allCases.first(where: { $0.architecture == name }) { return family }
            }
            throw .unsupportedArchitecture(file: file, name: names.joined(separator: ", "), supported: supportedArchitectures)
        }
        guard let modelType else { throw .missingField(file: file, field: "architectures") }
        guard let family = ModelFamily(rawValue: modelType) else {
            throw .unsupportedArchitecture(file: file, name: "model_type \(modelType)",
                                           supported: supportedArchitectures + ModelFamily.allCases.map { "model_type \($0.rawValue)" })
        }
        return family
    }
}
