// What a backend computes in and which stored weight formats its kernels read in place:
// the facts the builder's precision pass needs from a backend.

import KilnTensor

/// Element types for one build on one backend.
public struct PrecisionPolicy: Hashable, Sendable, Codable {
    /// The type of activations between kernels (kernels accumulate in f32 whatever it is);
    /// graph outputs (the logits) stay f32.
    public var activationType: DType
    /// Formats the matmul (as its weight operand) and embedding (as the table) kernels read
    /// in place; other weight reads (norm scales, biases) take f32.
    public var matrixWeightFormats: Set<DType>
    /// The type float weights are stored in (`kiln build --dtype`); nil keeps the checkpoint's.
    public var weightType: DType?

    public init(activationType: DType = .f32, matrixWeightFormats: Set<DType> = [.f32], weightType: DType? = nil) {
        self.activationType = activationType
        self.matrixWeightFormats = matrixWeightFormats
        self.weightType = weightType
    }
}
