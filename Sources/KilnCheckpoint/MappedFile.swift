// Read-only memory mapping of a whole file, so checkpoint tensors can be handed out
// without copying their bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A whole file mapped read-only; unmapped when the last reference goes away.
///
/// `@unchecked Sendable` invariant: the mapping is PROT_READ and MAP_PRIVATE and is never
/// remapped, so nothing in this process can change its bytes and any thread may read them.
/// (Writers replace files by renaming, so a mapped inode is never rewritten under us.)
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws(SafetensorsError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotOpen(file: path, reason: systemErrorMessage()) }
        // The mapping keeps its own reference to the file.
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .cannotOpen(file: path, reason: systemErrorMessage())
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .cannotOpen(file: path, reason: "not a regular file")
        }
        self.path = path
        let size = Int(status.st_size)
        // mmap rejects a length of zero.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw .cannotOpen(file: path, reason: "mmap failed: \(systemErrorMessage())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
