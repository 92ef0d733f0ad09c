// The model behind the server, and the server's phase (loading → ready → draining) with the
// bound on requests in flight that makes an overloaded server answer 429 at once instead of
// queueing without limit.

import Foundation
import Kiln
import KilnRuntime
import KilnTokenizers
import Synchronization

/// What the handlers need of a loaded model; safe to share between request tasks.
public struct ServedModel: Sendable {
    /// The name clients send as `model`.
    public let name: String
    public let executor: Executor
    public let tokenizer: Tokenizer
    /// Tokens a request's prompt and completion may take together.
    public let contextLength: Int
    /// Sequences one step runs at most (the engine's batch limit).
    public let maxBatchSize: Int
    let vocabularySize: Int
    let created: Int

    /// Serves `llm` as `name`; the server needs its tokenizer (text in, text out).
    public init(_ llm: LLM, name: String) throws {
        self.name = name
        executor = llm.executor
        tokenizer = try llm.requireTokenizer()
        contextLength = llm.executable.kvCacheLayout.capacityTokens
        maxBatchSize = llm.executable.limits.maxBatchSize
        vocabularySize = llm.executable.vocabularySize
        created = Int(Date().timeIntervalSince1970)
    }

    /// A token's text as logprobs show it (special tokens included).
    func tokenText(_ id: Int32) -> String {
        (try? tokenizer.decode([id], skipSpecialTokens: false)) ?? ""
    }
}

/// The server's phase and its requests in flight. Handlers take a ticket before generating
/// and give it back when the response is written, so the bound counts streams still open.
final class ServerState: Sendable {
    enum Phase: Sendable {
        case loading
        case ready(ServedModel)
        case draining(ServedModel)
        case stopped
    }

    private struct Guarded {
        var phase: Phase = .loading
        var inFlight = 0
    }

    private let guarded = Mutex(Guarded())
    /// Generation requests answered at once: the engine's batch plus the waiting room.
    let maxWaitingRequests: Int

    init(maxWaitingRequests: Int) {
        self.maxWaitingRequests = maxWaitingRequests
    }

    var phase: Phase { guarded.withLock { $0.phase } }
    var inFlight: Int { guarded.withLock { $0.inFlight } }

    /// The model once loaded (also while draining: metrics and /v1/models still answer).
    var model: ServedModel? {
        switch phase {
        case .ready(let model), .draining(let model): model
        case .loading, .stopped: nil
        }
    }

    func setReady(_ model: ServedModel) { guarded.withLock { $0.phase = .ready(model) } }

    /// Stops admitting requests; returns the model to drain, if one was loaded.
    func startDraining() -> ServedModel? {
        guarded.withLock { state in
            switch state.phase {
            case .ready(let model):
                state.phase = .draining(model)
                return model
            case .draining(let model):
                return model
            case .loading, .stopped:
                state.phase = .stopped
                return nil
            }
        }
    }

    /// The most requests in flight once loaded: the running batch plus `maxWaitingRequests`.
    func limit(for model: ServedModel) -> Int { model.maxBatchSize + maxWaitingRequests }

    /// Admits a generation request: the model and a ticket to give back when done, or the
    /// error to answer (503 loading or shutting down, 429 over the bound).
    func admit() throws(APIError) -> (ServedModel, AdmissionTicket) {
        let outcome: Result<ServedModel, APIError> = guarded.withLock { state in
            switch state.phase {
            case .loading: return .failure(.loading)
            case .draining, .stopped: return .failure(.shuttingDown)
            case .ready(let model):
                let limit = limit(for: model)
                guard state.inFlight < limit else { return .failure(.overloaded(limit: limit)) }
                state.inFlight += 1
                return .success(model)
            }
        }
        return (try outcome.get(), AdmissionTicket(state: self))
    }

    fileprivate func release() { guarded.withLock { $0.inFlight -= 1 } }

    /// Waits until no request is in flight or `timeout` passed; whether none is.
    func waitUntilIdle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while inFlight > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return inFlight == 0
    }
}

/// One admitted request's place; given back once, by `release()` or when dropped.
final class AdmissionTicket: Sendable {
    private let state: ServerState
    private let released = Atomic<Bool>(false)

    fileprivate init(state: ServerState) { self.state = state }

    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { state.release() }
    }

    deinit { release() }
}
