// How a request picks its next token, and when it stops. The defaults decode exactly as
// before these knobs existed: no penalties, no bias, one completion, no logprobs.

/// Sampling and stopping rules of one request. Temperature 0 means greedy; a beam width above
/// 1 runs a beam search instead (see `BeamSearch`).
///
/// A token is picked in Hugging Face's processors-then-warpers order: the raw logits get the
/// logit bias and the min-tokens suppression, then the repetition, frequency and presence
/// penalties; then temperature → top-k → top-p → min-p shape the distribution it is drawn from.
public struct SamplingParams: Hashable, Sendable {
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`.
    public var topP: Float
    /// Keep tokens whose probability (after temperature) is at least `minP` times the most
    /// likely token's; 0 keeps all.
    public var minP: Float
    /// Same seed, same model, same prompt → same tokens. `nil` draws a fresh seed.
    public var seed: UInt64?
    public var maxTokens: Int
    /// Keep generating past end-of-sequence tokens (benchmarks, parity runs).
    public var ignoreEOS: Bool

    /// Hugging Face's repetition penalty over the prompt and output tokens: a positive logit
    /// is divided by it, a negative one multiplied; 1 is off.
    public var repetitionPenalty: Float
    /// OpenAI's presence penalty: subtracted once from the logit of every token generated so
    /// far (the prompt does not count); 0 is off.
    public var presencePenalty: Float
    /// OpenAI's frequency penalty: subtracted from a token's logit once per time it was
    /// generated so far; 0 is off.
    public var frequencyPenalty: Float
    /// Added to the logits of the given token ids before anything else.
    public var logitBias: [Int32: Float]
    /// End-of-sequence and stop token ids cannot be picked (nor stop strings end the text)
    /// until this many tokens were generated.
    public var minTokens: Int
    /// Ids that end the completion like end-of-sequence (also with `ignoreEOS`); the id is
    /// the last output id.
    public var stopTokenIds: [Int32]
    /// Strings that end the completion once its text contains one; the text returned stops
    /// before it (the ids keep the token that completed it). Needs a tokenizer: the runtime
    /// gets the text from a `CompletionTextFactory`.
    public var stop: [String]
    /// Independent completions of the prompt; completion `i` draws from its own random stream
    /// derived from the seed (completion 0 from the seed itself).
    public var n: Int
    /// Report the log-probability of each chosen token and of the `logprobs` most likely
    /// tokens (0: the chosen one only), from the distribution it was drawn from; `nil` is off.
    public var logprobs: Int?
    /// Leave special tokens (end-of-turn markers and the like) out of the completion's text;
    /// the ids keep them either way.
    public var skipSpecialTokens: Bool

    /// Beams of a beam search (Hugging Face's `num_beams`); 1 is off. The `n` completions are
    /// then the `n` best finished beams, best first, each with its score.
    public var beamWidth: Int
    /// Beam search: a finished beam scores sum of log-probabilities / length^`lengthPenalty`
    /// (length counts its generated tokens); above 0 favours longer beams.
    public var lengthPenalty: Float
    /// Beam search: when to stop before `maxTokens` (Hugging Face's `early_stopping`).
    public var earlyStopping: EarlyStopping

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0, seed: UInt64? = nil, maxTokens: Int = 16,
                ignoreEOS: Bool = false, repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                logitBias: [Int32: Float] = [:], minTokens: Int = 0, stopTokenIds: [Int32] = [], stop: [String] = [], n: Int = 1,
                logprobs: Int? = nil, skipSpecialTokens: Bool = true, beamWidth: Int = 1, lengthPenalty: Float = 1, earlyStopping: EarlyStopping = .heuristic) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.seed = seed
        self.maxTokens = maxTokens
        self.ignoreEOS = ignoreEOS
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.minTokens = minTokens
        self.stopTokenIds = stopTokenIds
        self.stop = stop
        self.n = n
        self.logprobs = logprobs
        self.skipSpecialTokens = skipSpecialTokens
        self.beamWidth = beamWidth
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
    }

    /// Greedy decoding: the most likely token at every step.
    public static func greedy(maxTokens: Int) -> SamplingParams { SamplingParams(maxTokens: maxTokens) }

    /// Whether the request runs as a beam search.
    var isBeamSearch: Bool { beamWidth > 1 }

    /// Whether sampling reduces to taking the most likely token.
    var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// Whether the raw logits are changed before the warpers (penalties or bias); min-tokens
    /// suppression is decided per step.
    var processesLogits: Bool {
        repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 || !logitBias.isEmpty
    }

    /// Whether every pick needs the logits row on the host: for processing, for logprobs, or
    /// for min-p (which the backends' token choice does not do; it changes nothing greedy).
    var picksOnHost: Bool { processesLogits || logprobs != nil || (minP > 0 && !isGreedy) }
}
