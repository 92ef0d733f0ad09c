// Hands out KV-cache blocks from a fixed pool and takes them back.

/// A free list over the block ids `0..<numBlocks` of a backend's KV pool.
public struct BlockAllocator: Sendable {
    public let numBlocks: Int
    private var free: [Int32]

    public init(numBlocks: Int) {
        self.numBlocks = numBlocks
        free = (0..<Int32(numBlocks)).reversed()
    }

    public var freeBlocks: Int { free.count }

    /// `count` blocks, or `nil` (taking none) when fewer are free.
    public mutating func allocate(_ count: Int) -> [Int32]? {
        guard count <= free.count else { return nil }
        let blocks = Array(free.suffix(count).reversed())
        free.removeLast(count)
        return blocks
    }

    public mutating func release(_ blocks: [Int32]) {
        free.append(contentsOf: blocks.reversed())
    }
}
