// Pointwise kernels: sums and products (with a broadcast vector) and activations.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `out[i] = a[i] ⊕ b[i mod bCount]`: equal shapes when `bCount == count`, a bias otherwise.
@inline(__always)
func broadcastBinary(_ a: UnsafePointer<Float>, count: Int, _ b: UnsafePointer<Float>, bCount: Int,
                     _ out: UnsafeMutablePointer<Float>, _ op: (Float, Float) -> Float) {
    if bCount == count {
        for i in 0..<count { out[i] = op(a[i], b[i]) }
        return
    }
    var i = 0
    while i < count {
        for j in 0..<bCount { out[i + j] = op(a[i + j], b[j]) }
        i += bCount
    }
}

func add(_ a: UnsafePointer<Float>, count: Int, _ b: UnsafePointer<Float>, bCount: Int, _ out: UnsafeMutablePointer<Float>) {
    broadcastBinary(a, count: count, b, bCount: bCount, out, +)
}

func multiply(_ a: UnsafePointer<Float>, count: Int, _ b: UnsafePointer<Float>, bCount: Int, _ out: UnsafeMutablePointer<Float>) {
    broadcastBinary(a, count: count, b, bCount: bCount, out, *)
}

func relu(_ x: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>) {
    for i in 0..<count { out[i] = max(x[i], 0) }
}

func sigmoid(_ x: UnsafePointer<Float>, count: Int, _ out: UnsafeMutablePointer<Float>) {
    for i in 0..<count { out[i] = logistic(x[i]) }
}

/// σ(x) = 1 / (1 + e^−x), as every sigmoid kernel computes it.
@inline(__always)
func logistic(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
