// `kiln bench --dataset synthetic`: a stream of random requests through the executor, at a
// fixed concurrency or as Poisson arrivals, reported as trtllm-bench does.

import ArgumentParser
import FoundationEssentials
import Kiln

extension Bench {
    func runDataset() async throws {
        let arrival: ServingWorkload.Arrival = requestRate.map { .requestRate($0) } ?? .concurrency(concurrency ?? requests)
        let workload = ServingWorkload(requests: requests, inputLength: isl, inputStddev: islStddev, outputLength: osl, outputStddev: oslStddev,
                                       arrival: arrival, seed: seed)
        var options = build.options
        if options.maxSequenceLength == nil {
            // the CPU's KV pool holds the requests that may run together; the GPU's takes --kv-cache-fraction
            let together = min(concurrency ?? requests, options.limits.maxBatchSize)
            let longest = workload.maxInputLength + workload.maxOutputLength
            options.maxSequenceLength = options.backend == .cpu ? together * wholeBlocks(longest, options) : max(longest, 256)
        }
        let llm = try await LLM(model: modelOptions.model, options: options, progress: buildProgressBar(offTerminal: false))
        let result = try await llm.benchmark(workload)
        let load: (name: String, value: any Encodable & CustomStringConvertible) = switch arrival {
        case .concurrency(let limit): ("concurrency", limit)
        case .requestRate(let rate): ("request_rate", rate)
        }
        if json {
            let extra: [(key: String, value: any Encodable)] = [("dataset", "synthetic"), (load.name, load.value)]
            try printJSONRecord(JSONRecord(result: result, device: llm.deviceDescription, extra: extra))
            return
        }
        print("\(llm.deviceDescription), \(requests) requests, isl \(isl) (σ \(islStddev)), osl \(osl) (σ \(oslStddev)), "
              + "\(load.name.replacing("_", with: " ")) \(load.value)")
        print("requests/s \(result.requestsPerSecond.rounded(toPlaces: 2)), output tok/s \(result.outputTokensPerSecond.rounded(toPlaces: 1)), "
              + "\(result.outputTokens) tokens in \(result.durationSeconds.rounded(toPlaces: 2)) s")
        print("             mean       p50       p90       p99")
        for (name, summary) in [("TTFT ms", result.timeToFirstToken), ("TPOT ms", result.timePerOutputToken), ("ITL ms", result.interTokenLatency)] {
            let columns = [summary.mean, summary.p50, summary.p90, summary.p99].map { pad($0.rounded(toPlaces: 3).description, 9) }
            print(name + String(repeating: " ", count: 9 - name.count) + columns.joined(separator: " "))
        }
    }
}
