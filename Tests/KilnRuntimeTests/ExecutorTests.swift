// The executor's mechanics on a stand-in model whose tokens are known in advance: many tasks
// at once, streams that carry every token once and end with the result, cancellation that
// frees blocks at once, errors that reach only their requests' streams, shutdown.

import KilnGraph
import KilnRuntime
import Dispatch
import KilnTensor
import Testing

/// Lets a stand-in model's steps through one at a time, so a test, not the machine's load,
/// decides how far requests get.
final class StepGate: Sendable {
    private let permits = DispatchSemaphore(value: 0)

    func allow(_ steps: Int = 1) { for _ in 0..<steps { permits.signal() } }

    func pass() { permits.wait() }
}

/// A stand-in model: a sequence's next token is a fixed function of its last token and that
/// token's position, so batching can change nothing. Steps may wait at a gate (for
/// cancellation mid-run) or fail when they meet a given token.
final class ArithmeticModel: Executable {
    let kvCacheLayout: KVCacheLayout
    let vocabularySize = 97
    let limits: StepLimits
    let gate: StepGate?
    let failingToken: Int32?

    init(blocks: Int = 64, limits: StepLimits = StepLimits(maxNumTokens: 16, maxBatchSize: 8), gate: StepGate? = nil,
         failingToken: Int32? = nil) {
        kvCacheLayout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 1, tokensPerBlock: 4, numBlocks: blocks)
        self.limits = limits
        self.gate = gate
        self.failingToken = failingToken
    }

    struct Failure: Error, Equatable {}

    /// The token after `token` at `position`.
    static func next(_ token: Int32, at position: Int) -> Int32 { Int32((Int(token) * 31 + position * 7 + 3) % 97) }

    /// The `count` tokens a prompt is followed by.
    static func continuation(of prompt: [Int32], count: Int) -> [Int32] {
        var tokens = prompt
        for _ in 0..<count { tokens.append(next(tokens.last!, at: tokens.count - 1)) }
        return Array(tokens.suffix(count))
    }

    func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32] {
        gate?.pass()
        var end = 0
        return try step.sequences.map { sequence in
            end += sequence.newTokens
            let last = step.tokenIds[end - 1]
            if last == failingToken { throw Failure() }
            return Self.next(last, at: sequence.cachedTokens + sequence.newTokens - 1)
        }
    }

    func forward(_ step: StepInputs) throws -> HostTensor {
        let ids = try forward(step, choices: [])
        var logits = [Float](repeating: 0, count: ids.count * vocabularySize)
        for (row, id) in ids.enumerated() { logits[row * vocabularySize + Int(id)] = 1 }
        return HostTensor(logits, shape: [ids.count, vocabularySize])
    }
}

/// Reads a request's stream to the end: the tokens in the order they came, and the result.
func collect(_ request: GenerationRequest) async throws -> (tokens: [Int32], outputs: Int, result: GenerationResult?) {
    var tokens: [Int32] = [], outputs = 0, result: GenerationResult?
    for try await output in request.outputs {
        #expect(result == nil, "an output after the result")
        tokens += output.tokenIds
        outputs += 1
        result = output.result
    }
    return (tokens, outputs, result)
}

/// Waits up to ten seconds for `condition`.
func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<2000 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
    return condition()
}

