// How a request picks its next token, and when it stops.

/// Sampling and stopping rules of one request. Temperature 0 means greedy.
public struct SamplingParams: Hashable, Sendable {
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`.
    public var topP: Float
    /// Same seed, same model, same prompt → same tokens. `nil` draws a fresh seed.
    public var seed: UInt64?
    public var maxTokens: Int
    /// Keep generating past end-of-sequence tokens (benchmarks, parity runs).
    public var ignoreEOS: Bool

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64? = nil, maxTokens: Int = 16, ignoreEOS: Bool = false) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
        self.ignoreEOS = ignoreEOS
    }

    /// Greedy decoding: the most likely token at every step.
    public static func greedy(maxTokens: Int) -> SamplingParams { SamplingParams(maxTokens: maxTokens) }

    /// Checks every field, naming the first bad one.
    public func validate() throws(SamplingError) {
        guard temperature.isFinite && temperature >= 0 else { throw .invalid(field: "temperature", value: "\(temperature)", expected: "a number ≥ 0") }
        guard topK >= 0 else { throw .invalid(field: "top_k", value: "\(topK)", expected: "0 (off) or a positive count") }
        guard topP > 0 && topP <= 1 else { throw .invalid(field: "top_p", value: "\(topP)", expected: "a number in (0, 1]") }
        guard maxTokens >= 1 else { throw .invalid(field: "max_tokens", value: "\(maxTokens)", expected: "at least 1") }
    }

    /// Whether sampling reduces to taking the most likely token.
    var isGreedy: Bool { temperature == 0 || topK == 1 }
}

public enum SamplingError: Error, CustomStringConvertible, Equatable {
    case invalid(field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let field, let value, let expected): "\(field) = \(value) is invalid: expected \(expected)"
        }
    }
}
