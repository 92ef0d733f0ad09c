// The executor and LLM's request API on real models: requests arriving at staggered times
// from many tasks get exactly the greedy tokens they get alone, on every fixture; batched
// prompts keep Hugging Face's tokens; streamed text and chat answers add up to the result.

import Kiln
import KilnGraph
import KilnRuntime
import KilnTokenizers
import Testing

@Suite struct ExecutorFixtureTests {
    @Test(arguments: parityFixtures)
    func staggeredArrivalsGetTheTokensOfSingleRuns(fixture: String) async throws {
        try await Self.staggeredArrivalsMatchSingleRuns(fixture: fixture, options: BuildOptions())
    }

    /// Batch invariance: 8 prompts of mixed lengths submitted together with staggered
    /// arrivals, long ones prefilled in chunks beside the others' decodes, get the greedy
    /// tokens each gets alone (`options`: the backend and precision; the step limits are set here).
    static func staggeredArrivalsMatchSingleRuns(fixture: String, options base: BuildOptions) async throws {
        let (reference, _) = try Reference.load(fixture)
        let prompts = reference.prompts.map(\.input_ids)
        // mixed lengths: the fixture's prompts, some cut short, some two joined
        let mixed = (0..<8).map { i -> [Int32] in
            let prompt = prompts[i % prompts.count]
            return i < 3 ? prompt : i < 6 ? Array(prompt.prefix(2 + i)) : prompt + prompts[(i + 1) % prompts.count]
        }
        let params = SamplingParams(maxTokens: 10, ignoreEOS: true)
        // a 16-token step budget: long prompts prefill in chunks beside others' decodes
        var options = base
        options.maxSequenceLength = 1024
        options.limits = StepLimits(maxNumTokens: 16, maxBatchSize: 8)
        let alone = try await LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let expected = try mixed.map { try alone.generate(prompt: $0, params).outputIds }
        let llm = try await LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let executor = llm.executor
        let outputs = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, prompt) in mixed.enumerated() {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(i))
                    return (i, try await executor.submit(prompt: prompt, params).result().outputIds)
                }
            }
            var outputs = [[Int32]](repeating: [], count: mixed.count)
            for try await (i, tokens) in group { outputs[i] = tokens }
            return outputs
        }
        for i in mixed.indices { #expect(outputs[i] == expected[i], "\(fixture) prompt \(i)") }
        #expect(executor.cacheStatistics.usedBlocks == 0)
    }

    @Test func batchedPromptsKeepHuggingFaceTokensInOrder() async throws {
        let (reference, _) = try Reference.load("qwen2-tied")
        let llm = try await LLM(model: fixturesDirectory + "/qwen2-tied")
        let params = SamplingParams(maxTokens: reference.prompts[0].greedy_ids.count, ignoreEOS: true)
        let results = try await llm.generate(prompts: reference.prompts.map(\.input_ids), params: params)
        #expect(results.map(\.outputIds) == reference.prompts.map { Array($0.greedy_ids.prefix(params.maxTokens)) })
        #expect(results.allSatisfy { $0.finishReason == .length && $0.usage.completionTokens == params.maxTokens })
    }

    @Test func streamedTextAddsUpToTheDecodedAnswer() async throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let llm = try await LLM(model: fixturesDirectory + "/llama-gqa")
        let tokenizer = try llm.requireTokenizer()
        let params = SamplingParams(maxTokens: 24, ignoreEOS: true)
        var text = "", tokens: [Int32] = [], result: GenerationResult?
        for try await delta in llm.stream(prompt: reference.prompts[1].text, params: params) {
            text += delta.text
            tokens += delta.tokenIds
            result = delta.result
        }
        let answer = try #require(result)
        #expect(answer.promptIds == tokenizer.encode(reference.prompts[1].text))
        #expect(tokens == answer.outputIds && tokens.count == 24)
        #expect(text == (try tokenizer.decode(tokens, skipSpecialTokens: true)))
        #expect(try await llm.generate(prompts: [reference.prompts[1].text], params: params) == [text])
    }

    @Test func chatRendersTheTemplate() async throws {
        let llm = try await LLM(model: fixturesDirectory + "/qwen2-tied")
        let tokenizer = try llm.requireTokenizer()
        let messages: [ChatMessage] = [.system("Be brief."), .user("What is a kiln?")]
        var result: GenerationResult?
        for try await delta in llm.chat(messages: messages, params: .greedy(maxTokens: 8)) { result = delta.result ?? result }
        let rendered = try tokenizer.applyChatTemplate(messages: messages.map {
            .object(JSONObject([("role", .string($0.role)), ("content", .string($0.content))]))
        }, addGenerationPrompt: true)
        #expect(result?.promptIds == tokenizer.encode(rendered, addSpecialTokens: false))
        #expect(result.map { !$0.outputIds.isEmpty } == true)
    }
}
