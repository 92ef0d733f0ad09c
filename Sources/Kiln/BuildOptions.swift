// How a model is built into an engine: the knobs of `kiln build`, also taken by `LLM`.

import KilnGraph
import KilnTensor

/// Build settings for an engine (and for models built in memory).
public struct BuildOptions: Sendable {
    /// Tokens the KV cache holds per run; nil: the model's context, at most 8192 (for an
    /// engine: as built).
    public var maxSequenceLength: Int?
    /// Tokens per KV-cache block.
    public var tokensPerBlock: Int
    /// The largest step (tokens, sequences) the activation arena is planned for; longer
    /// prompts are prefilled in chunks.
    public var limits: StepLimits
    /// Fusion rules left out, by name; nil: those the backend leaves out by default.
    public var disabledFusions: Set<String>?
    /// The type float weights are stored in (f32, bf16 or f16); nil keeps the checkpoint's.
    public var weightType: DType?
    /// Whether kernel variants are measured at build time (about a second per new model in
    /// a release build, then cached on disk per machine). The CLI measures by default; the
    /// library leaves it to the caller, since measurements taken while other work shares
    /// the cores (tests, a busy server) mislead.
    public var autotune: Bool
    /// The backend the model is built for (an engine runs on the one it was built for).
    public var backend: Backend
    /// CUDA: the share of the GPU memory left after weights and activations that the KV
    /// cache takes; nil sizes it for one sequence of `maxSequenceLength`.
    public var kvCacheFraction: Double?
    /// CUDA: whether decode steps are captured and replayed as CUDA graphs.
    public var cudaGraphs: Bool
    /// CUDA (Hopper, bf16): whether one-row decode steps run as one persistent kernel — true
    /// wherever it can take the step, false never; nil measures it against the step's kernels
    /// and keeps the faster when `autotune`, else keeps the kernels. Not part of the engine.
    public var persistentDecode: Bool? = nil

    public init(maxSequenceLength: Int? = nil, tokensPerBlock: Int = 32, limits: StepLimits = StepLimits(),
                disabledFusions: Set<String>? = nil, weightType: DType? = nil, autotune: Bool = false,
                backend: Backend = .cpu, kvCacheFraction: Double? = 0.9, cudaGraphs: Bool = true) {
        self.backend = backend
        self.kvCacheFraction = kvCacheFraction
        self.cudaGraphs = cudaGraphs
        self.maxSequenceLength = maxSequenceLength
        self.tokensPerBlock = tokensPerBlock
        self.limits = limits
        self.disabledFusions = disabledFusions
        self.weightType = weightType
        self.autotune = autotune
    }
}

/// Where a build is: the stage's name and how much of the whole build is done (0...1).
public typealias BuildProgress = @Sendable (_ stage: String, _ fraction: Double) -> Void
