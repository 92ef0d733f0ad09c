// In-flight batching: requests join and leave the running batch at every step. Each step
// (1) admits waiting requests the KV cache can hold, (2) schedules this step's tokens,
// (3) runs the model on all of them at once, (4) picks the next tokens, (5) appends them and
// retires finished requests — the executor's loop, on either backend.
//
// Where the backend runs steps asynchronously (a GPU), steps are queued one ahead: step k + 1 is queued before step k's picks reach the host, its
// decode rows taking those picks on the device, so the host's work between steps (taking the
// picks, stop strings, streams, scheduling) overlaps the device's. Step k + 1 is planned as if
// no sequence stops at step k; a row of a sequence that did is dropped when taken. A step
// that needs step k's picks on the host first — one picked on the host, or one that would
// preempt — waits for them.

import KilnGraph

/// A finished request's tokens.
public struct FinishedRequest: Sendable {
    public let id: SequenceID
    public let result: GenerationResult
}

/// A token a request generated in a step: the request's id and the token as a stream shows it
/// (which completion, its text, its logprobs).
public struct StepToken: Sendable {
    public let id: SequenceID
    public let token: GeneratedToken
}

/// The requests of one executable, stepped together. A request of `n` completions runs as `n`
/// sequences; the others start once the first has computed the prompt, and reuse its blocks.
/// A beam search does not join the batch: `runBeamSearch` runs it to its end between steps.
public final class InFlightBatcher {
    public let executable: any Executable
    public let eosTokenIds: Set<Int32>
    /// Makes each completion's text (and matches stop strings); `nil`: ids only.
    public let text: CompletionTextFactory?
    private let capacity: any CapacityScheduler
    private let microBatch: any MicroBatchScheduler
    private var cache: KVCacheManager
    private var waiting: [Sequence] = []
    private var running: [Sequence] = []
    private var requests: [SequenceID: Request] = [:]
    /// The step queued last, while its picks are not taken.
    private var inFlight: QueuedRows?
    /// Whether a step is queued before the previous one's picks are taken.
    private let queuesAhead: Bool
    private var nextRequest: SequenceID = 0
    private var nextSequence: SequenceID = 0
    private let clock = ContinuousClock()

    /// A submitted request while any of its completions runs.
    private struct Request {
        let prompt: [Int32]
        let submitted: ContinuousClock.Instant
        var firstToken: ContinuousClock.Instant?
        var cachedPromptTokens = 0
        /// Completions after the first, waiting for it to compute the prompt.
        var followers: [Sequence]
        var completions: [CompletionOutput?]
    }

    /// One completion: a sequence of the KV cache. A class: the batch's lists pass it around
    /// at every step, a reference where a copy would retain each of its arrays.
    private final class Sequence {
        /// The cache's id for it (ordered by submission: the largest is the newest).
        let id: SequenceID
        let request: SequenceID
        let prompt: [Int32]
        let maxTokens: Int
        var decoder: CompletionDecoder
        /// Tokens computed before the next pick: the prompt, or after a preemption the prompt
        /// and the output so far.
        var replay: [Int32]
        /// Tokens whose k and v are in the cache, or will be when the queued steps have run.
        var computed = 0
        /// Picks of queued steps not yet taken (the step in flight's, and the one being queued).
        var picksInFlight = 0

        var output: [Int32] { decoder.output }

        /// Whether a step of `count` new tokens picks its next token (it finishes the replay).
        func picks(after count: Int) -> Bool { computed + count >= replay.count }

        /// The step's tokens when it computes `count` new ones.
        func tokens(_ count: Int) -> [Int32] {
            computed < replay.count ? Array(replay[computed..<(computed + count)]) : [output.last!]
        }

        var scheduled: ScheduledRequest {
            ScheduledRequest(id: id, pendingPromptTokens: max(0, replay.count - computed),
                             remainingTokens: maxTokens - output.count - picksInFlight)
        }

        /// Whether a pick in flight is its last: it reaches max tokens.
        var endsWithPickInFlight: Bool { picksInFlight > 0 && output.count + picksInFlight >= maxTokens }

