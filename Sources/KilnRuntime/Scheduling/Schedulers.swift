// The two decisions of every step, as small types a user may replace: which waiting requests
// join the running batch (capacity), and what each running request computes this step
// (micro-batch: decode tokens first, then prompt chunks, within the step's token budget).

/// A request as the schedulers see it.
public struct ScheduledRequest: Sendable, Equatable {
    public let id: SequenceID
    /// Prompt tokens not yet in the KV cache.
    public var pendingPromptTokens: Int
    /// Tokens the request may still add to the cache (prompt and output), at most.
    public var remainingTokens: Int
    /// Whether the prompt is done and the request decodes one token a step.
    public var isDecoding: Bool { pendingPromptTokens == 0 }

    public init(id: SequenceID, pendingPromptTokens: Int, remainingTokens: Int) {
        self.id = id
        self.pendingPromptTokens = pendingPromptTokens
        self.remainingTokens = remainingTokens
    }
}

/// Decides which waiting requests start running.
public protocol CapacityScheduler: Sendable {
    /// The prefix of `waiting` (in arrival order) to admit, given the free KV blocks.
    func admit(_ waiting: [ScheduledRequest], freeBlocks: Int, tokensPerBlock: Int) -> Int
    /// Whether an admitted request gets every block it may need at once (nothing running is
    /// ever preempted), or blocks step by step (the newest request is preempted when they
    /// run out, and recomputed later).
    var reservesAhead: Bool { get }
}

/// Admits a request only when every token it may ever need fits beside what is reserved, so
/// nothing running is ever evicted.
public struct GuaranteedNoEvictScheduler: CapacityScheduler {
    public init() {}

    public var reservesAhead: Bool { true }

    public func admit(_ waiting: [ScheduledRequest], freeBlocks: Int, tokensPerBlock: Int) -> Int {
        admitWhileTheyFit(waiting, freeBlocks: freeBlocks) { ($0.pendingPromptTokens + $0.remainingTokens + tokensPerBlock - 1) / tokensPerBlock }
    }
}

/// Admits every request whose pending tokens fit the free blocks now, keeping the pool full;
/// when running requests outgrow it, the newest is preempted: its blocks are freed, and it
/// resumes later by recomputing its prompt and output (nothing is lost).
public struct MaxUtilizationScheduler: CapacityScheduler {
    public init() {}

    public var reservesAhead: Bool { false }

    public func admit(_ waiting: [ScheduledRequest], freeBlocks: Int, tokensPerBlock: Int) -> Int {
        // its pending tokens and the first output
        admitWhileTheyFit(waiting, freeBlocks: freeBlocks) { ($0.pendingPromptTokens + tokensPerBlock) / tokensPerBlock }
    }
}

/// How many of `waiting`, in order, fit `freeBlocks` when each takes `blocks` of them.
private func admitWhileTheyFit(_ waiting: [ScheduledRequest], freeBlocks: Int, blocks: (ScheduledRequest) -> Int) -> Int {
    var free = freeBlocks, admitted = 0
    for request in waiting {
        guard blocks(request) <= free else { break }
        free -= blocks(request)
        admitted += 1
    }
    return admitted
}

/// Decides the tokens each running request computes in one step.
public protocol MicroBatchScheduler: Sendable {
    /// New tokens per running request (0: not this step), in the order given.
    func schedule(_ running: [ScheduledRequest], limits: StepBudget) -> [Int]
}

/// What one step may hold.
public struct StepBudget: Sendable, Equatable {
    public var maxNumTokens: Int
    public var maxBatchSize: Int

    public init(maxNumTokens: Int, maxBatchSize: Int) {
        self.maxNumTokens = maxNumTokens
        self.maxBatchSize = maxBatchSize
    }
}

/// Every decoding request gets its token, then prompts take what is left of the token budget
/// in arrival order, a long prompt split across steps (chunked prefill).
public struct ChunkedPrefillScheduler: MicroBatchScheduler {
    public init() {}

    public func schedule(_ running: [ScheduledRequest], limits: StepBudget) -> [Int] {
        var tokens = [Int](repeating: 0, count: running.count)
        var budget = limits.maxNumTokens, sequences = 0
        for (i, request) in running.enumerated() where request.isDecoding && budget > 0 && sequences < limits.maxBatchSize {
            tokens[i] = 1
            budget -= 1
            sequences += 1
        }
        for (i, request) in running.enumerated() where !request.isDecoding && budget > 0 && sequences < limits.maxBatchSize {
            tokens[i] = min(request.pendingPromptTokens, budget)
            budget -= tokens[i]
            sequences += 1
        }
        return tokens
    }
}
