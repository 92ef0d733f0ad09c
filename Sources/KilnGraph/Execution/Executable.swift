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
}
