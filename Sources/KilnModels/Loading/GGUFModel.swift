// A llama.cpp GGUF file → the same Llama-family model as a Hugging Face folder gives: config
// from `<arch>.*` metadata, tensors renamed to Hugging Face's names, llama.cpp's Q/K row
// permutation undone, block-quantized weights bound in place.

import KilnCheckpoint
import KilnGraph
import KilnTensor

/// A model read from a GGUF file, its weights bound.
public struct GGUFModel {
    public let file: GGUFFile
    public let spec: LlamaModelSpec
    public let model: LlamaForCausalLM

    /// Opens `path`, derives the config from its metadata and binds every parameter.
    public static func load(path: String) throws(GGUFError) -> GGUFModel {
        let file = try GGUFFile(path: path)
        let spec = try readSpec(file)
        let model = LlamaForCausalLM(spec)
        let names = GGUFTensorNames(layers: spec.numLayers)
        for parameter in model.parameters() {
            let ggufName = names.ggufName(of: parameter.name)
            guard let info = file.tensor(named: ggufName) else { throw .missingTensor(file: path, tensor: ggufName) }
            guard Array(info.shape.reversed()) == parameter.shape else {
                throw .invalidTensor(file: path, tensor: ggufName, reason: "shape \(Array(info.shape.reversed())) does not match the metadata's \(parameter.shape)")
            }
            var tensor = try hostTensor(info, file: file)
            // llama.cpp interleaves the rotary halves of q and k for its own RoPE kernel
            if spec.family == .llama, let heads = names.permutedHeads(parameter.name, spec) {
                tensor = unpermuteRotaryRows(tensor, heads: heads)
            }
            parameter.bind(tensor)
        }
        return GGUFModel(file: file, spec: spec, model: model)
    }

    /// The config the metadata describes, validated like a config.json.
    static func readSpec(_ file: GGUFFile) throws(GGUFError) -> LlamaModelSpec {
        let architecture = try file.require("general.architecture").string ?? ""
        let family: ModelFamily
        switch architecture {
        case "llama": family = .llama
        case "qwen2": family = .qwen2
        default:
            throw .invalidValue(file: file.path, key: "general.architecture",
                                reason: "'\(architecture)' is not supported; supported: llama, qwen2")
        }
        func int(_ key: String) throws(GGUFError) -> Int {
            guard let value = try file.require("\(architecture).\(key)").int else {
                throw .invalidValue(file: file.path, key: "\(architecture).\(key)", reason: "expected an integer")
            }
            return value
        }
        func optional(_ key: String) -> GGUFValue? { file.metadata["\(architecture).\(key)"] }
        guard file.tensor(named: "rope_freqs.weight") == nil else {
            throw .invalidValue(file: file.path, key: "rope_freqs.weight", reason: "per-frequency RoPE factors (Llama 3.1 style) are not supported yet")
        }
        let heads = try int("attention.head_count")
        let vocabulary = optional("vocab_size")?.int ?? file.metadata["tokenizer.ggml.tokens"]?.array?.count
        guard let vocabulary else { throw .missingKey(file: file.path, key: "\(architecture).vocab_size") }
        var scaling: RopeParameters?
        switch optional("rope.scaling.type")?.string {
        case nil, "none": scaling = nil
        case let type?:
            scaling = RopeParameters(ropeType: type, factor: optional("rope.scaling.factor")?.double.map(Float.init),
                                     originalMaxPositionEmbeddings: optional("rope.scaling.original_context_length")?.int)
        }
        let config = LlamaConfig(
            architectures: nil, modelType: family.rawValue, vocabSize: vocabulary,
            hiddenSize: try int("embedding_length"), intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: optional("attention.head_count_kv")?.int, headDim: optional("attention.key_length")?.int,
            maxPositionEmbeddings: optional("context_length")?.int,
            rmsNormEps: optional("attention.layer_norm_rms_epsilon")?.double.map(Float.init), hiddenAct: "silu",
            tieWordEmbeddings: file.tensor(named: "output.weight") == nil, attentionBias: nil, mlpBias: nil,
            ropeTheta: optional("rope.freq_base")?.double.map(Float.init) ?? 10000, ropeScaling: scaling, ropeParameters: nil,
            slidingWindow: nil, useSlidingWindow: nil, maxWindowLayers: nil, layerTypes: nil,
            bosTokenId: nil, eosTokenId: nil)
        do { return try LlamaModelSpec(config, family: family, file: file.path) } catch {
            throw .invalidValue(file: file.path, key: architecture, reason: error.description)
        }
    }
}

