// C = A · Bᵀ for activations A `[m, k]` and weights B `[n, k]`: the multiply of every
// linear layer. Work is split over B's rows so each thread streams its own weights once.

/// `c[i, j] = Σ a[i, p] · b[j, p]`.
func gemmTransposedB(a: UnsafePointer<Float>, m: Int, b: WeightMatrix, c: UnsafeMutablePointer<Float>) {
    switch b.format {
    case .f32: gemmTransposedB(a: a, m: m, b: b, c: c, loader: F32Loader.self)
    case .bf16: gemmTransposedB(a: a, m: m, b: b, c: c, loader: BF16Loader.self)
    }
}

private func gemmTransposedB<L: WeightLoader>(a: UnsafePointer<Float>, m: Int, b: WeightMatrix, c: UnsafeMutablePointer<Float>, loader: L.Type) {
    let n = b.rows, k = b.columns
    // Blocks of 16 weight rows (a few KB) stay in L1/L2 while every row of A passes by.
    let rowBlock = 16
    let blocks = (n + rowBlock - 1) / rowBlock
    parallelFor(blocks, cost: m * n * k) { range in
        for block in range {
            let start = block * rowBlock
            let end = min(n, start + rowBlock)
            for i in 0..<m {
                let aRow = a + i * k
                let cRow = c + i * n
                var j = start
                while j + 4 <= end {
                    dot4(aRow, b.base, rows: j, k: k, into: cRow + j, loader: L.self)
                    j += 4
                }
                while j < end {
                    cRow[j] = dot1(aRow, b.base, row: j, k: k, loader: L.self)
                    j += 1
                }
            }
        }
    }
}

/// Four dot products sharing each load of `a`.
@inline(__always)
private func dot4<L: WeightLoader>(_ a: UnsafePointer<Float>, _ b: UnsafeRawPointer, rows j: Int, k: Int,
                                   into out: UnsafeMutablePointer<Float>, loader: L.Type) {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
    let r0 = j * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k
    let aRaw = UnsafeRawPointer(a)
    var p = 0
    while p + 8 <= k {
        let x = aRaw.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self)
        s0 += x * L.load8(b, r0 + p)
        s1 += x * L.load8(b, r1 + p)
        s2 += x * L.load8(b, r2 + p)
        s3 += x * L.load8(b, r3 + p)
        p += 8
    }
    var t0 = s0.sum(), t1 = s1.sum(), t2 = s2.sum(), t3 = s3.sum()
    while p < k {
        let x = a[p]
        t0 += x * L.load1(b, r0 + p)
        t1 += x * L.load1(b, r1 + p)
        t2 += x * L.load1(b, r2 + p)
        t3 += x * L.load1(b, r3 + p)
        p += 1
    }
    out[0] = t0
    out[1] = t1
    out[2] = t2
    out[3] = t3
}

@inline(__always)
private func dot1<L: WeightLoader>(_ a: UnsafePointer<Float>, _ b: UnsafeRawPointer, row j: Int, k: Int, loader: L.Type) -> Float {
    var s = SIMD8<Float>()
    let r = j * k
    let aRaw = UnsafeRawPointer(a)
    var p = 0
    while p + 8 <= k {
        s += aRaw.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self) * L.load8(b, r + p)
        p += 8
    }
    var t = s.sum()
    while p < k {
        t += a[p] * L.load1(b, r + p)
        p += 1
    }
    return t
}

/// `c = a · b` for activations `a` `[m, k]` and `b` `[k, n]` (no weight layout involved).
func gemm(a: UnsafePointer<Float>, m: Int, k: Int, b: UnsafePointer<Float>, n: Int, c: UnsafeMutablePointer<Float>) {
    parallelFor(m, cost: m * n * k) { rows in
        for i in rows {
            let cRow = c + i * n
            cRow.initialize(repeating: 0, count: n)
            for p in 0..<k {
                let x = a[i * k + p]
                let bRow = b + p * n
                for j in 0..<n { cRow[j] += x * bRow[j] }
            }
        }
    }
}
