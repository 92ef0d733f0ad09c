// Token embedding table.

import KilnTensor

/// Looks up rows of a `[vocab, dim]` table.
public final class Embedding: Module {
    public let weight: Parameter

    public init(_ name: String, vocabularySize: Int, dimension: Int, dtype: DType = .f32) {
        weight = Parameter(name / "weight", shape: [vocabularySize, dimension], dtype: dtype)
    }

    public func callAsFunction(_ ids: Tensor) -> Tensor { embedding(ids, table: weight(in: ids.graph)) }

    /// Logits against the table itself, for models whose LM head is tied to the embedding.
    public func asLinear(_ x: Tensor) -> Tensor { matmul(x, weight(in: x.graph), transposeB: true) }
}
