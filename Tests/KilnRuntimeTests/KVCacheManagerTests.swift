// The KV-cache manager: block tables, prefix reuse through the hash chain, shared blocks,
// LRU eviction of cached prefixes, and refusing what the pool cannot hold.

import KilnRuntime
import Testing

@Suite struct KVCacheManagerTests {
    /// Runs a sequence's prompt through the manager as a generator does: start, reserve,
    /// commit the tokens the step computed. Returns the reused prompt tokens.
    func run(_ cache: inout KVCacheManager, _ id: SequenceID, _ prompt: [Int32], extra: Int = 0) -> Int {
        let reused = cache.start(id, prompt: prompt)
        let reserved = cache.reserve(id, tokens: prompt.count + extra)
        #expect(reserved)
        cache.commit(id, tokens: Array(prompt[reused...]))
        return reused
    }

    @Test func blockTablesCoverTheTokensAndGoBack() {
        var cache = KVCacheManager(numBlocks: 8, tokensPerBlock: 4)
        #expect(run(&cache, 1, Array(1...10)) == 0)
        #expect(cache.blockTable(1).count == 3)
        #expect(Set(cache.blockTable(1)).count == 3)
        #expect(cache.statistics.usedBlocks == 3)
        cache.free(1)
        // the two full blocks stay cached, the partial one is empty again
        let statistics = cache.statistics
        #expect(statistics.usedBlocks == 0 && statistics.freeBlocks == 8 && statistics.cachedBlocks == 2)
        #expect(statistics.lookedUpBlocks == 2 && statistics.reusedBlocks == 0)
    }

    @Test func aSharedPrefixIsReusedAndCounted() {
        var cache = KVCacheManager(numBlocks: 32, tokensPerBlock: 16)
        let prefix = (0..<64).map { Int32($0 * 7 % 1000) }
        #expect(run(&cache, 1, prefix + [5, 6, 7]) == 0)
        // a second request with the same 64-token prefix finds all four of its blocks
        #expect(run(&cache, 2, prefix + [9, 9, 9, 9, 9]) == 64)
        #expect(Array(cache.blockTable(2).prefix(4)) == Array(cache.blockTable(1).prefix(4)))
        #expect(cache.blockTable(2)[4] != cache.blockTable(1)[4])
        #expect(cache.statistics.reusedBlocks == 4 && cache.statistics.usedBlocks == 6)
        // the holder leaving does not take the shared blocks from the other
        cache.free(1)
        #expect(cache.statistics.usedBlocks == 5)
        // a prompt of exactly the prefix keeps its last block to compute: its last token's logits are needed
        #expect(run(&cache, 3, prefix) == 48)
        #expect(cache.statistics.hitRate > 0.5)
    }

    @Test func aForkSharesTheFullBlocksOnly() {
        var cache = KVCacheManager(numBlocks: 8, tokensPerBlock: 4)
        _ = run(&cache, 1, Array(1...6))
        // the child gets the full block (shared, not copied); the partial one stays the parent's
        #expect(cache.fork(1, into: 2) == 4)
        #expect(cache.blockTable(2) == [cache.blockTable(1)[0]])
        #expect(cache.statistics.usedBlocks == 2 && cache.statistics.lookedUpBlocks == 1)
        let reserved = cache.reserve(2, tokens: 7)
        #expect(reserved)
        cache.commit(2, tokens: [5, 6, 9])
        #expect(cache.blockTable(2)[1] != cache.blockTable(1)[1] && cache.statistics.usedBlocks == 3)
        // the parent leaving keeps the shared block for the child; the child leaving frees it
        cache.free(1)
        #expect(cache.statistics.usedBlocks == 2)
        cache.free(2)
        #expect(cache.statistics.usedBlocks == 0)
    }

    @Test func equalBlocksAfterDifferentPrefixesAreNotShared() {
        var cache = KVCacheManager(numBlocks: 16, tokensPerBlock: 2)
        _ = run(&cache, 1, [1, 2, 7, 8, 0])
        // [7, 8] follows [3, 4] here, not [1, 2]: another chain, another block
        #expect(run(&cache, 2, [3, 4, 7, 8, 0]) == 0)
        #expect(run(&cache, 3, [1, 2, 7, 8, 5]) == 4)
    }

    @Test func cachedPrefixesAreEvictedLeastRecentlyReleasedFirst() {
        var cache = KVCacheManager(numBlocks: 4, tokensPerBlock: 2)
        _ = run(&cache, 1, [1, 2, 3, 4, 5])
        cache.free(1)
        #expect(cache.statistics.cachedBlocks == 2)
        // three blocks: the two empty ones, then the cached block released first ([3, 4], the tail)
        _ = run(&cache, 2, [9, 9, 9, 9, 9])
        cache.free(2)
        #expect(run(&cache, 3, [1, 2, 3, 4, 5]) == 2)
    }

    @Test func blocksInUseAreNeverTaken() {
        var cache = KVCacheManager(numBlocks: 3, tokensPerBlock: 2)
        _ = run(&cache, 1, [1, 2, 3, 4])
        _ = cache.start(2, prompt: [5, 6, 7])
        let tooMany = cache.reserve(2, tokens: 4)  // two more blocks, one is free
        #expect(!tooMany)
        #expect(cache.blockTable(2).isEmpty)  // nothing taken
        let one = cache.reserve(2, tokens: 2)
        #expect(one)
        #expect(Set(cache.blockTable(2)).isDisjoint(with: cache.blockTable(1)))
    }

    /// Random starts, growth and frees over a small pool keep the books straight: held blocks
    /// are what running sequences hold, a block is shared only within an equal prefix, and
    /// the pool never hands out more than it has.
    @Test func randomTrafficKeepsTheBooks() {
        var cache = KVCacheManager(numBlocks: 24, tokensPerBlock: 4)
        var state: UInt64 = 42
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var running: [SequenceID: [Int32]] = [:]
        for id in 0..<400 {
            if running.count > 3 || (next(3) == 0 && !running.isEmpty) {
                let victim = running.keys.sorted()[next(running.count)]
                cache.free(victim)
                running[victim] = nil
            }
            // prompts from a few shared stems, so prefixes repeat
            let prompt = (0..<(4 + next(14))).map { Int32(next(2) == 0 ? $0 : $0 + 100 * next(3)) }
            let reused = cache.start(id, prompt: prompt)
            guard cache.reserve(id, tokens: prompt.count + 3) else {
                cache.free(id)
                continue
            }
            cache.commit(id, tokens: Array(prompt[reused...]))
            running[id] = prompt
            let held = Set(running.keys.flatMap { cache.blockTable($0) })
            #expect(cache.statistics.usedBlocks == held.count)
            #expect(cache.statistics.cachedBlocks <= cache.statistics.freeBlocks)
            for (a, b) in zip(running.keys.sorted(), running.keys.sorted().dropFirst()) {
                let shared = Set(cache.blockTable(a)).intersection(cache.blockTable(b))
                // shared blocks are full blocks of a common prefix
                let common = zip(running[a]!, running[b]!).prefix { $0 == $1 }.count
                #expect(shared.count <= common / 4, "sequences \(a) and \(b) share \(shared.count) blocks over a \(common)-token common prefix")
            }
        }
        for id in running.keys { cache.free(id) }
        #expect(cache.statistics.usedBlocks == 0)
    }
}
