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

    /// Runs one step and returns each output row's most likely token (the first on ties);
    /// a GPU picks them on the device, so only the ids cross to the host.
    func forwardGreedy(_ step: StepInputs) throws -> [Int32]
}

extension Executable {
    public func forwardGreedy(_ step: StepInputs) throws -> [Int32] {
        let logits = try forward(step)
        let width = logits.shape.last ?? 1
        return logits.withUnsafeBytes { bytes in
            let values = bytes.assumingMemoryBound(to: Float.self)
            return (0..<(values.count / width)).map { row in
                var best = row * width
                for i in (row * width)..<((row + 1) * width) where values[i] > values[best] { best = i }
                return Int32(best - row * width)
            }
        }
    }
}
