// The warpers on the host: temperature → top-k → top-p → min-p over a processed row, computed
// exactly (sorted thresholds), with TokenChoice's conventions — ties at a threshold stay, the
// weights are expf(logit / T − top), the draw walks the kept tokens in vocabulary order — so
// it picks what the backends' TokenChoice would wherever min-p is off and no threshold falls
// within float rounding of a token. Rows that need no host work skip it and use TokenChoice.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The distribution a token is drawn from after the warpers, and its log-probabilities.
///
/// Sampled rows: the softmax of logits / temperature over the tokens top-k, top-p and min-p
/// keep (dropped tokens have probability 0). Greedy rows (temperature 0 or top-k 1): the
/// softmax of the row as given (temperature 1, nothing dropped), and the pick is its argmax.
public struct SamplingDistribution: Sendable {
    /// exp(scaled logit − the largest), or 0 for a dropped token, in vocabulary order.
    public let weights: [Float]
    /// Logits are divided by it: the temperature, or 1 for greedy rows.
    private let temperature: Float
    /// The largest scaled logit.
    private let top: Float
    /// The sum of the kept weights, in vocabulary order.
    private let total: Float
    /// The first largest logit's token.
    private let best: Int
    private let isGreedy: Bool
    private let logits: [Float]

    public init(_ logits: [Float], params: SamplingParams) {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        self.best = best
        self.logits = logits
        isGreedy = params.isGreedy
        // divided rather than multiplied by the reciprocal, as TokenChoice does, for equal weights
        let temperature = isGreedy ? 1 : params.temperature
        self.temperature = temperature
        let top = logits[best] / temperature
        self.top = top
        var weights = logits.map { expf($0 / temperature - top) }
        if !isGreedy {
            Self.keepTopK(params.topK, of: logits, temperature: temperature, weights: &weights)
            Self.keepTopP(params.topP, weights: &weights)
            // the top token's weight is 1, so min-p × its probability is min-p in weight
            if params.minP > 0 { for i in weights.indices where weights[i] < params.minP { weights[i] = 0 } }
        }
        self.weights = weights
        total = weights.reduce(0, +)
    }

    /// The token `uniform` (in [0, 1)) draws: the first whose cumulative kept weight, in
    /// vocabulary order, exceeds uniform × total. Greedy rows take the first largest.
    public func pick(uniform: Float) -> Int32 {
        guard !isGreedy else { return Int32(best) }
        let target = uniform * total
        var running: Float = 0
        for (i, weight) in weights.enumerated() where weight > 0 {
            running += weight
            if target < running { return Int32(i) }
        }
        return Int32(best)
    }

    /// log p(token); -inf for a dropped token.
    public func logprob(of token: Int32) -> Float {
        guard weights[Int(token)] > 0 else { return -.infinity }
        // from the scaled logit rather than log(weight), which underflows for unlikely tokens
        return (logits[Int(token)] / temperature - top) - logf(total)
    }

    /// `token`'s log-probability and the `count` most likely tokens'.
    public func logprobs(of token: Int32, top count: Int) -> TokenLogprobs {
        TokenLogprobs(token: token, logprob: logprob(of: token), top: mostLikely(count).map { Logprob(token: $0, logprob: logprob(of: $0)) })
    }

    /// The `count` kept tokens of largest weight, largest first, lower id first on ties.
    private func mostLikely(_ count: Int) -> [Int32] {
        guard count > 0 else { return [] }
        var chosen: [Int32] = []
        for (i, weight) in weights.enumerated() where weight > 0 {
            // insertion into a short sorted list: count is at most SamplingParams.maxLogprobs
            guard chosen.count < count || weight > weights[Int(chosen.last!)] else { continue }
            let at = chosen.firstIndex { weights[Int($0)] < weight } ?? chosen.endIndex
            chosen.insert(Int32(i), at: at)
            if chosen.count > count { chosen.removeLast() }
        }
        return chosen
    }

    /// Drops the tokens below the k-th largest scaled logit (ties with it stay).
    private static func keepTopK(_ k: Int, of logits: [Float], temperature: Float, weights: inout [Float]) {
        guard k > 0 && k < logits.count else { return }
        let threshold = logits.map { $0 / temperature }.sorted(by: >)[k - 1]
        for i in logits.indices where logits[i] / temperature < threshold { weights[i] = 0 }
    }

    /// Keeps the most likely tokens until their mass reaches p of the kept mass: the largest
    /// weight threshold that still reaches it, ties at it staying.
    private static func keepTopP(_ p: Float, weights: inout [Float]) {
        guard p < 1 else { return }
        let goal = p * weights.reduce(0, +)
        var mass: Float = 0
        var threshold: Float = 0
        for weight in weights.filter({ $0 > 0 }).sorted(by: >) {
            mass += weight
            threshold = weight
            if mass >= goal { break }
        }
        for i in weights.indices where weights[i] < threshold { weights[i] = 0 }
    }
}
