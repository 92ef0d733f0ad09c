import KilnTensor

// Kiln's CUDA kernels for one GPU and activation type: the hand-written sources embedded in
// the binary plus the elementwise kernels generated for a graph, compiled by NVRTC (or read
// from the disk cache) and loaded.

/// Loaded kernels by name.
struct CUDAKernelLibrary {
    let functions: [String: KernelFunction]
    /// Whether every module came from the disk cache.
    let cached: Bool
    /// The compiled modules, for engines to keep.
    let modules: [CompiledModule]

    /// The hand-written kernels, as the sources name them.
    static let commonNames = [
        "embedding", "rms_norm", "residual_rms_norm", "rope", "gather_rows", "gather_rows_f32", "copy_rows",
        "write_kv", "paged_attention", "decode_attention_g1", "decode_attention_g2", "decode_attention_g4", "decode_attention_g8",
        "attention_combine", "argmax_rows", "sample_rows", "sample_rows_clustered",
    ] + gemvVariants("gemv_bf16") + gemvVariants("gemv_rms_norm")

    /// The row counts a GEMV kernel is unrolled for, one kernel each (`GEMV_KERNELS` in gemv.cuh).
    static let gemvRowCounts = [1, 2, 4, 8]

    /// The kernel that runs GEMV `name` for `m` rows.
    static func gemv(_ name: String, rows m: Int) -> String { "\(name)_m\(gemvRowCounts.first { $0 >= m } ?? 8)" }

    /// Every kernel of GEMV `name`.
    static func gemvVariants(_ name: String) -> [String] { gemvRowCounts.map { "\(name)_m\($0)" } }

    /// The most splits a (token, head)'s attention keys take (MAX_SPLITS of attention.cu):
    /// the room its split records have.
    static let maxAttentionSplits = 32

    /// Head sizes the tensor-core prefill attention is built for (`flash_prefill_d…`).
    static let flashHeadSizes = [16, 32, 64, 96, 128, 256]

    /// The hand-written kernels for an activation type: tensor-core kernels need 16-bit ones.
    static func handwrittenNames(activation: DType) -> [String] {
        commonNames + (activation == .f32 ? [] : flashHeadSizes.map { "flash_prefill_d\($0)" })
    }

