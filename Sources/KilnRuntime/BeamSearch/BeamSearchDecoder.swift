// A beam search on an executable: every step runs all beams of the request together, each beam
// a sequence of the KV cache. A beam that continues its parent takes over the parent's
// sequence (its blocks, nothing recomputed); a second child of the same parent forks it: the
// full blocks are shared (reference-counted), and only the tokens of the parent's partial last
// block are computed again, in the child's own block, alongside its first new token.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnGraph
import KilnTensor

/// One request's beam search: the search bookkeeping plus the KV-cache sequences of its beams.
struct BeamSearchDecoder {
    private let executable: any Executable
    private let prompt: [Int32]
    private let params: SamplingParams
    private let endTokenIds: [Int32]
    private(set) var search: BeamSearch
    /// The KV-cache sequence of each running beam; the first step's beams all share the prompt's.
    private var beamSequences: [SequenceID] = []
    /// Prompt and output tokens of each live sequence, and how many of them are in the cache.
    private var sequences: [SequenceID: (tokens: [Int32], computed: Int)] = [:]

    init(executable: any Executable, prompt: [Int32], params: SamplingParams, eosTokenIds: Set<Int32>) {
        self.executable = executable
        self.prompt = prompt
        self.params = params
        endTokenIds = Sampler.endTokenIds(params, eosTokenIds: eosTokenIds)
        search = BeamSearch(width: params.beamWidth, lengthPenalty: params.lengthPenalty, earlyStopping: params.earlyStopping,
                            maxTokens: params.maxTokens, endTokenIds: Set(endTokenIds))
    }

    /// Runs the search to its end, taking sequence ids from `nextSequence`; every block it
    /// holds is back in `cache` when it returns or throws. `onFirstLogits` marks the end of the
    /// prompt's step. Returns the prompt tokens found in the cache.
    mutating func run(cache: inout KVCacheManager, nextSequence: inout SequenceID, onFirstLogits: () -> Void) throws -> Int {
        let first = nextSequence
        nextSequence += 1
        let cachedPromptTokens = cache.start(first, prompt: prompt)
        sequences[first] = (prompt, cachedPromptTokens)
        beamSequences = Array(repeating: first, count: search.width)
        defer {
            for id in sequences.keys { cache.free(id) }
            sequences = [:]
        }
        while !search.isDone {
            let logits = try computeLogits(cache: &cache)
            if search.running[0].output.isEmpty { onFirstLogits() }
            let parents = search.advance(logprobs: logprobRows(logits))
            if !search.isDone { reassignSequences(parents: parents, cache: &cache, nextSequence: &nextSequence) }
        }
        return cachedPromptTokens
    }

    /// Computes every live sequence's pending tokens — one step when they fit the executable's
    /// limits — and returns each sequence's logits row for its last token.
    private mutating func computeLogits(cache: inout KVCacheManager) throws -> [SequenceID: [Float]] {
        let limits = executable.limits
        let tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        var live: [SequenceID] = []
        for id in beamSequences where !live.contains(id) { live.append(id) }
        for id in live {
            guard cache.reserve(id, tokens: sequences[id]!.tokens.count) else { throw GenerationError.kvCacheFullForBeams(beamWidth: search.width) }
            // a run longer than a step (a prompt; a fork's tail if blocks outsize steps) is computed
            // in chunks first, whose logits are not needed
            while sequences[id]!.tokens.count - sequences[id]!.computed > limits.maxNumTokens {
                _ = try executable.forward(StepInputs(sequences: [part(id, count: limits.maxNumTokens, cache: cache)], tokensPerBlock: tokensPerBlock))
                commit(id, count: limits.maxNumTokens, cache: &cache)
            }
        }
        var rows: [SequenceID: [Float]] = [:]
        var start = 0
        while start < live.count {
            // as many sequences as the step limits allow: all of them unless the beams are many
            var end = start, tokens = 0
            while end < live.count && end - start < limits.maxBatchSize {
                let pending = sequences[live[end]]!.tokens.count - sequences[live[end]]!.computed
                guard tokens + pending <= limits.maxNumTokens else { break }
                tokens += pending
                end += 1
            }
            let group = Array(live[start..<end])
            let parts = group.map { part($0, count: sequences[$0]!.tokens.count - sequences[$0]!.computed, cache: cache) }
            let logits = try executable.forward(StepInputs(sequences: parts, tokensPerBlock: tokensPerBlock))
            let width = logits.shape.last ?? 1
            logits.withUnsafeBytes { bytes in
                let values = bytes.assumingMemoryBound(to: Float.self)
                for (row, id) in group.enumerated() { rows[id] = Array(values[(row * width)..<((row + 1) * width)]) }
            }
            for (id, part) in zip(group, parts) { commit(id, count: part.step.newTokens, cache: &cache) }
            start = end
        }
        return rows
    }

