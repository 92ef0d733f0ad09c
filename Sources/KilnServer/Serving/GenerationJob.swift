// One generation request as the server runs it: its prompts submitted to the executor
// together, their outputs merged as they come, timed for the metrics, and cancelled in the
// executor (KV blocks freed) the moment the client's connection closes.

import KilnRuntime
import NIOCore

struct GenerationJob: Sendable {
    /// The response id (`chatcmpl-…`, `cmpl-…`), also the request's id in the log.
    let id: String
    let created: Int
    let model: ServedModel
    let prompts: [[Int32]]
    let params: SamplingParams
    let arrival: ContinuousClock.Instant
    /// The request field that holds the prompt ("messages" or "prompt"), for errors.
    let promptParam: String

    /// An output of prompt `prompt`.
    typealias Event = (prompt: Int, output: GenerationOutput)

    /// Submits every prompt and merges their outputs. Ending the stream early (the consumer
    /// stops or its task is cancelled), or `channel` closing, cancels what still runs.
    func run(cancellingWhenClosed channel: (any Channel)?) -> AsyncThrowingStream<Event, any Error> {
        let executor = model.executor
        let requests = prompts.map { executor.submit(prompt: $0, params) }
        let ids = requests.map(\.id)
        let (events, continuation) = AsyncThrowingStream.makeStream(of: Event.self)
        let readers = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, request) in requests.enumerated() {
                    group.addTask {
                        do {
                            for try await output in request.outputs { continuation.yield((index, output)) }
                        } catch {
                            continuation.finish(throwing: error)
                        }
                    }
                }
            }
            continuation.finish()
        }
        // cancelling a request that already finished does nothing
        continuation.onTermination = { _ in
            readers.cancel()
            for id in ids { executor.cancel(id) }
        }
        channel?.closeFuture.whenComplete { _ in
            for id in ids { executor.cancel(id) }
        }
        return events
    }
}

/// Times a job's tokens for the metrics: first token per prompt, then the gaps between steps.
struct TokenTimer {
    private var firstTokenAt: [ContinuousClock.Instant?]
    private var lastTokenAt: [ContinuousClock.Instant?]
    private let arrival: ContinuousClock.Instant
    private let metrics: ServerMetrics

    init(prompts: Int, arrival: ContinuousClock.Instant, metrics: ServerMetrics) {
        firstTokenAt = Array(repeating: nil, count: prompts)
        lastTokenAt = firstTokenAt
        self.arrival = arrival
        self.metrics = metrics
    }

    /// Notes an output of `prompt` that carries tokens.
    mutating func note(prompt: Int, tokens: Int) {
        guard tokens > 0 else { return }
        let now = ContinuousClock.now
        if let last = lastTokenAt[prompt] {
            metrics.recordInterTokenLatency(now - last)
        } else {
            firstTokenAt[prompt] = now
            metrics.recordTimeToFirstToken(now - arrival)
        }
        lastTokenAt[prompt] = now
    }

    /// The earliest first token of any prompt, from the arrival.
    var timeToFirstToken: Duration? { firstTokenAt.compactMap { $0 }.min().map { $0 - arrival } }
}

/// A short random id for responses (`chatcmpl-` + 24 hex digits).
func responseID(_ prefix: String) -> String {
    let digits = String(UInt64.random(in: .min ... .max), radix: 16) + String(UInt32.random(in: .min ... .max), radix: 16)
    return prefix + String(repeating: "0", count: max(0, 24 - digits.count)) + digits
}
