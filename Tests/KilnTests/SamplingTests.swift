import Kiln
import KilnRuntime
import Testing

@Suite struct SeededSamplingTests {
    let prompt: [Int32] = [0, 527, 400, 646, 509, 86]

    @Test func sameSeedGivesIdenticalTokens() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa")
        let params = SamplingParams(temperature: 1.0, topK: 50, topP: 0.95, seed: 1234, maxTokens: 32, ignoreEOS: true)
        let first = try llm.generate(prompt: prompt, params).outputIds
        let second = try llm.generate(prompt: prompt, params).outputIds
        #expect(first == second)
        var other = params
        other.seed = 99
        #expect(try llm.generate(prompt: prompt, other).outputIds != first)
    }

    @Test func topKOneEqualsGreedy() throws {
        let llm = try LLM(model: fixturesDirectory + "/mistral-spm")
        let greedy = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 24, ignoreEOS: true)).outputIds
        let topOne = try llm.generate(prompt: prompt, SamplingParams(temperature: 1.3, topK: 1, seed: 5, maxTokens: 24, ignoreEOS: true)).outputIds
        #expect(topOne == greedy)
    }

    @Test func generationStopsAtEndOfSequence() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa")
        let (reference, _) = try Reference.load("llama-gqa")
        let expected = reference.prompts[0].greedy_ids
        // treat the fourth greedy token as end-of-sequence
        let executor = Executor(executable: llm.executable, eosTokenIds: [Int(expected[3])])
        let result = try executor.generate(prompt: reference.prompts[0].input_ids, .greedy(maxTokens: 32))
        #expect(result.outputIds == Array(expected.prefix(4)))
        #expect(result.finishReason == .stop)
    }

    @Test func promptLongerThanTheCacheIsRefused() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 16))
        #expect(throws: GenerationError.contextTooLong(promptTokens: 6, maxTokens: 32, capacity: 32)) {
            try llm.generate(prompt: prompt, .greedy(maxTokens: 32))
        }
        #expect(throws: GenerationError.emptyPrompt) { try llm.generate(prompt: [], .greedy(maxTokens: 1)) }
    }
}
