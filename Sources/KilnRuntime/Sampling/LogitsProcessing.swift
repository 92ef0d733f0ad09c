// The processors: what changes a row of raw logits before the warpers shape the distribution
// — logit bias, min-tokens suppression, then the repetition, frequency and presence penalties
// (vLLM's order: bias and suppression first, penalties on the result).

/// The tokens the penalties look at: the prompt's (repetition penalty only) and the output's,
/// counted (all three penalties).
public struct TokenHistory: Sendable {
    /// Every distinct token of the prompt and the output.
    public private(set) var seenTokens: Set<Int32>
    public private(set) var outputCounts: [Int32: Int] = [:]
    public private(set) var outputCount = 0

    public init(prompt: [Int32] = []) { seenTokens = Set(prompt) }

    /// Adds a generated token.
    public mutating func record(_ token: Int32) {
        seenTokens.insert(token)
        outputCounts[token, default: 0] += 1
        outputCount += 1
    }
}

extension SamplingParams {
    /// Applies the processors to `logits` (one raw row) in place; `suppressed` ids get -inf
    /// (the end ids while fewer than `minTokens` were generated).
    public func process(_ logits: inout [Float], history: TokenHistory, suppressed: [Int32] = []) {
        for (token, bias) in logitBias { logits[Int(token)] += bias }
        for token in suppressed { logits[Int(token)] = -.infinity }
        if repetitionPenalty != 1 {
            // Hugging Face: every distinct token of the prompt and the output, once
            for token in history.seenTokens {
                let logit = logits[Int(token)]
                logits[Int(token)] = logit > 0 ? logit / repetitionPenalty : logit * repetitionPenalty
            }
        }
        if presencePenalty != 0 || frequencyPenalty != 0 {
            for (token, count) in history.outputCounts {
                logits[Int(token)] -= presencePenalty + frequencyPenalty * Float(count)
            }
        }
    }
}
