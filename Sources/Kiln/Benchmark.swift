// The offline, synthetic benchmark behind `kiln bench`: a static batch of random prompts,
// prefilled in steps of the engine's token budget, then decoded together (greedily, or
// sampled with one TokenChoice for every sequence) — what a GPU does at its best for a batch
// size, without a scheduler in the way.

import FoundationEssentials
import KilnCUDA
import KilnGraph
#if canImport(Glibc)
import Glibc
#endif

/// One batch size's figures.
public struct BenchmarkResult: Codable, Sendable {
    public var batch: Int
    public var inputLength: Int
    public var outputLength: Int
    /// Generated tokens of the whole batch per second, prompt processing included.
    public var outputTokensPerSecond: Double
    /// Time to first token, median over the batch's sequences (all start together).
    public var timeToFirstTokenMs: Double
    /// Inter-token latency: the time of one decode step of the whole batch.
    public var interTokenLatencyP50Ms: Double
    public var interTokenLatencyP99Ms: Double
    /// Device memory in use at the end (GPU: all allocations, the KV pool included; CPU:
    /// the process's peak resident memory).
    public var peakMemoryBytes: Int

    enum CodingKeys: String, CodingKey {
        case batch, inputLength = "isl", outputLength = "osl", outputTokensPerSecond = "output_tok_per_s",
             timeToFirstTokenMs = "ttft_ms", interTokenLatencyP50Ms = "itl_p50_ms", interTokenLatencyP99Ms = "itl_p99_ms",
             peakMemoryBytes = "peak_memory_bytes"
    }
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case kvCacheTooSmall(batch: Int, tokens: Int, capacity: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .kvCacheTooSmall(let batch, let tokens, let capacity):
            "a batch of \(batch) sequences of \(tokens) tokens needs more KV cache than the \(capacity) tokens available; "
                + "lower --batch, --isl or --osl, or raise --max-seq-len (cpu) or --kv-cache-fraction (cuda)"
        case .invalid(let reason): reason
        }
    }
}

extension LLM {
    /// Runs `batch` random prompts of `inputLength` tokens to `outputLength` new tokens each,
    /// after a short warm-up of the same shape (kernel compilation, GEMM plans and CUDA graph
    /// capture stay out of the figures). `queueAhead` false waits for each decode step's picks
    /// before queueing the next (the figures without that overlap, for comparison). `sampling`:
    /// how every token is chosen (its `uniform` is drawn afresh for each one).
    public func benchmark(batch: Int, inputLength: Int, outputLength: Int, sampling: TokenChoice = .greedy, seed: UInt64 = 1,
                          queueAhead: Bool = true) throws -> BenchmarkResult {
        guard batch > 0, inputLength > 0, outputLength > 0 else { throw BenchmarkError.invalid("batch, isl and osl must be positive") }
        _ = try benchmarkRun(batch: batch, inputLength: inputLength, outputLength: min(outputLength, 4), sampling: sampling, seed: seed &+ 1, queueAhead: queueAhead)
        return try benchmarkRun(batch: batch, inputLength: inputLength, outputLength: outputLength, sampling: sampling, seed: seed, queueAhead: queueAhead)
    }

    private func benchmarkRun(batch: Int, inputLength: Int, outputLength: Int, sampling: TokenChoice, seed: UInt64, queueAhead: Bool) throws -> BenchmarkResult {
        let executable = executable
        let layout = executable.kvCacheLayout, limits = executable.limits
        let tokensPerSequence = inputLength + outputLength
        let blocksPerSequence = (tokensPerSequence + layout.tokensPerBlock - 1) / layout.tokensPerBlock
        guard batch * blocksPerSequence <= layout.numBlocks else {
            throw BenchmarkError.kvCacheTooSmall(batch: batch, tokens: tokensPerSequence, capacity: layout.capacityTokens)
        }
        guard batch <= limits.maxBatchSize else {
            throw BenchmarkError.invalid("--batch \(batch) exceeds the engine's --max-batch-size \(limits.maxBatchSize)")
        }
        // one seeded stream for the prompts and the draws
        var random = seed | 1
        func nextRandom() -> UInt64 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return random
        }
        func nextToken() -> Int32 { Int32((nextRandom() >> 33) % UInt64(executable.vocabularySize)) }
        let prompts = (0..<batch).map { _ in (0..<inputLength).map { _ in nextToken() } }
        // each sequence's choice for its next token, a fresh draw each time
        func choices(_ rows: Int) -> [TokenChoice] {
            guard sampling.temperature > 0 else { return [] }
            return (0..<rows).map { _ in
                var choice = sampling
                choice.uniform = Float(nextRandom() >> 40) / Float(1 << 24)
                return choice
            }
        }
        let tables = (0..<batch).map { s in (0..<blocksPerSequence).map { Int32(s * blocksPerSequence + $0) } }
        var done = [Int](repeating: 0, count: batch)  // tokens of each sequence in the cache
        var last = [Int32](repeating: 0, count: batch)