        init(id: SequenceID, request: SequenceID, prompt: [Int32], maxTokens: Int, decoder: CompletionDecoder) {
            (self.id, self.request, self.prompt, self.maxTokens, self.decoder, replay) = (id, request, prompt, maxTokens, decoder, prompt)
        }
    }

    /// One row of a queued step: a sequence's tokens in it.
    private struct QueuedRow {
        let sequence: Sequence
        /// The tokens; nil for the one token fed from the previous step's pick.
        let tokens: [Int32]?
        /// Whether the row picks the sequence's next token.
        let picks: Bool
    }

    /// A queued step: picked on the device (`step`) or already on the host (`hostPicks`).
    private struct QueuedRows {
        let rows: [QueuedRow]
        let step: QueuedStep?
        let hostPicks: [SampledToken?]
    }

    /// `queuesAhead`: queue each step before the previous one's picks are taken (false: one
    /// step at a time; the same tokens either way); by default where the backend queues steps
    /// asynchronously.
    public init(executable: any Executable, eosTokenIds: [Int], text: CompletionTextFactory? = nil,
                capacity: any CapacityScheduler = GuaranteedNoEvictScheduler(), microBatch: any MicroBatchScheduler = ChunkedPrefillScheduler(),
                queuesAhead: Bool? = nil) {
        self.executable = executable
        self.queuesAhead = queuesAhead ?? executable.queuesAsynchronously
        self.eosTokenIds = Set(eosTokenIds.map(Int32.init))
        self.text = text
        self.capacity = capacity
        self.microBatch = microBatch
        let layout = executable.kvCacheLayout
        cache = KVCacheManager(numBlocks: layout.numBlocks, tokensPerBlock: layout.tokensPerBlock)
    }

    /// Queues a request; it joins the batch at a coming step.
    public func submit(prompt: [Int32], _ params: SamplingParams) throws -> SequenceID {
        try validateRequest(prompt: prompt, params, on: executable, canMakeText: text != nil)
        // beams fork and die every step, which the batch's one-sequence-per-completion bookkeeping does not model
        guard !params.isBeamSearch else { throw GenerationError.beamSearchNotBatched }
        let id = nextRequest
        nextRequest += 1
        var sequences: [Sequence] = []
        for decoder in CompletionDecoder.completions(of: prompt, params, eosTokenIds: eosTokenIds, text: text) {
            sequences.append(Sequence(id: nextSequence, request: id, prompt: prompt, maxTokens: params.maxTokens, decoder: decoder))
            nextSequence += 1
        }
        waiting.append(sequences.removeFirst())
        requests[id] = Request(prompt: prompt, submitted: clock.now, followers: sequences, completions: Array(repeating: nil, count: params.n))
        return id
    }

    /// Whether requests are waiting or running, or a step's picks are still to be taken.
    public var hasWork: Bool { !requests.isEmpty || inFlight != nil }
    /// Requests with a completion in the running batch.
    public var runningRequests: Int { Set(running.map { $0.request }).count }
    /// Requests in flight with none in the running batch (queued, or all preempted).
    public var waitingRequests: Int { requests.count - runningRequests }

    /// The KV cache's blocks and prefix hits so far.
    public var cacheStatistics: KVCacheManager.Statistics { cache.statistics }
    /// Running requests preempted so far (their blocks freed, recomputed later).
    public private(set) var preemptions = 0
    /// The tokens the last `step()` (or `drain()`) took, in batch order (finished requests'
    /// last ones included), each with its request's id, for callers that stream them: those of
    /// the step queued before it, when steps are queued ahead.
    public private(set) var lastStepTokens: [StepToken] = []

