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
        try validateBeamSearch()
    }

    /// The beam-search fields, and what beam search cannot be combined with: sampling (Hugging
    /// Face's beam sampling is not implemented), logprobs and stop strings (a beam's tokens are
    /// only final once the search ends, and its score replaces per-token logprobs).
    private func validateBeamSearch() throws(SamplingError) {
        guard beamWidth >= 1 else { throw .invalid(field: "beam_width", value: "\(beamWidth)", expected: "at least 1 (1 is off)") }
        guard lengthPenalty.isFinite else { throw .invalid(field: "length_penalty", value: "\(lengthPenalty)", expected: "a finite number") }
        guard isBeamSearch else { return }
        guard temperature == 0 else {
            throw .invalid(field: "temperature", value: "\(temperature)", expected: "0 with beam_width > 1 (beam search is deterministic)")
        }
        guard n <= beamWidth else { throw .invalid(field: "n", value: "\(n)", expected: "at most beam_width (\(beamWidth)): the best beams are returned") }
        if let logprobs { throw .invalid(field: "logprobs", value: "\(logprobs)", expected: "none with beam_width > 1 (each beam has a score instead)") }
        guard stop.isEmpty else { throw .invalid(field: "stop", value: "\(stop)", expected: "no stop strings with beam_width > 1 (use stop_token_ids)") }
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
