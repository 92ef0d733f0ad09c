// In-flight batching on the CPU: prompts submitted together, at staggered steps, with
// prompts longer than a step split across steps, give each request exactly the greedy tokens
// it gets alone.

import Kiln
import KilnGraph
import KilnRuntime
import Testing

@Suite struct InFlightBatchingTests {
    @Test(arguments: parityFixtures)
    func batchedGreedyEqualsEachPromptAlone(fixture: String) throws {
        let (reference, _) = try Reference.load(fixture)
        let base = reference.prompts.map(\.input_ids)
        // eight prompts of mixed lengths: the fixture's, some cut short, some extended
        let prompts = (0..<8).map { i -> [Int32] in
            let prompt = base[i % base.count]
            return i < 3 ? prompt : i < 6 ? Array(prompt.prefix(3 + i)) : prompt + base[(i + 1) % base.count]
        }
        var params = SamplingParams.greedy(maxTokens: 12)
        params.ignoreEOS = true
        // a 16-token step budget: longer prompts prefill in chunks, beside other requests' decodes
        let options = BuildOptions(maxSequenceLength: 1024, limits: StepLimits(maxNumTokens: 16, maxBatchSize: 8))
        let batched = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let batcher = InFlightBatcher(executable: batched.executable, eosTokenIds: [])
        var ids: [SequenceID] = []
        var results: [SequenceID: GenerationResult] = [:]
        for (arrival, prompt) in prompts.enumerated() {
            ids.append(try batcher.submit(prompt: prompt, params))
            // requests arrive while others run
            if arrival % 3 == 2 { for done in try batcher.step() { results[done.id] = done.result } }
        }
        results.merge(try batcher.runUntilIdle()) { a, _ in a }
        let alone = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        for (i, prompt) in prompts.enumerated() {
            #expect(results[ids[i]]?.outputIds == (try alone.generate(prompt: prompt, params).outputIds), "\(fixture) prompt \(i)")
        }
        #expect(batcher.cacheStatistics.usedBlocks == 0)  // every block back
    }

    /// Requests that do not fit the KV cache together wait for room and then run.
    @Test func requestsWaitForCacheRoom() throws {
        let options = BuildOptions(maxSequenceLength: 64, tokensPerBlock: 8)
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let batcher = InFlightBatcher(executable: llm.executable, eosTokenIds: [])
        var params = SamplingParams.greedy(maxTokens: 20)
        params.ignoreEOS = true
        // 40 tokens each: one fits the 64-token pool at a time
        let first = try batcher.submit(prompt: Array(1...20), params), second = try batcher.submit(prompt: Array(21...40), params)
        let finishedFirst = try batcher.step().isEmpty
        #expect(finishedFirst)
        let results = try batcher.runUntilIdle()
        #expect(results[first]?.outputIds.count == 20 && results[second]?.outputIds.count == 20)
        #expect(results[second]?.outputIds == (try llm.generate(prompt: Array(21...40), params).outputIds))
        #expect(throws: GenerationError.self) { try batcher.submit(prompt: Array(1...60), params) }
    }

    /// Under max-utilization admission a deliberately tiny KV pool forces preemptions; every
    /// request still completes with the tokens it gets with room to spare.
    @Test(arguments: ["llama-gqa", "qwen2-tied", "mistral-sliding-window"])
    func preemptedRequestsFinishWithTheSameTokens(fixture: String) throws {
        let (reference, _) = try Reference.load(fixture)
        let prompts = (0..<6).map { i in reference.prompts[i % 3].input_ids + [Int32(i)] }
        var params = SamplingParams(temperature: 0.9, topK: 20, seed: 11, maxTokens: 24)
        params.ignoreEOS = true
        // 96 tokens of cache for six requests of up to 56 tokens each
        let tiny = try LLM(model: fixturesDirectory + "/" + fixture, options: BuildOptions(maxSequenceLength: 96, tokensPerBlock: 8))
        let batcher = InFlightBatcher(executable: tiny.executable, eosTokenIds: [], capacity: MaxUtilizationScheduler())
        let ids = try prompts.map { try batcher.submit(prompt: $0, params) }
        let results = try batcher.runUntilIdle()
        #expect(batcher.preemptions > 0)
        #expect(batcher.cacheStatistics.usedBlocks == 0)
        let roomy = try LLM(model: fixturesDirectory + "/" + fixture, options: BuildOptions(maxSequenceLength: 1024))
        for (i, prompt) in prompts.enumerated() {
            #expect(results[ids[i]]?.outputIds == (try roomy.generate(prompt: prompt, params).outputIds), "\(fixture) prompt \(i)")
        }
    }
}
