// POST /v1/chat/completions and POST /v1/completions: parse and check the request, admit
// it under the in-flight bound, run it, and answer whole or as server-sent events.

import Foundation
import Hummingbird
import KilnRuntime
import KilnTokenizers
import Logging
import NIOCore

struct GenerationEndpoints: Sendable {
    let configuration: ServerConfiguration
    let state: ServerState
    let metrics: ServerMetrics
    let logger: Logger

    func chatCompletions(_ request: Request, context: ServerRequestContext) async -> Response {
        let arrival = ContinuousClock.now, id = responseID("chatcmpl-"), endpoint = "/v1/chat/completions"
        do {
            let chat = try decodeRequest(ChatCompletionRequest.self, from: try await collectBody(request).readableBytesView)
            let (model, ticket) = try admit(chat.model)
            let prompt = try render(chat.messages, for: model)
            let params = try chat.sampling.params(defaultMaxTokens: max(1, model.contextLength - prompt.count), logprobs: try chat.logprobCount())
            try check([prompt], params, on: model, param: "messages")
            let job = GenerationJob(id: id, created: unixTime(), model: model, prompts: [prompt], params: params, arrival: arrival,
                                    promptParam: "messages")
            let format = ChatFormat(id: id, created: job.created, model: model, includeUsage: chat.streamOptions?.includeUsage ?? false,
                                    logprobs: params.logprobs != nil)
            return try await respond(job, format: format, stream: chat.stream, endpoint: endpoint, ticket: ticket, channel: context.channel)
        } catch {
            return failure(error, endpoint: endpoint, id: id, arrival: arrival, promptParam: "messages")
        }
    }

    func completions(_ request: Request, context: ServerRequestContext) async -> Response {
        let arrival = ContinuousClock.now, id = responseID("cmpl-"), endpoint = "/v1/completions"
        do {
            let completion = try decodeRequest(CompletionRequest.self, from: try await collectBody(request).readableBytesView)
            guard completion.prompt.count > 0 else { throw APIError.invalid("prompt is an empty list", param: "prompt") }
            let (model, ticket) = try admit(completion.model)
            let prompts: [[Int32]]
            switch completion.prompt {
            case .texts(let texts): prompts = texts.map { model.tokenizer.encode($0) }
            case .tokens(let lists): prompts = lists.map { $0.map { Int32(clamping: $0) } }
            }
            // OpenAI's default for completions is 16 tokens
            let params = try completion.sampling.params(defaultMaxTokens: 16, logprobs: try whole(completion.logprobs, "logprobs"))
            try check(prompts, params, on: model, param: "prompt")
            let job = GenerationJob(id: id, created: unixTime(), model: model, prompts: prompts, params: params, arrival: arrival,
                                    promptParam: "prompt")
            let format = TextCompletionFormat(id: id, created: job.created, model: model,
                                              includeUsage: completion.streamOptions?.includeUsage ?? false,
                                              logprobs: params.logprobs != nil)
            return try await respond(job, format: format, stream: completion.stream, endpoint: endpoint, ticket: ticket, channel: context.channel)
        } catch {
            return failure(error, endpoint: endpoint, id: id, arrival: arrival, promptParam: "prompt")
        }
    }

    // MARK: checks

