// What the runtime hands a backend for one forward step: the tokens, where they sit, and
// which KV-cache blocks each sequence owns.

/// One sequence's part of a step.
public struct SequenceStep: Hashable, Sendable {
    /// Tokens of this sequence already in the KV cache before this step.
    public var cachedTokens: Int
    /// Tokens this step processes for the sequence (the whole prompt in prefill, one in decode).
    public var newTokens: Int
    /// KV-cache blocks of the sequence in order: token `t` lives in block `blockTable[t / tokensPerBlock]`.
    public var blockTable: [Int32]

    public init(cachedTokens: Int, newTokens: Int, blockTable: [Int32]) {
        self.cachedTokens = cachedTokens
        self.newTokens = newTokens
        self.blockTable = blockTable
    }
}

/// The inputs of one forward step. Tokens of all sequences are packed in sequence order.
public struct StepInputs: Hashable, Sendable {
    public var tokenIds: [Int32]
    public var positions: [Int32]
    public var sequences: [SequenceStep]
    /// The KV-cache slot (block × tokensPerBlock + offset) each token's k and v are written to.
    public var slotMapping: [Int32]

    public init(tokenIds: [Int32], positions: [Int32], sequences: [SequenceStep], slotMapping: [Int32]) {
        self.tokenIds = tokenIds
        self.positions = positions
        self.sequences = sequences
        self.slotMapping = slotMapping
    }

    /// A step for sequences whose new tokens follow their cached ones, with slots derived
    /// from the block tables.
    public init(sequences: [(tokens: [Int32], step: SequenceStep)], tokensPerBlock: Int) {
        var ids: [Int32] = [], positions: [Int32] = [], slots: [Int32] = []
        for (tokens, step) in sequences {
            precondition(tokens.count == step.newTokens, "sequence has \(tokens.count) tokens but declares \(step.newTokens)")
            ids += tokens
            for position in step.cachedTokens..<(step.cachedTokens + step.newTokens) {
                positions.append(Int32(position))
                let block = step.blockTable[position / tokensPerBlock]
                slots.append(block * Int32(tokensPerBlock) + Int32(position % tokensPerBlock))
            }
        }
        self.init(tokenIds: ids, positions: positions, sequences: sequences.map(\.step), slotMapping: slots)
    }

    public var numTokens: Int { tokenIds.count }
    public var numSeqs: Int { sequences.count }
}

/// The geometry of a backend's paged KV-cache pool.
public struct KVCacheLayout: Hashable, Sendable {
    public var numLayers: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var tokensPerBlock: Int
    public var numBlocks: Int

    public init(numLayers: Int, numKVHeads: Int, headDim: Int, tokensPerBlock: Int, numBlocks: Int) {
        self.numLayers = numLayers
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.tokensPerBlock = tokensPerBlock
        self.numBlocks = numBlocks
    }

    /// Elements of one block of one layer: K and V for every KV head.
    public var elementsPerBlock: Int { 2 * numKVHeads * tokensPerBlock * headDim }
    public var capacityTokens: Int { numBlocks * tokensPerBlock }
}

extension StepInputs {
    /// The first token id outside `0..<vocabulary` (none when there is no vocabulary to check).
    public func tokenOutside(vocabulary: Int?) -> Int32? {
        vocabulary.flatMap { rows in tokenIds.first { $0 < 0 || Int($0) >= rows } }
    }

    /// What makes this step unrunnable on an executable with `limits` and `layout` (sequences
    /// of at most `maxBlocksPerSequence` blocks), or nil when it is self-consistent and fits.
    public func problem(limits: StepLimits, layout: KVCacheLayout, maxBlocksPerSequence: Int = .max) -> String? {
        guard numTokens > 0 else { return "no tokens" }
        guard numTokens <= limits.maxNumTokens, numSeqs <= limits.maxBatchSize else {
            return "\(numTokens) tokens in \(numSeqs) sequences exceed the engine's limit of \(limits) a step; "
                + "split the step, or rebuild with a larger --max-num-tokens / --max-batch-size"
        }
        guard positions.count == numTokens, slotMapping.count == numTokens else {
            return "\(numTokens) tokens but \(positions.count) positions and \(slotMapping.count) slots"
        }
        guard sequences.reduce(0, { $0 + $1.newTokens }) == numTokens, sequences.allSatisfy({ $0.newTokens > 0 }) else {
            return "the sequences' new tokens do not add up to the step's \(numTokens) tokens"
        }
        if let slot = slotMapping.first(where: { $0 < 0 || Int($0) >= layout.capacityTokens }) {
            return "KV slot \(slot) is outside the pool of \(layout.capacityTokens) slots"
        }
        for sequence in sequences {
            let needed = (sequence.cachedTokens + sequence.newTokens + layout.tokensPerBlock - 1) / layout.tokensPerBlock
            guard sequence.blockTable.count >= needed, sequence.blockTable.allSatisfy({ $0 >= 0 && Int($0) < layout.numBlocks }) else {
                return "a block table covers \(sequence.blockTable.count) of the \(needed) blocks its sequence needs"
            }
            guard needed <= maxBlocksPerSequence else {
                return "a sequence of \(sequence.cachedTokens + sequence.newTokens) tokens is longer than this executable's "
                    + "\(maxBlocksPerSequence * layout.tokensPerBlock); raise --max-seq-len"
            }
        }
        return nil
    }
}
