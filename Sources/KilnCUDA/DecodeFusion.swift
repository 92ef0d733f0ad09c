// Decode steps are latency-bound: a kernel launch, or an activation's round trip through
// memory, costs as much as streaming megabytes of weights. So a norm or an elementwise chain
// whose only reader is a decode GEMV is computed by that GEMV itself — every block computes
// it into shared memory from inputs of a few kilobytes — and its own kernel is skipped.

import KilnGraph
import KilnTensor

/// What a decode GEMV computes before its sweep, in place of the kernels it absorbs.
enum GemvPrologue: Equatable {
    /// RMSNorm of `x` (+ `residual`) scaled by `weight`; `sum`: the node whose bytes take
    /// x + residual (the residual stream's next value), when something reads it.
    case rmsNorm(x: Int, residual: Int?, sum: Int?, weight: Int, eps: Float)
    /// The elementwise program of `node`, over that node's operands.
    case elementwise(node: Int)
}

/// The prologues a graph's GEMVs can run in decode steps, and the nodes they absorb.
struct DecodeFusion {
    /// GEMV node → its prologue.
    private(set) var prologues: [Int: GemvPrologue] = [:]
    /// Absorbed node → the GEMV that computes it (when that GEMV runs with its prologue).
    private(set) var absorbedBy: [Int: Int] = [:]
    /// GEMV node → values it reads besides its operands: the memory plan keeps them alive
    /// until the GEMV has run, so its output never overwrites them.
    private(set) var extraReads: [Int: [Int]] = [:]

    /// Finds the prologues of `graph` (bf16 activations only: the GEMV reads bf16).
    init(_ graph: Graph, activation: DType, readers: [[Int]]) {
        guard activation == .bf16 else { return }
        let nodes = graph.nodes
        func onlyReader(_ id: Int, is reader: Int) -> Bool { readers[id] == [reader] && !graph.outputs.contains(id) }
        func isActivation(_ ids: [Int]) -> Bool { ids.allSatisfy { nodes[$0].dtype == activation } }
        for (gemv, node) in nodes.enumerated() {
            guard case .matmul(transposeB: true) = node.op, nodes[node.inputs[1]].isWeight else { continue }
            let x = node.inputs[0], input = nodes[x]
            guard onlyReader(x, is: gemv), input.dtype == activation else { continue }
            switch input.op {
            case .select(1):
                // the normalized half of a residual add + RMSNorm
                let fused = nodes[input.inputs[0]]
                guard case .residualRMSNorm(let eps) = fused.op, isActivation(Array(fused.inputs.prefix(2))) else { continue }
                add(gemv, .rmsNorm(x: fused.inputs[0], residual: fused.inputs[1], sum: input.inputs[0], weight: fused.inputs[2], eps: eps),
                    absorbing: [input.inputs[0]], reading: Array(fused.inputs.prefix(2)))
            case .rmsNorm(let eps):
                // a decode step's last-token gather is the identity, and an add only it reads folds in
                var source = input.inputs[0], absorbed = [x]
                if case .gatherLastTokens = nodes[source].op, onlyReader(source, is: x) {
                    absorbed.append(source)
                    source = nodes[source].inputs[0]
                }
                let sum = nodes[source]
                if case .add = sum.op, onlyReader(source, is: absorbed.last!), isActivation(sum.inputs),
                   sum.inputs.allSatisfy({ nodes[$0].shape == sum.shape }) {
                    add(gemv, .rmsNorm(x: sum.inputs[0], residual: sum.inputs[1], sum: nil, weight: input.inputs[1], eps: eps),
                        absorbing: absorbed + [source], reading: sum.inputs)
                } else if nodes[source].dtype == activation {
                    add(gemv, .rmsNorm(x: source, residual: nil, sum: nil, weight: input.inputs[1], eps: eps), absorbing: absorbed, reading: [source])
                }
            default:
                guard ElementwiseKernel.program(of: input.op) != nil else { continue }
                add(gemv, .elementwise(node: x), absorbing: [x], reading: input.inputs)
            }
        }
    }

    private mutating func add(_ gemv: Int, _ prologue: GemvPrologue, absorbing: [Int], reading: [Int]) {
        prologues[gemv] = prologue
        for id in absorbing { absorbedBy[id] = gemv }
        extraReads[gemv] = reading
    }
}
