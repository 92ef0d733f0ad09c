// `kiln bench`'s static batches on a CPU fixture: greedy and sampled decoding both run every
// token and give ordered, positive figures (their values are the machine's), and sampling
// flags that do not fit are refused with what to give instead.

import Foundation
import Kiln
import KilnGraph
import Testing

@Suite struct StaticBenchmarkTests {
    @Test(arguments: [TokenChoice.greedy, TokenChoice(temperature: 0.8, topK: 20, topP: 0.9)])
    func aBatchDecodesEveryToken(sampling: TokenChoice) throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 256))
        let result = try llm.benchmark(batch: 3, inputLength: 7, outputLength: 5, sampling: sampling)
        #expect(result.batch == 3 && result.inputLength == 7 && result.outputLength == 5)
        #expect(result.outputTokensPerSecond > 0 && result.timeToFirstTokenMs > 0)
        #expect(result.interTokenLatencyP50Ms > 0 && result.interTokenLatencyP50Ms <= result.interTokenLatencyP99Ms)
    }

    @Test func benchSamplesFromTheCommandLine() throws {
        let model = fixturesDirectory + "/llama-gqa"
        let run = try runKiln(["bench", "--model", model, "--batch", "2", "--isl", "6", "--osl", "4", "--temperature", "0.8", "--top-k", "20",
                               "--top-p", "0.9", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["batch"] as? Int == 2 && (object["output_tok_per_s"] as? Double).map { $0 > 0 } == true)
        #expect((object["temperature"] as? Double).map { abs($0 - 0.8) < 1e-6 } == true && object["top_k"] as? Int == 20)
        let table = try runKiln(["bench", "--model", model, "--batch", "1", "--isl", "4", "--osl", "2", "--temperature", "1"])
        #expect(table.status == 0 && table.stdout.contains("sampled at temperature 1.0, top-k 0, top-p 1.0"), "\(table.stdout)\(table.stderr)")

        let withoutTemperature = try runKiln(["bench", "--model", model, "--top-k", "5"])
        #expect(withoutTemperature.status != 0 && withoutTemperature.stderr.contains("give a --temperature above 0"))
        let badTopP = try runKiln(["bench", "--model", model, "--temperature", "1", "--top-p", "1.5"])
        #expect(badTopP.status != 0 && badTopP.stderr.contains("top_p"), "\(badTopP.stderr)")
        let withDataset = try runKiln(["bench", "--model", model, "--dataset", "synthetic", "--temperature", "1"])
        #expect(withDataset.status != 0 && withDataset.stderr.contains("go with static batches"))
    }
}
