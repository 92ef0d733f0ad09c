// How a job's tokens become response bodies and stream chunks: one format for chat
// completions, one for (legacy) text completions, so the endpoints share one way of running.

import KilnRuntime

/// The shape of one endpoint's answers. Choice `i` of a job is completion `i % n` of prompt
/// `i / n`.
protocol CompletionFormat: Sendable {
    /// Whether a stream ends with a chunk of usage (`stream_options.include_usage`).
    var includeUsage: Bool { get }
    /// Chunks sent before any token (chat: each choice's role).
    func openingChunks(choices: Int) -> [any Encodable]
    /// A chunk of `tokens` of one choice, or nil when they show nothing.
    func deltaChunk(choice: Int, tokens: [GeneratedToken]) -> (any Encodable)?
    /// The chunk that ends a choice.
    func finishChunk(choice: Int, reason: FinishReason) -> any Encodable
    /// The last chunk, with the usage (when the client asked for it).
    func usageChunk(_ usage: UsageBody) -> any Encodable
    /// The whole answer.
    func body(choices: [CompletionOutput], usage: UsageBody) -> any Encodable
}

/// Logprob entries as both formats name their tokens.
private func tokenBytes(_ text: String) -> [Int] { text.utf8.map(Int.init) }

struct ChatFormat: CompletionFormat {
    let id: String
    let created: Int
    let model: ServedModel
    let includeUsage: Bool
    let logprobs: Bool

    private func chunk(_ choices: [ChatCompletionChunk.Choice], usage: UsageBody? = nil) -> ChatCompletionChunk {
        ChatCompletionChunk(id: id, created: created, model: model.name, choices: choices, usage: usage, includeUsage: includeUsage)
    }

    func openingChunks(choices: Int) -> [any Encodable] {
        (0..<choices).map { chunk([.init(index: $0, delta: .init(role: "assistant", content: ""))]) }
    }

    func deltaChunk(choice: Int, tokens: [GeneratedToken]) -> (any Encodable)? {
        let text = tokens.map(\.text).joined()
        guard !text.isEmpty || logprobs else { return nil }
        return chunk([.init(index: choice, delta: .init(content: text), logprobs: logprobs ? chatLogprobs(tokens.compactMap(\.logprobs)) : nil)])
    }

    func finishChunk(choice: Int, reason: FinishReason) -> any Encodable {
        chunk([.init(index: choice, delta: .init(), finishReason: finishReasonName(reason))])
    }

    func usageChunk(_ usage: UsageBody) -> any Encodable { chunk([], usage: usage) }

    func body(choices: [CompletionOutput], usage: UsageBody) -> any Encodable {
        ChatCompletionBody(id: id, created: created, model: model.name, choices: choices.enumerated().map { index, completion in
            .init(index: index, message: .init(content: completion.text ?? ""),
                  logprobs: logprobs ? chatLogprobs(completion.logprobs ?? []) : nil, finishReason: finishReasonName(completion.finishReason))
        }, usage: usage)
    }

    private func chatLogprobs(_ entries: [TokenLogprobs]) -> ChatLogprobs {
        ChatLogprobs(content: entries.map { entry in
            let text = model.tokenText(entry.token)
            return .init(token: text, logprob: entry.logprob, bytes: tokenBytes(text), topLogprobs: entry.top.map { top in
                let text = model.tokenText(top.token)
                return .init(token: text, logprob: top.logprob, bytes: tokenBytes(text))
            })
        })
    }
}

struct TextCompletionFormat: CompletionFormat {
    let id: String
    let created: Int
    let model: ServedModel
    let includeUsage: Bool
    let logprobs: Bool

    private func chunk(_ choices: [CompletionBody.Choice], usage: UsageBody? = nil) -> CompletionBody {
        CompletionBody(id: id, created: created, model: model.name, choices: choices, usage: usage, includeUsage: includeUsage)
    }

    func openingChunks(choices: Int) -> [any Encodable] { [] }

    func deltaChunk(choice: Int, tokens: [GeneratedToken]) -> (any Encodable)? {
        let text = tokens.map(\.text).joined()
        guard !text.isEmpty || logprobs else { return nil }
        return chunk([.init(index: choice, text: text, logprobs: logprobs ? completionLogprobs(tokens.compactMap(\.logprobs)) : nil)])
    }

    func finishChunk(choice: Int, reason: FinishReason) -> any Encodable {
        chunk([.init(index: choice, text: "", finishReason: finishReasonName(reason))])
    }

    func usageChunk(_ usage: UsageBody) -> any Encodable { chunk([], usage: usage) }

    func body(choices: [CompletionOutput], usage: UsageBody) -> any Encodable {
        CompletionBody(id: id, created: created, model: model.name, choices: choices.enumerated().map { index, completion in
            .init(index: index, text: completion.text ?? "", logprobs: logprobs ? completionLogprobs(completion.logprobs ?? []) : nil,
                  finishReason: finishReasonName(completion.finishReason))
        }, usage: usage, includeUsage: true)
    }

    private func completionLogprobs(_ entries: [TokenLogprobs]) -> CompletionLogprobs {
        var logprobs = CompletionLogprobs(), offset = 0
        for entry in entries {
            let text = model.tokenText(entry.token)
            logprobs.tokens.append(text)
            logprobs.tokenLogprobs.append(entry.logprob)
            logprobs.topLogprobs.append(Dictionary(entry.top.map { (model.tokenText($0.token), $0.logprob) }, uniquingKeysWith: max))
            logprobs.textOffset.append(offset)
            offset += text.count
        }
        return logprobs
    }
}
