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
        "attention_combine", "argmax_rows", "sample_rows",
    ] + gemvVariants("gemv_bf16") + gemvVariants("gemv_rms_norm")

    /// The row counts a GEMV kernel is unrolled for, one kernel each (`GEMV_KERNELS` in gemv.cuh).
    static let gemvRowCounts = [1, 2, 4, 8]

    /// The kernel that runs GEMV `name` for `m` rows.
    static func gemv(_ name: String, rows m: Int) -> String { "\(name)_m\(gemvRowCounts.first { $0 >= m } ?? 8)" }

    /// Every kernel of GEMV `name`.
    static func gemvVariants(_ name: String) -> [String] { gemvRowCounts.map { "\(name)_m\($0)" } }

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

    static var handwrittenSource: String {
        [PackageResources.layers_cu, PackageResources.attention_cu, PackageResources.flash_attention_cu, PackageResources.sampling_cu, PackageResources.gemv_cu]
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    /// Activation types the kernels compile for.
    static let activationTypes: [DType] = [.f32, .bf16, .f16]

    /// `gemvPrologues`: elementwise programs computed inside the GEMV that reads them.
    init(device: CUDADevice, compiler: KernelCompiler, activation: DType, elementwise: [ElementwiseKernel],
         gemvPrologues: [ElementwiseKernel] = []) throws(CUDAError) {
        let options = activation == .bf16 ? ["-DKILN_BF16"] : activation == .f16 ? ["-DKILN_F16"] : []
        let prefix = Self.commonSource + "\n"
        let (main, mainCached) = try compiler.cubin(prefix + Self.handwrittenSource, name: "kiln", options: options)
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
        self.functions = functions
        self.cached = cached
        self.modules = modules
    }

    subscript(name: String) -> KernelFunction { functions[name]! }
}
