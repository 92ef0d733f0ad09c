// What a finished request hands back: its tokens, why it ended, what it used and how long it
// took — the same shape from the batcher, the executor and `LLM`.

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// `maxTokens` were generated.
    case length
    /// An end-of-sequence token was generated (it is the last output id).
    case stop
    /// The request was cancelled: by its caller, its stream's consumer going away, or a
    /// shutdown that cancels what is in flight.
    case cancelled
}

/// The tokens of one finished request and how long they took.
public struct GenerationResult: Sendable {
    public var promptIds: [Int32]
    public var outputIds: [Int32]
    public var finishReason: FinishReason
    /// From submitting the prompt to the first generated token (time to first token).
    public var prefillTime: Duration
    /// Generating every token after the first.
    public var decodeTime: Duration
    /// Prompt tokens whose KV-cache blocks an earlier request left (not computed again).
    public var cachedPromptTokens: Int = 0

    /// Tokens per second after the first token (0 when only one was generated).
    public var decodeTokensPerSecond: Double {
        let seconds = decodeTime.inSeconds
        return outputIds.count > 1 && seconds > 0 ? Double(outputIds.count - 1) / seconds : 0
    }

    /// The request's token counts, as an API bills them.
    public var usage: Usage {
        Usage(promptTokens: promptIds.count, completionTokens: outputIds.count, cachedPromptTokens: cachedPromptTokens)
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

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case contextTooLong(promptTokens: Int, maxTokens: Int, capacity: Int)
    case sampling(SamplingError)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt has no tokens"
        case .contextTooLong(let prompt, let maxTokens, let capacity):
            "prompt (\(prompt) tokens) + max tokens (\(maxTokens)) exceed the context of \(capacity) tokens; shorten the prompt or lower --max-tokens"
        case .sampling(let error):
            error.description
        case .tokenOutOfRange(let token, let vocabularySize):
            "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