    /// One turn of the loop: queues a step and takes the picks of the one queued before it
    /// (or of this one, when it cannot be queued ahead); returns the requests that finished.
    public func step() throws -> [FinishedRequest] {
        lastStepTokens = []
        var finished: [FinishedRequest] = []
        do {
            admit()
            var next = plan(ahead: inFlight != nil)
            if next == nil, let previous = inFlight {
                // the next step needs these picks first, or has nothing to run without them
                inFlight = nil
                finished += try take(previous)
                admit()
                next = plan(ahead: false)
            }
            guard let next else { return finished }
            let queued = try queue(next, after: inFlight)
            if let previous = inFlight { finished += try take(previous) }
            inFlight = queued
            if queued.step == nil || !queuesAhead {
                inFlight = nil
                finished += try take(queued)
            }
        } catch {
            // a failed step leaves nothing to take: the caller fails the running requests
            inFlight = nil
            throw error
        }
        return finished
    }

    /// Takes the picks of the step in flight, if any (before work that must not overlap a step,
    /// such as a beam search); returns the requests that finished.
    public func drain() throws -> [FinishedRequest] {
        lastStepTokens = []
        guard let previous = inFlight else { return [] }
        inFlight = nil
        return try take(previous)
    }

    /// The sequences the next step runs and their new tokens; nil when nothing runs, or — when
    /// queueing `ahead` of a step in flight — when the step needs that step's picks first.
    private func plan(ahead: Bool) -> [(sequence: Sequence, count: Int)]? {
        var candidates = running.filter { !$0.endsWithPickInFlight }
        let limits = executable.limits
        var counts = microBatch.schedule(candidates.map { $0.scheduled }, limits: StepBudget(maxNumTokens: limits.maxNumTokens, maxBatchSize: limits.maxBatchSize))
        if !capacity.reservesAhead {
            if ahead {
                // no preemption while a step runs: its rows would be lost
                for (sequence, count) in zip(candidates, counts) where count > 0 {
                    guard cache.reserve(sequence.id, tokens: sequence.computed + count) else { return nil }
                }
            } else {
                reserveOrPreempt(&counts)
                candidates = running
            }
        }
        let planned = zip(candidates, counts).filter { $0.1 > 0 }.map { (sequence: $0.0, count: $0.1) }
        guard !planned.isEmpty else { return nil }
        if ahead && planned.contains(where: { $0.sequence.picks(after: $0.count) && $0.sequence.decoder.picksOnHost }) { return nil }
        return planned
    }

    /// Queues the step of `planned`; a sequence whose token `previous` is still picking takes
    /// it on the device.
    private func queue(_ planned: [(sequence: Sequence, count: Int)], after previous: QueuedRows?) throws -> QueuedRows {
        var parts: [(tokens: [Int32], step: SequenceStep)] = [], rows: [QueuedRow] = [], fed: [Int?] = []
        // the output row of each pick in flight, found once (not a search of the rows per row)
        var pickRows: [ObjectIdentifier: Int] = [:]
        for (row, entry) in (previous?.rows ?? []).enumerated() where entry.picks { pickRows[ObjectIdentifier(entry.sequence)] = row }
        for (sequence, count) in planned {
            let source = pickRows[ObjectIdentifier(sequence)]
            let tokens = source == nil ? sequence.tokens(count) : nil
            parts.append((tokens ?? [0], SequenceStep(cachedTokens: sequence.computed, newTokens: count, blockTable: cache.blockTable(sequence.id))))
            fed += source.map { [$0] } ?? Array(repeating: nil, count: count)
            rows.append(QueuedRow(sequence: sequence, tokens: tokens, picks: sequence.picks(after: count)))
        }
        let step = StepInputs(sequences: parts, tokensPerBlock: executable.kvCacheLayout.tokensPerBlock)
        for (sequence, count) in planned { sequence.computed += count }
        for entry in rows where entry.picks { entry.sequence.picksInFlight += 1 }
        guard !rows.contains(where: { $0.picks && $0.sequence.decoder.picksOnHost }) else {
            // the decoders with the draws the picks made, moved (not copied) back: as the only
            // references to their histories and outputs, those grow in place instead of being copied
            var picking = rows.map { $0.picks ? $0.sequence.decoder : nil }
            let picked = try executable.forward(step, picking: &picking)
            for (row, entry) in rows.enumerated() where entry.picks { entry.sequence.decoder = picking[row].take()! }
            return QueuedRows(rows: rows, step: nil, hostPicks: picked)
        }
        // a prompt chunk that does not finish the prompt picks nothing (and draws no random number)
        let choices = rows.map { $0.picks ? $0.sequence.decoder.nextChoice() : .greedy }
        let feeds = fed.contains { $0 != nil } ? previous?.step.map { TokenFeeds(source: $0, rows: fed) } : nil
        let queued = try executable.queue(step, choices: choices, feeds: feeds)
        return QueuedRows(rows: rows, step: queued, hostPicks: [])
    }

