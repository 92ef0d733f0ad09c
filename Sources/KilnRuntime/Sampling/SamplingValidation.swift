// Every sampling field checked before a request runs, each error naming the field as the
// OpenAI API spells it, so a server can hand the message straight back to its client.

extension SamplingParams {
    /// The most alternatives `logprobs` may ask for (OpenAI's and vLLM's default limit).
    public static let maxLogprobs = 20

    /// Checks every field, naming the first bad one; token ids are checked against
    /// `vocabularySize` when it is given.
    public func validate(vocabularySize: Int? = nil) throws(SamplingError) {
        guard temperature.isFinite && temperature >= 0 else { throw .invalid(field: "temperature", value: "\(temperature)", expected: "a number ≥ 0") }
        guard topK >= 0 else { throw .invalid(field: "top_k", value: "\(topK)", expected: "0 (off) or a positive count") }
        guard topP > 0 && topP <= 1 else { throw .invalid(field: "top_p", value: "\(topP)", expected: "a number in (0, 1]") }
        guard minP >= 0 && minP <= 1 else { throw .invalid(field: "min_p", value: "\(minP)", expected: "a number in [0, 1]") }
        guard maxTokens >= 1 else { throw .invalid(field: "max_tokens", value: "\(maxTokens)", expected: "at least 1") }
        guard repetitionPenalty.isFinite && repetitionPenalty > 0 else {
            throw .invalid(field: "repetition_penalty", value: "\(repetitionPenalty)", expected: "a number > 0 (1 is off)")
        }
        guard presencePenalty >= -2 && presencePenalty <= 2 else {
            throw .invalid(field: "presence_penalty", value: "\(presencePenalty)", expected: "a number in [-2, 2]")
        }
        guard frequencyPenalty >= -2 && frequencyPenalty <= 2 else {
            throw .invalid(field: "frequency_penalty", value: "\(frequencyPenalty)", expected: "a number in [-2, 2]")
        }
        let tokenRange = vocabularySize.map { "a token id in 0..<\($0)" } ?? "a token id ≥ 0"
        func isToken(_ id: Int32) -> Bool { id >= 0 && vocabularySize.map { Int(id) < $0 } ?? true }
        for (id, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            guard isToken(id) else { throw .invalid(field: "logit_bias", value: "\(id)", expected: tokenRange) }
            guard bias >= -100 && bias <= 100 else { throw .invalid(field: "logit_bias", value: "\(id): \(bias)", expected: "a bias in [-100, 100]") }
        }
        guard minTokens >= 0 && minTokens <= maxTokens else {
            throw .invalid(field: "min_tokens", value: "\(minTokens)", expected: "a count in 0...max_tokens (\(maxTokens))")
        }
        for id in stopTokenIds where !isToken(id) { throw .invalid(field: "stop_token_ids", value: "\(id)", expected: tokenRange) }
        for string in stop where string.isEmpty { throw .invalid(field: "stop", value: "\"\"", expected: "non-empty strings") }
        guard n >= 1 else { throw .invalid(field: "n", value: "\(n)", expected: "at least 1") }
        if let logprobs, logprobs < 0 || logprobs > Self.maxLogprobs {
            throw .invalid(field: "logprobs", value: "\(logprobs)", expected: "a count in 0...\(Self.maxLogprobs)")
        }
    }
}

public enum SamplingError: Error, CustomStringConvertible, Equatable {
    case invalid(field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let field, let value, let expected): "\(field) = \(value) is invalid: expected \(expected)"
        }
    }
}
