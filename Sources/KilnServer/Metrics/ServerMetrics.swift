// Prometheus metrics: counters and latency histograms recorded as requests run, and gauges
// of the executor's state (queue, batch, KV blocks, prefix hits) read when /metrics is scraped.

import KilnRuntime
import Prometheus

/// A metric's full name (kiln_…) and help line.
private func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}

final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let promptTokens: Counter
    private let generationTokens: Counter
    private let cancelled: Counter
    private let timeToFirstToken: DurationHistogram
    private let interTokenLatency: DurationHistogram
    private let requestLatency: DurationHistogram
    private let waiting: Gauge
    private let running: Gauge
    private let inFlight: Gauge
    private let blocksUsed: Gauge
    private let blocksFree: Gauge
    private let prefixHitRate: Gauge
    private let preemptions: Gauge

    init() {
        func seconds(_ values: [Double]) -> [Duration] { values.map { .milliseconds(Int64($0 * 1000)) } }
        promptTokens = registry.makeCounter(descriptor: metric("kiln_prompt_tokens_total", "Prompt tokens of finished requests."))
        generationTokens = registry.makeCounter(descriptor: metric("kiln_generation_tokens_total", "Tokens generated, of every completion."))
        cancelled = registry.makeCounter(descriptor: metric("kiln_requests_cancelled_total", "Requests cancelled because the client went away."))
        timeToFirstToken = registry.makeDurationHistogram(descriptor: metric("kiln_time_to_first_token_seconds", "From a request's arrival to its first generated token."), buckets: seconds([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]))
        interTokenLatency = registry.makeDurationHistogram(descriptor: metric("kiln_inter_token_latency_seconds", "Between a request's successive steps of tokens."), buckets: seconds([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]))
        requestLatency = registry.makeDurationHistogram(descriptor: metric("kiln_request_latency_seconds", "From a generation request's arrival to its last byte."), buckets: seconds([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]))
        waiting = registry.makeGauge(descriptor: metric("kiln_requests_waiting", "Requests queued in the executor, not yet in the running batch."))
        running = registry.makeGauge(descriptor: metric("kiln_requests_running", "Requests in the running batch."))
        inFlight = registry.makeGauge(descriptor: metric("kiln_server_requests_in_flight", "Generation requests admitted and not yet answered."))
        blocksUsed = registry.makeGauge(descriptor: metric("kiln_kv_blocks_used", "KV-cache blocks held by running requests."))
        blocksFree = registry.makeGauge(descriptor: metric("kiln_kv_blocks_free", "KV-cache blocks no request holds (cached prefixes included)."))
        prefixHitRate = registry.makeGauge(descriptor: metric("kiln_prefix_cache_hit_rate", "Share of full prompt blocks found in the prefix cache."))
        preemptions = registry.makeGauge(descriptor: metric("kiln_preemptions", "Running requests preempted so far."))
    }

    /// Counts an answered request by endpoint and HTTP status.
    func countRequest(endpoint: String, status: Int) {
        registry.makeCounter(descriptor: metric("kiln_requests_total", "Requests answered, by endpoint and HTTP status."), labels: [("endpoint", endpoint), ("status", String(status))]).increment()
    }

    func countRejected() {
        registry.makeCounter(descriptor: metric("kiln_requests_rejected_total", "Requests refused with 429 (over the in-flight bound).")).increment()
    }

    func countCancelled() { cancelled.increment() }

    func record(usage: UsageBody) {
        promptTokens.increment(by: Int64(usage.promptTokens))
        generationTokens.increment(by: Int64(usage.completionTokens))
    }

    func recordTimeToFirstToken(_ duration: Duration) { timeToFirstToken.record(duration) }
    func recordInterTokenLatency(_ duration: Duration) { interTokenLatency.record(duration) }
    func recordRequestLatency(_ duration: Duration) { requestLatency.record(duration) }

    /// The exposition text, the gauges refreshed from `model`'s executor and `state`.
    func exposition(model: ServedModel?, state: ServerState) -> String {
        inFlight.set(to: Double(state.inFlight))
        if let executor = model?.executor {
            let cache = executor.cacheStatistics, load = executor.load
            waiting.set(to: Double(load.waitingRequests))
            running.set(to: Double(load.runningRequests))
            blocksUsed.set(to: Double(cache.usedBlocks))
            blocksFree.set(to: Double(cache.freeBlocks))
            prefixHitRate.set(to: cache.hitRate)
            preemptions.set(to: Double(executor.preemptions))
        }
        return registry.emitToString()
    }
}
