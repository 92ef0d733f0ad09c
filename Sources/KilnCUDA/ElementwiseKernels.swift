// Elementwise ops and the builder's fused chains become CUDA C generated from their
// program: one kernel per distinct program and operand types, one pass over memory.

import KilnGraph
import KilnTensor

/// A generated elementwise kernel's source and how to call it.
struct ElementwiseKernel: Hashable {
    let program: ElementwiseProgram
    /// Whether each operand is stored as `act` (else f32).
    let operandIsActivation: [Bool]
    let outputIsActivation: Bool

    /// The program an elementwise op computes, if it is one.
    static func program(of op: Op) -> ElementwiseProgram? {
        switch op {
        case .fusedElementwise(let program): program
        case .add: ElementwiseProgram(steps: [.input(0), .input(1), .add(0, 1)])
        case .mul: ElementwiseProgram(steps: [.input(0), .input(1), .mul(0, 1)])
        case .activation(let kind): ElementwiseProgram(steps: [.input(0), .activation(kind, 0)])
        default: nil
        }
    }

    var name: String { "ew_\(String(fnv1a64(body), radix: 16))" }

    /// `out[i] = program(in0[…], in1[…], …)`: operand k's element for `i` sits at
    /// `(i / wk) · rk + i % wk` — `i` for full-size operands (wk = n, rk = 0), `i % wk` for a
    /// vector broadcast over the last dimension, and rows of stride rk for a view of wider
    /// rows (a slice of the last dimension, read in place). Step j's value is vj.
    var source: String {
        let parameters = operandIsActivation.enumerated().map { "const \($1 ? "act" : "float")* in\($0), int w\($0), int r\($0)" }
        return """
        extern "C" __global__ void \(name)(\(outputIsActivation ? "act" : "float")* out, \(parameters.joined(separator: ", ")), int n) {
            KILN_EARLY_DEPENDENTS();
            for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        \(body)
            }
        }

        """
    }

    /// The GEMV whose x is this program's output, computed into shared memory by every block
    /// 8 values at a time (every operand's width and row stride a multiple of 8, 16-byte aligned).
    var gemvName: String { "gemv_\(name)" }

    /// The prologue alone: x ([m, k]) computed into `xs` by the block's group of threads
    /// (the whole block, or the persistent kernel's consumer warps).
    var stageName: String { "stage_\(name)" }

    private var operandParameters: String {
        operandIsActivation.enumerated().map { "const \($1 ? "act" : "float")* in\($0), int w\($0), int r\($0)" }.joined(separator: ", ")
    }

    private var operandArguments: String { operandIsActivation.indices.map { "in\($0), w\($0), r\($0)" }.joined(separator: ", ") }

    var stageSource: String {
        var lines: [String] = []
        for (i, step) in program.steps.enumerated() {
            switch step {
            case .input(let k):
                lines.append("        float v\(i)[8]; load8(in\(k) + (i / w\(k)) * r\(k) + i % w\(k), v\(i));")
            default:
                lines.append("        float v\(i)[8];")
                lines.append("#pragma unroll")
                lines.append("        for (int e = 0; e < 8; e++) v\(i)[e] = \(expression(step, element: "[e]"));")
            }
        }
        lines.append("        store8(xs + i, v\(program.steps.count - 1));")
        return """
        __device__ __forceinline__ void \(stageName)(bf16* xs, int m, int k, \(operandParameters)) {
            for (long i = threadIdx.x * 8; i < (long)m * k; i += KILN_GROUP_THREADS * 8) {
        \(lines.joined(separator: "\n"))
            }
            KILN_GROUP_SYNC();
        }

        """
    }

    var gemvSource: String {
        let signature = "(void* y, int y_is_f32, const bf16* __restrict__ w, int m, int n, int k, int parts, \(operandParameters))"
        let arguments = "(y, y_is_f32, w, m, n, k, parts, \(operandArguments))"
        return stageSource + """
        template <int M>
        __device__ __forceinline__ void \(gemvName)_body\(signature) {
            extern __shared__ u32x4 gemv_shared[];
            GemvSweep<M> s = gemv_begin<M>(w, n, k, parts);
            KILN_WAIT_ONLY();
            \(stageName)((bf16*)gemv_shared, m, k, \(operandArguments));
            gemv_sweep<M>(s, gemv_shared, y, y_is_f32, m, n);
        }
        GEMV_KERNELS(\(gemvName), \(signature), \(arguments))

        """
    }

    /// The call of this prologue in the persistent kernel, from a stage record (operand j:
    /// pointer p[2 + j], width i[4 + 2j], row stride i[5 + 2j]).
    var persistentStageCall: String {
        let operands = operandIsActivation.enumerated().map { j, isActivation in
            "(const \(isActivation ? "act" : "float")*)op.p[\(2 + j)], op.i[\(4 + 2 * j)], op.i[\(5 + 2 * j)]"
        }
        return "\(stageName)(xs, m, k, \(operands.joined(separator: ", ")))"
    }

    /// Step `step`'s value from the earlier steps' values (`v3` + `suffix`).
    private func expression(_ step: ElementwiseProgram.Step, element suffix: String) -> String {
        switch step {
        case .input(let k): "load(in\(k) + (i / w\(k)) * r\(k) + i % w\(k))"
        case .add(let a, let b): "v\(a)\(suffix) + v\(b)\(suffix)"
        case .mul(let a, let b): "v\(a)\(suffix) * v\(b)\(suffix)"
        case .activation(.relu, let a): "fmaxf(v\(a)\(suffix), 0.0f)"
        case .activation(.sigmoid, let a): "1.0f / (1.0f + expf(-v\(a)\(suffix)))"
        }
    }

    private var body: String {
        var lines: [String] = []
        for (i, step) in program.steps.enumerated() {
            lines.append("        float v\(i) = \(expression(step, element: ""));")
        }
        lines.append("        store(out + i, v\(program.steps.count - 1));")
        // the signature is part of the name's hash: the same program over other types differs
        return "// \(operandIsActivation) -> \(outputIsActivation)\n" + lines.joined(separator: "\n")
    }
}
