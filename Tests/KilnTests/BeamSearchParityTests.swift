// Beam search against Hugging Face's `generate(num_beams=…, do_sample=False)` on every fixture
// (Scripts/fixtures/make_beam_references.py): the same beams, best first, and their scores —
// through the Generator and through `kiln generate --beam-width`.

import Foundation
import Kiln
import KilnGraph
import KilnRuntime
import Testing

/// A fixture's beam_reference.json.
struct BeamReference: Decodable {
    struct Case: Decodable {
        let prompt: Int
        let input_ids: [Int32]
        let num_beams: Int
        let length_penalty: Float
        let early_stopping: Bool
        let max_new_tokens: Int
        let eos_token_id: Int32
        let sequences: [[Int32]]
        let scores: [Float]

        /// Hugging Face's settings, the case's end-of-sequence id standing alone.
        var params: SamplingParams {
            SamplingParams(maxTokens: max_new_tokens, n: num_beams, beamWidth: num_beams, lengthPenalty: length_penalty,
                           earlyStopping: early_stopping ? .enabled : .heuristic)
        }
    }
    let cases: [Case]

    static func load(_ fixture: String) throws -> BeamReference {
        let path = fixturesDirectory + "/" + fixture + "/beam_reference.json"
        return try JSONDecoder().decode(BeamReference.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

@Suite struct BeamSearchParityTests {
    @Test(arguments: parityFixtures)
    func beamsMatchHuggingFaceOnEveryFixture(fixture: String) throws {
        try Self.beamsMatchHuggingFace(fixture: fixture, options: BuildOptions())
    }

    /// Steps of at most 8 tokens and 3 sequences: prompts in chunks, a step's beams over
    /// several forward calls, the same beams.
    @Test func beamsMatchHuggingFaceInSmallSteps() throws {
        try Self.beamsMatchHuggingFace(fixture: "qwen2-tied", options: BuildOptions(limits: StepLimits(maxNumTokens: 8, maxBatchSize: 3)))
    }

    static func beamsMatchHuggingFace(fixture: String, options: BuildOptions) throws {
        let reference = try BeamReference.load(fixture)
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        for (index, item) in reference.cases.enumerated() {
            // an executor of its own, on the LLM's executable, for the case's end id
            let executor = Executor(executable: llm.executable, eosTokenIds: [Int(item.eos_token_id)])
            defer { executor.shutdown() }
            let result = try executor.generate(prompt: item.input_ids, item.params)
            let label = "\(fixture) case \(index) (beams \(item.num_beams), length penalty \(item.length_penalty), early stopping \(item.early_stopping))"
            #expect(result.completions.map(\.outputIds) == item.sequences, "\(label)")
            let scores = result.completions.compactMap(\.score)
            #expect(scores.count == item.scores.count && zip(scores, item.scores).allSatisfy { abs($0 - $1) < 1e-3 },
                    "\(label): \(scores) vs \(item.scores)")
            #expect(result.completions.map(\.finishReason) == item.sequences.map { $0.last == item.eos_token_id ? .stop : .length })
            #expect(executor.cacheStatistics.usedBlocks == 0, "\(label): blocks still held")
        }
    }

    /// The early-stopping case of llama-gqa's first prompt, its end id given as the only stop
    /// (the model's own end-of-sequence ignored): the two best beams, with their scores.
    @Test func generateTakesTheBeamFlags() throws {
        let item = try BeamReference.load("llama-gqa").cases[1]
        #expect(item.early_stopping && item.length_penalty == 0.6)
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa",
                               "--prompt-ids", item.input_ids.map(String.init).joined(separator: ","), "--max-tokens", "\(item.max_new_tokens)",
                               "--ignore-eos", "--stop-token-ids", "\(item.eos_token_id)", "--beam-width", "\(item.num_beams)", "--n", "2",
                               "--length-penalty", "0.6", "--early-stopping", "true", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let beams = try #require(object["completions"] as? [[String: Any]])
        #expect(beams.map { $0["output_ids"] as? [Int32] } == item.sequences.prefix(2).map { $0 })
        let scores = beams.compactMap { ($0["score"] as? Double).map(Float.init) }
        #expect(scores.count == 2 && zip(scores, item.scores).allSatisfy { abs($0 - $1) < 1e-3 }, "\(scores)")

        let sampled = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", "1,2", "--beam-width", "2", "--temperature", "0.8"])
        #expect(sampled.status != 0 && sampled.stderr.contains("temperature"), "\(sampled.stderr)")
        let badStopping = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", "1,2", "--early-stopping", "sometimes"])
        #expect(badStopping.status != 0 && badStopping.stderr.contains("early-stopping"), "\(badStopping.stderr)")
    }
}
