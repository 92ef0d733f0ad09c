// The seam between the runtime and a backend: run one step, get logits.

import KilnTensor

/// A model loaded onto one device, with its KV-cache pool.
public protocol Executable: AnyObject, Sendable {
    var kvCacheLayout: KVCacheLayout { get }
    /// Width of each logits row.
    var vocabularySize: Int { get }
    /// The largest step `forward` takes.
    var limits: StepLimits { get }

    /// Runs one step and returns the graph's output: F32 logits, one row per sequence (or
    /// per token for graphs recorded with all-token logits).
    func forward(_ step: StepInputs) throws -> HostTensor

    /// Runs one step and returns each output row's token, picked as `choices` say (rows past
    /// its end take the most likely token); a GPU picks them on the device, so only the ids
    /// cross to the host.
    func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32]
}

extension Executable {
    public func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32] {
        let logits = try forward(step)
        let width = logits.shape.last ?? 1
        return logits.withUnsafeBytes { bytes in
            let values = bytes.assumingMemoryBound(to: Float.self)
            return (0..<(values.count / width)).map { row in
                (row < choices.count ? choices[row] : .greedy).pick(UnsafeBufferPointer(rebasing: values[(row * width)..<((row + 1) * width)]))
            }
        }
    }

    /// Each output row's most likely token (the first on ties).
    public func forwardGreedy(_ step: StepInputs) throws -> [Int32] { try forward(step, choices: []) }
}
