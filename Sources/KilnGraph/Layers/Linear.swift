// Linear layers: plain, and the tensor-parallel column/row splits that partition the
// weight across ranks (the weight of one rank is what its checkpoint slice holds).

import KilnTensor

/// `y = x · Wᵀ + b` with `W` stored `[out, in]` as in Hugging Face checkpoints.
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ name: String, inFeatures: Int, outFeatures: Int, bias: Bool, dtype: DType = .f32) {
        self.weight = Parameter(name / "weight", shape: [outFeatures, inFeatures], dtype: dtype)
        self.bias = bias ? Parameter(name / "bias", shape: [outFeatures], dtype: dtype) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = matmul(x, weight(in: x.graph), transposeB: true)
        guard let bias else { return y }
        return y + bias(in: x.graph)
    }
}

/// A linear layer whose output features are split across tensor-parallel ranks: each rank
/// computes its own slice of the outputs (q/k/v, gate/up projections).
public final class ColumnLinear: Module {
    public let linear: Linear

    public init(_ name: String, inFeatures: Int, outFeatures: Int, bias: Bool, mapping: Mapping, dtype: DType = .f32) {
        precondition(outFeatures % mapping.tpSize == 0, "\(name): \(outFeatures) outputs do not split over \(mapping.tpSize) ranks")
        linear = Linear(name, inFeatures: inFeatures, outFeatures: outFeatures / mapping.tpSize, bias: bias, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x) }
}

/// A linear layer whose input features are split across tensor-parallel ranks: each rank
/// holds a partial sum of the outputs (o and down projections).
public final class RowLinear: Module {
    public let linear: Linear

    public init(_ name: String, inFeatures: Int, outFeatures: Int, bias: Bool, mapping: Mapping, dtype: DType = .f32) {
        precondition(inFeatures % mapping.tpSize == 0, "\(name): \(inFeatures) inputs do not split over \(mapping.tpSize) ranks")
        linear = Linear(name, inFeatures: inFeatures / mapping.tpSize, outFeatures: outFeatures, bias: bias, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x) }
}
