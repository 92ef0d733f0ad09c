// Log-probabilities reported with each chosen token (the OpenAI `logprobs` field).

/// A token and its log-probability.
public struct Logprob: Hashable, Sendable {
    public var token: Int32
    public var logprob: Float

    public init(token: Int32, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }
}

/// The chosen token's log-probability and the most likely alternatives, from the distribution
/// the token was drawn from (see `SamplingDistribution`).
public struct TokenLogprobs: Hashable, Sendable {
    public var token: Int32
    public var logprob: Float
    /// The requested number of most likely tokens, most likely first (lower id first on ties);
    /// tokens the warpers dropped (probability 0) are never listed.
    public var top: [Logprob]

    public init(token: Int32, logprob: Float, top: [Logprob]) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }
}
