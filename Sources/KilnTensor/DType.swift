// Element types Kiln stores and computes with, and their byte sizes.

/// The element type of a tensor. Raw values are the names safetensors uses; the block
/// formats (llama.cpp's Q4_0, Q4_1, Q8_0) come from GGUF files and store 32 elements per
/// block with their scale, so they have a size per block, not per element.
public enum DType: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e4m3 = "F8_E4M3"
    case i8 = "I8"
    case u8 = "U8"
    case i32 = "I32"
    case i64 = "I64"
    case bool = "BOOL"
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"
    case q8_0 = "Q8_0"

    /// Elements per block: 32 for the block formats, 1 otherwise.
    public var blockSize: Int { isBlockQuantized ? 32 : 1 }

    /// Bytes per block (per element for plain types).
    public var byteSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .f8e4m3, .i8, .u8, .bool: 1
        case .i64: 8
        case .q4_0: 2 + 16  // fp16 scale, 32 four-bit values
        case .q4_1: 4 + 16  // fp16 scale and minimum, 32 four-bit values
        case .q8_0: 2 + 32  // fp16 scale, 32 int8 values
        }
    }

    /// Whether elements are stored in scaled blocks (GGUF's Q4_0, Q4_1, Q8_0).
    public var isBlockQuantized: Bool { self == .q4_0 || self == .q4_1 || self == .q8_0 }

    /// Bytes of `count` elements, or nil when `count` splits a block or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: byteSize)
        return overflow ? nil : bytes
    }

    /// f32, bf16 and f16: the types `--dtype` converts between (block formats and fp8 keep
    /// their own encodings).
    public var isPlainFloat: Bool { self == .f32 || self == .bf16 || self == .f16 }

    /// Whether values of this type can be widened to `Float` for computation.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f8e4m3, .q4_0, .q4_1, .q8_0: true
        default: false
        }
    }

    public var description: String { rawValue }
}
