// Picks the next token from a row of logits: greedy, or temperature → top-k → top-p →
// a draw, in the order Hugging Face's logits warpers apply them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns logits into tokens for one request; owns the request's random stream.
public struct Sampler: Sendable {
    public let params: SamplingParams
    private var random: RandomSource

    public init(_ params: SamplingParams) {
        self.params = params
        random = RandomSource(seed: params.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The next token for `logits` (one row of vocabulary size).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        if params.isGreedy { return Int32(argmax(logits)) }
        var candidates = logits.indices.map { (token: Int32($0), logit: logits[$0] / params.temperature) }
        candidates.sort { $0.logit > $1.logit }
        if params.topK > 0 && params.topK < candidates.count {
            // ties with the k-th logit stay, as in transformers' TopKLogitsWarper
            let threshold = candidates[params.topK - 1].logit
            candidates = Array(candidates.prefix { $0.logit >= threshold })
        }
        let top = candidates[0].logit
        var weights = candidates.map { expf($0.logit - top) }
        if params.topP < 1 {
            let total = weights.reduce(0, +)
            var cumulative: Float = 0
            var keep = 0
            while keep < weights.count {
                cumulative += weights[keep] / total
                keep += 1
                if cumulative >= params.topP { break }
            }
            weights.removeLast(weights.count - keep)
        }
        let draw = random.nextUnitFloat() * weights.reduce(0, +)
        var running: Float = 0
        for (i, weight) in weights.enumerated() {
            running += weight
            if draw < running { return candidates[i].token }
        }
        return candidates[weights.count - 1].token
    }
}

/// The index of the largest value; the first one on ties, like `torch.argmax`.
public func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}
