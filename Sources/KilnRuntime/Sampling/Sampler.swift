// Picks the next token of one completion. Rows that need no host work are picked by
// TokenChoice — on the backend (`nextChoice`) or the host (`sample`), the same token for the
// same draw. Rows with penalties, bias, active min-tokens suppression, logprobs or min-p are
// processed and drawn on the host (`sample`), from a SamplingDistribution.

import KilnGraph

/// A pick made on the host.
public struct SampledToken: Hashable, Sendable {
    public var token: Int32
    /// Set when the parameters ask for logprobs.
    public var logprobs: TokenLogprobs?

    public init(token: Int32, logprobs: TokenLogprobs? = nil) {
        self.token = token
        self.logprobs = logprobs
    }
}

/// Turns logits into tokens for one completion; owns its random stream and the token history
/// the penalties and min-tokens read. Every generated token, however picked, goes to `record`.
public struct Sampler: Sendable {
    public let params: SamplingParams
    private var random: RandomSource
    public private(set) var history: TokenHistory
    /// The ids that end the completion, which min-tokens suppresses: the stop token ids, and
    /// the end-of-sequence ids unless ignored.
    public let endTokenIds: [Int32]

    /// A sampler for a completion of `prompt`; `seed` replaces the parameters' (a request's
    /// further completions), and without either a fresh one is drawn.
    public init(_ params: SamplingParams, prompt: [Int32] = [], eosTokenIds: Set<Int32> = [], seed: UInt64? = nil) {
        self.params = params
        random = RandomSource(seed: seed ?? params.seed ?? UInt64.random(in: .min ... .max))
        history = TokenHistory(prompt: prompt)
        endTokenIds = Self.endTokenIds(params, eosTokenIds: eosTokenIds)
    }

    /// The ids that end a completion under `params`: its stop token ids, and the
    /// end-of-sequence ids unless ignored.
    static func endTokenIds(_ params: SamplingParams, eosTokenIds: Set<Int32>) -> [Int32] {
        Set(params.stopTokenIds).union(params.ignoreEOS ? [] : eosTokenIds).sorted()
    }

    /// Whether the next pick needs the logits row on the host (`sample`), not just a
    /// `nextChoice` for the backend.
    public var picksOnHost: Bool { params.picksOnHost || isSuppressing }

    /// Whether min-tokens still keeps the end ids from being picked.
    private var isSuppressing: Bool { history.outputCount < params.minTokens && !endTokenIds.isEmpty }

    /// How the backend picks the next token: the parameters and, when sampling, a fresh
    /// uniform draw from this completion's stream (greedy draws nothing). Only for picks that
    /// need no host work (`picksOnHost` false).
    public mutating func nextChoice() -> TokenChoice {
        guard !params.isGreedy else { return .greedy }
        return TokenChoice(temperature: params.temperature, topK: params.topK, topP: params.topP, uniform: random.nextUnitFloat())
    }

    /// The next token for `logits` (one raw row of vocabulary size), picked on the host with
    /// the same draw `nextChoice` would make.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> SampledToken {
        let choice = nextChoice()
        guard picksOnHost else { return SampledToken(token: choice.pick(logits)) }
        var row = Array(logits)
        params.process(&row, history: history, suppressed: isSuppressing ? endTokenIds : [])
        let distribution = SamplingDistribution(row, params: params)
        let token = distribution.pick(uniform: choice.uniform)
        return SampledToken(token: token, logprobs: params.logprobs.map { distribution.logprobs(of: token, top: $0) })
    }

    /// Adds a generated token to the history.
    public mutating func record(_ token: Int32) { history.record(token) }
}
