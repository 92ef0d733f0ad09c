// The KV-cache blocks of every running sequence, with prefix reuse: a full block is known by
// a hash chain over its tokens and everything before it, so sequences that start alike share
// the blocks of their common prefix (reference-counted), and blocks of finished sequences stay
// cached until the pool needs them (least recently used first).

/// Identifies a sequence to the cache manager.
public typealias SequenceID = Int

/// Block tables for running sequences over a fixed pool, sharing full blocks of equal prefixes.
public struct KVCacheManager: Sendable {
    public let numBlocks: Int
    public let tokensPerBlock: Int

    /// What the pool holds and how often prefixes were found.
    public struct Statistics: Sendable, Equatable {
        /// Blocks some running sequence holds.
        public var usedBlocks: Int
        /// Blocks no sequence holds (cached prefix blocks included: they are taken when needed).
        public var freeBlocks: Int
        /// Of the free blocks, those that still hold a cached prefix.
        public var cachedBlocks: Int
        /// Full prompt blocks that could have come from the cache, and those that did.
        public var lookedUpBlocks: Int
        public var reusedBlocks: Int

        /// Share of those prompt blocks found in the cache.
        public var hitRate: Double { lookedUpBlocks == 0 ? 0 : Double(reusedBlocks) / Double(lookedUpBlocks) }
    }

    private struct Block {
        var references = 0
        /// Set once the block is full and registered for reuse.
        var key: BlockKey?
        /// Neighbours in the eviction order, while the block is cached and nobody holds it.
        var older: Int32 = -1, newer: Int32 = -1
    }

    /// A full block's identity: the hash chain up to it, and its tokens (compared on lookup,
    /// so a hash collision can never hand out another prefix's cache).
    private struct BlockKey: Hashable, Sendable {
        let chain: UInt64
        let tokens: [Int32]
    }

    private struct Sequence {
        var blocks: [Int32] = []
        /// Tokens whose k and v are in the blocks (written by steps that ran).
        var tokens: [Int32] = []
        /// Full blocks already registered for reuse, and the hash chain through them.
        var registered = 0
        var chain: UInt64 = 0
    }

    private var blocks: [Block]
    /// Blocks no one holds and that cache nothing.
    private var empty: [Int32]
    /// Cached full blocks, by key; those nobody holds are evictable.
    private var cached: [BlockKey: Int32] = [:]
    private var sequences: [SequenceID: Sequence] = [:]
    /// Cached blocks nobody holds, least recently released first: evicted from the oldest end,
    /// in O(1) however large the pool.
    private var oldest: Int32 = -1, newest: Int32 = -1
    private var evictableCount = 0, usedCount = 0
    private var lookedUp = 0, reused = 0

    public init(numBlocks: Int, tokensPerBlock: Int) {
        precondition(numBlocks > 0 && tokensPerBlock > 0, "a KV cache needs blocks of at least one token")
        self.numBlocks = numBlocks
        self.tokensPerBlock = tokensPerBlock
        blocks = Array(repeating: Block(), count: numBlocks)
        empty = (0..<Int32(numBlocks)).reversed()
    }

    /// Starts sequence `id` for `prompt`: its table begins with the cached blocks of the
    /// longest cached prefix (at most all but the prompt's last token, whose logits a step
    /// must compute). Returns how many prompt tokens are already in the cache.
    public mutating func start(_ id: SequenceID, prompt: [Int32]) -> Int {
        precondition(sequences[id] == nil, "sequence \(id) is already running")
        var sequence = Sequence()
        var chain: UInt64 = 0
        let reusable = prompt.isEmpty ? 0 : (prompt.count - 1) / tokensPerBlock
        lookedUp += reusable
        for index in 0..<reusable {
            let tokens = Array(prompt[(index * tokensPerBlock)..<((index + 1) * tokensPerBlock)])
            let key = BlockKey(chain: Self.chain(chain, tokens), tokens: tokens)
            guard let block = cached[key] else { break }
            reused += 1
            hold(block)
            sequence.blocks.append(block)
            sequence.tokens += tokens
            sequence.registered += 1
            sequence.chain = key.chain
            chain = key.chain
        }
        sequences[id] = sequence
        return sequence.tokens.count
    }

    /// Gives sequence `id` blocks for `tokens` tokens in all; false (taking nothing) when the
    /// pool cannot, even after evicting cached prefixes nobody holds.
    public mutating func reserve(_ id: SequenceID, tokens: Int) -> Bool {
        guard var sequence = sequences[id] else { preconditionFailure("sequence \(id) is not running") }
        let needed = (tokens + tokensPerBlock - 1) / tokensPerBlock - sequence.blocks.count
        guard needed > 0 else { return true }
        guard needed <= empty.count + evictableCount else { return false }
        for _ in 0..<needed {
            let block = empty.popLast() ?? evict()
            hold(block)
            sequence.blocks.append(block)
        }
        sequences[id] = sequence
        return true
    }

