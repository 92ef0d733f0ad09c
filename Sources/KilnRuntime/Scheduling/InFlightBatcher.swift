// In-flight batching: requests join and leave the running batch at every step. Each step
// (1) admits waiting requests the KV cache can hold, (2) schedules this step's tokens,
// (3) runs the model on all of them at once, (4) picks the next tokens, (5) appends them and
// retires finished requests — the executor's loop, on either backend.

import KilnGraph

/// A finished request's tokens.
public struct FinishedRequest: Sendable {
    public let id: SequenceID
    public let result: GenerationResult
}

/// A token a request generated in a step.
public struct GeneratedToken: Sendable, Equatable {
    public let id: SequenceID
    public let token: Int32
}

/// The requests of one executable, stepped together.
public final class InFlightBatcher {
    public let executable: any Executable
    public let eosTokenIds: Set<Int32>
    private let capacity: any CapacityScheduler
    private let microBatch: any MicroBatchScheduler
    private var cache: KVCacheManager
    private var waiting: [Request] = []
    private var running: [Request] = []
    private var nextID: SequenceID = 0
    private let clock = ContinuousClock()

    private struct Request {
        let id: SequenceID
        let prompt: [Int32]
        let params: SamplingParams
        var sampler: Sampler
        var output: [Int32] = []
        /// Tokens computed before the next pick: the prompt, or after a preemption the prompt
        /// and the output so far.
        var replay: [Int32]
        /// Tokens whose k and v are in the cache.
        var computed = 0
        var cachedPromptTokens = 0
        let submitted: ContinuousClock.Instant
        var firstToken: ContinuousClock.Instant?

        /// The step's tokens when it computes `count` new ones.
        func tokens(_ count: Int) -> [Int32] {
            computed < replay.count ? Array(replay[computed..<(computed + count)]) : [output.last!]
        }
    }

    public init(executable: any Executable, eosTokenIds: [Int], capacity: any CapacityScheduler = GuaranteedNoEvictScheduler(),
                microBatch: any MicroBatchScheduler = ChunkedPrefillScheduler()) {
        self.executable = executable
        self.eosTokenIds = Set(eosTokenIds.map(Int32.init))
        self.capacity = capacity
        self.microBatch = microBatch
        let layout = executable.kvCacheLayout
        cache = KVCacheManager(numBlocks: layout.numBlocks, tokensPerBlock: layout.tokensPerBlock)
    }

