// Multi-head attention with grouped KV heads and rotary positions, over the paged KV cache.

import KilnTensor

/// The shape of one attention layer.
public struct AttentionConfig: Hashable, Sendable {
    public var hiddenSize: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var qkvBias: Bool
    public var outputBias: Bool
    public var rotary: RotaryEmbedding
    public var slidingWindow: Int?

    public init(hiddenSize: Int, numHeads: Int, numKVHeads: Int, headDim: Int, qkvBias: Bool, outputBias: Bool,
                rotary: RotaryEmbedding, slidingWindow: Int? = nil) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.qkvBias = qkvBias
        self.outputBias = outputBias
        self.rotary = rotary
        self.slidingWindow = slidingWindow
    }
}

public final class Attention: Module {
    public let qProj: ColumnLinear
    public let kProj: ColumnLinear
    public let vProj: ColumnLinear
    public let oProj: RowLinear
    private let attributes: AttentionPlugin
    private let rotary: RotaryEmbedding

    public init(_ name: String, _ config: AttentionConfig, layer: Int, mapping: Mapping, dtype: DType = .f32) {
        let c = config
        precondition(c.numHeads % mapping.tpSize == 0 && c.numKVHeads % mapping.tpSize == 0,
                     "\(name): heads do not split over \(mapping.tpSize) ranks")
        qProj = ColumnLinear(name / "q_proj", inFeatures: c.hiddenSize, outFeatures: c.numHeads * c.headDim, bias: c.qkvBias, mapping: mapping, dtype: dtype)
        kProj = ColumnLinear(name / "k_proj", inFeatures: c.hiddenSize, outFeatures: c.numKVHeads * c.headDim, bias: c.qkvBias, mapping: mapping, dtype: dtype)
        vProj = ColumnLinear(name / "v_proj", inFeatures: c.hiddenSize, outFeatures: c.numKVHeads * c.headDim, bias: c.qkvBias, mapping: mapping, dtype: dtype)
        oProj = RowLinear(name / "o_proj", inFeatures: c.numHeads * c.headDim, outFeatures: c.hiddenSize, bias: c.outputBias, mapping: mapping, dtype: dtype)
        attributes = AttentionPlugin(layer: layer, numHeads: c.numHeads / mapping.tpSize, numKVHeads: c.numKVHeads / mapping.tpSize,
                                         headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot(), slidingWindow: c.slidingWindow)
        rotary = c.rotary
    }

    public func callAsFunction(_ x: Tensor, positions: Tensor) -> Tensor {
        let q = rope(qProj(x), positions: positions, rotary)
        let k = rope(kProj(x), positions: positions, rotary)
        return oProj(attention(q, k, vProj(x), attributes))
    }
}
