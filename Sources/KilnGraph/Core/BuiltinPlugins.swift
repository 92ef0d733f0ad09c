// The plugins Kiln's models and builder insert: paged attention, and the widening of a
// stored weight format to float32.

import KilnTensor

/// Causal attention over the paged KV cache; writes this step's k and v into the cache
/// first. Operands: q `[numTokens, heads·headDim]`, k and v `[numTokens, kvHeads·headDim]`,
/// and the positions `[numTokens]` when `rotary` is set.
public struct AttentionPlugin: Plugin {
    public static let pluginName = "attention"

    /// Which layer's slice of the KV-cache pool this op reads and writes.
    public var layer: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    /// Multiplies q·k before the softmax (usually headDim^-0.5).
    public var scale: Float
    /// Tokens a query may look back, itself included; `nil` attends to the whole prefix.
    public var slidingWindow: Int?
    /// Set by the builder when it moves the rotary embedding of q and k into the plugin
    /// (which then takes the positions as a fourth operand): k is rotated as it is written
    /// to the cache.
    public var rotary: RotaryEmbedding?

    public init(layer: Int, numHeads: Int, numKVHeads: Int, headDim: Int, scale: Float, slidingWindow: Int? = nil) {
        self.layer = layer
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.scale = scale
        self.slidingWindow = slidingWindow
    }

    public var hasSideEffects: Bool { true }

    public func result(operands: [ValueType]) -> Result<ValueType, PluginOperandError> {
        let shapes = operands.map(\.shape)
        let qShape: [Dim] = [.numTokens, .fixed(numHeads * headDim)], kvShape: [Dim] = [.numTokens, .fixed(numKVHeads * headDim)]
        guard numKVHeads > 0, numHeads % numKVHeads == 0 else {
            return .failure(PluginOperandError("\(numHeads) heads do not group over \(numKVHeads) KV heads"))
        }
        guard shapes.count == (rotary == nil ? 3 : 4), shapes[0] == qShape, shapes[1] == kvShape, shapes[2] == kvShape,
              rotary == nil || shapes[3] == [.numTokens] else {
            return .failure(PluginOperandError("q, k, v\(rotary == nil ? "" : ", positions") are \(shapes.map(\.shapeDescription)); "
                + "\(numHeads)×\(headDim) query heads need q \(qShape.shapeDescription) and k, v \(kvShape.shapeDescription)"))
        }
        return .success(ValueType(.f32, qShape))
    }

    public var description: String {
        "attention(layer: \(layer), heads: \(numHeads), kv_heads: \(numKVHeads), head_dim: \(headDim)"
            + (slidingWindow.map { ", window: \($0)" } ?? "") + (rotary.map { ", rope: \($0)" } ?? "") + ")"
    }
}

/// A stored weight format (bf16, f16, llama.cpp blocks) widened to float32, for ops whose
/// kernels read only float32. The builder's precision pass inserts it and constant folding
/// computes it once at build time. Operand: any tensor; result: the same shape in f32.
public struct DequantizePlugin: Plugin {
    public static let pluginName = "dequantize"

    public init() {}

    public func result(operands: [ValueType]) -> Result<ValueType, PluginOperandError> {
        guard operands.count == 1 else { return .failure(PluginOperandError("takes one operand, got \(operands.count)")) }
        return .success(ValueType(.f32, operands[0].shape))
    }

    public var description: String { "dequantize" }
}

/// Causal attention of this step's queries over every cached and new key of their
/// sequence; the plugin writes `k` and `v` into the paged KV cache before reading it.
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ attributes: AttentionPlugin,
                      file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    plugin(attributes, [q, k, v], file: file, line: line)
}