    /// The next `count` uncomputed tokens of sequence `id` as part of a step.
    private func part(_ id: SequenceID, count: Int, cache: KVCacheManager) -> (tokens: [Int32], step: SequenceStep) {
        let sequence = sequences[id]!
        let tokens = Array(sequence.tokens[sequence.computed..<(sequence.computed + count)])
        return (tokens, SequenceStep(cachedTokens: sequence.computed, newTokens: count, blockTable: cache.blockTable(id)))
    }

    private mutating func commit(_ id: SequenceID, count: Int, cache: inout KVCacheManager) {
        let sequence = sequences[id]!
        cache.commit(id, tokens: Array(sequence.tokens[sequence.computed..<(sequence.computed + count)]))
        sequences[id]!.computed += count
    }

    /// Each running beam's row as Hugging Face scores it: log softmax of the logits, then the
    /// processors the parameters enable (on log-probabilities, as its beam search applies them).
    private func logprobRows(_ logits: [SequenceID: [Float]]) -> [[Float]] {
        var normalized: [SequenceID: [Float]] = [:]
        for (id, row) in logits { normalized[id] = Self.logSoftmax(row) }
        return search.running.indices.map { beam in
            var row = normalized[beamSequences[beam]]!
            let output = search.running[beam].output
            let suppressed = output.count < params.minTokens ? endTokenIds : []
            guard params.processesLogits || !suppressed.isEmpty else { return row }
            var history = TokenHistory(prompt: prompt)
            for token in output { history.record(token) }
            params.process(&row, history: history, suppressed: suppressed)
            return row
        }
    }

    /// Gives each new running beam its sequence: the first child of a parent takes the
    /// parent's, any further child forks it; sequences no beam continues are freed.
    private mutating func reassignSequences(parents: [Int], cache: inout KVCacheManager, nextSequence: inout SequenceID) {
        var taken: Set<SequenceID> = []
        var next: [SequenceID] = []
        for parent in parents {
            let source = beamSequences[parent]
            if taken.insert(source).inserted {
                next.append(source)
                continue
            }
            let child = nextSequence
            nextSequence += 1
            sequences[child] = (sequences[source]!.tokens, cache.fork(source, into: child))
            next.append(child)
        }
        // the forks copied their parents' tokens above, before the parents' new tokens go on
        for (beam, id) in next.enumerated() { sequences[id]!.tokens.append(search.running[beam].output.last!) }
        let kept = Set(next)
        for id in sequences.keys where !kept.contains(id) {
            cache.free(id)
            sequences[id] = nil
        }
        beamSequences = next
    }

    /// The `n` best finished beams as completions, best first. Their tokens reach `onToken`
    /// now that they are final (returning false stops the stream); `text` makes their text.
    func completions(text: CompletionTextFactory?, onToken: (GeneratedToken) -> Bool) -> [CompletionOutput] {
        var streaming = true
        return search.finished.prefix(params.n).enumerated().map { index, hypothesis in
            var completionText = text?([], true)
            var released = ""
            for (position, token) in hypothesis.output.enumerated() {
                var piece = completionText?.append(token, canStop: false).text ?? ""
                if position == hypothesis.output.count - 1 { piece += completionText?.finish() ?? "" }
                released += piece
                if streaming { streaming = onToken(GeneratedToken(id: token, completion: index, text: piece)) }
            }
            return CompletionOutput(outputIds: hypothesis.output, finishReason: hypothesis.finishReason,
                                    text: completionText == nil ? nil : released, score: hypothesis.score)
        }
    }

    /// log softmax as torch computes it in f32: x − max − log Σ exp(x − max).
    static func logSoftmax(_ logits: [Float]) -> [Float] {
        let top = logits.max() ?? 0
        var sum: Double = 0
        for logit in logits { sum += Double(expf(logit - top)) }
        let logSum = Float(log(sum))
        return logits.map { $0 - top - logSum }
    }
}
