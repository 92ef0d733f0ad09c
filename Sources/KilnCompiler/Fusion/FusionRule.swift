// Fusion rules as data: each a named pattern → replacement, run in table order, each
// switchable off by name (`kiln build --no-fuse RULE`).

import KilnGraph

/// A pattern-matching rewrite that replaces a group of nodes with one fused node.
public protocol FusionRule: Pass {
    /// What the rule matches and what it makes, for reports and `--help`.
    var summary: String { get }
}

/// The rules, in the order they run: projections of one input merge first (while they are
/// still plain matmuls), residual adds pair with the norms that read them, then epilogues
/// claim `matmul → +bias → activation` before the elementwise chains would take the bias add.
public let fusionRules: [any FusionRule] = [
    ProjectionConcatFusion(), RopeIntoAttention(), ResidualRMSNormFusion(), MatmulEpilogueFusion(), ElementwiseChainFusion(),
]

/// Rules the CPU backend leaves out unless asked: merged projections save kernel launches,
/// which the CPU's spinning workers make cheap, but they copy the weights they merge, so
/// resident memory would grow past the checkpoint's size (GGUF weights are used in place).
public let cpuDisabledFusions: Set<String> = ["concat-projections"]