    /// Books a queued step's rows and picks (skipping sequences that ended since it was
    /// queued) and retires the finished sequences.
    private func take(_ queued: QueuedRows) throws -> [FinishedRequest] {
        let ids = try queued.step.map { try executable.picks(of: $0) }
        var finished: [FinishedRequest] = []
        for (row, entry) in queued.rows.enumerated() {
            let sequence = entry.sequence
            if entry.picks { sequence.picksInFlight -= 1 }
            guard sequence.decoder.finishReason == nil else { continue }
            // a fed token is the previous step's pick, taken before this step
            cache.commit(sequence.id, tokens: entry.tokens ?? [sequence.output.last!])
            guard entry.picks, let token = ids.map({ SampledToken(token: $0[row]) }) ?? queued.hostPicks[row] else { continue }
            lastStepTokens.append(StepToken(id: sequence.request, token: sequence.decoder.accept(token)))
            if let done = noteToken(of: sequence) { finished.append(done) }
        }
        let done = running.filter { $0.decoder.finishReason != nil }
        guard !done.isEmpty else { return finished }
        for sequence in done { cache.free(sequence.id) }
        running.removeAll { $0.decoder.finishReason != nil }
        return finished
    }

    /// Steps until every submitted request has finished; their results by id.
    public func runUntilIdle() throws -> [SequenceID: GenerationResult] {
        var results: [SequenceID: GenerationResult] = [:]
        while hasWork {
            for done in try step() { results[done.id] = done.result }
        }
        return results
    }

    /// Books a sequence's new token with its request: the first token of the first completion
    /// lets the others start; a finished completion is kept; the last one finishes the request.
    private func noteToken(of sequence: Sequence) -> FinishedRequest? {
        // the request is changed in place (most steps change nothing), not copied out and back
        guard let slot = requests.index(forKey: sequence.request) else { return nil }
        if requests.values[slot].firstToken == nil {
            requests.values[slot].firstToken = clock.now
            // the prompt's full blocks are committed now, so the followers find them; they go
            // first in line, being part of a request that already runs
            waiting.insert(contentsOf: requests.values[slot].followers, at: 0)
            requests.values[slot].followers = []
        }
        guard sequence.decoder.finishReason != nil else { return nil }
        requests.values[slot].completions[sequence.decoder.index] = sequence.decoder.result
        let request = requests.values[slot], completions = request.completions.compactMap { $0 }
        guard completions.count == request.completions.count else { return nil }
        requests[sequence.request] = nil
        return FinishedRequest(id: sequence.request, result: GenerationResult(
            promptIds: request.prompt, completions: completions, prefillTime: request.firstToken! - request.submitted,
            decodeTime: clock.now - request.firstToken!, cachedPromptTokens: request.cachedPromptTokens))
    }

    /// Drops request `id` (every completion, waiting or running) and frees its KV blocks at
    /// once; returns its tokens so far (unfinished completions end `cancelled`), or nil when
    /// no such request is in flight.
    public func cancel(_ id: SequenceID) -> GenerationResult? {
        guard var request = requests.removeValue(forKey: id) else { return nil }
        // a waiting sequence holds no blocks (a preempted one gave them back)
        var unfinished = waiting.filter { $0.request == id } + request.followers
        waiting.removeAll { $0.request == id }
        for sequence in running where sequence.request == id {
            cache.free(sequence.id)
            unfinished.append(sequence)
        }
        running.removeAll { $0.request == id }
        for sequence in unfinished {
            sequence.decoder.cancel()
            request.completions[sequence.decoder.index] = sequence.decoder.result
        }
        let now = clock.now, firstToken = request.firstToken ?? now
        return GenerationResult(promptIds: request.prompt, completions: request.completions.map { $0! },
                                prefillTime: firstToken - request.submitted, decodeTime: now - firstToken,
                                cachedPromptTokens: request.cachedPromptTokens)
    }

