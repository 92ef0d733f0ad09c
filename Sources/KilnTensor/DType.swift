// Element types Kiln stores and computes with, and their byte sizes.

/// The element type of a tensor. Raw values are the names safetensors uses.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e4m3 = "F8_E4M3"
    case i8 = "I8"
    case u8 = "U8"
    case i32 = "I32"
    case i64 = "I64"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .f8e4m3, .i8, .u8, .bool: 1
        case .i64: 8
        }
    }

    /// Whether values of this type can be widened to `Float` for computation.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f8e4m3: true
        default: false
        }
    }

    public var description: String { rawValue }
}
