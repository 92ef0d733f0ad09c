// The executor's loop: the only code that touches the batcher and decides what the requests'
// sinks hear. Each turn applies the commands that arrived, then runs one step and hands every
// request its new tokens — through a serial queue of their own, so the streams are fed while
// the next step runs; with nothing to do it sleeps until a command comes.

import Dispatch
import KilnGraph
import Synchronization

/// Receives a request's outputs, in order, on the executor's output queue (it must not block).
typealias OutputSink = @Sendable (Result<GenerationOutput, any Error>) -> Void

/// What callers ask of the loop.
enum ExecutorCommand: Sendable {
    case submit(RequestID, prompt: [Int32], SamplingParams, OutputSink)
    case cancel(RequestID)
    case shutdown(ShutdownMode)
}

/// What the loop tells callers about its state, updated before any sink hears of a change.
final class LoopStatus: Sendable {
    struct Snapshot: Sendable {
        var cache: KVCacheManager.Statistics
        var preemptions = 0
        var load = ExecutorLoad(waitingRequests: 0, runningRequests: 0)
    }

    private let snapshot: Mutex<Snapshot>

    /// The status of an empty pool of `blocks` blocks.
    init(blocks: Int) {
        snapshot = Mutex(Snapshot(cache: KVCacheManager.Statistics(usedBlocks: 0, freeBlocks: blocks, cachedBlocks: 0, lookedUpBlocks: 0, reusedBlocks: 0)))
    }

    var current: Snapshot { snapshot.withLock { $0 } }

    func publish(_ value: Snapshot) { snapshot.withLock { $0 = value } }
}

final class ExecutorLoop {
    private let batcher: InFlightBatcher
    private let commands: BlockingQueue<ExecutorCommand>
    private let status: LoopStatus
    private var requests: [SequenceID: (id: RequestID, sink: OutputSink)] = [:]
    private var sequences: [RequestID: SequenceID] = [:]
    private var shutdown: ShutdownMode?
    /// Where the sinks are called, in the order the loop sends to them.
    private let outputs = DispatchQueue(label: "kiln.executor.outputs", qos: .userInitiated)

    init(batcher: InFlightBatcher, commands: BlockingQueue<ExecutorCommand>, status: LoopStatus) {
        self.batcher = batcher
        self.commands = commands
        self.status = status
    }

    func run() {
        while true {
            // sleep only with nothing to step and no shutdown to carry out
            for command in batcher.hasWork || shutdown != nil ? commands.take() : commands.drain() { apply(command) }
            if shutdown == .cancelInFlight || (shutdown != nil && !batcher.hasWork) { break }
            if batcher.hasWork { step() }
        }
        for sequence in Array(requests.keys) { cancel(sequence) }
        for case .submit(_, _, _, let sink) in commands.close() { send(sink, .failure(ExecutorError.shutDown)) }
        outputs.sync {}  // every output is delivered before the executor counts as stopped
    }

    private func send(_ sink: @escaping OutputSink, _ event: Result<GenerationOutput, any Error>) {
        outputs.async { sink(event) }
    }

    private func apply(_ command: ExecutorCommand) {
        switch command {
        case .submit(let id, let prompt, let params, let sink):
            guard shutdown == nil else { return send(sink, .failure(ExecutorError.shutDown)) }
            // checked here, so one bad request cannot fail the step of every other
            let vocabularySize = batcher.executable.vocabularySize
            if let token = prompt.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                return send(sink, .failure(GenerationError.tokenOutOfRange(token: token, vocabularySize: vocabularySize)))
            }
            do {
                if params.isBeamSearch { return runBeamSearch(prompt: prompt, params, sink: sink) }
                let sequence = try batcher.submit(prompt: prompt, params)
                requests[sequence] = (id, sink)
                sequences[id] = sequence
                publishStatus()
            } catch {
                send(sink, .failure(error))
            }
        case .cancel(let id):
            if let sequence = sequences[id] { cancel(sequence) }
        case .shutdown(let mode):
            // a second shutdown may hurry the first, never slow it down
            if shutdown != .cancelInFlight { shutdown = mode }
        }
    }

    /// Runs a turn of the batcher (`step` or `drain`) and hands the requests what it took.
    private func step(_ turn: (InFlightBatcher) -> () throws -> [FinishedRequest] = InFlightBatcher.step) {
        let finished: [FinishedRequest]
        do {
            finished = try turn(batcher)()
        } catch {
            // the backend failed mid-step: no running request's state can be trusted
            return failEverything(error)
        }
        publishStatus()
        var tokens: [SequenceID: [GeneratedToken]] = [:], order: [SequenceID] = []
        for generated in batcher.lastStepTokens {
            if tokens[generated.id] == nil { order.append(generated.id) }
            tokens[generated.id, default: []].append(generated.token)
        }
        let results = Dictionary(uniqueKeysWithValues: finished.map { ($0.id, $0.result) })
        var deliveries: [(OutputSink, GenerationOutput)] = []
        for sequence in order + finished.map(\.id).filter({ tokens[$0] == nil }) {
            let output = GenerationOutput(tokens: tokens[sequence] ?? [], result: results[sequence])
            if let sink = output.result != nil ? forget(sequence) : requests[sequence]?.sink { deliveries.append((sink, output)) }
        }
        // one hand-off a step
        outputs.async { [deliveries] in
            for (sink, output) in deliveries { sink(.success(output)) }
        }
    }

    /// A beam search runs to its end here, on the batcher's KV cache, before the loop steps
    /// again: the running batch pauses for the whole search (its requests keep their blocks;
    /// the beams use the free ones). Beams fork and die at every step, which the batch's
    /// one-sequence-per-completion bookkeeping does not model, and a search is as long as one
    /// request's decode. Its tokens are final only at the end, so its stream gets one output,
    /// every beam's tokens (best first) with the result; it cannot be cancelled mid-search.
    private func runBeamSearch(prompt: [Int32], _ params: SamplingParams, sink: @escaping OutputSink) {
        step(InFlightBatcher.drain)  // the step in flight is taken first: the search uses the device alone
        var tokens: [GeneratedToken] = []
        let outcome = Result { try batcher.runBeamSearch(prompt: prompt, params) { tokens.append($0) } }
        publishStatus()
        send(sink, outcome.map { GenerationOutput(tokens: tokens, result: $0) })
    }

    private func cancel(_ sequence: SequenceID) {
        guard let result = batcher.cancel(sequence) else { return }
        publishStatus()
        if let sink = forget(sequence) { send(sink, .success(GenerationOutput(tokens: [], result: result))) }
    }

    private func failEverything(_ error: any Error) {
        let sinks = requests.keys.compactMap { sequence in
            _ = batcher.cancel(sequence)
            return forget(sequence)
        }
        publishStatus()
        for sink in sinks { send(sink, .failure(error)) }
    }

    /// Drops a request that is done; returns its sink for the last word.
    private func forget(_ sequence: SequenceID) -> OutputSink? {
        guard let request = requests.removeValue(forKey: sequence) else { return nil }
        sequences[request.id] = nil
        return request.sink
    }

    private func publishStatus() {
        status.publish(LoopStatus.Snapshot(cache: batcher.cacheStatistics, preemptions: batcher.preemptions,
                                           load: ExecutorLoad(waitingRequests: batcher.waitingRequests, runningRequests: batcher.runningRequests)))
    }
}