    /// Runs a beam search to its end on the batcher's own KV cache and sequence ids, so the
    /// search and the batch share one pool (prefix blocks included). It runs between steps:
    /// the running requests keep their blocks and wait for it; the beams get the blocks left
    /// free. Its tokens are chosen only when it ends: they reach `onToken` then, best beam
    /// first. A step in flight must be taken first (`drain()`).
    public func runBeamSearch(prompt: [Int32], _ params: SamplingParams, onToken: (GeneratedToken) -> Void = { _ in }) throws -> GenerationResult {
        precondition(inFlight == nil, "drain() the step in flight before a beam search")
        try validateRequest(prompt: prompt, params, on: executable, canMakeText: text != nil)
        let start = clock.now
        var firstLogitsAt: ContinuousClock.Instant?
        var decoder = BeamSearchDecoder(executable: executable, prompt: prompt, params: params, eosTokenIds: eosTokenIds)
        let cachedPromptTokens = try decoder.run(cache: &cache, nextSequence: &nextSequence) { firstLogitsAt = clock.now }
        let completions = decoder.completions(text: text) { token in
            onToken(token)
            return true
        }
        let firstLogits = firstLogitsAt ?? clock.now
        return GenerationResult(promptIds: prompt, completions: completions, prefillTime: firstLogits - start,
                                decodeTime: clock.now - firstLogits, cachedPromptTokens: cachedPromptTokens)
    }

    /// Moves the waiting sequences the capacity scheduler admits into the running batch, each
    /// with its cached prefix and every block it may need. The batch holds at most a step's
    /// sequences: more could not run together, would hold blocks idle, and would make every
    /// step's bookkeeping longer.
    private func admit() {
        let layout = executable.kvCacheLayout, room = executable.limits.maxBatchSize - running.count
        guard room > 0, !waiting.isEmpty else { return }
        let count = capacity.admit(waiting.prefix(room).map { $0.scheduled }, freeBlocks: cache.statistics.freeBlocks,
                                   tokensPerBlock: layout.tokensPerBlock)
        for sequence in waiting.prefix(count) {
            let cached = cache.start(sequence.id, prompt: sequence.replay)
            let ahead = capacity.reservesAhead ? sequence.prompt.count + sequence.maxTokens : sequence.replay.count + 1
            guard cache.reserve(sequence.id, tokens: ahead) else {
                cache.free(sequence.id)
                break
            }
            sequence.computed = cached
            if sequence.output.isEmpty && sequence.decoder.index == 0 { requests[sequence.request]?.cachedPromptTokens = cached }
            running.append(sequence)
            waiting.removeFirst()
        }
    }

    /// Gives each scheduled sequence the blocks for this step's tokens; when the pool runs
    /// out, the newest running sequence gives its blocks back and waits (first in line) to
    /// recompute its prompt and output.
    private func reserveOrPreempt(_ counts: inout [Int]) {
        var i = 0
        while i < running.count {
            guard counts[i] > 0 else { i += 1; continue }
            if cache.reserve(running[i].id, tokens: running[i].computed + counts[i]) {
                i += 1
                continue
            }
            let newest = running.indices.max { running[$0].id < running[$1].id }!
            let preempted = running.remove(at: newest)
            counts.remove(at: newest)
            cache.free(preempted.id)
            preempted.replay = preempted.prompt + preempted.output
            preempted.computed = 0
            waiting.insert(preempted, at: 0)
            preemptions += 1
            if newest < i { i -= 1 }
        }
    }
}
