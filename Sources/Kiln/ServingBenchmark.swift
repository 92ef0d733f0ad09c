// The serving benchmark behind `kiln bench --dataset synthetic`: random requests of fixed or
// normally distributed lengths sent through the executor at a fixed concurrency or as Poisson
// arrivals, measured the way trtllm-bench reports them (request and token throughput, time to
// first token, time per output token, inter-token latency).

import FoundationEssentials
import KilnRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A synthetic serving workload: how many requests, how long, and how they arrive.
public struct ServingWorkload: Sendable {
    /// How requests reach the executor.
    public enum Arrival: Sendable, Equatable {
        /// At most this many requests in flight; the next starts when one finishes.
        case concurrency(Int)
        /// Poisson arrivals: this many requests a second on average.
        case requestRate(Double)
    }

    public var requests: Int
    /// Prompt tokens: the mean, and the standard deviation of a normal distribution (0: fixed).
    public var inputLength: Int
    public var inputStddev: Double
    /// Generated tokens, likewise (generation runs past end-of-sequence tokens).
    public var outputLength: Int
    public var outputStddev: Double
    public var arrival: Arrival
    /// Seeds the lengths, the prompts' tokens and the arrival times.
    public var seed: UInt64

    public init(requests: Int, inputLength: Int, inputStddev: Double = 0, outputLength: Int, outputStddev: Double = 0,
                arrival: Arrival, seed: UInt64 = 1) {
        self.requests = requests
        self.inputLength = inputLength
        self.inputStddev = inputStddev
        self.outputLength = outputLength
        self.outputStddev = outputStddev
        self.arrival = arrival
        self.seed = seed
    }

    /// The longest prompt and output a request may get: lengths are drawn within four
    /// standard deviations of the mean.
    public var maxInputLength: Int { inputLength + Int((4 * inputStddev).rounded(.up)) }
    public var maxOutputLength: Int { outputLength + Int((4 * outputStddev).rounded(.up)) }

    /// Each request's prompt and output length, and its arrival offset (zero under a
    /// concurrency limit).
    func draw(vocabularySize: Int) -> [(prompt: [Int32], outputLength: Int, arrival: Duration)] {
        var random = RandomSource(seed: seed)
        func length(_ mean: Int, _ stddev: Double, max: Int) -> Int {
            guard stddev > 0 else { return mean }
            return min(max, Swift.max(1, Int((Double(mean) + stddev * Double(random.nextNormal())).rounded())))
        }
        var clock = 0.0
        return (0..<requests).map { _ in
            let prompt = (0..<length(inputLength, inputStddev, max: maxInputLength)).map { _ in Int32.random(in: 0..<Int32(vocabularySize), using: &random) }
            let output = length(outputLength, outputStddev, max: maxOutputLength)
            if case .requestRate(let rate) = arrival {
                // exponential gaps between arrivals make a Poisson process
                clock += -log(1 - Double.random(in: 0..<1, using: &random)) / rate
            }
            return (prompt, output, .microseconds(Int64(clock * 1e6)))
        }
    }
}

/// Mean and percentiles of a latency, in milliseconds.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double

    init(_ milliseconds: [Double]) {
        mean = milliseconds.isEmpty ? 0 : milliseconds.reduce(0, +) / Double(milliseconds.count)
        p50 = percentile(milliseconds, 0.5)
        p90 = percentile(milliseconds, 0.9)
        p99 = percentile(milliseconds, 0.99)
    }
}

/// What a serving run measured.
public struct ServingBenchmarkResult: Codable, Sendable {
    public var requests: Int
    public var inputTokens: Int
    public var outputTokens: Int
    /// From the first submission to the last token.
    public var durationSeconds: Double
    public var requestsPerSecond: Double
    public var outputTokensPerSecond: Double
    /// Time to first token: from a request's submission to its first token.
    public var timeToFirstToken: LatencySummary
    /// Time per output token: a request's time after its first token over the tokens after it.
    public var timePerOutputToken: LatencySummary
    /// Inter-token latency: every gap between two tokens of a request.
    public var interTokenLatency: LatencySummary

    enum CodingKeys: String, CodingKey {
        case requests, inputTokens = "input_tokens", outputTokens = "output_tokens", durationSeconds = "duration_s",
             requestsPerSecond = "request_per_s", outputTokensPerSecond = "output_tok_per_s", timeToFirstToken = "ttft_ms",
             timePerOutputToken = "tpot_ms", interTokenLatency = "itl_ms"
    }
}

