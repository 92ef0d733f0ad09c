// Every sampling parameter end to end on a fixture model: the in-flight batcher gives each
// request exactly what it gets alone, completions of one prompt reuse its
// blocks, logprobs match the model's logits, and `kiln generate` takes the flags.

import Foundation
import Kiln
import KilnGraph
import KilnRuntime
import Testing

@Suite struct SamplingParamsTests {
    /// Chunked prefill (16 tokens a step) beside other requests' decodes.
    let options = BuildOptions(maxSequenceLength: 1024, limits: StepLimits(maxNumTokens: 16, maxBatchSize: 8))

    /// One request per feature, and some together.
    static func requests(_ reference: Reference) -> [(prompt: [Int32], params: SamplingParams)] {
        let prompts = reference.prompts.map(\.input_ids)
        let greedy = reference.prompts[0].greedy_ids
        return [
            (prompts[0], SamplingParams(maxTokens: 16)),
            (prompts[1], SamplingParams(temperature: 0.9, topK: 40, seed: 1, maxTokens: 16)),
            (prompts[2], SamplingParams(temperature: 0.8, seed: 2, maxTokens: 16, repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.3)),
            (prompts[0], SamplingParams(temperature: 1, minP: 0.1, seed: 3, maxTokens: 16, logitBias: [greedy[1]: -100, 7: 4])),
            (prompts[0], SamplingParams(maxTokens: 16, minTokens: 6, stopTokenIds: [greedy[2]])),
            (prompts[1] + prompts[2], SamplingParams(temperature: 1.1, topP: 0.9, seed: 4, maxTokens: 12, n: 3, logprobs: 3)),
            (prompts[2], SamplingParams(maxTokens: 16, repetitionPenalty: 1.5, stop: ["e"], logprobs: 0)),
        ]
    }

    @Test(arguments: ["llama-gqa", "qwen2-tied"])
    func batchedRequestsGetWhatTheyGetAloneOnEveryParameter(fixture: String) throws {
        try Self.batchedMatchesAlone(fixture: fixture, options: options)
    }

    /// Every request of `requests` batched (arriving while others run) gives what it gets alone.
    static func batchedMatchesAlone(fixture: String, options: BuildOptions) throws {
        let (reference, _) = try Reference.load(fixture)
        let requests = requests(reference)
        let batching = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let batcher = InFlightBatcher(executable: batching.executable, eosTokenIds: batching.executor.eosTokenIds.map(Int.init),
                                      text: batching.executor.text)
        var ids: [SequenceID] = []
        var results: [SequenceID: GenerationResult] = [:]
        for (arrival, request) in requests.enumerated() {
            ids.append(try batcher.submit(prompt: request.prompt, request.params))
            if arrival % 2 == 1 { for done in try batcher.step() { results[done.id] = done.result } }
        }
        results.merge(try batcher.runUntilIdle()) { a, _ in a }
        #expect(batcher.cacheStatistics.usedBlocks == 0)

        let alone = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        for (i, request) in requests.enumerated() {
            let expected = try alone.generate(prompt: request.prompt, request.params)
            let batched = try #require(results[ids[i]])
            #expect(batched.completions.count == request.params.n)
            for (got, want) in zip(batched.completions, expected.completions) {
                #expect(got.outputIds == want.outputIds, "\(fixture) request \(i)")
                #expect(got.finishReason == want.finishReason && got.text == want.text, "\(fixture) request \(i)")
                #expect(got.logprobs?.map(\.token) == want.logprobs?.map(\.token))
                #expect(got.logprobs?.map { $0.top.map(\.token) } == want.logprobs?.map { $0.top.map(\.token) })
                for (a, b) in zip(got.logprobs ?? [], want.logprobs ?? []) { #expect(abs(a.logprob - b.logprob) < 1e-4) }
            }
        }
    }

    @Test func eachFeatureChangesWhatItShould() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let prompt = reference.prompts[0].input_ids, greedy = reference.prompts[0].greedy_ids
        let plain = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 12, ignoreEOS: true)).outputIds
        #expect(plain == Array(greedy.prefix(12)))
        // a bias of -100 on the first greedy token: another first token
        #expect(try llm.generate(prompt: prompt, SamplingParams(maxTokens: 1, logitBias: [greedy[0]: -100])).outputIds != [greedy[0]])
        // a stop token id ends there, but not before min tokens
        let stopAt = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 12, ignoreEOS: true, stopTokenIds: [greedy[3]]))
        #expect(stopAt.outputIds == Array(greedy.prefix(4)) && stopAt.finishReason == .stop)
        let later = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 12, ignoreEOS: true, minTokens: 5, stopTokenIds: [greedy[3]]))
        #expect(later.outputIds.count > 5 && !later.outputIds.prefix(5).contains(greedy[3]))
        // the greedy run repeats itself; a strong frequency penalty makes it more varied
        let varied = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 12, ignoreEOS: true, frequencyPenalty: 2)).outputIds
        #expect(Set(plain).count < plain.count && Set(varied).count > Set(plain).count)
        // logprobs alone leave the tokens as they are
        let seeded = SamplingParams(temperature: 1, topK: 30, seed: 9, maxTokens: 12, ignoreEOS: true)
        var withLogprobs = seeded
        withLogprobs.logprobs = 2
        #expect(try llm.generate(prompt: prompt, withLogprobs).outputIds == llm.generate(prompt: prompt, seeded).outputIds)
    }

    @Test func logprobsAreTheLogSoftmaxOfTheModelsLogits() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let prompt = reference.prompts[1].input_ids
        let result = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 1, logprobs: 5))
        let first = try #require(result.completions[0].logprobs?.first)
        let logits = try llm.promptLogits(prompt).floats()
        let row = Array(logits.suffix(logits.count / prompt.count)).map(Double.init)
        let top = row.max()!
        let logSum = top + log(row.reduce(0) { $0 + exp($1 - top) })
        #expect(first.token == reference.prompts[1].greedy_ids[0])
        #expect(abs(Double(first.logprob) - (row[Int(first.token)] - logSum)) < 1e-3)
        let expectedTop = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
        #expect(first.top.map { Int($0.token) } == Array(expectedTop))
        for entry in first.top { #expect(abs(Double(entry.logprob) - (row[Int(entry.token)] - logSum)) < 1e-3) }
        #expect(first.top.map(\.logprob) == first.top.map(\.logprob).sorted(by: >))
    }

    @Test func completionsOfOnePromptShareItsBlocks() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let prompt = Array((reference.prompts[0].input_ids + reference.prompts[1].input_ids + reference.prompts[2].input_ids).prefix(40))
        let params = SamplingParams(temperature: 1, seed: 21, maxTokens: 10, ignoreEOS: true, n: 3)
        let options = BuildOptions(maxSequenceLength: 256, tokensPerBlock: 16)
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let batcher = InFlightBatcher(executable: llm.executable, eosTokenIds: [])
        let id = try batcher.submit(prompt: prompt, params)
        let result = try #require(try batcher.runUntilIdle()[id])
        // the two later completions each found the prompt's 2 full blocks
        #expect(batcher.cacheStatistics.reusedBlocks == 4)
        #expect(result.completions.count == 3 && Set(result.completions.map(\.outputIds)).count == 3)
        let again = try LLM(model: fixturesDirectory + "/llama-gqa", options: options).generate(prompt: prompt, params)
        #expect(again.completions.map(\.outputIds) == result.completions.map(\.outputIds))
    }
}

