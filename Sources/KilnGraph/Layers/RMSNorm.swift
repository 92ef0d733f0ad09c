// Root-mean-square layer normalization.

import KilnTensor

public final class RMSNorm: Module {
    public let weight: Parameter
    public let eps: Float

    public init(_ name: String, dimension: Int, eps: Float, dtype: DType = .f32) {
        weight = Parameter(name / "weight", shape: [dimension], dtype: dtype)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight(in: x.graph), eps: eps) }
}