        let clock = ContinuousClock(), start = clock.now
        var firstTokenTimes: [Duration] = []
        // prefill: whole prompts (or chunks of long ones) packed up to the token budget
        while done.contains(where: { $0 < inputLength }) {
            var budget = limits.maxNumTokens
            var parts: [(tokens: [Int32], step: SequenceStep, sequence: Int)] = []
            for s in 0..<batch where done[s] < inputLength && budget > 0 && parts.count < limits.maxBatchSize {
                let count = min(inputLength - done[s], budget)
                parts.append((Array(prompts[s][done[s]..<(done[s] + count)]), SequenceStep(cachedTokens: done[s], newTokens: count, blockTable: tables[s]), s))
                budget -= count
            }
            let ids = try executable.forward(StepInputs(sequences: parts.map { ($0.tokens, $0.step) }, tokensPerBlock: layout.tokensPerBlock),
                                             choices: choices(parts.count))
            for (row, part) in parts.enumerated() {
                done[part.sequence] += part.tokens.count
                if done[part.sequence] == inputLength {
                    last[part.sequence] = ids[row]
                    firstTokenTimes.append(clock.now - start)
                }
            }
        }
        // decode: every sequence one token a step, as the executor runs it: each step queued
        // before the previous one's picks are taken, which it reads on the device; a step's
        // time is the interval between the arrivals of consecutive picks
        var stepTimes: [Double] = []
        var inFlight: QueuedStep?, lastArrival = clock.now
        func take(_ queued: QueuedStep) throws {
            last = try executable.picks(of: queued)
            let now = clock.now
            stepTimes.append((now - lastArrival).inSeconds * 1000)
            lastArrival = now
        }
        for _ in 1..<outputLength {
            let step = StepInputs(sequences: (0..<batch).map { s in
                ([last[s]], SequenceStep(cachedTokens: done[s], newTokens: 1, blockTable: tables[s]))
            }, tokensPerBlock: layout.tokensPerBlock)
            let queued = try executable.queue(step, choices: choices(batch), feeds: inFlight.map { TokenFeeds(source: $0, rows: (0..<batch).map { $0 }) })
            if let inFlight { try take(inFlight) }
            inFlight = queued
            if !queueAhead || !executable.queuesAsynchronously {
                try take(queued)
                inFlight = nil
            }
            for s in 0..<batch { done[s] += 1 }
        }
        if let inFlight { try take(inFlight) }
        let total = (clock.now - start).inSeconds
        return BenchmarkResult(batch: batch, inputLength: inputLength, outputLength: outputLength,
                               outputTokensPerSecond: Double(batch * outputLength) / total,
                               timeToFirstTokenMs: percentile(firstTokenTimes.map { $0.inSeconds * 1000 }, 0.5),
                               interTokenLatencyP50Ms: percentile(stepTimes, 0.5), interTokenLatencyP99Ms: percentile(stepTimes, 0.99),
                               peakMemoryBytes: try peakMemory())
    }

    /// Where the GPU's time goes in one decode step of `batch` sequences with `context`
    /// tokens cached each; nil on the CPU.
    public func profileDecode(batch: Int, context: Int) throws -> DecodeProfile? {
        guard let cuda = executable as? CUDAExecutable else { return nil }
        let layout = cuda.kvCacheLayout
        let blocks = (context + 1 + layout.tokensPerBlock - 1) / layout.tokensPerBlock
        let step = StepInputs(sequences: (0..<batch).map { s in
            ([Int32(s)], SequenceStep(cachedTokens: context, newTokens: 1, blockTable: (0..<blocks).map { Int32(s * blocks + $0) }))
        }, tokensPerBlock: layout.tokensPerBlock)
        return try cuda.profile(step)
    }

    private func peakMemory() throws -> Int {
        if let cuda = executable as? CUDAExecutable {
            let (free, total) = try cuda.device.memoryInfo()
            return total - free
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }
}

/// The value below which a share `p` of `values` lie (nearest rank); 0 for none.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}
