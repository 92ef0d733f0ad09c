// Re-derives every node's shape and dtype from its operands, so a graph built or rewritten
// wrongly fails at build time naming the node, its op and the model code that recorded it,
// not at run time.

import KilnGraph
import KilnTensor

public struct ShapeCheck: Pass {
    public let name = "shape-check"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        for (id, node) in graph.nodes.enumerated() {
            let shapes = node.inputs.map { graph.nodes[$0].shape }
            func fail(_ detail: String) -> CompileError { .shapeMismatch(node: node.citation(id), detail: detail) }
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
            case .residualRMSNorm:
                guard shapes.count == 3, shapes[0] == shapes[1], node.shape == [.fixed(2)] + shapes[0], let width = shapes[0].last,
                      shapes[2] == [width] else {
                    throw fail("x \(shapes[0].shapeDescription), residual and weight \(shapes.dropFirst().map(\.shapeDescription)) do not fit")
                }
            case .select(let index):
                guard let input = shapes.first, let entries = input.first?.fixedSize, (0..<entries).contains(index),
                      node.shape == Array(input.dropFirst()) else { throw fail("cannot take entry \(index) of \(shapes.first?.shapeDescription ?? "nothing")") }
            case .plugin(let call):
                let operands = node.inputs.map { ValueType(graph.nodes[$0].dtype, graph.nodes[$0].shape) }
                switch call.plugin.result(operands: operands) {
                case .success(let result) where result.shape != node.shape:
                    throw fail("the plugin gives \(result.shape.shapeDescription), the node says \(node.shape.shapeDescription)")
                case .success: break
                case .failure(let error): throw fail(error.description)
                }
            default:
                break
            }
            // ops that move or combine values elementwise keep their operands' element type
            let keepsType: Bool
            switch node.op {
            case .add, .mul, .activation, .fusedElementwise, .reshape, .select, .slice, .concat, .gatherLastTokens: keepsType = true
            default: keepsType = false
            }
            if keepsType, let other = node.inputs.first(where: { !graph.nodes[$0].isWeight && graph.nodes[$0].dtype != node.dtype }) {
                throw fail("operand %\(other) is \(graph.nodes[other].dtype), the result \(node.dtype): a cast is missing")
            }
        }
        return (graph, [:])
    }
}