    /// Queues a request; it joins the batch at a coming step.
    public func submit(prompt: [Int32], _ params: SamplingParams) throws -> SequenceID {
        do { try params.validate() } catch { throw GenerationError.sampling(error) }
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        let layout = executable.kvCacheLayout
        guard prompt.count + params.maxTokens <= layout.capacityTokens else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: params.maxTokens, capacity: layout.capacityTokens)
        }
        let id = nextID
        nextID += 1
        waiting.append(Request(id: id, prompt: prompt, params: params, sampler: Sampler(params), replay: prompt, submitted: clock.now))
        return id
    }

    /// Whether requests are waiting or running.
    public var hasWork: Bool { !waiting.isEmpty || !running.isEmpty }

    /// The KV cache's blocks and prefix hits so far.
    public var cacheStatistics: KVCacheManager.Statistics { cache.statistics }
    /// Running requests preempted so far (their blocks freed, recomputed later).
    public private(set) var preemptions = 0
    /// The tokens the last `step()` generated, in batch order (finished requests' last ones
    /// included), for callers that stream them.
    public private(set) var lastStepTokens: [GeneratedToken] = []

    /// One step of the loop; returns the requests that finished in it.
    public func step() throws -> [FinishedRequest] {
        lastStepTokens = []
        admit()
        let scheduled = running.map { request in
            ScheduledRequest(id: request.id, pendingPromptTokens: max(0, request.replay.count - request.computed),
                             remainingTokens: request.params.maxTokens - request.output.count)
        }
        let limits = executable.limits
        var counts = microBatch.schedule(scheduled, limits: StepBudget(maxNumTokens: limits.maxNumTokens, maxBatchSize: limits.maxBatchSize))
        if !capacity.reservesAhead { reserveOrPreempt(&counts) }
        let chosen = running.indices.filter { counts[$0] > 0 }
        guard !chosen.isEmpty else { return [] }
        var parts: [(tokens: [Int32], step: SequenceStep)] = []
        var choices: [TokenChoice] = []
        for i in chosen {
            let request = running[i]
            parts.append((request.tokens(counts[i]), SequenceStep(cachedTokens: request.computed, newTokens: counts[i], blockTable: cache.blockTable(request.id))))
            // a prompt chunk that does not finish the prompt picks nothing (and draws no random number)
            choices.append(request.computed + counts[i] >= request.replay.count ? running[i].sampler.nextChoice() : .greedy)
        }
        let ids = try executable.forward(StepInputs(sequences: parts, tokensPerBlock: executable.kvCacheLayout.tokensPerBlock), choices: choices)
        var finished: [FinishedRequest] = []
        for (row, i) in chosen.enumerated() {
            cache.commit(running[i].id, tokens: parts[row].tokens)
            running[i].computed += counts[i]
            guard running[i].computed >= running[i].replay.count else { continue }
            let token = ids[row]
            running[i].output.append(token)
            lastStepTokens.append(GeneratedToken(id: running[i].id, token: token))
            if running[i].firstToken == nil { running[i].firstToken = clock.now }
            let request = running[i]
            let stop = !request.params.ignoreEOS && eosTokenIds.contains(token)
            if stop || request.output.count >= request.params.maxTokens {
                finished.append(FinishedRequest(id: request.id, result: GenerationResult(
                    promptIds: request.prompt, outputIds: request.output, finishReason: stop ? .stop : .length,
                    prefillTime: request.firstToken! - request.submitted, decodeTime: clock.now - request.firstToken!,
                    cachedPromptTokens: request.cachedPromptTokens)))
            }
        }
        for done in finished {
            cache.free(done.id)
            running.removeAll { $0.id == done.id }
        }
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

    /// Drops request `id`, waiting or running, and frees its KV blocks at once; returns its
    /// tokens so far (finish reason `cancelled`), or nil when no such request is in flight.
    public func cancel(_ id: SequenceID) -> GenerationResult? {
        if let index = waiting.firstIndex(where: { $0.id == id }) {
            // a waiting request holds no blocks (a preempted one gave them back)
            return cancelledResult(waiting.remove(at: index))
        }
        guard let index = running.firstIndex(where: { $0.id == id }) else { return nil }
        cache.free(id)
        return cancelledResult(running.remove(at: index))
    }

    private func cancelledResult(_ request: Request) -> GenerationResult {
        let now = clock.now, firstToken = request.firstToken ?? now
        return GenerationResult(promptIds: request.prompt, outputIds: request.output, finishReason: .cancelled,
                                prefillTime: firstToken - request.submitted, decodeTime: now - firstToken,
                                cachedPromptTokens: request.cachedPromptTokens)
    }

    /// Moves the waiting requests the capacity scheduler admits into the running batch, each
    /// with its cached prefix and every block it may need.
    private func admit() {
        let layout = executable.kvCacheLayout
        let candidates = waiting.map {
            ScheduledRequest(id: $0.id, pendingPromptTokens: $0.replay.count, remainingTokens: $0.params.maxTokens - $0.output.count)
        }
        let count = capacity.admit(candidates, freeBlocks: cache.statistics.freeBlocks, tokensPerBlock: layout.tokensPerBlock)
        for var request in waiting.prefix(count) {
            let cached = cache.start(request.id, prompt: request.replay)
            let ahead = capacity.reservesAhead ? request.prompt.count + request.params.maxTokens : request.replay.count + 1
            guard cache.reserve(request.id, tokens: ahead) else {
                cache.free(request.id)
                break
            }
            request.computed = cached
            if request.output.isEmpty { request.cachedPromptTokens = cached }
            running.append(request)
            waiting.removeFirst()
        }
    }

    /// Gives each scheduled request the blocks for this step's tokens; when the pool runs
    /// out, the newest running request gives its blocks back and waits (first in line) to
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
            var preempted = running.remove(at: newest)
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