/// Hugging Face parameter names ↔ llama.cpp tensor names.
struct GGUFTensorNames {
    private let table: [String: String]

    init(layers: Int) {
        var table = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                     "lm_head.weight": "output.weight"]
        let perLayer = ["input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
                        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
                        "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
                        "self_attn.v_proj.bias": "attn_v.bias", "mlp.gate_proj.weight": "ffn_gate.weight",
                        "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"]
        for layer in 0..<layers {
            for (hf, gguf) in perLayer { table["model.layers.\(layer).\(hf)"] = "blk.\(layer).\(gguf)" }
        }
        self.table = table
    }

    func ggufName(of parameter: String) -> String { table[parameter] ?? parameter }

    /// The head count whose rows llama.cpp permuted, for q and k weights and biases.
    func permutedHeads(_ parameter: String, _ spec: LlamaModelSpec) -> Int? {
        if parameter.hasSuffix("self_attn.q_proj.weight") || parameter.hasSuffix("self_attn.q_proj.bias") { return spec.numHeads }
        if parameter.hasSuffix("self_attn.k_proj.weight") || parameter.hasSuffix("self_attn.k_proj.bias") { return spec.numKVHeads }
        return nil
    }
}

/// The tensor's data as Kiln binds it: in place for the formats the backends read, else
/// dequantized to F32.
private func hostTensor(_ info: GGUFTensorInfo, file: GGUFFile) throws(GGUFError) -> HostTensor {
    let shape = Array(info.shape.reversed())
    let inPlace: DType?
    switch info.type {
    case .f32: inPlace = .f32
    case .f16: inPlace = .f16
    case .bf16: inPlace = .bf16
    case .q4_0: inPlace = .q4_0
    case .q4_1: inPlace = .q4_1
    case .q8_0: inPlace = .q8_0
    default: inPlace = nil
    }
    if let dtype = inPlace {
        return HostTensor(dtype: dtype, shape: shape, storage: file.rawTensor(info).storage)
    }
    var values = [Float](repeating: 0, count: info.elementCount)
    // the error is caught inside the closures and thrown after them: a typed error thrown
    // through the standard library's withUnsafe… closures came out corrupt in optimized builds
    // (Swift 6.3; a reduced case crashes the compiler), and describing it crashed `kiln`
    var failure: GGUFError?
    file.withBytes(of: info) { raw in
        values.withUnsafeMutableBufferPointer { out in
            do throws(GGUFError) {
                try dequantize(raw, type: info.type, count: info.elementCount, into: out, tensor: info.name, file: file.path)
            } catch { failure = error }
        }
    }
    if let failure { throw failure }
    return HostTensor(values, shape: shape)
}

/// Undoes llama.cpp's conversion permutation of q/k rows: within each head, HF row
/// `half · (d/2) + i` was stored at row `2i + half`.
private func unpermuteRotaryRows(_ tensor: HostTensor, heads: Int) -> HostTensor {
    let rows = tensor.shape[0]
    let rowBytes = tensor.byteCount / rows
    let headDim = rows / heads
    return tensor.withUnsafeBytes { source in
        var permuted = [UInt8](repeating: 0, count: tensor.byteCount)
        permuted.withUnsafeMutableBytes { target in
            for head in 0..<heads {
                for half in 0..<2 {
                    for i in 0..<(headDim / 2) {
                        let hfRow = head * headDim + half * (headDim / 2) + i
                        let ggufRow = head * headDim + 2 * i + half
                        target[(hfRow * rowBytes)..<((hfRow + 1) * rowBytes)].copyBytes(from: source[(ggufRow * rowBytes)..<((ggufRow + 1) * rowBytes)])
                    }
                }
            }
        }
        return permuted.withUnsafeBytes { HostTensor(dtype: tensor.dtype, shape: tensor.shape, copying: $0) }
    }
}
