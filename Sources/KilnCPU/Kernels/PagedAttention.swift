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
                    step: StepInputs, cache: LayerCache, attributes a: AttentionPlugin) {
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
                    let first = a.slidingWindow.map { max(0, position - $0 + 1) } ?? 0
                    let query = q + t * qWidth + h * d
                    let o = out + t * qWidth + h * d
                    step.sequences[s].blockTable.withUnsafeBufferPointer { blockTable in
                        // keys and values of one block and head are contiguous, `d` apart:
                        // walk them block by block instead of dividing per token
                        func forEachCached(_ body: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
                            var j = first
                            while j <= position {
                                let offset = j % tokensPerBlock
                                let slot = Int(blockTable[j / tokensPerBlock]) * tokensPerBlock + offset
                                var key = cache.key(slot: slot, kvHead: kvHead), value = cache.value(slot: slot, kvHead: kvHead)
                                for _ in offset..<min(tokensPerBlock, offset + position - j + 1) {
                                    body(j, key, value)
                                    key += d
                                    value += d
                                    j += 1
                                }
                            }
                        }
                        var maxScore = -Float.infinity
                        forEachCached { j, key, _ in
                            let score = dot(query, key, count: d) * a.scale
                            scores[j] = score
                            maxScore = max(maxScore, score)
                        }
                        var total: Float = 0
                        for j in first...position {
                            let weight = expf(scores[j] - maxScore)
                            scores[j] = weight
                            total += weight
                        }
                        o.initialize(repeating: 0, count: d)
                        forEachCached { j, _, value in addScaled(value, scores[j] / total, into: o, count: d) }
                    }
                }
            }
        }
    }
}

/// `Σ a[i] · b[i]` in chunks of 8.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        sum += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var total = sum.sum()
    while i < count {
        total += a[i] * b[i]
        i += 1
    }
    return total
}

/// `out += x · weight`.
@inline(__always)
private func addScaled(_ x: UnsafePointer<Float>, _ weight: Float, into out: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let sum = UnsafeRawPointer(out + i).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * weight
        UnsafeMutableRawPointer(out + i).storeBytes(of: sum, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        out[i] += x[i] * weight
        i += 1
    }
}
