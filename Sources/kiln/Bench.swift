// `kiln bench`: offline, synthetic throughput and latency per batch size — random prompts,
// so model folders without a tokenizer work.

import ArgumentParser
import FoundationEssentials
import Kiln

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure output tokens/s, time to first token and inter-token latency per batch size on random prompts.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Batch sizes, comma separated.")
    var batch = "1,8,64"
    @Option(help: "Prompt tokens per sequence.")
    var isl = 128
    @Option(help: "Generated tokens per sequence.")
    var osl = 128
    @Flag(help: "Print one JSON object per batch size.")
    var json = false
    @Flag(help: "CUDA: also print where the GPU's time goes in one decode step of each batch size.")
    var profile = false
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func validate() throws {
        guard !batchSizes.isEmpty, batchSizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch \(batch): expected positive sizes, e.g. 1,8,64") }
        guard isl > 0, osl > 0 else { throw ValidationError("--isl and --osl must be positive") }
    }

    private var batchSizes: [Int] { batch.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) } }

    func run() throws {
        var options = build.options
        // the engine's step limits must hold the largest batch
        options.limits.maxBatchSize = max(options.limits.maxBatchSize, batchSizes.max()!)
        options.limits.maxNumTokens = max(options.limits.maxNumTokens, options.limits.maxBatchSize)
        if options.maxSequenceLength == nil {
            // the CPU's KV pool holds what the run is built for; the GPU's takes --kv-cache-fraction
            options.maxSequenceLength = options.backend == .cpu ? batchSizes.max()! * (isl + osl) : max(isl + osl, 256)
        }
        let llm = try LLM(model: modelOptions.model, options: options, progress: buildProgressBar(offTerminal: false))
        if !json {
            print("\(llm.deviceDescription), isl \(isl), osl \(osl)")
            print("batch  output tok/s  TTFT ms  ITL p50 ms  ITL p99 ms  memory GiB")
        }
        for size in batchSizes {
            let result = try llm.benchmark(batch: size, inputLength: isl, outputLength: osl)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(JSONRecord(result: result, device: llm.deviceDescription)), as: UTF8.self))
            } else {
                let columns: [any CustomStringConvertible] = [size, result.outputTokensPerSecond.rounded(toPlaces: 1), result.timeToFirstTokenMs.rounded(toPlaces: 2),
                               result.interTokenLatencyP50Ms.rounded(toPlaces: 2), result.interTokenLatencyP99Ms.rounded(toPlaces: 2),
                               (Double(result.peakMemoryBytes) / 1_073_741_824).rounded(toPlaces: 2)]
                print(zip(columns, [5, 12, 7, 10, 10, 10]).map { pad($0.description, $1) }.joined(separator: "  "))
            }
            if profile, let kernels = try llm.profileDecode(batch: size, context: isl + osl / 2) {
                let total = kernels.reduce(0) { $0 + $1.milliseconds }
                print("  decode step, batch \(size): \(total.rounded(toPlaces: 3)) ms of kernels")
                for kernel in kernels.prefix(12) {
                    print("    \(pad(kernel.milliseconds.rounded(toPlaces: 4).description, 8)) ms  \(pad(kernel.launches.description, 4))×  \(kernel.kernel)")
                }
            }
        }
    }
}

private func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

/// A JSON line: the figures and the device they were measured on.
private struct JSONRecord: Encodable {
    let result: BenchmarkResult
    let device: String

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(device, forKey: Key(stringValue: "device")!)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
