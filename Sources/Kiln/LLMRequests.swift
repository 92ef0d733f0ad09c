// The request-level API over the executor: many prompts at once, streamed text, chat.
// Everything here is submitted to `LLM.executor`, so callers in any number of tasks share
// its running batch.

import KilnRuntime
import KilnTokenizers

/// A piece of a streamed answer.
public struct TextDelta: Sendable {
    /// The text this step's tokens of the first completion release (empty while a character
    /// is incomplete or the text might begin a stop string).
    public var text: String
    /// The tokens generated since the previous delta, of every completion, each with the
    /// text it releases.
    public var tokens: [GeneratedToken]
    /// The ids of `tokens`.
    public var tokenIds: [Int32] { tokens.map(\.id) }
    /// Set on the last delta only: every token, the finish reason, usage and timings.
    public var result: GenerationResult?
}

/// One message of a conversation, as chat templates take it.
public struct ChatMessage: Sendable, Equatable {
    /// "system", "user" or "assistant" (or any role the model's template knows).
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

extension LLM {
    /// Generates from every prompt, all submitted at once so they run batched together;
    /// the results come in the prompts' order. Cancelling the calling task cancels them all.
    public func generate(prompts: [[Int32]], params: SamplingParams) async throws -> [GenerationResult] {
        let requests = prompts.map { executor.submit(prompt: $0, params) }
        var results: [GenerationResult] = []
        // a request not yet read keeps its outputs buffered; one that throws drops (and so
        // cancels) every later one
        for request in requests { results.append(try await request.result()) }
        return results
    }

    /// The text that follows each prompt (encoded with the model's tokenizer, special tokens
    /// skipped in the answer, cut before a stop string), generated batched together; the
    /// first completion's when `params.n` asks for more.
    public func generate(prompts: [String], params: SamplingParams) async throws -> [String] {
        let tokenizer = try requireTokenizer()
        let results = try await generate(prompts: prompts.map { tokenizer.encode($0) }, params: params)
        return results.map { $0.completions[0].text ?? "" }
    }

    /// The text that follows `prompt`, as it is generated. Dropping the stream, or cancelling
    /// the task reading it, cancels the request.
    public func stream(prompt: String, params: SamplingParams) -> AsyncThrowingStream<TextDelta, any Error> {
        do {
            let tokenizer = try requireTokenizer()
            return textStream(tokenizer.encode(prompt), params: params)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
    }

    /// The model's answer to `messages` (rendered with its chat template, with the generation
    /// prompt), as it is generated.
    public func chat(messages: [ChatMessage], params: SamplingParams) -> AsyncThrowingStream<TextDelta, any Error> {
        do {
            let tokenizer = try requireTokenizer()
            let conversation = messages.map { JSONValue.object(JSONObject([("role", .string($0.role)), ("content", .string($0.content))])) }
            // the template writes the special tokens itself, as in transformers' apply_chat_template
            let text = try tokenizer.applyChatTemplate(messages: conversation, addGenerationPrompt: true)
            return textStream(tokenizer.encode(text, addSpecialTokens: false), params: params)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
    }

    private func textStream(_ prompt: [Int32], params: SamplingParams) -> AsyncThrowingStream<TextDelta, any Error> {
        let request = executor.submit(prompt: prompt, params)
        return AsyncThrowingStream { continuation in
            let reader = Task {
                do {
                    // the executor makes the text (it has the tokenizer), stop strings included
                    for try await output in request.outputs {
                        let text = output.tokens.filter { $0.completion == 0 }.map(\.text).joined()
                        continuation.yield(TextDelta(text: text, tokens: output.tokens, result: output.result))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            // the reader's cancellation ends its iteration, which cancels the request
            continuation.onTermination = { _ in reader.cancel() }
        }
    }
}

extension GenerationRequest {
    /// Reads the outputs to the end; the last one's result.
    public func result() async throws -> GenerationResult {
        for try await output in outputs {
            if let result = output.result { return result }
        }
        // the stream ended early only because the reading task was cancelled
        throw CancellationError()
    }
}
