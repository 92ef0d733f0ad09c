// What a request gives back: each completion's tokens (and text and logprobs when asked),
// why it ended, and how long the request took — streamed token by token as GeneratedToken.

/// Why a completion ended.
public enum FinishReason: String, Sendable, Codable {
    /// `maxTokens` were generated.
    case length
    /// An end-of-sequence or stop token id (the last output id), or a stop string (the text
    /// ends before it) ended it.
    case stop
    /// The request was cancelled: by its caller (`onToken` returned false, `Executor.cancel`),
    /// its stream's consumer going away, or a shutdown that cancels what is in flight.
    case cancelled
}

/// One completion of a request.
public struct CompletionOutput: Sendable {
    public var outputIds: [Int32]
    public var finishReason: FinishReason
    /// The detokenized output, cut before a stop string; `nil` when the runtime was given no
    /// way to make text (no tokenizer).
    public var text: String?
    /// One entry per output id when the parameters asked for logprobs.
    public var logprobs: [TokenLogprobs]?
    /// A beam search's score of the completion (its beam): the sum of its tokens'
    /// log-probabilities / its length^lengthPenalty; `nil` without beam search.
    public var score: Float?

    public init(outputIds: [Int32], finishReason: FinishReason, text: String? = nil, logprobs: [TokenLogprobs]? = nil, score: Float? = nil) {
        self.outputIds = outputIds
        self.finishReason = finishReason
        self.text = text
        self.logprobs = logprobs
        self.score = score
    }
}

/// The completions of one finished request and how long they took.
public struct GenerationResult: Sendable {
    public var promptIds: [Int32]
    /// `n` completions, in order.
    public var completions: [CompletionOutput]
    /// From submitting the prompt to the first generated token.
    public var prefillTime: Duration
    /// Generating every token after the first (of all completions).
    public var decodeTime: Duration
    /// Prompt tokens whose KV-cache blocks an earlier request left (not computed again), for
    /// the first completion; the others reuse the first's.
    public var cachedPromptTokens: Int = 0

    /// The first completion's tokens (the only one unless n > 1).
    public var outputIds: [Int32] { completions[0].outputIds }
    /// Why the first completion ended.
    public var finishReason: FinishReason { completions[0].finishReason }

    /// Tokens per second after the first token (0 when only one was generated).
    public var decodeTokensPerSecond: Double {
        let seconds = decodeTime.inSeconds
        let tokens = completions.reduce(0) { $0 + $1.outputIds.count }
        return tokens > 1 && seconds > 0 ? Double(tokens - 1) / seconds : 0
    }

    /// The request's token counts, as an API bills them (completion tokens of every completion).
    public var usage: Usage {
        Usage(promptTokens: promptIds.count, completionTokens: completions.reduce(0) { $0 + $1.outputIds.count },
              cachedPromptTokens: cachedPromptTokens)
    }
}

/// Tokens a request read and wrote.
public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Of the prompt tokens, those found in the prefix cache.
    public var cachedPromptTokens: Int

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

/// A token as it is generated, for streaming.
public struct GeneratedToken: Sendable {
    public var id: Int32
    /// Which of the request's completions it belongs to.
    public var completion: Int
    /// The text it releases: "" without a tokenizer, mid-character, or while the text might
    /// be the start of a stop string; with the completion's last token, everything held back.
    public var text: String
    public var logprobs: TokenLogprobs?
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case contextTooLong(promptTokens: Int, maxTokens: Int, capacity: Int)
    case sampling(SamplingError)
    /// Stop strings were given to a runtime that cannot turn tokens into text.
    case stopStringsNeedTokenizer
    /// `InFlightBatcher.submit` was given a beam search, which runs through `runBeamSearch`.
    case beamSearchNotBatched
    /// The KV cache ran out of blocks for a beam search's beams.
    case kvCacheFullForBeams(beamWidth: Int)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt has no tokens"
        case .contextTooLong(let prompt, let maxTokens, let capacity):
            "prompt (\(prompt) tokens) + max tokens (\(maxTokens)) exceed the context of \(capacity) tokens; shorten the prompt or lower --max-tokens"
        case .sampling(let error):
            error.description
        case .stopStringsNeedTokenizer:
            "stop strings need the model's tokenizer to match text; use stop_token_ids, or load a model with a tokenizer"
        case .beamSearchNotBatched:
            "beam search (beam_width > 1) runs to completion between steps (InFlightBatcher.runBeamSearch), not in the running batch"
        case .kvCacheFullForBeams(let beamWidth):
            "the KV cache cannot hold \(beamWidth) beams of this request; lower the beam width or max tokens, or build with a larger --max-seq-len"
        case .tokenOutOfRange(let token, let vocabularySize):
            "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
