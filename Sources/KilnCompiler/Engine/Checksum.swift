// A fast 64-bit checksum for detecting damaged engine files (not for security).

/// Mixes 8 bytes at a time (FNV-1a style), then the tail bytes.
func checksum64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    let prime: UInt64 = 0x0000_0100_0000_01B3
    let words = bytes.count / 8
    for i in 0..<words {
        hash = (hash ^ bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* prime
        hash ^= hash >> 29
    }
    for i in (words * 8)..<bytes.count { hash = (hash ^ UInt64(bytes[i])) &* prime }
    return hash
}