    /// Records that a step wrote the k and v of `tokens`, the sequence's next tokens; blocks
    /// they fill become reusable by later sequences.
    public mutating func commit(_ id: SequenceID, tokens: [Int32]) {
        guard let slot = sequences.index(forKey: id) else { preconditionFailure("sequence \(id) is not running") }
        // changed in place: a copy taken out of the dictionary would copy the sequence's
        // token list at every step
        sequences.values[slot].tokens += tokens
        let count = sequences.values[slot].tokens.count
        precondition(count <= sequences.values[slot].blocks.count * tokensPerBlock, "tokens committed past the reserved blocks")
        while (sequences.values[slot].registered + 1) * tokensPerBlock <= count {
            let index = sequences.values[slot].registered, block = sequences.values[slot].blocks[index]
            let content = Array(sequences.values[slot].tokens[(index * tokensPerBlock)..<((index + 1) * tokensPerBlock)])
            let key = BlockKey(chain: Self.chain(sequences.values[slot].chain, content), tokens: content)
            // an equal block cached by another sequence stays the one found; this one is private
            if cached[key] == nil {
                cached[key] = block
                blocks[Int(block)].key = key
            }
            sequences.values[slot].chain = key.chain
            sequences.values[slot].registered += 1
        }
    }

    /// Starts sequence `child` as a continuation of running sequence `parent` (a beam-search
    /// fork): it shares the parent's full blocks (reference-counted, never copied) and has
    /// their tokens. The parent's partial last block stays the parent's: a step writes only its
    /// own sequence's slots, so the child computes those tokens again into a block of its own.
    /// Returns the tokens the child has.
    public mutating func fork(_ parent: SequenceID, into child: SequenceID) -> Int {
        precondition(sequences[child] == nil, "sequence \(child) is already running")
        guard let source = sequences[parent] else { preconditionFailure("sequence \(parent) is not running") }
        // every committed full block is registered, and the chain runs through exactly those
        var sequence = Sequence()
        sequence.blocks = Array(source.blocks.prefix(source.registered))
        for block in sequence.blocks { hold(block) }
        sequence.tokens = Array(source.tokens.prefix(source.registered * tokensPerBlock))
        sequence.registered = source.registered
        sequence.chain = source.chain
        sequences[child] = sequence
        return sequence.tokens.count
    }

    /// The blocks of sequence `id` in order: token t lives in `blockTable(id)[t / tokensPerBlock]`.
    public func blockTable(_ id: SequenceID) -> [Int32] { sequences[id]?.blocks ?? [] }

    /// Ends sequence `id`: its blocks go back to the pool, full ones staying cached.
    public mutating func free(_ id: SequenceID) {
        guard let sequence = sequences.removeValue(forKey: id) else { return }
        // the tail first, so that evicting least recently released keeps a prefix's head longest
        for block in sequence.blocks.reversed() {
            blocks[Int(block)].references -= 1
            guard blocks[Int(block)].references == 0 else { continue }
            usedCount -= 1
            if blocks[Int(block)].key == nil {
                empty.append(block)
            } else {
                // newest end of the eviction order
                blocks[Int(block)].older = newest
                blocks[Int(block)].newer = -1
                if newest >= 0 { blocks[Int(newest)].newer = block } else { oldest = block }
                newest = block
                evictableCount += 1
            }
        }
    }

    public var statistics: Statistics {
        Statistics(usedBlocks: usedCount, freeBlocks: numBlocks - usedCount, cachedBlocks: evictableCount,
                   lookedUpBlocks: lookedUp, reusedBlocks: reused)
    }

    /// Takes a reference to `block`; a cached block nobody held leaves the eviction order.
    private mutating func hold(_ block: Int32) {
        if blocks[Int(block)].references == 0 {
            usedCount += 1
            if blocks[Int(block)].key != nil { unlink(block) }
        }
        blocks[Int(block)].references += 1
    }

    private mutating func unlink(_ block: Int32) {
        let (older, newer) = (blocks[Int(block)].older, blocks[Int(block)].newer)
        if older >= 0 { blocks[Int(older)].newer = newer } else { oldest = newer }
        if newer >= 0 { blocks[Int(newer)].older = older } else { newest = older }
        blocks[Int(block)].older = -1
        blocks[Int(block)].newer = -1
        evictableCount -= 1
    }

    /// Takes the least recently released cached block out of the cache.
    private mutating func evict() -> Int32 {
        let victim = oldest
        unlink(victim)
        cached[blocks[Int(victim)].key!] = nil
        blocks[Int(victim)].key = nil
        return victim
    }

    /// FNV-1a over the previous link and the block's tokens.
    private static func chain(_ previous: UInt64, _ tokens: [Int32]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ previous
        for token in tokens {
            for byte in 0..<4 {
                hash ^= UInt64(UInt32(bitPattern: token) >> (byte * 8) & 0xff)
                hash = hash &* 0x100_0000_01b3
            }
        }
        return hash
    }
}
