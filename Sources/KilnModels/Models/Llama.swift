// Llama, Mistral and Qwen2: one decoder-only architecture that differs only in config
// (biases, tied embeddings, RoPE variant, sliding windows).

import KilnGraph

final class LlamaDecoderLayer: Module {
    let inputLayernorm: RMSNorm
    let selfAttn: Attention
    let postAttentionLayernorm: RMSNorm
    let mlp: GatedMLP

    init(_ name: String, _ spec: LlamaModelSpec, layer: Int, mapping: Mapping) {
        inputLayernorm = RMSNorm(name / "input_layernorm", dimension: spec.hiddenSize, eps: spec.rmsNormEps)
        selfAttn = Attention(name / "self_attn", spec.attentionConfig(layer: layer), layer: layer, mapping: mapping)
        postAttentionLayernorm = RMSNorm(name / "post_attention_layernorm", dimension: spec.hiddenSize, eps: spec.rmsNormEps)
        mlp = GatedMLP(name / "mlp", hiddenSize: spec.hiddenSize, intermediateSize: spec.intermediateSize,
                       bias: spec.mlpBias, mapping: mapping)
    }

    func callAsFunction(_ x: Tensor, positions: Tensor) -> Tensor {
        let h = x + selfAttn(inputLayernorm(x), positions: positions)
        return h + mlp(postAttentionLayernorm(h))
    }
}

/// The Llama-family causal LM, with Hugging Face's parameter names.
public final class LlamaForCausalLM: CausalLM {
    public let spec: LlamaModelSpec
    let embedTokens: Embedding
    let layers: [LlamaDecoderLayer]
    let norm: RMSNorm
    /// `nil` when the LM head is tied to the embedding table.
    let lmHead: Linear?

    public init(_ spec: LlamaModelSpec, mapping: Mapping = .single) {
        self.spec = spec
        embedTokens = Embedding("model.embed_tokens", vocabularySize: spec.vocabularySize, dimension: spec.hiddenSize)
        layers = (0..<spec.numLayers).map { LlamaDecoderLayer("model.layers" / $0, spec, layer: $0, mapping: mapping) }
        norm = RMSNorm("model.norm", dimension: spec.hiddenSize, eps: spec.rmsNormEps)
        lmHead = spec.tiedEmbeddings ? nil
            : Linear("lm_head", inFeatures: spec.hiddenSize, outFeatures: spec.vocabularySize, bias: false)
    }

    public func forward(tokenIds: Tensor, positions: Tensor, logits: LogitsSelection) -> Tensor {
        var h = embedTokens(tokenIds)
        for layer in layers { h = layer(h, positions: positions) }
        if logits == .lastTokens { h = gatherLastTokens(h) }  // the LM head runs on one row per sequence
        h = norm(h)
        return lmHead.map { $0(h) } ?? embedTokens.asLinear(h)
    }

    public var vocabularySize: Int { spec.vocabularySize }
    public var numLayers: Int { spec.numLayers }
    public var numKVHeads: Int { spec.numKVHeads }
    public var headDim: Int { spec.headDim }
    public var maxPositionEmbeddings: Int { spec.maxPositionEmbeddings }
}