    private func collectBody(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: configuration.maxRequestBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "The request body exceeds \(configuration.maxRequestBytes) bytes.")
        }
    }

    /// The served model for a request naming `name` (or none), under the in-flight bound.
    private func admit(_ name: String?) throws -> (ServedModel, AdmissionTicket) {
        if let name, name != configuration.servedModelName { throw APIError.modelNotFound(name) }
        do {
            return try state.admit()
        } catch {
            if error.status == .tooManyRequests { metrics.countRejected() }
            throw error
        }
    }

    /// The conversation as the model's chat template renders it, with the generation prompt.
    private func render(_ messages: [ChatCompletionRequest.Message], for model: ServedModel) throws -> [Int32] {
        guard !messages.isEmpty else { throw APIError.invalid("messages is an empty list", param: "messages") }
        let conversation = messages.map { JSONValue.object(JSONObject([("role", .string($0.role)), ("content", .string($0.content))])) }
        do {
            let text = try model.tokenizer.applyChatTemplate(messages: conversation, addGenerationPrompt: true)
            // the template writes the special tokens itself
            return model.tokenizer.encode(text, addSpecialTokens: false)
        } catch {
            throw APIError.invalid("The chat template refused the messages: \(error)", param: "messages")
        }
    }

    /// Everything the executor would refuse, refused before a stream's 200 goes out.
    private func check(_ prompts: [[Int32]], _ params: SamplingParams, on model: ServedModel, param: String) throws {
        do { try params.validate(vocabularySize: model.vocabularySize) } catch { throw APIError.from(error) }
        for prompt in prompts {
            guard !prompt.isEmpty else { throw APIError.from(GenerationError.emptyPrompt, promptParam: param) }
            if let token = prompt.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
                throw APIError.from(GenerationError.tokenOutOfRange(token: token, vocabularySize: model.vocabularySize), promptParam: param)
            }
            guard prompt.count + params.maxTokens <= model.contextLength else {
                throw APIError.contextTooLong(promptTokens: prompt.count, maxTokens: params.maxTokens, capacity: model.contextLength, param: param)
            }
        }
    }

    // MARK: answers

    private func respond(_ job: GenerationJob, format: some CompletionFormat, stream: Bool, endpoint: String,
                         ticket: AdmissionTicket, channel: any Channel) async throws -> Response {
        if stream { return streamResponse(job, format: format, endpoint: endpoint, ticket: ticket, channel: channel) }
        defer { ticket.release() }
        var timer = TokenTimer(prompts: job.prompts.count, arrival: job.arrival, metrics: metrics)
        var results = [GenerationResult?](repeating: nil, count: job.prompts.count)
        for try await (prompt, output) in job.run(cancellingWhenClosed: channel) {
            timer.note(prompt: prompt, tokens: output.tokens.count)
            if let result = output.result { results[prompt] = result }
        }
        let finished = results.compactMap { $0 }
        guard finished.count == results.count else { throw APIError(.internalServerError, "a generation ended without its result", type: "server_error") }
        if finished.contains(where: { $0.completions.contains { $0.finishReason == .cancelled } }) && channel.isActive == false {
            metrics.countCancelled()
        }
        let usage = UsageBody(finished.map(\.usage))
        metrics.record(usage: usage)
        metrics.recordRequestLatency(.now - job.arrival)
        finish(endpoint: endpoint, id: job.id, status: 200, usage: usage, arrival: job.arrival, ttft: timer.timeToFirstToken)
        return jsonResponse(format.body(choices: finished.flatMap(\.completions), usage: usage))
    }

    /// A client that went away mid-stream: its write failed.
    private struct ClientGone: Error { let underlying: any Error }

    private func streamResponse(_ job: GenerationJob, format: some CompletionFormat, endpoint: String,
                                ticket: AdmissionTicket, channel: any Channel) -> Response {
        let n = job.params.n
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { ticket.release() }
            func send(_ text: String, _ writer: inout any ResponseBodyWriter) async throws {
                do { try await writer.write(ByteBuffer(string: text)) } catch { throw ClientGone(underlying: error) }
            }
            func send(event: any Encodable, _ writer: inout any ResponseBodyWriter) async throws {
                try await send("data: " + String(decoding: jsonBytes(event), as: UTF8.self) + "\n\n", &writer)
            }
            var timer = TokenTimer(prompts: job.prompts.count, arrival: job.arrival, metrics: metrics)
            var usages: [Usage] = []
            do {
                for chunk in format.openingChunks(choices: job.prompts.count * n) { try await send(event: chunk, &writer) }
                do {
                    for try await (prompt, output) in job.run(cancellingWhenClosed: channel) {
                        timer.note(prompt: prompt, tokens: output.tokens.count)
                        for (completion, tokens) in groupedByCompletion(output.tokens) {
                            if let chunk = format.deltaChunk(choice: prompt * n + completion, tokens: tokens) { try await send(event: chunk, &writer) }
                        }
                        guard let result = output.result else { continue }
                        usages.append(result.usage)
                        for (completion, output) in result.completions.enumerated() {
                            try await send(event: format.finishChunk(choice: prompt * n + completion, reason: output.finishReason), &writer)
                        }
                    }
                } catch let error where !(error is ClientGone) {
                    // the 200 went out: the error travels as an event, as OpenAI's streams carry them
                    let apiError = APIError.from(error, promptParam: job.promptParam)
                    try await send(event: apiError.body, &writer)
                    try await send("data: [DONE]\n\n", &writer)
                    try await writer.finish(nil)
                    finish(endpoint: endpoint, id: job.id, status: Int(apiError.status.code), usage: nil, arrival: job.arrival,
                           ttft: timer.timeToFirstToken, note: apiError.message)
                    return
                }
                let usage = UsageBody(usages)
                if format.includeUsage { try await send(event: format.usageChunk(usage), &writer) }
                try await send("data: [DONE]\n\n", &writer)
                try await writer.finish(nil)
                metrics.record(usage: usage)
                metrics.recordRequestLatency(.now - job.arrival)
                finish(endpoint: endpoint, id: job.id, status: 200, usage: usage, arrival: job.arrival, ttft: timer.timeToFirstToken)
            } catch let gone as ClientGone {
                // leaving the loop ended the merged stream, which cancelled the job's requests
                metrics.countCancelled()
                logger.info("\(endpoint) id=\(job.id) status=499 latency_ms=\(milliseconds(.now - job.arrival)) client disconnected mid-stream: request cancelled")
                throw gone.underlying
            }
        })
    }

    /// A step's tokens by completion, in completion order.
    private func groupedByCompletion(_ tokens: [GeneratedToken]) -> [(Int, [GeneratedToken])] {
        var groups: [Int: [GeneratedToken]] = [:]
        for token in tokens { groups[token.completion, default: []].append(token) }
        return groups.sorted { $0.key < $1.key }
    }

    private func failure(_ error: any Error, endpoint: String, id: String, arrival: ContinuousClock.Instant, promptParam: String) -> Response {
        let apiError = APIError.from(error, promptParam: promptParam)
        finish(endpoint: endpoint, id: id, status: Int(apiError.status.code), usage: nil, arrival: arrival, ttft: nil, note: apiError.message)
        return apiError.response(headers: apiError.status == .tooManyRequests ? [.retryAfter: "1"] : [:])
    }

    /// The request's one log line, and its count.
    private func finish(endpoint: String, id: String, status: Int, usage: UsageBody?, arrival: ContinuousClock.Instant,
                        ttft: Duration?, note: String? = nil) {
        metrics.countRequest(endpoint: endpoint, status: status)
        var line = "\(endpoint) id=\(id) status=\(status)"
        if let usage { line += " prompt_tokens=\(usage.promptTokens) completion_tokens=\(usage.completionTokens)" }
        if let ttft { line += " ttft_ms=\(milliseconds(ttft))" }
        line += " latency_ms=\(milliseconds(.now - arrival))"
        if let note { line += " error=\"\(note)\"" }
        if status >= 500 { logger.error("\(line)") } else { logger.info("\(line)") }
    }
}

func milliseconds(_ duration: Duration) -> String {
    String(format: "%.1f", duration.inSeconds * 1000)
}

func unixTime() -> Int { Int(Date().timeIntervalSince1970) }

func jsonResponse(_ value: any Encodable, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes(value))))
}
