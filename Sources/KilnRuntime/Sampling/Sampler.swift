// Picks the next token from a row of logits: greedy, or temperature → top-k → top-p →
// a draw, in the order Hugging Face's logits warpers apply them. The picking itself is
// TokenChoice's, so the host and a GPU pick the same token for the same draw.

import KilnGraph

/// Turns logits into tokens for one request; owns the request's random stream.
public struct Sampler: Sendable {
    public let params: SamplingParams
    private var random: RandomSource

    public init(_ params: SamplingParams) {
        self.params = params
        random = RandomSource(seed: params.seed ?? UInt64.random(in: .min ... .max))
    }

    /// How the next token is picked: the parameters and, when sampling, a fresh uniform
    /// draw from this request's stream (greedy requests draw nothing).
    public mutating func nextChoice() -> TokenChoice {
        guard !params.isGreedy else { return .greedy }
        return TokenChoice(temperature: params.temperature, topK: params.topK, topP: params.topP, uniform: random.nextUnitFloat())
    }

    /// The next token for `logits` (one row of vocabulary size), picked on the host.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 { nextChoice().pick(logits) }
}
