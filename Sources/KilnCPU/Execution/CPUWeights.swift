// Weights as the CPU kernels read them: zero-copy views of the checkpoint where the format
// allows, float32 copies where it does not.

import KilnGraph
import KilnTensor

/// One weight node's data.
///
/// Invariant: the pointers stay valid while `keepAlive` holds the tensors they point into.
struct CPUWeight: @unchecked Sendable {
    /// Rows × columns view for matmul and embedding lookups (2-D weights only).
    let matrix: WeightMatrix?
    /// Float32 elements, for ops that read weights elementwise (norms, biases).
    let floats: UnsafePointer<Float>?
    let keepAlive: [HostTensor]

    /// Prepares `tensor`; `matrixOnly` lets bfloat16 and block-quantized weights stay as
    /// stored (read by the GEMM and embedding kernels only), so decode streams fewer bytes
    /// and memory stays near the file size.
    init(_ tensor: HostTensor, matrixOnly: Bool) {
        let columns = tensor.shape.last ?? 1
        let rows = tensor.elementCount / max(columns, 1)
        let aligned = Int(bitPattern: tensor.storage.bytes.baseAddress) % 4 == 0
        if tensor.dtype == .f32 && aligned {
            let base = tensor.storage.bytes.baseAddress!
            floats = base.assumingMemoryBound(to: Float.self)
            matrix = WeightMatrix(format: .f32, base: base, rows: rows, columns: columns)
            keepAlive = [tensor]
        } else if matrixOnly && tensor.dtype != .f32 && WeightMatrix.readableFormats.contains(tensor.dtype)
                    && Int(bitPattern: tensor.storage.bytes.baseAddress) % 2 == 0 {
            // bf16 and block-quantized weights stay as stored: the kernels widen them in registers
            floats = nil
            matrix = WeightMatrix(format: tensor.dtype, base: tensor.storage.bytes.baseAddress!, rows: rows, columns: columns)
            keepAlive = [tensor]
        } else {
            let widened = HostTensor(tensor.floats(), shape: tensor.shape)
            let base = widened.storage.bytes.baseAddress!
            floats = base.assumingMemoryBound(to: Float.self)
            matrix = WeightMatrix(format: .f32, base: base, rows: rows, columns: columns)
            keepAlive = [widened]
        }
    }
}

extension Graph {
    /// Weight nodes that only matmul (as B), embedding (as the table) and dequantize read.
    var matrixOnlyWeights: Set<Int> {
        var weights = Set(nodes.indices.filter { nodes[$0].isWeight })
        for node in nodes {
            for (position, input) in node.inputs.enumerated() where weights.contains(input) {
                switch (node.op, position) {
                case (.matmul(transposeB: true), 1), (.matmulEpilogue(transposeB: true, _, _), 1), (.embedding, 0): continue
                case (.plugin(let call), 0) where call.plugin is DequantizePlugin: continue
                default: weights.remove(input)
                }
            }
        }
        return weights
    }
}
