// The functional Model Definition API: each free function checks its operands' shapes and
// appends one op to their graph. Model code composes these and nothing else.

import KilnTensor

/// `a · b`, or `a · bᵀ` when `transposeB` (how `[out, in]` weights are applied).
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul takes matrices, got \(a.shape.shapeDescription) and \(b.shape.shapeDescription)")
    let (k, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(a.shape[1] == k, "matmul: inner sizes differ in \(a.shape.shapeDescription) · \(b.shape.shapeDescription)\(transposeB ? "ᵀ" : "")")
    return a.graph.append(.matmul(transposeB: transposeB), [a, b], dtype: .f32, shape: [a.shape[0], n], origin: "\(file):\(line)")
}

/// Elementwise `a + b`; `b` may be a vector matching `a`'s last dimension (a bias).
public func add(_ a: Tensor, _ b: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor { elementwise(.add, a, b, origin: "\(file):\(line)") }

/// Elementwise `a × b`, broadcasting like `add`.
public func mul(_ a: Tensor, _ b: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor { elementwise(.mul, a, b, origin: "\(file):\(line)") }

// operators cannot take a caller's location: their nodes have none
public func + (a: Tensor, b: Tensor) -> Tensor { elementwise(.add, a, b, origin: nil) }
public func * (a: Tensor, b: Tensor) -> Tensor { elementwise(.mul, a, b, origin: nil) }

private func elementwise(_ op: Op, _ a: Tensor, _ b: Tensor, origin: String?) -> Tensor {
    let broadcastsBias = b.rank == 1 && a.shape.last == b.shape[0]
    precondition(a.shape == b.shape || broadcastsBias,
                 "\(op): shapes \(a.shape.shapeDescription) and \(b.shape.shapeDescription) do not match")
    return a.graph.append(op, [a, b], dtype: .f32, shape: a.shape, origin: origin)
}

/// A pointwise nonlinearity.
public func activation(_ x: Tensor, _ kind: Activation, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    x.graph.append(.activation(kind), [x], dtype: .f32, shape: x.shape, origin: "\(file):\(line)")
}

public func relu(_ x: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor { activation(x, .relu, file: file, line: line) }
public func sigmoid(_ x: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor { activation(x, .sigmoid, file: file, line: line) }

/// `x · σ(x)`, recorded as exactly that: the builder fuses it back into one kernel.
public func silu(_ x: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    mul(x, sigmoid(x, file: file, line: line), file: file, line: line)
}

/// Root-mean-square normalization over the last dimension, scaled by `weight`.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(weight.rank == 1 && x.shape.last == weight.shape[0],
                 "rmsNorm: weight \(weight.shape.shapeDescription) does not match \(x.shape.shapeDescription)")
    return x.graph.append(.rmsNorm(eps: eps), [x, weight], dtype: .f32, shape: x.shape, origin: "\(file):\(line)")
}

/// Rows of `table` `[vocab, d]` for each id in `ids` `[n]`.
public func embedding(_ ids: Tensor, table: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(ids.rank == 1 && table.rank == 2, "embedding: ids must be a vector and the table a matrix")
    return ids.graph.append(.embedding, [table, ids], dtype: .f32, shape: [ids.shape[0], table.shape[1]], origin: "\(file):\(line)")
}

/// Rotates each head of `x` `[n, heads·dim]` by its token's position.
public func rope(_ x: Tensor, positions: Tensor, _ rotary: RotaryEmbedding, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(x.rank == 2 && positions.rank == 1 && x.shape[0] == positions.shape[0],
                 "rope: x \(x.shape.shapeDescription) and positions \(positions.shape.shapeDescription) disagree")
    if let width = x.shape[1].fixedSize {
        precondition(width % rotary.dimension == 0, "rope: width \(width) is not a multiple of \(rotary.dimension)")
    }
    return x.graph.append(.rope(rotary), [x, positions], dtype: .f32, shape: x.shape, origin: "\(file):\(line)")
}

/// The last token's row of every sequence in the step.
public func gatherLastTokens(_ x: Tensor, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(x.rank == 2 && x.shape[0] == .numTokens, "gatherLastTokens takes [numTokens, d], got \(x.shape.shapeDescription)")
    return x.graph.append(.gatherLastTokens, [x], dtype: x.dtype, shape: [.numSeqs, x.shape[1]], origin: "\(file):\(line)")
}

/// The same elements in a new shape; symbolic dimensions must be kept.
public func reshape(_ x: Tensor, _ shape: [Dim], file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(x.shape.fixedProduct == shape.fixedProduct && x.shape.symbolicDims == shape.symbolicDims,
                 "reshape: \(x.shape.shapeDescription) cannot become \(shape.shapeDescription)")
    return x.graph.append(.reshape, [x], dtype: x.dtype, shape: shape, origin: "\(file):\(line)")
}

/// `length` entries of `axis` starting at `start` (a fixed-size axis).
public func slice(_ x: Tensor, axis: Int, start: Int, length: Int, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    guard let size = x.shape[axis].fixedSize else { preconditionFailure("slice: axis \(axis) of \(x.shape.shapeDescription) is symbolic") }
    precondition(start >= 0 && length > 0 && start + length <= size, "slice: \(start)..<\(start + length) is outside 0..<\(size)")
    var shape = x.shape
    shape[axis] = .fixed(length)
    return x.graph.append(.slice(axis: axis, start: start, length: length), [x], dtype: x.dtype, shape: shape, origin: "\(file):\(line)")
}

/// The tensors joined along `axis` (a fixed-size axis; other dimensions equal).
public func concat(_ tensors: [Tensor], axis: Int, file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    guard let first = tensors.first else { preconditionFailure("concat needs at least one tensor") }
    var total = 0
    for t in tensors {
        var a = t.shape, b = first.shape
        guard let size = a[axis].fixedSize else { preconditionFailure("concat: axis \(axis) is symbolic") }
        a[axis] = 0
        b[axis] = 0
        precondition(a == b && t.dtype == first.dtype, "concat: \(t.shape.shapeDescription) does not fit \(first.shape.shapeDescription)")
        total += size
    }
    var shape = first.shape
    shape[axis] = .fixed(total)
    return first.graph.append(.concat(axis: axis), tensors, dtype: first.dtype, shape: shape, origin: "\(file):\(line)")
}
