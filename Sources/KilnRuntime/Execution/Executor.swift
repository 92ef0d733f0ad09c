// The executor: a request queue any task or thread may use, an in-flight batcher stepped on a
// thread of its own (a step blocks on the backend, so it stays off Swift's cooperative pool),
// and one stream of outputs per request.

import Dispatch
import KilnGraph
import Synchronization

/// Identifies a request to its executor.
public typealias RequestID = Int

/// What a request's stream yields: the tokens of each step, then the result.
public struct GenerationOutput: Sendable {
    /// Tokens generated since the previous output, in order, of every completion (each names
    /// its completion, and carries its text and logprobs when the request makes them).
    public var tokens: [GeneratedToken]
    /// Set on the last output only: every completion, why each ended, usage and timings.
    public var result: GenerationResult?

    public init(tokens: [GeneratedToken], result: GenerationResult? = nil) {
        self.tokens = tokens
        self.result = result
    }

    /// The ids of `tokens` (of every completion, in the order they were generated).
    public var tokenIds: [Int32] { tokens.map(\.id) }
}

/// How many requests an executor holds: those in the running batch and those waiting for it.
public struct ExecutorLoad: Sendable, Equatable {
    public var waitingRequests: Int
    public var runningRequests: Int
}

/// A submitted request: its id (for `Executor.cancel`) and its outputs.
public struct GenerationRequest: Sendable {
    public let id: RequestID
    /// The request's outputs. Iteration ends after the output that carries the result, or
    /// throws the error that ended the request. Dropping the stream, or cancelling the task
    /// that iterates it, cancels the request and frees its KV blocks.
    public let outputs: AsyncThrowingStream<GenerationOutput, any Error>
}

/// What `Executor.shutdown` does with the requests in flight.
public enum ShutdownMode: Sendable {
    /// Run them to the end (requests submitted later are refused).
    case finishInFlight
    /// End them now: each stream gets its tokens so far with finish reason `cancelled`.
    case cancelInFlight
}

public enum ExecutorError: Error, CustomStringConvertible, Equatable {
    case shutDown

    public var description: String {
        switch self {
        case .shutDown: "the executor has shut down and takes no more requests"
        }
    }
}

/// Runs requests from any number of tasks together on one executable: they join and leave the
/// running batch at every step (`InFlightBatcher`), each with exactly the tokens it gets alone.
/// The step loop runs on a thread of its own and owns the batcher; callers talk to it only
/// through a queue of commands and their requests' output streams.
public final class Executor: Sendable {
    public let executable: any Executable
    public let eosTokenIds: Set<Int32>
    private let commands = BlockingQueue<ExecutorCommand>()
    private let status: LoopStatus
    private let nextID = Atomic<Int>(0)
    /// Signalled when the loop has ended.
    private let stopped = DispatchSemaphore(value: 0)

    /// Makes each completion's text (and matches stop strings); `nil`: ids only.
    public let text: CompletionTextFactory?

    public init(executable: any Executable, eosTokenIds: [Int], text: CompletionTextFactory? = nil,
                capacity: any CapacityScheduler = GuaranteedNoEvictScheduler(), microBatch: any MicroBatchScheduler = ChunkedPrefillScheduler()) {
        self.executable = executable
        self.text = text
        self.eosTokenIds = Set(eosTokenIds.map(Int32.init))
        status = LoopStatus(blocks: executable.kvCacheLayout.numBlocks)
        // a serial queue of its own: one dispatch thread runs the loop for the executor's life
        DispatchQueue(label: "kiln.executor", qos: .userInitiated).async { [commands, status, stopped] in
            let batcher = InFlightBatcher(executable: executable, eosTokenIds: eosTokenIds, text: text, capacity: capacity, microBatch: microBatch)
            ExecutorLoop(batcher: batcher, commands: commands, status: status).run()
            stopped.signal()
        }
    }

    deinit {
        // nobody can read the outputs any more; no join here, as the last reference may be
        // dropped on the loop's own thread
        commands.push(.shutdown(.cancelInFlight))
    }

