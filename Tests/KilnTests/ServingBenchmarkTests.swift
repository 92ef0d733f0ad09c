// The serving benchmark on a CPU fixture: every request runs, token counts follow the seeded
// lengths, and the latency figures are ordered and positive (their values are the machine's).

import Foundation
import Kiln
import Testing

@Suite struct ServingBenchmarkTests {
    func expectSane(_ result: ServingBenchmarkResult) {
        #expect(result.durationSeconds > 0)
        #expect(abs(result.requestsPerSecond * result.durationSeconds - Double(result.requests)) < 1e-6)
        #expect(abs(result.outputTokensPerSecond * result.durationSeconds - Double(result.outputTokens)) < 1e-6)
        for summary in [result.timeToFirstToken, result.timePerOutputToken, result.interTokenLatency] {
            #expect(summary.p50 > 0 && summary.p50 <= summary.p90 && summary.p90 <= summary.p99 && summary.mean > 0, "\(summary)")
        }
    }

    @Test func fixedLengthsAtAConcurrencyRunEveryToken() async throws {
        let llm = try await LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 512))
        let result = try await llm.benchmark(ServingWorkload(requests: 12, inputLength: 10, outputLength: 6, arrival: .concurrency(3)))
        #expect(result.requests == 12 && result.inputTokens == 120 && result.outputTokens == 72)
        expectSane(result)
        #expect(llm.executor.cacheStatistics.usedBlocks == 0)
    }

    @Test func normalLengthsAndPoissonArrivalsAreSeeded() async throws {
        let llm = try await LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 1024))
        let workload = ServingWorkload(requests: 10, inputLength: 12, inputStddev: 4, outputLength: 6, outputStddev: 2,
                                       arrival: .requestRate(400), seed: 5)
        let first = try await llm.benchmark(workload), second = try await llm.benchmark(workload)
        #expect(first.inputTokens == second.inputTokens && first.outputTokens == second.outputTokens)
        #expect(first.inputTokens != 120 || first.outputTokens != 60)  // the lengths vary
        // ten arrivals at 400/s span about 25 ms
        #expect(first.durationSeconds > 0.005)
        expectSane(first)
        var other = workload
        other.seed = 6
        #expect(try await llm.benchmark(other).inputTokens != first.inputTokens)
    }

    @Test func aRequestLongerThanTheCacheIsRefused() async throws {
        let llm = try await LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 64))
        await #expect(throws: BenchmarkError.self) {
            try await llm.benchmark(ServingWorkload(requests: 2, inputLength: 60, outputLength: 10, arrival: .concurrency(1)))
        }
    }

    @Test func benchDatasetPrintsOneJSONLine() throws {
        let run = try runKiln(["bench", "--model", fixturesDirectory + "/llama-gqa", "--dataset", "synthetic", "--requests", "8",
                               "--isl", "12", "--osl", "5", "--concurrency", "2", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["requests"] as? Int == 8 && object["output_tokens"] as? Int == 40 && object["input_tokens"] as? Int == 96)
        #expect(object["concurrency"] as? Int == 2 && object["dataset"] as? String == "synthetic")
        for key in ["ttft_ms", "tpot_ms", "itl_ms"] {
            let summary = try #require(object[key] as? [String: Double], "\(key)")
            #expect(Set(summary.keys) == ["mean", "p50", "p90", "p99"])
        }
        #expect((object["request_per_s"] as? Double).map { $0 > 0 } == true)
        #expect((object["output_tok_per_s"] as? Double).map { $0 > 0 } == true)
        let misplaced = try runKiln(["bench", "--model", fixturesDirectory + "/llama-gqa", "--concurrency", "2"])
        #expect(misplaced.status != 0 && misplaced.stderr.contains("go with --dataset synthetic"))
        let unknown = try runKiln(["bench", "--model", fixturesDirectory + "/llama-gqa", "--dataset", "sharegpt"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--dataset sharegpt"))
        let stepwise = try runKiln(["bench", "--model", fixturesDirectory + "/llama-gqa", "--dataset", "synthetic", "--step-at-a-time"])
        #expect(stepwise.status != 0 && stepwise.stderr.contains("--step-at-a-time goes with static batches"))
    }
}
