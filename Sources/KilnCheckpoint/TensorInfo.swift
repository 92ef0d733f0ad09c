// Where one tensor lives in a safetensors file and how to read it, known from the header
// alone.

import KilnTensor

/// A tensor's type, shape and location, as validated from a safetensors header.
public struct TensorInfo: Sendable, Hashable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte positions within the whole file (not the data section).
    public let byteRange: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }
}