    /// Queues a request; it joins the running batch at the next step. Invalid requests (an
    /// empty prompt, one too long for the KV cache, bad sampling parameters, ids outside the
    /// vocabulary) end their stream with a `GenerationError`. The stream keeps the executor
    /// alive until it ends.
    public func submit(prompt: [Int32], _ params: SamplingParams) -> GenerationRequest {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let (outputs, continuation) = AsyncThrowingStream.makeStream(of: GenerationOutput.self)
        continuation.onTermination = { termination in
            if case .cancelled = termination { self.cancel(id) }
        }
        enqueue(id, prompt: prompt, params) { event in
            switch event {
            case .success(let output):
                continuation.yield(output)
                if output.result != nil { continuation.finish() }
            case .failure(let error):
                continuation.finish(throwing: error)
            }
        }
        return GenerationRequest(id: id, outputs: outputs)
    }

    /// Generates from `prompt` while the calling thread waits (for code outside Swift
    /// concurrency); `onToken` runs on the calling thread for every token of every completion,
    /// in order, and returns whether to go on. A request stopped that way ends `cancelled`,
    /// each completion cut to the tokens (and text) `onToken` saw.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> GenerationResult {
        let events = BlockingQueue<Result<GenerationOutput, any Error>>()
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        enqueue(id, prompt: prompt, params) { events.push($0) }
        var seen: [Int: (tokens: Int, text: String)] = [:]
        var stopped: Int?
        while true {
            for event in events.drain() {
                let output = try event.get()
                for token in output.tokens where stopped == nil {
                    seen[token.completion, default: (0, "")].tokens += 1
                    seen[token.completion, default: (0, "")].text += token.text
                    if !onToken(token) {
                        stopped = token.completion
                        cancel(id)
                    }
                }
                guard let result = output.result else { continue }
                // the loop may have stepped on (or finished) before the cancel reached it
                return stopped.map { Self.cut(result, to: seen, stoppedIn: $0) } ?? result
            }
        }
    }

    /// `result` with each completion cut to the tokens a caller saw; the one stopped in, and
    /// any cut short, end `cancelled`.
    private static func cut(_ result: GenerationResult, to seen: [Int: (tokens: Int, text: String)], stoppedIn stopped: Int) -> GenerationResult {
        var result = result
        for index in result.completions.indices {
            let (count, text) = seen[index] ?? (0, "")
            var completion = result.completions[index]
            guard index == stopped || count < completion.outputIds.count else { continue }
            completion.outputIds = Array(completion.outputIds.prefix(count))
            completion.logprobs = completion.logprobs.map { Array($0.prefix(count)) }
            if completion.text != nil { completion.text = text }
            completion.finishReason = .cancelled
            result.completions[index] = completion
        }
        return result
    }

    /// Cancels request `id`: its KV blocks are freed at once and its stream ends with the
    /// tokens so far (finish reason `cancelled`). Does nothing for a request already done.
    public func cancel(_ id: RequestID) {
        commands.push(.cancel(id))
    }

    /// Stops taking requests, finishes or cancels those in flight as `mode` says, and returns
    /// once the loop's thread is done. Later calls return at once.
    public func shutdown(_ mode: ShutdownMode = .finishInFlight) {
        commands.push(.shutdown(mode))
        stopped.wait()
        stopped.signal()
    }

    /// Shuts down as the synchronous `shutdown` does, waiting on a thread outside Swift's
    /// cooperative pool (requests finishing in flight may need the pool's tasks to read them).
    public func shutdown(_ mode: ShutdownMode = .finishInFlight) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.shutdown(mode)
                continuation.resume()
            }
        }
    }

    /// The KV cache's blocks and prefix hits, as of the loop's latest step or cancellation.
    public var cacheStatistics: KVCacheManager.Statistics { status.current.cache }
    /// Running requests preempted so far (their blocks freed, recomputed later).
    public var preemptions: Int { status.current.preemptions }
    /// Requests waiting and running, as of the loop's latest change.
    public var load: ExecutorLoad { status.current.load }

    private func enqueue(_ id: RequestID, prompt: [Int32], _ params: SamplingParams, sink: @escaping OutputSink) {
        if !commands.push(.submit(id, prompt: prompt, params, sink)) { sink(.failure(ExecutorError.shutDown)) }
    }
}