/// Lets `gate`'s steps through, one every few milliseconds, until cancelled.
func keepOpening(_ gate: StepGate) -> Task<Void, Never> {
    Task {
        while !Task.isCancelled {
            gate.allow()
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

@Suite struct ExecutorTests {
    let long = SamplingParams(maxTokens: 200, ignoreEOS: true)

    @Test func requestsFromManyTasksEachGetTheirOwnTokens() async throws {
        let executor = Executor(executable: ArithmeticModel(), eosTokenIds: [])
        let prompts = (0..<24).map { i in (0...(i % 7)).map { Int32((i * 13 + $0 * 5) % 97) } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, prompt) in prompts.enumerated() {
                group.addTask {
                    let params = SamplingParams.greedy(maxTokens: 5 + i % 9)
                    let (tokens, outputs, result) = try await collect(executor.submit(prompt: prompt, params))
                    let expected = ArithmeticModel.continuation(of: prompt, count: params.maxTokens)
                    // every token exactly once, one output per step, the last one with the result
                    #expect(tokens == expected)
                    #expect(outputs == params.maxTokens)
                    #expect(result?.outputIds == expected && result?.finishReason == .length)
                    #expect(result?.usage == Usage(promptTokens: prompt.count, completionTokens: params.maxTokens, cachedPromptTokens: 0))
                }
            }
            try await group.waitForAll()
        }
        #expect(executor.cacheStatistics.usedBlocks == 0)
        await executor.shutdown()
    }

    @Test func endOfSequenceEndsTheStreamWithStop() async throws {
        let prompt: [Int32] = [5, 6, 7]
        let expected = ArithmeticModel.continuation(of: prompt, count: 10)
        let executor = Executor(executable: ArithmeticModel(), eosTokenIds: [Int(expected[3])])
        let (tokens, _, result) = try await collect(executor.submit(prompt: prompt, .greedy(maxTokens: 10)))
        #expect(tokens == Array(expected.prefix(4)))
        #expect(result?.finishReason == .stop)
        #expect((result?.prefillTime ?? .zero) > .zero)
    }

    @Test func cancellingFreesTheBlocksAtOnce() async throws {
        let gate = StepGate()
        let executor = Executor(executable: ArithmeticModel(gate: gate), eosTokenIds: [])
        let request = executor.submit(prompt: Array(1...9), long)
        var iterator = request.outputs.makeAsyncIterator()
        gate.allow()
        let first = try await iterator.next()
        #expect(first?.tokenIds.count == 1)
        #expect(executor.cacheStatistics.usedBlocks > 0)
        executor.cancel(request.id)
        // the loop applies the cancel before its next step, or right after it
        gate.allow()
        var result: GenerationResult?
        while let output = try await iterator.next() { result = output.result }
        // by the time the stream ends, the blocks are back
        #expect(executor.cacheStatistics.usedBlocks == 0)
        #expect(result?.finishReason == .cancelled)
        #expect(result.map { (1...2).contains($0.outputIds.count) } == true)
    }

    @Test func aConsumerGoingAwayCancelsItsRequest() async throws {
        let gate = StepGate()
        // far more steps than `eventually` lets through while it waits
        let executor = Executor(executable: ArithmeticModel(blocks: 1024, gate: gate), eosTokenIds: [])
        let long = SamplingParams(maxTokens: 4000, ignoreEOS: true)
        let request = executor.submit(prompt: Array(1...9), long)
        let reader = Task {
            for try await _ in request.outputs {}
        }
        gate.allow()
        #expect(try await eventually { executor.cacheStatistics.usedBlocks > 0 })
        reader.cancel()
        #expect(try await eventually {
            gate.allow()
            return executor.cacheStatistics.usedBlocks == 0
        })
        // a stream dropped unread cancels its request too
        do { _ = executor.submit(prompt: Array(1...9), long) }
        #expect(try await eventually {
            gate.allow()
            return executor.cacheStatistics.usedBlocks == 0
        })
    }

    @Test func errorsReachOnlyTheirOwnRequests() async throws {
        let prompt: [Int32] = [1, 2, 3]
        // the third generated token makes the model fail
        let failing = ArithmeticModel.continuation(of: prompt, count: 3)[2]
        let executor = Executor(executable: ArithmeticModel(failingToken: failing), eosTokenIds: [])
        await #expect(throws: GenerationError.emptyPrompt) { try await collect(executor.submit(prompt: [], .greedy(maxTokens: 4))) }
        await #expect(throws: GenerationError.tokenOutOfRange(token: 400, vocabularySize: 97)) {
            try await collect(executor.submit(prompt: [1, 400], .greedy(maxTokens: 4)))
        }
        await #expect(throws: GenerationError.self) { try await collect(executor.submit(prompt: prompt, .greedy(maxTokens: 1000))) }
        await #expect(throws: ArithmeticModel.Failure()) { try await collect(executor.submit(prompt: prompt, .greedy(maxTokens: 8))) }
        #expect(executor.cacheStatistics.usedBlocks == 0)
        // and the executor goes on serving
        let (tokens, _, _) = try await collect(executor.submit(prompt: [9], .greedy(maxTokens: 2)))
        #expect(tokens == ArithmeticModel.continuation(of: [9], count: 2))
    }

    @Test func shutdownFinishesWhatIsInFlightThenRefuses() async throws {
        let gate = StepGate()
        let executor = Executor(executable: ArithmeticModel(gate: gate), eosTokenIds: [])
        let requests = (0..<4).map { executor.submit(prompt: [Int32($0 + 1)], .greedy(maxTokens: 20)) }
        let opener = keepOpening(gate)
        // returns only once every request has run to its end
        await executor.shutdown(.finishInFlight)
        opener.cancel()
        for (i, request) in requests.enumerated() {
            let (tokens, _, result) = try await collect(request)
            #expect(tokens == ArithmeticModel.continuation(of: [Int32(i + 1)], count: 20))
            #expect(result?.finishReason == .length)
        }
        await #expect(throws: ExecutorError.shutDown) { try await collect(executor.submit(prompt: [1], .greedy(maxTokens: 2))) }
        await executor.shutdown()  // a second call returns at once
    }

    @Test func shutdownCancellingEndsEveryStream() async throws {
        let gate = StepGate()
        let executor = Executor(executable: ArithmeticModel(blocks: 4096, gate: gate), eosTokenIds: [])
        let long = SamplingParams(maxTokens: 4000, ignoreEOS: true)
        let requests = (0..<3).map { executor.submit(prompt: [Int32($0 + 1)], long) }
        var iterator = requests[0].outputs.makeAsyncIterator()
        gate.allow()
        _ = try await iterator.next()
        let opener = keepOpening(gate)
        await executor.shutdown(.cancelInFlight)
        opener.cancel()
        #expect(executor.cacheStatistics.usedBlocks == 0)
        for request in requests.dropFirst() {
            let result = try await collect(request).result
            #expect(result?.finishReason == .cancelled)
            #expect(result.map { $0.outputIds.count < 4000 } == true)
        }
    }

    @Test func blockingGenerateStopsWhereOnTokenSaysSo() throws {
        let executor = Executor(executable: ArithmeticModel(), eosTokenIds: [])
        var seen: [Int32] = []
        let result = try executor.generate(prompt: [4, 5], long) { token in
            seen.append(token.id)
            return seen.count < 3
        }
        #expect(result.finishReason == .cancelled)
        #expect(result.outputIds == seen && seen == ArithmeticModel.continuation(of: [4, 5], count: 3))
        let whole = try executor.generate(prompt: [4, 5], .greedy(maxTokens: 6))
        #expect(whole.outputIds == ArithmeticModel.continuation(of: [4, 5], count: 6) && whole.finishReason == .length)
        executor.shutdown()
        #expect(throws: ExecutorError.shutDown) { try executor.generate(prompt: [4, 5], .greedy(maxTokens: 1)) }
    }

    @Test func theBatcherCancelsWaitingAndRunningRequests() throws {
        let batcher = InFlightBatcher(executable: ArithmeticModel(blocks: 8), eosTokenIds: [])
        // 24 tokens each: one fits the 32-token pool at a time
        let running = try batcher.submit(prompt: Array(1...8), .greedy(maxTokens: 16))
        let waiting = try batcher.submit(prompt: Array(11...18), .greedy(maxTokens: 16))
        _ = try batcher.step()
        #expect(batcher.lastStepTokens.map(\.id) == [running])
        #expect(batcher.lastStepTokens.map(\.token.id) == ArithmeticModel.continuation(of: Array(1...8), count: 1))
        #expect(batcher.cancel(waiting)?.outputIds == [])
        #expect(batcher.cancel(running)?.outputIds.count == 1)
        #expect(batcher.cacheStatistics.usedBlocks == 0 && !batcher.hasWork)
        #expect(batcher.cancel(running) == nil)
    }
}