    /// What every module starts with: shared helpers and the GEMV sweep (generated GEMV
    /// prologues use it too).
    static var commonSource: String {
        [PackageResources.common_cuh, PackageResources.gemv_cuh].map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    /// The main module: the shared helpers and every hand-written kernel.
    static var mainSource: String { commonSource + "\n" + handwrittenSource }

    static var handwrittenSource: String {
        [PackageResources.layers_cu, PackageResources.attention_cu, PackageResources.flash_attention_cu, PackageResources.sampling_cu, PackageResources.gemv_cu]
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    /// The persistent decode kernel's module (persistent.cu): the stage functions it calls,
    /// built so that their block-wide steps span its consumer warps, the graph's elementwise
    /// GEMV prologues with a dispatch by index (`prologues` order), and attention for its groups.
    /// `attentionGroups`: the GQA groups attention is unrolled for (decode_attention_g…).
    static func persistentSource(prologues: [ElementwiseKernel], attentionGroups: [Int]) -> String {
        let stages = [PackageResources.layers_cu, PackageResources.attention_cu].map { String(decoding: $0, as: UTF8.self) }
        let cases = prologues.enumerated().map { "    case \($0): \($1.persistentStageCall); break;" }
        let groups = attentionGroups.map { "    case \($0): attention_stage<\($0)>(op, t, kv_head, split); break;" }
        let dispatch = """
        __device__ void persistent_stage_elementwise(int which, bf16* xs, int m, int k, const PersistentOp& op) {
            switch (which) {
        \(cases.joined(separator: "\n"))
            default: break;
            }
        }

        __device__ void persistent_attention(const PersistentOp& op, int t, int kv_head, int split) {
            switch (op.variant) {
        \(groups.joined(separator: "\n"))
            default: break;
            }
        }

        """
        return ([commonSource] + stages + prologues.map(\.stageSource) + [String(decoding: PackageResources.persistent_cu, as: UTF8.self), dispatch])
            .joined(separator: "\n")
    }

    /// Threads of the persistent kernel that run the stages (all but its last warp, which streams weights).
    static let persistentConsumers = 480

    /// What NVRTC is told besides the architecture: the activation type's macro.
    static func options(activation: DType) -> [String] {
        activation == .bf16 ? ["-DKILN_BF16"] : activation == .f16 ? ["-DKILN_F16"] : []
    }

    /// The persistent module's options besides the activation's.
    static let persistentOptions = ["-DKILN_PERSISTENT", "-DPERSISTENT_CONSUMERS=\(persistentConsumers)"]

    /// Activation types the kernels compile for.
    static let activationTypes: [DType] = [.f32, .bf16, .f16]

    /// The elementwise GEMV prologues the persistent kernel dispatches, by index (their GEMVs' names).
    let persistentPrologues: [String]

    /// `decodeShape`: the head size and tokens a cache block that decode attention is
    /// specialized for (nil: none);
    /// `gemvPrologues`: elementwise programs computed inside the GEMV that reads them;
    /// `persistentAttentionGroups`: the GQA groups of the graph's attention, when the persistent
    /// decode kernel (`persistent_decode`) is to be built (nil: it is not).
    init(device: CUDADevice, compiler: KernelCompiler, activation: DType, elementwise: [ElementwiseKernel],
         decodeShape: (headDim: Int, tokensPerBlock: Int)? = nil, gemvPrologues: [ElementwiseKernel] = [],
         persistentAttentionGroups: [Int]? = nil) throws(CUDAError) {
        let options = Self.options(activation: activation)
        let prefix = Self.commonSource + "\n"
        let decodeOptions = decodeShape.map { ["-DKILN_DECODE_HEAD_DIM=\($0.headDim)", "-DKILN_DECODE_TOKENS_PER_BLOCK=\($0.tokensPerBlock)"] } ?? []
        let (main, mainCached) = try compiler.cubin(Self.mainSource, name: "kiln", options: options + decodeOptions)
        var modules = [main]
        // every Kiln kernel starts with KILN_WAIT_FOR_PRIOR_GRID
        var functions = try device.loadKernels(cubin: main.cubin, names: Self.handwrittenNames(activation: activation), waitForPriorGrid: true)
        var cached = mainCached
        let generated = Array(Set(elementwise)).sorted { $0.name < $1.name }
        let prologues = Array(Set(gemvPrologues)).sorted { $0.name < $1.name }
        if !generated.isEmpty || !prologues.isEmpty {
            let source = prefix + (generated.map(\.source) + prologues.map(\.gemvSource)).joined(separator: "\n")
            let (module, hit) = try compiler.cubin(source, name: "kiln-elementwise", options: options)
            modules.append(module)
            let names = generated.map(\.name) + prologues.flatMap { Self.gemvVariants($0.gemvName) }
            functions.merge(try device.loadKernels(cubin: module.cubin, names: names, waitForPriorGrid: true)) { a, _ in a }
            cached = cached && hit
        }
        // one-row decode steps as one kernel: Hopper's bulk copies, bf16 GEMV weights
        if let groups = persistentAttentionGroups, activation == .bf16 {
            let (module, hit) = try compiler.cubin(Self.persistentSource(prologues: prologues, attentionGroups: groups), name: "kiln-persistent",
                                                   options: options + Self.persistentOptions)
            modules.append(module)
            functions.merge(try device.loadKernels(cubin: module.cubin, names: ["persistent_decode"])) { a, _ in a }
            cached = cached && hit
        }
        persistentPrologues = prologues.map(\.gemvName)
        self.functions = functions
        self.cached = cached
        self.modules = modules
    }

    subscript(name: String) -> KernelFunction { functions[name]! }
}
