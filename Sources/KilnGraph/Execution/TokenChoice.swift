// How a step's output rows become tokens when the backend picks them: the sampling
// parameters of each row and a uniform draw from the caller's random stream, so a seed gives
// the same tokens on every backend.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How one output row's token is chosen.
public struct TokenChoice: Hashable, Sendable {
    /// 0 picks the most likely token; otherwise logits are divided by it before the draw.
    public var temperature: Float
    /// Keep the k most likely tokens (ties with the k-th stay); 0 keeps all.
    public var topK: Int
    /// Keep the most likely tokens until their probability reaches p (ties at the edge stay).
    public var topP: Float
    /// A uniform draw in [0, 1): the token whose cumulative probability (in vocabulary
    /// order, over the kept tokens) first exceeds it is chosen.
    public var uniform: Float

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, uniform: Float = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.uniform = uniform
    }

    public static let greedy = TokenChoice()

    /// The token this choice picks from `logits`, computed on the host the way Kiln's GPU
    /// kernel does (thresholds by bisection, then a draw in vocabulary order). The scaled
    /// logits and the weights are computed once, a bisection step looks only at the values it
    /// can still decide on, and every mass adds its terms in vocabulary order.
    public func pick(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        guard temperature > 0 else { return Int32(best) }
        let scaled = logits.map { $0 / temperature }
        let top = scaled[best]
        var floor = top
        for value in scaled { floor = min(floor, value) }
        // the k-th largest scaled logit: the largest threshold with at least k at or above it
        var keepFrom = floor
        if topK > 0 && topK < logits.count {
            var (low, high) = (floor, top + 1)
            // a count is exact in any order: the values at or above `high` are counted once,
            // and only those in [low, high) are looked at again
            var above = scaled.count { $0 >= high }, inside = scaled.filter { $0 >= low && $0 < high }
            for _ in 0..<Self.bisections {
                let middle = (low + high) / 2
                let atOrAbove = inside.count { $0 >= middle }
                if above + atOrAbove >= topK {
                    low = middle
                    inside.removeAll { $0 < middle }
                } else {
                    high = middle
                    above += atOrAbove
                    inside.removeAll { $0 >= middle }
                }
            }
            keepFrom = low
        }
        let weights = scaled.map { $0 >= keepFrom ? expf($0 - top) : 0 }
        // top-p: the largest weight threshold whose kept mass still reaches p
        var minimum: Float = 0
        if topP < 1 {
            let goal = topP * weights.reduce(0, +)
            var (low, high): (Float, Float) = (0, 1.0000001)
            // the weights that can still reach a midpoint, in vocabulary order (the others add nothing)
            var reaching = weights.filter { $0 > 0 }
            for _ in 0..<Self.bisections {
                let middle = (low + high) / 2
                var mass: Float = 0
                for w in reaching where w >= middle { mass += w }
                if mass >= goal {
                    low = middle
                    reaching.removeAll { $0 < middle }
                } else {
                    high = middle
                }
            }
            minimum = low
        }
        var kept: Float = 0
        for w in weights where w >= minimum { kept += w }
        let target = uniform * kept
        var running: Float = 0
        for (i, w) in weights.enumerated() where w > 0 && w >= minimum {
            running += w
            if target < running { return Int32(i) }
        }
        return Int32(best)
    }

    /// Bisection steps for the top-k and top-p thresholds (the GPU kernel uses the same).
    public static let bisections = 32
}