/// Hands out request indices to the workers, each once.
private final class WorkQueue: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// When one request's tokens arrived.
private struct RequestTimeline: Sendable {
    var submitted: ContinuousClock.Instant
    /// The arrival of each generated token (tokens of one output share its instant).
    var tokens: [ContinuousClock.Instant] = []
}

extension LLM {
    /// Runs `workload` through the executor after a short warm-up request (kernel compilation
    /// and CUDA graph capture stay out of the figures). Every request must fit the KV cache
    /// alone; together they wait for room as the executor's scheduler decides.
    public func benchmark(_ workload: ServingWorkload) async throws -> ServingBenchmarkResult {
        guard workload.requests > 0, workload.inputLength > 0, workload.outputLength > 0 else {
            throw BenchmarkError.invalid("--requests, --isl and --osl must be positive")
        }
        guard workload.inputStddev >= 0, workload.outputStddev >= 0 else { throw BenchmarkError.invalid("--isl-stddev and --osl-stddev must be ≥ 0") }
        switch workload.arrival {
        case .concurrency(let limit) where limit < 1: throw BenchmarkError.invalid("--concurrency must be positive")
        case .requestRate(let rate) where !(rate > 0 && rate.isFinite): throw BenchmarkError.invalid("--request-rate must be positive")
        default: break
        }
        let longest = workload.maxInputLength + workload.maxOutputLength
        guard longest <= executable.kvCacheLayout.capacityTokens else {
            throw BenchmarkError.kvCacheTooSmall(batch: 1, tokens: longest, capacity: executable.kvCacheLayout.capacityTokens)
        }
        let executor = self.executor
        _ = try await executor.submit(prompt: [0, 1, 2, 3], SamplingParams(maxTokens: 4, ignoreEOS: true)).result()
        let requests = workload.draw(vocabularySize: executable.vocabularySize)
        let clock = ContinuousClock(), start = clock.now
        let queue = WorkQueue()
        let workers = switch workload.arrival {
        case .concurrency(let limit): min(limit, requests.count)
        case .requestRate: requests.count
        }
        let timelines = try await withThrowingTaskGroup(of: [(Int, RequestTimeline)].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    // a worker runs requests one after another until none are left
                    var done: [(Int, RequestTimeline)] = []
                    while case let index = queue.take(), index < requests.count {
                        let request = requests[index]
                        try await clock.sleep(until: start + request.arrival)
                        var timeline = RequestTimeline(submitted: clock.now)
                        let params = SamplingParams(maxTokens: request.outputLength, ignoreEOS: true)
                        for try await output in executor.submit(prompt: request.prompt, params).outputs {
                            let now = clock.now
                            timeline.tokens += output.tokenIds.map { _ in now }
                        }
                        done.append((index, timeline))
                    }
                    return done
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return ServingBenchmarkResult(requests: requests, timelines: timelines, duration: clock.now - start)
    }
}

extension ServingBenchmarkResult {
    fileprivate init(requests: [(prompt: [Int32], outputLength: Int, arrival: Duration)], timelines: [RequestTimeline], duration: Duration) {
        let seconds = duration.inSeconds
        self.requests = requests.count
        inputTokens = requests.reduce(0) { $0 + $1.prompt.count }
        outputTokens = timelines.reduce(0) { $0 + $1.tokens.count }
        durationSeconds = seconds
        requestsPerSecond = Double(requests.count) / seconds
        outputTokensPerSecond = Double(outputTokens) / seconds
        let milliseconds = { (d: Duration) in d.inSeconds * 1e3 }
        timeToFirstToken = LatencySummary(timelines.compactMap { timeline in
            timeline.tokens.first.map { milliseconds($0 - timeline.submitted) }
        })
        timePerOutputToken = LatencySummary(timelines.filter { $0.tokens.count > 1 }.map {
            milliseconds($0.tokens.last! - $0.tokens.first!) / Double($0.tokens.count - 1)
        })
        interTokenLatency = LatencySummary(timelines.flatMap { timeline in
            zip(timeline.tokens.dropFirst(), timeline.tokens).map { milliseconds($0 - $1) }
        })
    }
}
