// The response bodies, whole and streamed, in the shapes the OpenAI API (and its clients)
// expect: `usage` in every complete response, nulls written out where OpenAI writes them.

import KilnRuntime

struct UsageBody: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    var promptTokensDetails: Details

    struct Details: Encodable {
        var cachedTokens: Int
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    init(_ usages: [Usage]) {
        promptTokens = usages.reduce(0) { $0 + $1.promptTokens }
        completionTokens = usages.reduce(0) { $0 + $1.completionTokens }
        totalTokens = promptTokens + completionTokens
        promptTokensDetails = Details(cachedTokens: usages.reduce(0) { $0 + $1.cachedPromptTokens })
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
}

/// OpenAI's finish reasons; a request cut off by a shutdown ends "abort", as in vLLM.
func finishReasonName(_ reason: FinishReason) -> String {
    switch reason {
    case .length: "length"
    case .stop: "stop"
    case .cancelled: "abort"
    }
}

// MARK: chat

struct ChatCompletionBody: Encodable {
    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: UsageBody
    var systemFingerprint: String?

    struct Choice: Encodable {
        var index: Int
        var message: Message
        var logprobs: ChatLogprobs?
        var finishReason: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }

        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
    }

    struct Message: Encodable {
        var role = "assistant"
        var content: String
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(object, forKey: .object)
        try container.encode(created, forKey: .created)
        try container.encode(model, forKey: .model)
        try container.encode(choices, forKey: .choices)
        try container.encode(usage, forKey: .usage)
        try container.encode(systemFingerprint, forKey: .systemFingerprint)
    }

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, systemFingerprint = "system_fingerprint" }
}

/// `choices[i].logprobs` of a chat completion: one entry per token.
struct ChatLogprobs: Encodable {
    var content: [Entry]

    struct Entry: Encodable {
        var token: String
        var logprob: Float
        var bytes: [Int]
        var topLogprobs: [Alternative]

        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }

    struct Alternative: Encodable {
        var token: String
        var logprob: Float
        var bytes: [Int]
    }
}

struct ChatCompletionChunk: Encodable {
    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    /// Written (as null on all but the last chunk) only when the client asked for usage.
    var usage: UsageBody?
    var includeUsage: Bool

    struct Choice: Encodable {
        var index: Int
        var delta: Delta
        var logprobs: ChatLogprobs?
        var finishReason: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }

        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
    }

    struct Delta: Encodable {
        var role: String?
        var content: String?
    }

    func encode(to encoder: any Encoder) throws {
        try encodeEnvelope(encoder, id: id, object: object, created: created, model: model, choices: choices, usage: includeUsage ? .some(usage) : nil)
    }
}

// MARK: completions

struct CompletionBody: Encodable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: UsageBody?
    var includeUsage = true

    struct Choice: Encodable {
        var index: Int
        var text: String
        var logprobs: CompletionLogprobs?
        var finishReason: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(text, forKey: .text)
            try container.encode(logprobs, forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }

        enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason" }
    }

    func encode(to encoder: any Encoder) throws {
        try encodeEnvelope(encoder, id: id, object: object, created: created, model: model, choices: choices, usage: includeUsage ? .some(usage) : nil)
    }
}

/// `choices[i].logprobs` of a (legacy) completion: parallel lists.
struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Float] = []
    var topLogprobs: [[String: Float]] = []
    var textOffset: [Int] = []

    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }
}

// MARK: models

struct ModelList: Encodable {
    var object = "list"
    var data: [ModelCard]
}

struct ModelCard: Encodable {
    var id: String
    var object = "model"
    var created: Int
    var ownedBy = "kiln"
    var maxModelLen: Int?

    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by", maxModelLen = "max_model_len" }
}

/// Writes the envelope streamed chunks and text completions share. `usage`: nil leaves the key
/// out (the client did not ask for it); `.some(nil)` writes null (a chunk before the last).
private func encodeEnvelope<Choice: Encodable>(_ encoder: any Encoder, id: String, object: String, created: Int, model: String,
                                               choices: [Choice], usage: UsageBody??) throws {
    var container = encoder.container(keyedBy: EnvelopeKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(object, forKey: .object)
    try container.encode(created, forKey: .created)
    try container.encode(model, forKey: .model)
    try container.encode(choices, forKey: .choices)
    if let usage { try container.encode(usage, forKey: .usage) }
}

private enum EnvelopeKeys: String, CodingKey { case id, object, created, model, choices, usage }
