// Re-derives every node's shape from its operands, so a graph built or rewritten wrongly
// fails at build time with the node and op named, not at run time.

import KilnGraph

public struct ShapeCheck: Pass {
    public let name = "shape-check"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        for (id, node) in graph.nodes.enumerated() {
            let shapes = node.inputs.map { graph.nodes[$0].shape }
            func fail(_ detail: String) -> CompileError { .shapeMismatch(node: id, op: "\(node.op)", detail: detail) }
            func broadcasts(_ operand: [Dim]) -> Bool { operand == node.shape || (operand.count == 1 && operand.first == node.shape.last) }
            switch node.op {
            case .matmul(let transposeB), .matmulEpilogue(let transposeB, _, _):
                guard shapes.count >= 2, shapes[0].count == 2, shapes[1].count == 2 else { throw fail("operands are not matrices") }
                let (k, n) = transposeB ? (shapes[1][1], shapes[1][0]) : (shapes[1][0], shapes[1][1])
                guard shapes[0][1] == k, node.shape == [shapes[0][0], n] else {
                    throw fail("\(shapes[0].shapeDescription) · \(shapes[1].shapeDescription) cannot give \(node.shape.shapeDescription)")
                }
                if case .matmulEpilogue(_, true, _) = node.op, shapes.count < 3 || shapes[2] != [n] {
                    throw fail("bias must be [\(n)]")
                }
            case .add, .mul, .activation, .fusedElementwise:
                for (position, operand) in shapes.enumerated() where !broadcasts(operand) {
                    throw fail("operand \(position) \(operand.shapeDescription) does not fit \(node.shape.shapeDescription)")
                }
            case .rmsNorm:
                guard shapes.count == 2, shapes[0] == node.shape, let width = node.shape.last, shapes[1] == [width] else { throw fail("weight does not match the rows") }
            case .attention(let a):
                guard shapes.count == (a.rotary == nil ? 3 : 4), shapes[0] == node.shape,
                      shapes[1] == [.numTokens, .fixed(a.numKVHeads * a.headDim)], shapes[2] == shapes[1] else {
                    throw fail("q, k, v shapes \(shapes.map(\.shapeDescription)) do not fit \(a.numHeads)×\(a.headDim) heads")
                }
            default:
                break
            }
        }
        return (graph, [:])
    }
}
