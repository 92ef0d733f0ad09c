// Kernel selection by measurement: for every weight shape a graph multiplies by, each GEMM
// variant this CPU can run (vector width × threads) is timed on the real weights, for a
// decode step and for a prefill chunk, and the fastest is kept. Small GEMVs often run best
// on one thread, and the widest vectors are not always the fastest.

import KilnGraph
import KilnTensor

public enum CPUKernelTuner {
    /// The step sizes measured: a decode step, and a prefill chunk standing for every larger step.
    static let stepSizes = [1, 64]

    /// The signature a GEMM call is tuned and looked up by.
    static func signature(_ matrix: WeightMatrix, tokens: Int) -> String {
        "gemm_nt \(matrix.format.rawValue.lowercased()) \(matrix.rows)x\(matrix.columns) m=\(tokens == 1 ? 1 : stepSizes[1])"
    }

    /// A choice for every GEMM signature `graphs` use with `weights` (by name): taken from
    /// `known` where it has one, measured otherwise.
    public static func tune(graphs: [Graph], weights: [String: HostTensor], known: KernelSelection = KernelSelection()) -> KernelSelection {
        var selection = KernelSelection()
        forEachGemm(graphs: graphs, weights: weights) { matrix, tokens, key in
            if selection.choices[key] == nil { selection.choices[key] = known.choices[key] ?? fastest(matrix, tokens: tokens).parameters }
        }
        return selection
    }

    /// Calls `body` for each weight matrix a graph multiplies by and each measured step size.
    private static func forEachGemm(graphs: [Graph], weights: [String: HostTensor], _ body: (WeightMatrix, Int, String) -> Void) {
        var seen = Set<String>()
        for graph in graphs {
            for node in graph.nodes {
                guard node.op.gemmKind == .matmul(transposeB: true), case .weight(let name) = graph.nodes[node.inputs[1]].op,
                      let tensor = weights[name], seen.insert(name).inserted else { continue }
                let weight = CPUWeight(tensor, matrixOnly: true)
                guard let matrix = weight.matrix else { continue }
                withExtendedLifetime(weight) {
                    for tokens in stepSizes { body(matrix, tokens, signature(matrix, tokens: tokens)) }
                }
            }
        }
    }

    /// Times every candidate on `matrix` with `tokens` rows of activations (fewer for large
    /// matrices: about 50 M multiply-adds a run keeps a model's measurements near a second).
    private static func fastest(_ matrix: WeightMatrix, tokens requested: Int) -> GemmVariant {
        let tokens = requested == 1 ? 1 : max(2, min(requested, 50_000_000 / (matrix.rows * matrix.columns)))
        let a = (0..<(tokens * matrix.columns)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: tokens * matrix.rows)
        let clock = ContinuousClock()
        var best = (variant: GemmVariant.standard, time: Duration.seconds(1_000))
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                for variant in GemmVariant.candidates {
                    let warmUp = clock.now
                    gemmTransposedB(a: a.baseAddress!, m: tokens, b: matrix, c: c.baseAddress!, variant: variant)
                    if clock.now - warmUp > best.time * 3 { continue }  // far behind already: not worth measuring
                    var fastest = Duration.seconds(1_000), spent = Duration.zero, runs = 0
                    // at least 3 runs, more while they are cheap (at most 20 ms a candidate)
                    while runs < 3 || (runs < 20 && spent < .milliseconds(20)) {
                        let start = clock.now
                        gemmTransposedB(a: a.baseAddress!, m: tokens, b: matrix, c: c.baseAddress!, variant: variant)
                        let time = clock.now - start
                        fastest = min(fastest, time)
                        spent += time
                        runs += 1
                    }
                    if fastest < best.time { best = (variant, fastest) }
                }
            }
        }
        return best.variant
    }
}

extension Op {
    /// The plain GEMM inside a matmul with or without an epilogue.
    var gemmKind: Op? {
        switch self {
        case .matmul(let transposeB), .matmulEpilogue(let transposeB, _, _): .matmul(transposeB: transposeB)
        default: nil
        }
    }
}
