// A GGUF file (llama.cpp's model format, versions 2 and 3): header, metadata and tensor
// table validated completely at open, tensor data memory-mapped.

import KilnTensor

/// Where one tensor's data lies and how it is stored.
public struct GGUFTensorInfo: Sendable, Hashable {
    public let name: String
    /// Dimensions in ggml order: `shape[0]` varies fastest (a `[out, in]` matrix is `[in, out]`).
    public let shape: [Int]
    public let type: GGMLType
    /// Byte range in the file.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// An open GGUF file.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    private let tensorIndex: [String: Int]
    /// The mapping that tensor bytes point into.
    public let mapping: MappedFile

    public init(path: String) throws(GGUFError) {
        do { mapping = try MappedFile(path: path) } catch {
            if case .cannotOpen(_, let reason) = error { throw .cannotOpen(file: path, reason: reason) }
            throw .cannotOpen(file: path, reason: error.description)
        }
        self.path = path
        var reader = GGUFReader(bytes: mapping.bytes, file: path)
        guard mapping.bytes.count >= 4, mapping.bytes.starts(with: Array("GGUF".utf8)) else { throw .badMagic(file: path) }
        reader.offset = 4
        version = try reader.read(UInt32.self, "the header")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(file: path, version: version) }
        let tensorCount = try reader.readCount("the tensor count", minimumBytesEach: 24)
        let keyCount = try reader.readCount("the metadata count", minimumBytesEach: 12)

        var keys: [String] = [], values: [String: GGUFValue] = [:]
        keys.reserveCapacity(keyCount)
        for _ in 0..<keyCount {
            let key = try reader.readString("a metadata key")
            values[key] = try reader.readValue(key: key)
            keys.append(key)
        }
        metadataKeys = keys
        metadata = values

        var alignment = 32
        if let value = values["general.alignment"] {
            guard let a = value.int, a > 0, a & (a - 1) == 0 else {
                throw .invalidValue(file: path, key: "general.alignment", reason: "must be a power of two")
            }
            alignment = a
        }
        var infos: [(name: String, shape: [Int], type: GGMLType, offset: Int)] = []
        for _ in 0..<tensorCount {
            let name = try reader.readString("a tensor name")
            let dimensions = try reader.read(UInt32.self, "tensor '\(name)'")
            guard (1...4).contains(dimensions) else { throw .invalidTensor(file: path, tensor: name, reason: "\(dimensions) dimensions (1 to 4 allowed)") }
            var shape: [Int] = []
            for _ in 0..<dimensions {
                let size = try reader.read(UInt64.self, "tensor '\(name)'")
                guard size > 0, size < 1 << 40 else { throw .invalidTensor(file: path, tensor: name, reason: "dimension \(size)") }
                shape.append(Int(size))
            }
            let rawType = try reader.read(UInt32.self, "tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(file: path, tensor: name, type: rawType) }
            let offset = try reader.read(UInt64.self, "tensor '\(name)'")
            guard offset < 1 << 50, Int(offset) % alignment == 0 else {
                throw .invalidTensor(file: path, tensor: name, reason: "data offset \(offset) is not aligned to \(alignment)")
            }
            infos.append((name, shape, type, Int(offset)))
        }
        let dataStart = (reader.offset + alignment - 1) / alignment * alignment
        var index: [String: Int] = [:]
        var tensors: [GGUFTensorInfo] = []
        for info in infos {
            let (count, overflow) = info.shape.reduce((1, false)) { partial, size in
                let (product, o) = partial.0.multipliedReportingOverflow(by: size)
                return (product, partial.1 || o)
            }
            guard !overflow, let bytes = info.type.byteCount(elements: count), info.shape[0] % info.type.blockSize == 0 else {
                throw .invalidTensor(file: path, tensor: info.name, reason: "shape \(info.shape) does not fit \(info.type) blocks of \(info.type.blockSize)")
            }
            let start = dataStart + info.offset
            guard start + bytes <= mapping.bytes.count else { throw .tensorOutOfRange(file: path, tensor: info.name) }
            guard index.updateValue(tensors.count, forKey: info.name) == nil else {
                throw .invalidTensor(file: path, tensor: info.name, reason: "appears twice")
            }
            tensors.append(GGUFTensorInfo(name: info.name, shape: info.shape, type: info.type, byteRange: start..<(start + bytes)))
        }
        self.tensors = tensors
        tensorIndex = index
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The value of `key`, or an error naming it.
    public func require(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let value = metadata[key] else { throw .missingKey(file: path, key: key) }
        return value
    }

    /// `body` with the raw bytes of `tensor` (valid only inside `body`).
    public func withBytes<R, E: Error>(of tensor: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(mapping) {} }
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.byteRange]))
    }

    /// The tensor's bytes as a host tensor that keeps the mapping alive (no copy); for
    /// quantized types the dtype is U8 over the raw blocks.
    public func rawTensor(_ tensor: GGUFTensorInfo) -> HostTensor {
        let storage = TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.byteRange]), owner: mapping)
        return HostTensor(dtype: .u8, shape: [tensor.byteRange.count], storage: storage)
    }
}

/// A cursor over the header that checks every read against the end of the file.
private struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws(GGUFError) -> T {
        guard offset + MemoryLayout<T>.size <= bytes.count else { throw .truncated(file: file, what: what) }
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A u64 count whose elements (at least `minimumBytesEach` each) must fit in the rest of the file.
    mutating func readCount(_ what: String, minimumBytesEach: Int) throws(GGUFError) -> Int {
        let count = try read(UInt64.self, what)
        guard count <= UInt64((bytes.count - offset) / max(minimumBytesEach, 1)) else {
            throw .truncated(file: file, what: "\(what) (\(count) entries cannot fit in the file)")
        }
        return Int(count)
    }

    mutating func readString(_ what: String) throws(GGUFError) -> String {
        let length = try read(UInt64.self, what)
        guard length <= UInt64(bytes.count - offset) else { throw .truncated(file: file, what: "\(what) (string of \(length) bytes)") }
        defer { offset += Int(length) }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(length))]), as: UTF8.self)
    }

    mutating func readValue(key: String, depth: Int = 0) throws(GGUFError) -> GGUFValue {
        let type = try read(UInt32.self, "metadata '\(key)'")
        return try readValue(type: type, key: key, depth: depth)
    }

    mutating func readValue(type: UInt32, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        let what = "metadata '\(key)'"
        switch type {
        case 0: return .uint8(try read(UInt8.self, what))
        case 1: return .int8(try read(Int8.self, what))
        case 2: return .uint16(try read(UInt16.self, what))
        case 3: return .int16(try read(Int16.self, what))
        case 4: return .uint32(try read(UInt32.self, what))
        case 5: return .int32(try read(Int32.self, what))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, what)))
        case 7:
            let byte = try read(UInt8.self, what)
            guard byte <= 1 else { throw .invalidValue(file: file, key: key, reason: "bool byte \(byte)") }
            return .bool(byte == 1)
        case 8: return .string(try readString(what))
        case 9:
            guard depth < 4 else { throw .invalidValue(file: file, key: key, reason: "arrays nested too deep") }
            let elementType = try read(UInt32.self, what)
            let count = try readCount(what, minimumBytesEach: 1)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValue(type: elementType, key: key, depth: depth + 1)) }
            return .array(elements)
        case 10: return .uint64(try read(UInt64.self, what))
        case 11: return .int64(try read(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        default: throw .unknownValueType(file: file, key: key, type: type)
        }
    }
}
