// config.json of the Llama family (Llama, Mistral, Qwen2): decoded with transformers'
// defaults for absent keys, then validated so every later step can trust it.

import KilnGraph

/// A Llama-family config as Hugging Face writes it (snake_case keys).
public struct LlamaConfig: Codable, Hashable, Sendable {
    public var architectures: [String]?
    public var modelType: String?
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var maxPositionEmbeddings: Int?
    public var rmsNormEps: Float?
    public var hiddenAct: String?
    public var tieWordEmbeddings: Bool?
    public var attentionBias: Bool?
    public var mlpBias: Bool?
    public var ropeTheta: Float?
    var ropeScaling: RopeParameters?
    var ropeParameters: RopeParameters?
    public var slidingWindow: Int?
    public var useSlidingWindow: Bool?
    public var maxWindowLayers: Int?
    public var layerTypes: [String]?
    public var bosTokenId: TokenIDs?
    public var eosTokenId: TokenIDs?

    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", hiddenAct = "hidden_act"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case slidingWindow = "sliding_window", useSlidingWindow = "use_sliding_window", maxWindowLayers = "max_window_layers"
        case layerTypes = "layer_types", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }
}

/// A validated Llama-family model shape: what `LlamaForCausalLM` is built from.
public struct LlamaModelSpec: Hashable, Sendable {
    public var family: ModelFamily
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var tiedEmbeddings: Bool
    public var qkvBias: Bool
    public var outputBias: Bool
    public var mlpBias: Bool
    public var rotary: RotaryEmbedding
    /// The sliding window of each layer, `nil` for full attention.
    public var slidingWindows: [Int?]
    public var eosTokenIds: [Int]
    public var bosTokenId: Int?

    /// Validates `config` of `family`; `file` names config.json in errors.
    public init(_ config: LlamaConfig, family: ModelFamily, file: String) throws(ModelConfigError) {
        func positive(_ value: Int, _ field: String) throws(ModelConfigError) -> Int {
            guard value > 0 else { throw .invalidField(file: file, field: field, value: "\(value)", reason: "must be positive") }
            return value
        }
        self.family = family
        vocabularySize = try positive(config.vocabSize, "vocab_size")
        hiddenSize = try positive(config.hiddenSize, "hidden_size")
        intermediateSize = try positive(config.intermediateSize, "intermediate_size")
        numLayers = try positive(config.numHiddenLayers, "num_hidden_layers")
        numHeads = try positive(config.numAttentionHeads, "num_attention_heads")
        numKVHeads = try positive(config.numKeyValueHeads ?? config.numAttentionHeads, "num_key_value_heads")
        guard numHeads % numKVHeads == 0 else {
            throw .invalidField(file: file, field: "num_key_value_heads", value: "\(numKVHeads)",
                                reason: "must divide num_attention_heads (\(numHeads))")
        }
        if let dim = config.headDim {
            headDim = try positive(dim, "head_dim")
        } else {
            guard hiddenSize % numHeads == 0 else {
                throw .invalidField(file: file, field: "hidden_size", value: "\(hiddenSize)",
                                    reason: "must be a multiple of num_attention_heads (\(numHeads)) when head_dim is absent")
            }
            headDim = hiddenSize / numHeads
        }
        guard headDim % 2 == 0 else {
            throw .invalidField(file: file, field: "head_dim", value: "\(headDim)", reason: "rotary embedding needs an even head size")
        }
        maxPositionEmbeddings = try positive(config.maxPositionEmbeddings ?? family.defaultMaxPositions, "max_position_embeddings")
        rmsNormEps = config.rmsNormEps ?? 1e-6
        let activation = config.hiddenAct ?? "silu"
        guard activation == "silu" else {
            throw .invalidField(file: file, field: "hidden_act", value: "\"\(activation)\"", reason: "only silu is supported")
        }
        tiedEmbeddings = config.tieWordEmbeddings ?? false
        // Qwen2 always has q/k/v biases (its config has no key for them).
        qkvBias = family == .qwen2 ? true : (config.attentionBias ?? false)
        outputBias = family == .qwen2 ? false : (config.attentionBias ?? false)
        mlpBias = config.mlpBias ?? false

        let (ropeField, rope) = config.ropeParameters.map { ("rope_parameters", $0) }
            ?? ("rope_scaling", config.ropeScaling ?? RopeParameters())
        let theta = rope.ropeTheta ?? config.ropeTheta ?? 10000
        let scaling = try rope.scaling(file: file, field: ropeField, maxPositionEmbeddings: maxPositionEmbeddings)
        rotary = RotaryEmbedding(theta: theta, dimension: headDim, scaling: scaling)

        slidingWindows = try Self.slidingWindows(config, family: family, layers: numLayers, file: file)
        eosTokenIds = config.eosTokenId?.ids ?? []
        bosTokenId = config.bosTokenId?.ids.first
    }

    /// Which layers attend through a sliding window, following each family's rules.
    private static func slidingWindows(_ config: LlamaConfig, family: ModelFamily, layers: Int, file: String) throws(ModelConfigError) -> [Int?] {
        guard let window = config.slidingWindow else { return Array(repeating: nil, count: layers) }
        guard window > 0 else { throw .invalidField(file: file, field: "sliding_window", value: "\(window)", reason: "must be positive") }
        switch family {
        case .llama:
            return Array(repeating: nil, count: layers)
        case .mistral:
            return Array(repeating: window, count: layers)
        case .qwen2:
            if let types = config.layerTypes {
                guard types.count == layers else {
                    throw .invalidField(file: file, field: "layer_types", value: "\(types.count) entries", reason: "must list all \(layers) layers")
                }
                return try types.map { (type: String) throws(ModelConfigError) -> Int? in
                    switch type {
                    case "full_attention": return nil
                    case "sliding_attention": return config.useSlidingWindow == false ? nil : window
                    default: throw .invalidField(file: file, field: "layer_types", value: "\"\(type)\"",
                                                 reason: "expected full_attention or sliding_attention")
                    }
                }
            }
            guard config.useSlidingWindow == true else { return Array(repeating: nil, count: layers) }
            let first = config.maxWindowLayers ?? 28
            return (0..<layers).map { $0 >= first ? window : nil }
        }
    }

    /// The attention shape of layer `layer`.
    public func attentionConfig(layer: Int) -> AttentionConfig {
        AttentionConfig(hiddenSize: hiddenSize, numHeads: numHeads, numKVHeads: numKVHeads, headDim: headDim,
                        qkvBias: qkvBias, outputBias: outputBias, rotary: rotary, slidingWindow: slidingWindows[layer])
    }
}
