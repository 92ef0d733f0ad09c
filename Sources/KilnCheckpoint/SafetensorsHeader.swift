// Parses and fully validates a safetensors header, so that once a file opens every tensor
// it lists can be viewed without further checks.

import KilnTensor

/// The validated contents of a safetensors header.
struct SafetensorsHeader {
    let tensors: [String: TensorInfo]
    let metadata: [String: String]

    /// Validates the header of `file`: layout `[u64 little-endian n][n bytes of JSON][data]`.
    init(parsing file: MappedFile) throws(SafetensorsError) {
        let path = file.path
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw .truncated(file: path, size: bytes.count) }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .headerLengthPastEnd(file: path, headerLength: headerLength, fileSize: bytes.count)
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart

        let members: [String: Lenient<TensorEntry>]
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        switch decodeJSON(Lenient<[String: Lenient<TensorEntry>]>.self, from: json) {
        case .success(.expected(let object)): members = object
        case .success(.other(let value)):
            throw .invalidHeaderJSON(file: path, reason: "it is a JSON \(value.kind), not an object of tensor entries")
        case .failure(let failure): throw .invalidHeaderJSON(file: path, reason: failure.reason)
        }

        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        // Sorted so that a file with several faults always reports the same one.
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            switch (name, member) {
            case ("__metadata__", .expected):
                throw .invalidHeaderJSON(file: path, reason: "__metadata__ is a tensor entry, not a map of strings")
            case ("__metadata__", .other(let value)):
                metadata = try Self.metadata(value, file: path)
            case (_, .expected(let entry)):
                tensors[name] = try Self.tensor(name, entry, file: path, dataStart: dataStart, dataSize: dataSize)
            case (_, .other(let value)):
                let entry = try Self.entry(name, value, file: path)
                tensors[name] = try Self.tensor(name, entry, file: path, dataStart: dataStart, dataSize: dataSize)
            }
        }
        try Self.checkDisjoint(tensors.values, file: path)
        self.tensors = tensors
        self.metadata = metadata
    }

    private static func metadata(_ value: JSONValue, file: String) throws(SafetensorsError) -> [String: String] {
        guard case .object(let members) = value else {
            throw .invalidHeaderJSON(file: file, reason: "__metadata__ is a JSON \(value.kind), not an object")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case .string(let text) = value else {
                throw .invalidHeaderJSON(file: file, reason: "__metadata__ value for '\(key)' is a JSON \(value.kind), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Explains why `value` is not a tensor entry, or extracts one when only
    /// JSONDecoder's strictness rejected it.
    private static func entry(_ name: String, _ value: JSONValue, file: String) throws(SafetensorsError) -> TensorEntry {
        guard case .object(let fields) = value else {
            throw .invalidEntry(file: file, tensor: name, reason: "is a JSON \(value.kind), not an object with dtype, shape and data_offsets")
        }
        guard case .string(let dtype)? = fields["dtype"] else {
            throw .invalidEntry(file: file, tensor: name, reason: "has no string 'dtype'")
        }
        guard case .array(let dimensions)? = fields["shape"] else {
            throw .invalidEntry(file: file, tensor: name, reason: "has no 'shape' array")
        }
        var shape: [Int] = []
        for dimension in dimensions {
            guard case .integer(let size) = dimension else {
                throw .invalidEntry(file: file, tensor: name, reason: "has shape entry \(dimension), which is not an integer")
            }
            shape.append(size)
        }
        guard case .array(let offsets)? = fields["data_offsets"] else {
            throw .invalidEntry(file: file, tensor: name, reason: "has no 'data_offsets' array")
        }
        var dataOffsets: [Int] = []
        for offset in offsets {
            guard case .integer(let position) = offset else {
                throw .invalidEntry(file: file, tensor: name, reason: "has data_offsets entry \(offset), which is not an integer")
            }
            dataOffsets.append(position)
        }
        return TensorEntry(dtype: dtype, shape: shape, dataOffsets: dataOffsets)
    }

    private static func tensor(
        _ name: String, _ entry: TensorEntry, file: String, dataStart: Int, dataSize: Int
    ) throws(SafetensorsError) -> TensorInfo {
        guard let dtype = DType(rawValue: entry.dtype), !dtype.isBlockQuantized else {
            throw .unknownDType(file: file, tensor: name, dtype: entry.dtype)
        }
        if let negative = entry.shape.first(where: { $0 < 0 }) {
            throw .invalidEntry(file: file, tensor: name, reason: "has negative shape entry \(negative)")
        }
        guard entry.dataOffsets.count == 2, let begin = entry.dataOffsets.first, let end = entry.dataOffsets.last,
              begin >= 0 else {
            throw .invalidEntry(file: file, tensor: name, reason: "has data_offsets \(entry.dataOffsets), not two non-negative integers [begin, end]")
        }
        guard begin <= end else {
            throw .invalidEntry(file: file, tensor: name, reason: "has data_offsets [\(begin), \(end)] that begin after they end")
        }
        guard let expected = byteCount(of: entry.shape, dtype: dtype) else {
            throw .invalidEntry(file: file, tensor: name, reason: "has shape \(entry.shape), too large to address")
        }
        guard expected == end - begin else {
            throw .byteLengthMismatch(file: file, tensor: name, expected: expected, actual: end - begin)
        }
        guard end <= dataSize else {
            throw .offsetsOutOfRange(file: file, tensor: name, end: end, dataSize: dataSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: entry.shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    /// nil when the product overflows, which a hostile header can arrange.
    private static func byteCount(of shape: [Int], dtype: DType) -> Int? {
        var count = dtype.byteSize
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// Empty tensors hold no bytes, so they cannot overlap anything; among the rest, sorted
    /// by start, any overlap shows up between neighbours.
    private static func checkDisjoint(_ tensors: some Sequence<TensorInfo>, file: String) throws(SafetensorsError) {
        let ordered = tensors.filter { !$0.byteRange.isEmpty }.sorted {
            ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name)
        }
        for (first, second) in zip(ordered, ordered.dropFirst())
        where second.byteRange.lowerBound < first.byteRange.upperBound {
            throw .overlappingTensors(file: file, first: first.name, second: second.name)
        }
    }
}
