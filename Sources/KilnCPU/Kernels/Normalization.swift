// RMSNorm over rows, in float32 as transformers computes it.

/// `out[r] = x[r] / sqrt(mean(x[r]²) + eps) · weight` for each of `rows` rows of `width`.
func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, eps: Float,
             _ out: UnsafeMutablePointer<Float>) {
    parallelFor(rows, cost: rows * width * 4) { range in
        for r in range {
            let row = x + r * width
            var sum: Float = 0
            for i in 0..<width { sum += row[i] * row[i] }
            let scale = 1 / (sum / Float(width) + eps).squareRoot()
            let o = out + r * width
            for i in 0..<width { o[i] = weight[i] * (row[i] * scale) }
        }
    }
}
