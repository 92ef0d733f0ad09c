// `kiln random-model`: a Hugging Face folder with random weights for any config, for
// benchmarks of real model shapes on machines that cannot download checkpoints.

import ArgumentParser
import FoundationEssentials
import KilnCheckpoint
import KilnModels
import KilnRuntime
import KilnTensor

struct RandomModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-model",
        abstract: "Write a model folder with random weights (normal, std 0.02; norms 1) for a config.")

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case smollm2_135m = "smollm2-135m"
        case llama32_1b = "llama-3.2-1b"
    }

    enum WeightType: String, ExpressibleByArgument, CaseIterable {
        case f32, bf16, f16
    }

    @Option(help: "A config.json to copy.")
    var config: String?
    @Option(help: "A built-in shape: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Preset?
    @Option(help: "Output folder.")
    var out: String
    @Option(help: "Weight type: f32, bf16 or f16.")
    var dtype: WeightType = .f32
    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func validate() throws {
        guard (config == nil) != (preset == nil) else { throw ValidationError("give exactly one of --config and --preset") }
    }

    func run() throws {
        let configText: String
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read --config \(config)") }
            configText = String(decoding: data, as: UTF8.self)
        } else {
            configText = preset!.configJSON
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: out + "/config.json", contents: Data(configText.utf8)) else {
            throw ValidationError("cannot write \(out)/config.json")
        }
        let loaded = try HuggingFaceModel.readSpec(directory: out)
        var random = RandomSource(seed: seed)
        let tensors = LlamaForCausalLM(loaded).parameters().map { parameter in
            let count = parameter.shape.reduce(1, *)
            let isNorm = parameter.name.hasSuffix("norm.weight")
            let values = isNorm ? [Float](repeating: 1, count: count) : (0..<count).map { _ in 0.02 * random.nextNormal() }
            return (name: parameter.name, tensor: encode(values, shape: parameter.shape))
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: out + "/model.safetensors")
        let total = tensors.reduce(0) { $0 + $1.tensor.byteCount }
        print("wrote \(tensors.count) tensors (\(total / 1_000_000) MB, \(dtype.rawValue)) to \(out)")
    }

    private func encode(_ values: [Float], shape: [Int]) -> HostTensor {
        switch dtype {
        case .f32: return HostTensor(values, shape: shape)
        case .bf16: return values.map(bfloat16Bits(from:)).withUnsafeBytes { HostTensor(dtype: .bf16, shape: shape, copying: $0) }
        case .f16: return values.map(halfBits(from:)).withUnsafeBytes { HostTensor(dtype: .f16, shape: shape, copying: $0) }
        }
    }
}

extension RandomModel.Preset {
    var configJSON: String {
        switch self {
        case .smollm2_135m:
            """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
             "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
             "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000.0, "tie_word_embeddings": true,
             "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}
            """
        case .llama32_1b:
            """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
             "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
             "head_dim": 64, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
             "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 8192}, "tie_word_embeddings": true, "hidden_act": "silu",
             "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]}
            """
        }
    }
}
