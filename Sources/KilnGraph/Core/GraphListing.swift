// A readable listing of a graph, one node a line, as `kiln inspect --graph` prints it.

extension Graph: CustomStringConvertible {
    public var description: String {
        var lines: [String] = []
        lines.reserveCapacity(nodes.count + 1)
        for (id, node) in nodes.enumerated() {
            let operands = node.inputs.map { "%\($0)" }.joined(separator: ", ")
            let call = operands.isEmpty ? node.op.description : "\(node.op)(\(operands))"
            lines.append("%\(id) = \(call) : \(node.dtype.rawValue.lowercased())\(node.shape.shapeDescription)")
        }
        lines.append("outputs: " + outputs.map { "%\($0)" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}
