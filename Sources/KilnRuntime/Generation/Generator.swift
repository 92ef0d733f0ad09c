// The first generation loop: one request at a time, prefill then decode, through the paged
// KV cache. The in-flight batching executor replaces the loop, not the pieces it uses.

import KilnGraph
import KilnTensor

/// Runs requests one after another on an executable; a request whose prompt starts like an
/// earlier one's reuses that prefix's KV-cache blocks, and so do the `n` completions of one
/// request, run one after another. A beam search's beams run together, one step for all.
public final class Generator {
    public let executable: any Executable
    public let eosTokenIds: Set<Int32>
    /// Makes each completion's text (and matches stop strings); `nil`: ids only.
    public let text: CompletionTextFactory?
    private var cache: KVCacheManager
    private var nextSequence: SequenceID = 0

    public init(executable: any Executable, eosTokenIds: [Int], text: CompletionTextFactory? = nil) {
        self.executable = executable
        self.eosTokenIds = Set(eosTokenIds.map(Int32.init))
        self.text = text
        cache = KVCacheManager(numBlocks: executable.kvCacheLayout.numBlocks, tokensPerBlock: executable.kvCacheLayout.tokensPerBlock)
    }

    /// The KV cache's blocks and prefix hits so far.
    public var cacheStatistics: KVCacheManager.Statistics { cache.statistics }

    /// The completions of `prompt`; `onToken` sees each token as soon as it is chosen and
    /// returns whether to go on (false ends every completion). A beam search's tokens are
    /// chosen only when it ends: they reach `onToken` then, best beam first.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> GenerationResult {
        try validateRequest(prompt: prompt, params, on: executable, canMakeText: text != nil)
        if params.isBeamSearch { return try generateBeams(prompt: prompt, params, onToken: onToken) }
        let clock = ContinuousClock()
        let start = clock.now
        var firstTokenAt: ContinuousClock.Instant?
        var cachedPromptTokens = 0
        var cancelled = false
        var completions: [CompletionOutput] = []
        for var decoder in CompletionDecoder.completions(of: prompt, params, eosTokenIds: eosTokenIds, text: text) {
            if cancelled {
                decoder.cancel()
            } else {
                let cached = try decode(&decoder, prompt: prompt, maxTokens: params.maxTokens) { token in
                    if firstTokenAt == nil { firstTokenAt = clock.now }
                    cancelled = !onToken(token)
                    return !cancelled
                }
                if decoder.index == 0 { cachedPromptTokens = cached }
            }
            completions.append(decoder.result)
        }
        let firstToken = firstTokenAt ?? clock.now
        return GenerationResult(promptIds: prompt, completions: completions, prefillTime: firstToken - start,
                                decodeTime: clock.now - firstToken, cachedPromptTokens: cachedPromptTokens)
    }

    /// The `n` best beams of a beam search, all beams stepped together.
    private func generateBeams(prompt: [Int32], _ params: SamplingParams, onToken: (GeneratedToken) -> Bool) throws -> GenerationResult {
        let clock = ContinuousClock()
        let start = clock.now
        var firstLogitsAt: ContinuousClock.Instant?
        var decoder = BeamSearchDecoder(executable: executable, prompt: prompt, params: params, eosTokenIds: eosTokenIds)
        let cachedPromptTokens = try decoder.run(cache: &cache, nextSequence: &nextSequence) { firstLogitsAt = clock.now }
        let completions = decoder.completions(text: text, onToken: onToken)
        let firstLogits = firstLogitsAt ?? clock.now
        return GenerationResult(promptIds: prompt, completions: completions, prefillTime: firstLogits - start,
                                decodeTime: clock.now - firstLogits, cachedPromptTokens: cachedPromptTokens)
    }

    /// Runs one completion to its end; returns the prompt tokens found in the cache.
    private func decode(_ decoder: inout CompletionDecoder, prompt: [Int32], maxTokens: Int, onToken: (GeneratedToken) -> Bool) throws -> Int {
        let layout = executable.kvCacheLayout
        let sequence = nextSequence
        nextSequence += 1
        let cachedPromptTokens = cache.start(sequence, prompt: prompt)
        defer { cache.free(sequence) }
        guard cache.reserve(sequence, tokens: prompt.count + maxTokens) else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: maxTokens,
                                                 capacity: cache.statistics.freeBlocks * layout.tokensPerBlock)
        }
        let blocks = cache.blockTable(sequence)
        var pending = Array(prompt[cachedPromptTokens...])
        func step(_ tokens: ArraySlice<Int32>) -> StepInputs {
            let cached = prompt.count + decoder.output.count - pending.count
            return StepInputs(sequences: [(Array(tokens), SequenceStep(cachedTokens: cached, newTokens: tokens.count, blockTable: blocks))],
                              tokensPerBlock: layout.tokensPerBlock)
        }
        // a prompt longer than a step may hold is prefilled in chunks; only the last one's logits count
        let chunk = executable.limits.maxNumTokens
        while pending.count > chunk {
            _ = try executable.forward(step(pending.prefix(chunk)))
            cache.commit(sequence, tokens: Array(pending.prefix(chunk)))
            pending.removeFirst(chunk)
        }
        while decoder.finishReason == nil {
            var picking: [CompletionDecoder?] = [decoder]
            let picked = try executable.forward(step(pending[...]), picking: &picking)[0]!
            decoder = picking[0].take()!  // moved back, so accept grows its history in place
            cache.commit(sequence, tokens: pending)
            guard onToken(decoder.accept(picked)) else {
                decoder.cancel()
                break
            }
            pending = [picked.token]
        }
        return cachedPromptTokens
    }
}
