// RMSNorm over rows, in float32 as transformers computes it.

/// `out[r] = x[r] / sqrt(mean(x[r]²) + eps) · weight` for each of `rows` rows of `width`.
func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, eps: Float,
             _ out: UnsafeMutablePointer<Float>) {
    parallelFor(rows, cost: rows * width * 4) { range in
        for r in range {
            let row = x + r * width
            var sum: Float = 0
            for i in 0..<width { sum += row[i] * row[i] }
            writeNormalized(row, sumOfSquares: sum, width: width, weight: weight, eps: eps, out + r * width)
        }
    }
}

/// The residual stream's add and the norm that reads it in one pass over each row:
/// `sum[r] = x[r] + residual[r]`, `normed[r] = rmsNorm(sum[r]) · weight`.
func residualRMSNorm(_ x: UnsafePointer<Float>, _ residual: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
                     eps: Float, sum: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>) {
    parallelFor(rows, cost: rows * width * 5) { range in
        for r in range {
            let a = x + r * width, b = residual + r * width, s = sum + r * width
            var squares: Float = 0
            for i in 0..<width {
                let value = a[i] + b[i]
                s[i] = value
                squares += value * value
            }
            writeNormalized(s, sumOfSquares: squares, width: width, weight: weight, eps: eps, normed + r * width)
        }
    }
}

/// `out = row / sqrt(sumOfSquares / width + eps) · weight`: the end both norms share, so
/// fused and unfused give the same bits.
@inline(__always)
private func writeNormalized(_ row: UnsafePointer<Float>, sumOfSquares: Float, width: Int, weight: UnsafePointer<Float>, eps: Float,
                             _ out: UnsafeMutablePointer<Float>) {
    let scale = 1 / (sumOfSquares / Float(width) + eps).squareRoot()
    for i in 0..<width { out[i] = weight[i] * (row[i] * scale) }
}
