// Rotary position embedding in the "rotate half" layout: within each head, element i pairs
// with element i + d/2.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotates every head of each token row by `position × inverseFrequencies[i]`, scaled by
/// `attentionFactor` (1 except for YaRN).
func applyRotary(_ x: UnsafePointer<Float>, tokens: Int, width: Int, headDim: Int, positions: UnsafePointer<Int32>,
                 inverseFrequencies: [Float], attentionFactor: Float, _ out: UnsafeMutablePointer<Float>) {
    let half = headDim / 2
    inverseFrequencies.withUnsafeBufferPointer { invFreq in
        parallelFor(tokens, cost: tokens * width * 8) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: headDim) { table in
                let cosines = table.baseAddress!, sines = cosines + half
                for t in range {
                    let position = Float(positions[t])
                    for i in 0..<half {
                        // float32 angle, as transformers forms it (inv_freq @ position_ids)
                        let angle = position * invFreq[i]
                        cosines[i] = cosf(angle) * attentionFactor
                        sines[i] = sinf(angle) * attentionFactor
                    }
                    var head = t * width
                    while head < (t + 1) * width {
                        for i in 0..<half {
                            let a = x[head + i], b = x[head + i + half]
                            out[head + i] = a * cosines[i] - b * sines[i]
                            out[head + i + half] = b * cosines[i] + a * sines[i]
                        }
                        head += headDim
                    }
                }
            }
        }
    }
}
