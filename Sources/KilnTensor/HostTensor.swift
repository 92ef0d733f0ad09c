// A typed, shaped view of bytes in host memory: what checkpoints hand out and what
// backends take as weights.

/// A dense, row-major tensor in host memory.
public struct HostTensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let storage: TensorStorage

    /// Wraps `storage`; its byte count must equal `shape`'s element count × the dtype size.
    public init(dtype: DType, shape: [Int], storage: TensorStorage) {
        precondition(storage.bytes.count == dtype.byteCount(elements: shape.reduce(1, *)),
                     "storage of \(storage.bytes.count) bytes does not hold \(dtype) \(shape)")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A new F32 tensor holding `values`.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        let storage = TensorStorage(byteCount: values.count * 4) { raw in
            values.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        self.init(dtype: .f32, shape: shape, storage: storage)
    }

    /// A new tensor of `dtype` holding a copy of `bytes`.
    public init(dtype: DType, shape: [Int], copying bytes: UnsafeRawBufferPointer) {
        let storage = TensorStorage(byteCount: bytes.count) { $0.copyMemory(from: bytes) }
        self.init(dtype: dtype, shape: shape, storage: storage)
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { storage.bytes.count }
    /// Calls `body` with the tensor's bytes; the pointer is valid only inside `body` (the
    /// storage, and a mapped file behind it, may be released as soon as the tensor is).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(storage) {} }
        return try body(storage.bytes)
    }

    /// The elements widened to `Float` (integers converted by value).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { out, count in
            widen(into: out)
            count = elementCount
        }
    }

    /// Writes the elements, widened to `Float`, into `out` (which holds `elementCount`).
    public func widen(into out: UnsafeMutableBufferPointer<Float>) {
        let n = elementCount
        precondition(out.count >= n)
        let raw = storage.bytes
        switch dtype {
        case .f32: for i in 0..<n { out[i] = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        case .f16: for i in 0..<n { out[i] = floatFromHalfBits(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .bf16: for i in 0..<n { out[i] = floatFromBFloat16Bits(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .f8e4m3: for i in 0..<n { out[i] = floatFromFloat8E4M3Bits(raw[i]) }
        case .i8: for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .u8, .bool: for i in 0..<n { out[i] = Float(raw[i]) }
        case .i32: for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .i64: for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        case .q4_0, .q4_1, .q8_0: dequantizeBlocks(raw, dtype: dtype, count: n, into: out)
        }
    }
}

extension HostTensor {
    /// The tensor stored as `dtype`: f32 (from any float or block format), or bf16 / f16
    /// (from f32, bf16 or f16, rounding to nearest). Other tensors are returned unchanged.
    public func converted(to dtype: DType) -> HostTensor {
        switch conversionType(dtype) {
        case self.dtype: self
        case .f32: HostTensor(floats(), shape: shape)
        case .bf16: floats().map(bfloat16Bits(from:)).withUnsafeBytes { HostTensor(dtype: .bf16, shape: shape, copying: $0) }
        case .f16: floats().map(halfBits(from:)).withUnsafeBytes { HostTensor(dtype: .f16, shape: shape, copying: $0) }
        default: self
        }
    }

    /// The type `converted(to: dtype)` stores its result in (its own type when it does not convert).
    public func conversionType(_ dtype: DType) -> DType {
        guard dtype != self.dtype, self.dtype.isFloatingPoint else { return self.dtype }
        switch dtype {
        case .f32: return .f32
        case .bf16, .f16: return self.dtype.isPlainFloat ? dtype : self.dtype
        default: return self.dtype
        }
    }

    /// Bytes of `converted(to: dtype)`, without converting.
    public func convertedByteCount(_ dtype: DType) -> Int {
        let stored = conversionType(dtype)
        return stored == self.dtype ? byteCount : stored.byteCount(elements: elementCount) ?? byteCount
    }
}
