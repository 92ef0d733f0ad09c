// `kiln bench`: offline, synthetic throughput and latency — per static batch size, or for a
// stream of requests through the executor (`--dataset synthetic`). Random prompts, so model
// folders without a tokenizer work.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnGraph
import KilnRuntime

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure output tokens/s, time to first token and inter-token latency on random prompts.",
        discussion: """
            Without --dataset: a static batch per --batch size, prefilled then decoded together. With --dataset synthetic: \
            --requests requests through the executor at --concurrency or --request-rate, reporting requests/s, output tok/s, \
            and TTFT, TPOT and ITL at p50/p90/p99.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Batch sizes, comma separated.")
    var batch = "1,8,64"
    @Option(help: "Prompt tokens per sequence (the mean with --isl-stddev).")
    var isl = 128
    @Option(help: "Generated tokens per sequence (the mean with --osl-stddev).")
    var osl = 128
    @Option(help: "Serve a dataset of requests through the executor instead of static batches: synthetic.")
    var dataset: String?
    @Option(help: "With --dataset: the number of requests.")
    var requests = 64
    @Option(name: .customLong("isl-stddev"), help: "With --dataset: prompt lengths drawn from a normal distribution of this standard deviation.")
    var islStddev = 0.0
    @Option(name: .customLong("osl-stddev"), help: "With --dataset: output lengths drawn likewise.")
    var oslStddev = 0.0
    @Option(help: "With --dataset: requests in flight at most (default: all at once).")
    var concurrency: Int?
    @Option(name: .customLong("request-rate"), help: "With --dataset: Poisson arrivals, this many requests a second on average.")
    var requestRate: Double?
    @Option(help: "With --dataset: seeds the lengths, prompts and arrivals.")
    var seed: UInt64 = 1
    @OptionGroup(title: "Sampling (static batches)") var draw: DrawOptions
    @Flag(help: "Print one JSON object per batch size.")
    var json = false
    @Flag(help: "CUDA: also print where the GPU's time goes in one decode step of each batch size.")
    var profile = false
    @Flag(name: .customLong("step-at-a-time"), help: "Wait for each decode step's picks before queueing the next (the figures without that overlap, for comparison).")
    var stepAtATime = false
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func validate() throws {
        if let dataset, dataset != "synthetic" { throw ValidationError("--dataset \(dataset): the one dataset is 'synthetic'") }
        if dataset == nil, islStddev != 0 || oslStddev != 0 || concurrency != nil || requestRate != nil {
            throw ValidationError("--isl-stddev, --osl-stddev, --concurrency and --request-rate go with --dataset synthetic")
        }
        if dataset != nil && stepAtATime { throw ValidationError("--step-at-a-time goes with static batches, not --dataset") }
        if dataset != nil && sampling != .greedy { throw ValidationError("--temperature, --top-k and --top-p go with static batches, not --dataset") }
        if draw.temperature == 0 && (draw.topK != 0 || draw.topP != 1) { throw ValidationError("--top-k and --top-p sample: give a --temperature above 0 too") }
        do { try SamplingParams(temperature: draw.temperature, topK: draw.topK, topP: draw.topP).validate() } catch { throw ValidationError("\(error)") }
        if concurrency != nil && requestRate != nil { throw ValidationError("give at most one of --concurrency and --request-rate") }
        guard !batchSizes.isEmpty, batchSizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch \(batch): expected positive sizes, e.g. 1,8,64") }
        guard isl > 0, osl > 0 else { throw ValidationError("--isl and --osl must be positive") }
    }

    /// How the static batches choose their tokens.
    private var sampling: TokenChoice { draw.temperature > 0 ? TokenChoice(temperature: draw.temperature, topK: draw.topK, topP: draw.topP) : .greedy }

    private var batchSizes: [Int] { batch.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) } }

    func run() async throws {
        if dataset != nil { return try await runDataset() }
        var options = build.options
        // the engine's step limits must hold the largest batch
        options.limits.maxBatchSize = max(options.limits.maxBatchSize, batchSizes.max()!)
        options.limits.maxNumTokens = max(options.limits.maxNumTokens, options.limits.maxBatchSize)
        if options.maxSequenceLength == nil {
            // the CPU's KV pool holds what the run is built for; the GPU's takes --kv-cache-fraction
            options.maxSequenceLength = options.backend == .cpu ? batchSizes.max()! * wholeBlocks(isl + osl, options) : max(isl + osl, 256)
        }
        let llm = try await LLM(model: modelOptions.model, options: options, progress: buildProgressBar(offTerminal: false))
        if !json {
            let picks = sampling == .greedy ? "greedy" : "sampled at temperature \(draw.temperature), top-k \(draw.topK), top-p \(draw.topP)"
            print("\(llm.deviceDescription), isl \(isl), osl \(osl), \(picks)")
            print("batch  output tok/s  TTFT ms  ITL p50 ms  ITL p99 ms  memory GiB")
        }
        for size in batchSizes {
            let result = try llm.benchmark(batch: size, inputLength: isl, outputLength: osl, sampling: sampling, queueAhead: !stepAtATime)
            if json {
                let picks: [(key: String, value: any Encodable)] = sampling == .greedy ? [] : [("temperature", draw.temperature), ("top_k", draw.topK), ("top_p", draw.topP)]
                try printJSONRecord(JSONRecord(result: result, device: llm.deviceDescription, extra: picks))
            } else {
                let columns: [any CustomStringConvertible] = [size, result.outputTokensPerSecond.rounded(toPlaces: 1), result.timeToFirstTokenMs.rounded(toPlaces: 2),
                               result.interTokenLatencyP50Ms.rounded(toPlaces: 2), result.interTokenLatencyP99Ms.rounded(toPlaces: 2),
                               (Double(result.peakMemoryBytes) / 1_073_741_824).rounded(toPlaces: 2)]
                print(zip(columns, [5, 12, 7, 10, 10, 10]).map { pad($0.description, $1) }.joined(separator: "  "))
            }
            if profile, let step = try llm.profileDecode(batch: size, context: isl + osl / 2) {
                let total = step.kernels.reduce(0) { $0 + $1.milliseconds }
                print("  decode step, batch \(size): \(step.stepMilliseconds.rounded(toPlaces: 3)) ms on the GPU (graph replay); "
                      + "\(total.rounded(toPlaces: 3)) ms of kernels, each timed alone:")
                func printRows(_ rows: some Sequence<(kernel: String, milliseconds: Double, launches: Int)>) {
                    for row in rows {
                        print("    \(pad(row.milliseconds.rounded(toPlaces: 4).description, 8)) ms  \(pad(row.launches.description, 4))×  \(row.kernel)")
                    }
                }
                printRows(step.kernels.prefix(12))
                print("  what each stage adds to the replayed step (the step without it, its outputs stale):")
                printRows(step.leftOut.map { ($0.kernel, step.stepMilliseconds - $0.milliseconds, $0.launches) })
                if !step.persistentStages.isEmpty {
                    let total = step.persistentStages.reduce(0) { $0 + $1.milliseconds }
                    print("  the persistent kernel's step: \(total.rounded(toPlaces: 3)) ms; stages, each up to its last block's end:")
                    printRows(step.persistentStages)
                }
            }
        }
    }
}

/// `tokens` rounded up to whole KV-cache blocks: each sequence takes blocks of its own.
func wholeBlocks(_ tokens: Int, _ options: BuildOptions) -> Int {
    (tokens + options.tokensPerBlock - 1) / options.tokensPerBlock * options.tokensPerBlock
}

func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

/// A JSON line: the figures, the device they were measured on, and what else the run was.
struct JSONRecord<Figures: Encodable>: Encodable {
    let result: Figures
    let device: String
    var extra: [(key: String, value: any Encodable)] = []

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(device, forKey: Key(stringValue: "device")!)
        for (key, value) in extra { try container.encode(value, forKey: Key(stringValue: key)!) }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

func printJSONRecord(_ record: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(record), as: UTF8.self))
}
