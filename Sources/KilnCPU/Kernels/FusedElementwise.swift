// Fused elementwise kernels: a whole chain of adds, products and activations (silu·up, a
// bias then an activation) in one pass, each chunk staying in L1 between steps.

import KilnGraph

/// One operand of a fused kernel: full size, or a vector repeated along the last dimension.
struct FusedOperand: @unchecked Sendable {
    /// Invariant: points at `count` floats that outlive the kernel call.
    let values: UnsafePointer<Float>
    let count: Int
}

/// Evaluates `program` for `count` elements into `out`.
func runFused(_ program: ElementwiseProgram, operands: [FusedOperand], count: Int, out: UnsafeMutablePointer<Float>) {
    let chunk = 1024
    let steps = program.steps
    parallelFor((count + chunk - 1) / chunk, cost: count * steps.count * 4) { chunks in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: chunk * steps.count) { scratch in
            var values = [UnsafePointer<Float>](repeating: UnsafePointer(scratch.baseAddress!), count: steps.count)
            for c in chunks {
                let start = c * chunk, length = min(chunk, count - start)
                for (s, step) in steps.enumerated() {
                    let target = s == steps.count - 1 ? out + start : scratch.baseAddress! + s * chunk
                    switch step {
                    case .input(let k):
                        let operand = operands[k]
                        if operand.count == count {
                            values[s] = operand.values + start
                            if s == steps.count - 1 { target.update(from: values[s], count: length) }
                            continue
                        }
                        for i in 0..<length { target[i] = operand.values[(start + i) % operand.count] }
                    case .add(let a, let b):
                        let x = values[a], y = values[b]
                        for i in 0..<length { target[i] = x[i] + y[i] }
                    case .mul(let a, let b):
                        let x = values[a], y = values[b]
                        for i in 0..<length { target[i] = x[i] * y[i] }
                    case .activation(.relu, let a):
                        let x = values[a]
                        for i in 0..<length { target[i] = max(x[i], 0) }
                    case .activation(.sigmoid, let a):
                        let x = values[a]
                        for i in 0..<length { target[i] = logistic(x[i]) }
                    }
                    values[s] = UnsafePointer(target)
                }
            }
        }
    }
}

/// Adds `bias` to every row of `c` `[rows, columns]` and applies `activation`, in place.
func applyEpilogue(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?, activation: Activation?) {
    parallelFor(rows, cost: rows * columns * 4) { range in
        for r in range {
            let row = c + r * columns
            if let bias { for j in 0..<columns { row[j] += bias[j] } }
            switch activation {
            case .relu?: for j in 0..<columns { row[j] = max(row[j], 0) }
            case .sigmoid?: for j in 0..<columns { row[j] = logistic(row[j]) }
            case nil: break
            }
        }
    }
}
