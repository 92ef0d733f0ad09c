// Immutable bytes behind a host tensor: either owned memory or a borrowed region of
// something that must stay alive (a memory-mapped checkpoint file).

/// Read-only bytes shared by host tensors.
///
/// Invariant: the bytes are never written after `init` returns, so sharing the pointer
/// across threads is safe; `owner` keeps borrowed memory (an mmap) alive for as long as
/// any tensor refers to it.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let ownsMemory: Bool

    /// Borrows `bytes`, keeping `owner` alive while this storage lives.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        self.ownsMemory = false
    }

    /// Copies `count` bytes produced by `fill` into new 64-byte-aligned memory.
    public init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        let region = UnsafeMutableRawBufferPointer(rebasing: memory[0..<byteCount])
        do { try fill(region) } catch { memory.deallocate(); throw error }
        self.bytes = UnsafeRawBufferPointer(region)
        self.owner = nil
        self.ownsMemory = true
    }

    deinit {
        if ownsMemory, let base = bytes.baseAddress { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}
