// The gated feed-forward block of Llama-family models: down(silu(gate(x)) · up(x)).

import KilnTensor

public final class GatedMLP: Module {
    public let gateProj: ColumnLinear
    public let upProj: ColumnLinear
    public let downProj: RowLinear

    public init(_ name: String, hiddenSize: Int, intermediateSize: Int, bias: Bool, mapping: Mapping, dtype: DType = .f32) {
        gateProj = ColumnLinear(name / "gate_proj", inFeatures: hiddenSize, outFeatures: intermediateSize, bias: bias, mapping: mapping, dtype: dtype)
        upProj = ColumnLinear(name / "up_proj", inFeatures: hiddenSize, outFeatures: intermediateSize, bias: bias, mapping: mapping, dtype: dtype)
        downProj = RowLinear(name / "down_proj", inFeatures: intermediateSize, outFeatures: hiddenSize, bias: bias, mapping: mapping, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { downProj(silu(gateProj(x)) * upProj(x)) }
}
