// Causal attention over the paged KV cache: each step writes its new keys and values into
// the slots the runtime assigned, then every query attends to its sequence's cached prefix
// through the block table.

import KilnGraph
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one layer's blocks live and how a block is laid out: `[2 (K, V), kvHeads, tokensPerBlock, headDim]`.
struct LayerCache: @unchecked Sendable {
    /// Invariant: points at `numBlocks × elementsPerBlock` floats owned by the `KVCachePool`.
    let base: UnsafeMutablePointer<Float>
    let layout: KVCacheLayout

    @inline(__always)
    func key(slot: Int, kvHead: Int) -> UnsafeMutablePointer<Float> {
        let block = slot / layout.tokensPerBlock, offset = slot % layout.tokensPerBlock
        return base + block * layout.elementsPerBlock + (kvHead * layout.tokensPerBlock + offset) * layout.headDim
    }

    @inline(__always)
    func value(slot: Int, kvHead: Int) -> UnsafeMutablePointer<Float> {
        key(slot: slot, kvHead: kvHead) + layout.numKVHeads * layout.tokensPerBlock * layout.headDim
    }
}

/// Writes k and v `[tokens, kvHeads·headDim]` to their slots, then computes
/// `out [tokens, heads·headDim]` from q.
func pagedAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                    step: StepInputs, cache: LayerCache, attributes a: AttentionAttributes) {
    let d = a.headDim, kvWidth = a.numKVHeads * d, qWidth = a.numHeads * d
    for (t, slot) in step.slotMapping.enumerated() {
        for h in 0..<a.numKVHeads {
            cache.key(slot: Int(slot), kvHead: h).update(from: k + t * kvWidth + h * d, count: d)
            cache.value(slot: Int(slot), kvHead: h).update(from: v + t * kvWidth + h * d, count: d)
        }
    }
    // (sequence, index in the cache) of every token of the step
    var owners: [(sequence: Int, cacheIndex: Int)] = []
    owners.reserveCapacity(step.numTokens)
    var longest = 0
    for (s, sequence) in step.sequences.enumerated() {
        for i in 0..<sequence.newTokens { owners.append((s, sequence.cachedTokens + i)) }
        longest = max(longest, sequence.cachedTokens + sequence.newTokens)
    }
    let groupSize = a.numHeads / a.numKVHeads
    let tokensPerBlock = cache.layout.tokensPerBlock
    owners.withUnsafeBufferPointer { owners in
        parallelFor(owners.count * a.numHeads, cost: owners.count * a.numHeads * longest * d * 2) { tasks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: longest) { scores in
                for task in tasks {
                    let t = task / a.numHeads, h = task % a.numHeads, kvHead = h / groupSize
                    let (s, position) = owners[t]
                    let blockTable = step.sequences[s].blockTable
                    let first = a.slidingWindow.map { max(0, position - $0 + 1) } ?? 0
                    let query = q + t * qWidth + h * d
                    var maxScore = -Float.infinity
                    for j in first...position {
                        let slot = Int(blockTable[j / tokensPerBlock]) * tokensPerBlock + j % tokensPerBlock
                        let key = cache.key(slot: slot, kvHead: kvHead)
                        var dot: Float = 0
                        for e in 0..<d { dot += query[e] * key[e] }
                        let score = dot * a.scale
                        scores[j] = score
                        maxScore = max(maxScore, score)
                    }
                    var total: Float = 0
                    for j in first...position {
                        let weight = expf(scores[j] - maxScore)
                        scores[j] = weight
                        total += weight
                    }
                    let o = out + t * qWidth + h * d
                    o.initialize(repeating: 0, count: d)
                    for j in first...position {
                        let slot = Int(blockTable[j / tokensPerBlock]) * tokensPerBlock + j % tokensPerBlock
                        let value = cache.value(slot: slot, kvHead: kvHead)
                        let weight = scores[j] / total
                        for e in 0..<d { o[e] += weight * value[e] }
                    }
                }
            }
        }
    }
}
