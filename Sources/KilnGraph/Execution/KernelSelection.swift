// The builder's kernel choices for one device: for each kind of kernel call (a GEMM of a
// given weight format and shape, …) the implementation that measured fastest. Engines keep
// them, and a cache on disk keeps them across in-memory builds.

/// Measured kernel choices, by call signature.
public struct KernelSelection: Hashable, Sendable, Codable {
    /// Signature (e.g. `gemm_nt q4_1 1536x576 m=1`) → the chosen variant's parameters.
    public var choices: [String: [String: Int]]

    public init(choices: [String: [String: Int]] = [:]) { self.choices = choices }
}
