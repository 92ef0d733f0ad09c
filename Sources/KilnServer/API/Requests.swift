// The request bodies of /v1/chat/completions and /v1/completions, decoded with every field's
// JSON type checked (errors name the field), and turned into Kiln's SamplingParams. Fields
// the server does not know are ignored, as OpenAI-compatible servers do.

import Foundation
import KilnRuntime

/// The sampling and stopping fields both endpoints share (OpenAI's, and vLLM's extras).
struct SamplingFields: Decodable {
    // counts are read as numbers and checked to be whole here, so that 1.5 is refused naming
    // its field (JSONDecoder's own error for it names none)
    var maxTokens: Double?
    var maxCompletionTokens: Double?
    var temperature: Double?
    var topP: Double?
    var topK: Double?
    var minP: Double?
    var n: Double?
    var stop: StringList?
    var stopTokenIds: [Int]?
    var seed: Int64?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var repetitionPenalty: Double?
    var logitBias: [String: Double]?
    var user: String?
    var ignoreEOS: Bool?
    var minTokens: Double?
    var skipSpecialTokens: Bool?

    enum CodingKeys: String, CodingKey {
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", temperature, topP = "top_p", topK = "top_k"
        case minP = "min_p", n, stop, stopTokenIds = "stop_token_ids", seed, presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty", repetitionPenalty = "repetition_penalty", logitBias = "logit_bias", user
        case ignoreEOS = "ignore_eos", minTokens = "min_tokens", skipSpecialTokens = "skip_special_tokens"
    }

    /// OpenAI's temperature range (Kiln itself takes any temperature ≥ 0).
    static let maxTemperature = 2.0

    /// The request's SamplingParams; `defaultMaxTokens` when it names no limit. Ranges are
    /// checked by `SamplingParams.validate`, which names the field; this checks only what
    /// the API adds.
    func params(defaultMaxTokens: Int, logprobs: Int?) throws(APIError) -> SamplingParams {
        if let temperature, temperature > Self.maxTemperature {
            throw .invalid("temperature = \(temperature) is invalid: expected a number in [0, \(Self.maxTemperature)]", param: "temperature",
                           code: "invalid_value")
        }
        var bias: [Int32: Float] = [:]
        for (key, value) in logitBias ?? [:] {
            guard let id = Int32(key) else {
                throw .invalid("logit_bias key '\(key)' is not a token id", param: "logit_bias", code: "invalid_value")
            }
            bias[id] = Float(value)
        }
        var stopIds: [Int32] = []
        for id in stopTokenIds ?? [] {
            guard let id = Int32(exactly: id) else { throw .invalid("stop_token_ids: \(id) is not a token id", param: "stop_token_ids") }
            stopIds.append(id)
        }
        let limit = try whole(maxCompletionTokens, "max_completion_tokens"), legacyLimit = try whole(maxTokens, "max_tokens")
        if let limit, limit < 1 {
            throw .invalid("max_completion_tokens = \(limit) is invalid: expected at least 1", param: "max_completion_tokens", code: "invalid_value")
        }
        let maxTokens = limit ?? legacyLimit ?? defaultMaxTokens
        return SamplingParams(
            temperature: Float(temperature ?? 1), topK: try whole(topK, "top_k") ?? 0, topP: Float(topP ?? 1), minP: Float(minP ?? 0),
            seed: seed.map { UInt64(bitPattern: $0) }, maxTokens: maxTokens,
            ignoreEOS: ignoreEOS ?? false, repetitionPenalty: Float(repetitionPenalty ?? 1), presencePenalty: Float(presencePenalty ?? 0),
            frequencyPenalty: Float(frequencyPenalty ?? 0), logitBias: bias, minTokens: try whole(minTokens, "min_tokens") ?? 0,
            stopTokenIds: stopIds, stop: stop?.values ?? [], n: try whole(n, "n") ?? 1, logprobs: logprobs,
            skipSpecialTokens: skipSpecialTokens ?? true)
    }

}

/// A count the API takes as an integer, or an error naming `field`.
func whole(_ value: Double?, _ field: String) throws(APIError) -> Int? {
    guard let value else { return nil }
    guard let count = Int(exactly: value) else {
        throw .invalid("'\(field)' has the wrong type: expected an integer, got \(value)", param: field, code: "invalid_type")
    }
    return count
}

struct StreamOptions: Decodable {
    var includeUsage: Bool?

    enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

/// A string or a list of strings (`stop`).
struct StringList: Decodable {
    var values: [String]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            values = [one]
        } else {
            values = try container.decode([String].self)
        }
    }
}

/// POST /v1/chat/completions.
struct ChatCompletionRequest: Decodable {
    var model: String?
    var messages: [Message]
    var stream: Bool
    var streamOptions: StreamOptions?
    var logprobs: Bool
    var topLogprobs: Double?
    var sampling: SamplingFields

    struct Message: Decodable {
        var role: String
        var content: String

        enum CodingKeys: String, CodingKey { case role, content }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            role = try container.decode(String.self, forKey: .role)
            // a string, a list of text parts (joined), or null (an assistant turn with none)
            if try container.decodeNil(forKey: .content) {
                content = ""
            } else if let text = try? container.decode(String.self, forKey: .content) {
                content = text
            } else {
                content = try container.decode([ContentPart].self, forKey: .content).map(\.text).joined()
            }
        }
    }

    struct ContentPart: Decodable {
        var text: String

        enum CodingKeys: String, CodingKey { case type, text }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let type = try container.decode(String.self, forKey: .type)
            guard type == "text" else {
                throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                       debugDescription: "content parts of type '\(type)' are not supported; only 'text'")
            }
            text = try container.decode(String.self, forKey: .text)
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, streamOptions = "stream_options", logprobs, topLogprobs = "top_logprobs"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decodeIfPresent(String.self, forKey: .model)
        messages = try container.decode([Message].self, forKey: .messages)
        stream = try container.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        streamOptions = try container.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        logprobs = try container.decodeIfPresent(Bool.self, forKey: .logprobs) ?? false
        topLogprobs = try container.decodeIfPresent(Double.self, forKey: .topLogprobs)
        sampling = try SamplingFields(from: decoder)
    }

    /// Logprobs as SamplingParams counts them: `top_logprobs` alternatives when `logprobs` is on.
    func logprobCount() throws(APIError) -> Int? {
        let topLogprobs = try whole(self.topLogprobs, "top_logprobs")
        if let topLogprobs {
            guard logprobs else { throw .invalid("top_logprobs needs logprobs set to true", param: "top_logprobs") }
            guard (0...SamplingParams.maxLogprobs).contains(topLogprobs) else {
                throw .invalid("top_logprobs = \(topLogprobs) is invalid: expected a count in 0...\(SamplingParams.maxLogprobs)",
                               param: "top_logprobs", code: "invalid_value")
            }
        }
        return logprobs ? topLogprobs ?? 0 : nil
    }
}

/// POST /v1/completions.
struct CompletionRequest: Decodable {
    var model: String?
    var prompt: Prompt
    var stream: Bool
    var streamOptions: StreamOptions?
    var logprobs: Double?
    var sampling: SamplingFields

    /// A string, a list of strings, a list of token ids, or a list of lists of token ids.
    enum Prompt: Decodable {
        case texts([String])
        case tokens([[Int]])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .texts([text])
            } else if let texts = try? container.decode([String].self) {
                self = .texts(texts)
            } else if let ids = try? container.decode([Int].self) {
                self = .tokens([ids])
            } else if let lists = try? container.decode([[Int]].self) {
                self = .tokens(lists)
            } else {
                throw DecodingError.typeMismatch(String.self, .init(codingPath: container.codingPath,
                    debugDescription: "expected a string, a list of strings, a list of token ids or a list of such lists"))
            }
        }

        var count: Int {
            switch self {
            case .texts(let texts): texts.count
            case .tokens(let lists): lists.count
            }
        }
    }

    enum CodingKeys: String, CodingKey { case model, prompt, stream, streamOptions = "stream_options", logprobs }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decodeIfPresent(String.self, forKey: .model)
        prompt = try container.decode(Prompt.self, forKey: .prompt)
        stream = try container.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        streamOptions = try container.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        logprobs = try container.decodeIfPresent(Double.self, forKey: .logprobs)
        sampling = try SamplingFields(from: decoder)
    }
}

/// Decodes a request body, every failure an APIError naming the field.
func decodeRequest<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
    guard !bytes.isEmpty else { throw .invalid("The request body is empty: expected a JSON object.", code: "invalid_json") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as DecodingError {
        throw APIError(decoding: error)
    } catch {
        throw .invalid("The request body could not be read: \(error)", code: "invalid_json")
    }
}
