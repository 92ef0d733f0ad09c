// Steps queued one ahead (the next step queued before the previous one's picks are taken, its
// decode rows fed those picks) give every request the tokens it gets one step at a time: with
// stops, host-side picks, sampling, preemption and cancellation in the mix.

import KilnGraph
import KilnRuntime
import Testing

@Suite struct QueueAheadTests {
    /// Runs `requests` (submitted two a step) to the end; the results in submission order.
    func run(_ requests: [(prompt: [Int32], params: SamplingParams)], on executable: any Executable, eos: [Int] = [],
             capacity: any CapacityScheduler = GuaranteedNoEvictScheduler(), queuesAhead: Bool) throws -> [GenerationResult] {
        let batcher = InFlightBatcher(executable: executable, eosTokenIds: eos, capacity: capacity, queuesAhead: queuesAhead)
        var ids: [SequenceID] = [], results: [SequenceID: GenerationResult] = [:]
        for (i, request) in requests.enumerated() {
            ids.append(try batcher.submit(prompt: request.prompt, request.params))
            if i % 2 == 1 { for done in try batcher.step() { results[done.id] = done.result } }
        }
        results.merge(try batcher.runUntilIdle()) { a, _ in a }
        #expect(batcher.cacheStatistics.usedBlocks == 0)
        return ids.map { results[$0]! }
    }

    @Test func stopsSamplingAndHostPicksGiveTheSameTokens() throws {
        let requests: [(prompt: [Int32], params: SamplingParams)] = [
            ([0], .greedy(maxTokens: 8)),  // ends at the end token
            ([3], SamplingParams(temperature: 1.2, seed: 5, maxTokens: 9, ignoreEOS: true, n: 3)),
            ([0], SamplingParams(maxTokens: 12, minTokens: 4)),  // picked on the host until 4 tokens
            ([5, 6], SamplingParams(temperature: 0.8, topK: 3, seed: 2, maxTokens: 7)),
            ([1], SamplingParams(maxTokens: 6, repetitionPenalty: 2)),  // every row on the host while it runs
            ([2], .greedy(maxTokens: 1)),
        ]
        let ahead = try run(requests, on: ScriptedExecutable(), eos: [7], queuesAhead: true)
        let oneByOne = try run(requests, on: ScriptedExecutable(), eos: [7], queuesAhead: false)
        #expect(ahead.map { $0.completions.map(\.outputIds) } == oneByOne.map { $0.completions.map(\.outputIds) })
        #expect(ahead.map { $0.completions.map(\.finishReason) } == oneByOne.map { $0.completions.map(\.finishReason) })
        #expect(ahead[0].outputIds == [1, 2, 7] && ahead[5].outputIds.count == 1)
    }

    @Test func preemptedRequestsGetTheirTokens() throws {
        // 24 slots for eight requests of up to 14 tokens: the newest are preempted and recomputed
        let requests = (0..<8).map { i in (prompt: (0..<(2 + i % 3)).map { Int32($0 * 5 + i) }, params: SamplingParams.greedy(maxTokens: 4 + i)) }
        for queuesAhead in [true, false] {
            let results = try run(requests, on: ArithmeticModel(blocks: 6), capacity: MaxUtilizationScheduler(), queuesAhead: queuesAhead)
            for (request, result) in zip(requests, results) {
                #expect(result.outputIds == ArithmeticModel.continuation(of: request.prompt, count: request.params.maxTokens))
            }
        }
    }

    @Test func cancellingARequestWithAStepInFlightDropsItsRow() throws {
        let batcher = InFlightBatcher(executable: ArithmeticModel(), eosTokenIds: [], queuesAhead: true)
        let kept = try batcher.submit(prompt: [1, 2], .greedy(maxTokens: 6))
        let cancelled = try batcher.submit(prompt: [3, 4], .greedy(maxTokens: 6))
        _ = try batcher.step()
        _ = try batcher.step()  // the second step is in flight, with a row of each
        let partial = try #require(batcher.cancel(cancelled))
        #expect(partial.outputIds == ArithmeticModel.continuation(of: [3, 4], count: 1) && partial.completions[0].finishReason == .cancelled)
        let results = try batcher.runUntilIdle()
        #expect(results[kept]?.outputIds == ArithmeticModel.continuation(of: [1, 2], count: 6) && results[cancelled] == nil)
        #expect(batcher.cacheStatistics.usedBlocks == 0 && !batcher.hasWork)
    }

    @Test func aSynchronousBackendFeedsThePreviousPicks() throws {
        let model = ArithmeticModel()
        let table = [Int32(0)]
        let first = try model.queue(StepInputs(sequences: [([5, 6], SequenceStep(cachedTokens: 0, newTokens: 2, blockTable: table))], tokensPerBlock: 4),
                                    choices: [.greedy], feeds: nil)
        // the placeholder id 0 is replaced by the first step's pick
        let second = try model.queue(StepInputs(sequences: [([0], SequenceStep(cachedTokens: 2, newTokens: 1, blockTable: table))], tokensPerBlock: 4),
                                     choices: [.greedy], feeds: TokenFeeds(source: first, rows: [0]))
        #expect(try model.picks(of: first) == ArithmeticModel.continuation(of: [5, 6], count: 1))
        #expect(try model.picks(of: second) == [ArithmeticModel.continuation(of: [5, 6], count: 2)[1]])
    }
}
