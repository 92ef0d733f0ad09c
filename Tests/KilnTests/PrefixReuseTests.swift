// Prefix reuse through the executor: a request that starts like an earlier one computes
// only its new tokens, with the tokens it would get computing everything.

import Kiln
import KilnRuntime
import Testing

@Suite struct PrefixReuseTests {
    @Test func aRepeatedPrefixIsNotComputedAgain() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let prefix = Array((reference.prompts[1].input_ids + reference.prompts[0].input_ids + reference.prompts[1].input_ids).prefix(64))
        var params = SamplingParams.greedy(maxTokens: 12)
        params.ignoreEOS = true
        let options = BuildOptions(maxSequenceLength: 256, tokensPerBlock: 16)
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        #expect(try llm.generate(prompt: prefix + [5, 6, 7], params).cachedPromptTokens == 0)
        let second = try llm.generate(prompt: prefix + [8, 9], params)
        #expect(second.cachedPromptTokens == 64)
        #expect(llm.executor.cacheStatistics.reusedBlocks == 4)
        let computedWhole = try LLM(model: fixturesDirectory + "/llama-gqa", options: options).generate(prompt: prefix + [8, 9], params)
        #expect(computedWhole.cachedPromptTokens == 0)
        #expect(second.outputIds == computedWhole.outputIds)
    }
}
