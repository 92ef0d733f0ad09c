// One safetensors file, memory-mapped and validated on open, handing out tensors that
// borrow the mapping instead of copying it.

import KilnTensor

/// A validated, memory-mapped safetensors file.
public final class SafetensorsFile: Sendable {
    public let path: String
    /// Sorted.
    public let tensorNames: [String]
    public let metadata: [String: String]
    let mapping: MappedFile
    private let tensors: [String: TensorInfo]

    /// Maps the file and validates its whole header; fails before any tensor is touched.
    public init(path: String) throws(SafetensorsError) {
        let mapping = try MappedFile(path: path)
        let header = try SafetensorsHeader(parsing: mapping)
        self.path = path
        self.mapping = mapping
        self.tensors = header.tensors
        self.metadata = header.metadata
        self.tensorNames = header.tensors.keys.sorted()
    }

    public func info(named name: String) -> TensorInfo? {
        tensors[name]
    }

    /// A view of the tensor's bytes in the mapping; the tensor keeps the mapping alive.
    public func tensor(named name: String) throws(SafetensorsError) -> HostTensor {
        guard let info = tensors[name] else { throw .missingTensor(name: name, file: path) }
        let bytes = UnsafeRawBufferPointer(rebasing: mapping.bytes[info.byteRange])
        return HostTensor(dtype: info.dtype, shape: info.shape,
                          storage: TensorStorage(borrowing: bytes, owner: mapping))
    }
}
