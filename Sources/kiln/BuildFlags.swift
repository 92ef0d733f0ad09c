// The builder's options, shared by `build` and by the commands that build in memory, and the
// progress bar a build draws on stderr.

import ArgumentParser
import Kiln
import KilnCompiler
import KilnGraph
import KilnTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct BuildFlags: ParsableArguments {
    @Option(help: "The backend to build for: cpu or cuda (an engine folder runs on the backend it was built for).")
    var backend = "cpu"
    @Option(name: .customLong("kv-cache-fraction"), help: "CUDA: share of the GPU memory left after weights and activations that the KV cache takes.")
    var kvCacheFraction = 0.9
    @Flag(name: .customLong("no-cuda-graphs"), help: "CUDA: launch decode steps kernel by kernel instead of replaying captured CUDA graphs.")
    var noCUDAGraphs = false
    @Option(name: .customLong("max-seq-len"), help: "Tokens the KV cache holds per run (default: the model's context, at most 8192).")
    var maxSequenceLength: Int?
    @Option(name: .customLong("tokens-per-block"), help: "Tokens per KV-cache block.")
    var tokensPerBlock = 32
    @Option(name: .customLong("max-num-tokens"), help: "Tokens one step holds at most; the activation arena is planned for it and longer prompts prefill in chunks.")
    var maxNumTokens = StepLimits().maxNumTokens
    @Option(name: .customLong("max-batch-size"), help: "Sequences one step holds at most.")
    var maxBatchSize = StepLimits().maxBatchSize
    @Option(help: "Store the weights as auto (as the checkpoint has them), f32, bf16 or f16.")
    var dtype = "auto"
    @Option(name: .customLong("no-fuse"), help: "Fusion rules to leave out, comma separated: \(fusionRules.map(\.name).joined(separator: ", ")) (default: \(cpuDisabledFusions.sorted().joined(separator: ", ")); an empty list runs them all).")
    var noFuse: String?
    @Flag(name: .customLong("no-autotune"), help: "Skip measuring kernel variants (use the widest vectors on every thread).")
    var noAutotune = false
    @Option(name: .customLong("persistent-decode"), help: "CUDA on Hopper: run one-row decode steps as one persistent kernel — on, off, or auto (measured against the step's kernels when autotuning, the faster kept).")
    var persistentDecode = "auto"

    func validate() throws {
        guard Backend(rawValue: backend) != nil else {
            throw ValidationError("--backend \(backend): expected \(Backend.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        guard kvCacheFraction > 0 && kvCacheFraction <= 1 else { throw ValidationError("--kv-cache-fraction \(kvCacheFraction): expected a share in (0, 1]") }
        guard ["auto", "f32", "bf16", "f16"].contains(dtype) else { throw ValidationError("--dtype \(dtype): expected auto, f32, bf16 or f16") }
        guard ["auto", "on", "off"].contains(persistentDecode) else { throw ValidationError("--persistent-decode \(persistentDecode): expected auto, on or off") }
        guard tokensPerBlock > 0, maxNumTokens > 0, maxBatchSize > 0, maxSequenceLength.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--max-seq-len, --tokens-per-block, --max-num-tokens and --max-batch-size must be positive")
        }
        guard maxBatchSize <= maxNumTokens else { throw ValidationError("--max-batch-size \(maxBatchSize) exceeds --max-num-tokens \(maxNumTokens)") }
    }

    var options: BuildOptions {
        var options = BuildOptions(maxSequenceLength: maxSequenceLength, tokensPerBlock: tokensPerBlock,
                                   limits: StepLimits(maxNumTokens: maxNumTokens, maxBatchSize: maxBatchSize),
                                   disabledFusions: noFuse.map { Set($0.split(separator: ",").map(String.init)) },
                                   weightType: dtype == "auto" ? nil : DType(rawValue: dtype.uppercased()), autotune: !noAutotune,
                                   backend: Backend(rawValue: backend) ?? .cpu, kvCacheFraction: kvCacheFraction, cudaGraphs: !noCUDAGraphs)
        options.persistentDecode = persistentDecode == "auto" ? nil : persistentDecode == "on"
        return options
    }
}

/// A build's progress on stderr: a bar redrawn in place on a terminal, one line a stage
/// otherwise (logs stay readable) — or, unless `offTerminal`, nothing off a terminal (for
/// commands whose build is a side matter).
func buildProgressBar(offTerminal: Bool = true) -> BuildProgress? {
    let terminal = isatty(2) != 0
    guard terminal || offTerminal else { return nil }
    return { stage, fraction in
        let percent = Int((fraction * 100).rounded())
        guard terminal else {
            printError("build \(percent)%: \(stage)")
            return
        }
        let width = 30, filled = Int((fraction * Double(width)).rounded())
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = "\r\u{1B}[2K[\(bar)] \(percent)% \(stage)" + (fraction >= 1 ? "\n" : "")
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
