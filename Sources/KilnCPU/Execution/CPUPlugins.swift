// CPU kernels for graph plugins, registered by plugin name: Kiln's own (attention,
// dequantize) and any a program adds with `CPUPluginKernels.register`.

import KilnGraph
import KilnTensor
import Synchronization

/// A plugin's CPU implementation. One instance serves one graph node.
public protocol CPUPluginKernel: Sendable {
    /// Prepares the kernel for a node holding `plugin` (tables, checks of its attributes).
    init(plugin: any Plugin) throws(CPUBackendError)
    /// Computes the node's result for one step.
    func run(_ context: CPUPluginContext) throws(CPUBackendError)
}

/// The kernels the CPU backend has, by plugin name.
public enum CPUPluginKernels {
    private static let kernels = Mutex<[String: any CPUPluginKernel.Type]>([
        AttentionPlugin.pluginName: AttentionKernel.self,
        DequantizePlugin.pluginName: DequantizeKernel.self,
    ])

    /// Makes `kernel` run every node of `plugin`; the plugin is registered with the graph
    /// layer too, so engines holding it load.
    public static func register(_ kernel: any CPUPluginKernel.Type, for plugin: any Plugin.Type) {
        PluginRegistry.register(plugin)
        kernels.withLock { $0[plugin.pluginName] = kernel }
    }

    static func kernel(for call: PluginCall) throws(CPUBackendError) -> any CPUPluginKernel {
        guard let type = kernels.withLock({ $0[call.name] }) else {
            throw .unsupportedOp("plugin '\(call.name)': no CPU kernel is registered for it (CPUPluginKernels.register)")
        }
        return try type.init(plugin: call.plugin)
    }
}

/// One plugin node's operands and result in one step, as its kernel sees them.
///
/// Invariant: every pointer is valid, for the extent given, during `run` only.
public struct CPUPluginContext {
    /// The step being run (sequences, positions, KV slots).
    public let step: StepInputs
    /// Each operand's extent in this step.
    public let operandShapes: [[Int]]
    /// The result: float32, row-major, of `resultShape`.
    public let result: UnsafeMutableBufferPointer<Float>
    public let resultShape: [Int]
    let floatOperands: [UnsafeMutablePointer<Float>?]
    let intOperands: [[Int32]?]
    let weightOperands: [WeightMatrix?]
    let kvCache: KVCachePool

    /// Operand `index` as float32 elements (activations, and weights stored as f32).
    public func floats(_ index: Int) throws(CPUBackendError) -> UnsafeBufferPointer<Float> {
        guard let base = floatOperands[index] else { throw .unsupportedOp("operand \(index) of a plugin is not float32") }
        return UnsafeBufferPointer(start: base, count: operandShapes[index].reduce(1, *))
    }

    /// Operand `index` as integers (token ids, positions).
    public func ints(_ index: Int) throws(CPUBackendError) -> [Int32] {
        guard let values = intOperands[index] else { throw .unsupportedOp("operand \(index) of a plugin is not a step input") }
        return values
    }
}

/// Paged attention, with RoPE applied to q and to k on their way into the cache when the
/// builder moved it into the plugin.
struct AttentionKernel: CPUPluginKernel {
    let attributes: AttentionPlugin
    let inverseFrequencies: [Float]?

    init(plugin: any Plugin) throws(CPUBackendError) {
        guard let attention = plugin as? AttentionPlugin else { throw .unsupportedOp("\(plugin) as attention") }
        attributes = attention
        inverseFrequencies = attention.rotary?.inverseFrequencies
    }

    func run(_ context: CPUPluginContext) throws(CPUBackendError) {
        let a = attributes, numTokens = context.step.numTokens
        let cache = context.kvCache.layer(a.layer)
        let q = try context.floats(0).baseAddress!, k = try context.floats(1).baseAddress!, v = try context.floats(2).baseAddress!
        let out = context.result.baseAddress!
        guard let rotary = a.rotary, let inverseFrequencies else {
            pagedAttention(q: q, k: k, v: v, out: out, step: context.step, cache: cache, attributes: a)
            return
        }
        let positions = try context.ints(3)
        let qWidth = a.numHeads * a.headDim, kvWidth = a.numKVHeads * a.headDim
        withUnsafeTemporaryAllocation(of: Float.self, capacity: numTokens * (qWidth + kvWidth)) { scratch in
            let rotatedQ = scratch.baseAddress!, rotatedK = rotatedQ + numTokens * qWidth
            positions.withUnsafeBufferPointer { positions in
                for (source, target, width) in [(q, rotatedQ, qWidth), (k, rotatedK, kvWidth)] {
                    applyRotary(source, tokens: numTokens, width: width, headDim: rotary.dimension, positions: positions.baseAddress!,
                                inverseFrequencies: inverseFrequencies, attentionFactor: rotary.attentionFactor, target)
                }
            }
            pagedAttention(q: rotatedQ, k: rotatedK, v: v, out: out, step: context.step, cache: cache, attributes: a)
        }
    }
}

/// A stored weight widened to float32 (run each step only when the builder did not fold it).
struct DequantizeKernel: CPUPluginKernel {
    init(plugin: any Plugin) throws(CPUBackendError) {
        guard plugin is DequantizePlugin else { throw .unsupportedOp("\(plugin) as dequantize") }
    }

    func run(_ context: CPUPluginContext) throws(CPUBackendError) {
        let out = context.result.baseAddress!
        if let matrix = context.weightOperands[0] {
            for row in 0..<matrix.rows { matrix.widenRow(row, into: out + row * matrix.columns) }
        } else {
            let source = try context.floats(0)
            out.update(from: source.baseAddress!, count: source.count)
        }
    }
}