@Suite struct SamplingCommandLineTests {
    @Test func generateTakesTheSamplingFlags() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let prompt = reference.prompts[0]
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", prompt.input_ids.map(String.init).joined(separator: ","),
                               "--max-tokens", "8", "--ignore-eos", "--temperature", "0.9", "--seed", "5", "--min-p", "0.05",
                               "--repetition-penalty", "1.2", "--presence-penalty", "0.2", "--frequency-penalty", "0.1",
                               "--logit-bias", "3=-2", "--logit-bias", "9=1.5", "--min-tokens", "2", "--n", "2", "--logprobs", "2", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let completions = try #require(object["completions"] as? [[String: Any]])
        #expect(completions.count == 2)
        for completion in completions {
            let ids = try #require(completion["output_ids"] as? [Int])
            let logprobs = try #require(completion["logprobs"] as? [[String: Any]])
            #expect(ids.count == 8 && logprobs.map { $0["id"] as? Int } == ids)
            #expect(logprobs.allSatisfy { ($0["top_logprobs"] as? [Any])?.count == 2 && ($0["logprob"] as? Double).map { $0 <= 0 } == true })
            #expect(completion["finish_reason"] as? String == "length" && completion["text"] is String)
        }
    }

    @Test func generateStopsOnAStringAndTrimsIt() throws {
        let free = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt", "The license grants", "--max-tokens", "24",
                                "--ignore-eos", "--json"])
        let text = try #require((JSONSerialization.jsonObject(with: Data(free.stdout.utf8)) as? [String: Any])?["text"] as? String)
        // a stop string from the middle of the free-running text
        let scalars = Array(text.unicodeScalars)
        let stop = String(String.UnicodeScalarView(scalars[(scalars.count / 2)..<(scalars.count / 2 + 3)]))
        let before = String(text[..<text.range(of: stop)!.lowerBound])
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt", "The license grants", "--max-tokens", "24",
                               "--ignore-eos", "--stop", stop, "--json"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["text"] as? String == before && object["finish_reason"] as? String == "stop")
        let streamed = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt", "The license grants", "--max-tokens", "24",
                                    "--ignore-eos", "--stop", stop])
        #expect(streamed.stdout == before + "\n")
    }

    @Test func badSamplingFlagsNameTheField() throws {
        let model = fixturesDirectory + "/llama-gqa"
        let badMinP = try runKiln(["generate", "--model", model, "--prompt-ids", "1", "--min-p", "2"])
        #expect(badMinP.status != 0 && badMinP.stderr.contains("min_p"))
        let badBias = try runKiln(["generate", "--model", model, "--prompt-ids", "1", "--logit-bias", "x"])
        #expect(badBias.status != 0 && badBias.stderr.contains("'x' is not ID=BIAS"))
        let outOfVocabulary = try runKiln(["generate", "--model", model, "--prompt-ids", "1", "--logit-bias", "5000=1"])
        #expect(outOfVocabulary.status != 0 && outOfVocabulary.stderr.contains("logit_bias = 5000"))
        let badN = try runKiln(["generate", "--model", model, "--prompt-ids", "1", "--n", "0"])
        #expect(badN.status != 0 && badN.stderr.contains("n = 0"))
    }
}
