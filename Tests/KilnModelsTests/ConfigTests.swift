import Foundation
import KilnGraph
@testable import KilnModels
import Testing

/// Writes `json` as config.json into a fresh folder and returns the folder.
func configFolder(_ json: String) throws -> String {
    let dir = "/tmp/kiln-config-\(UInt64.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
    return dir
}

let fixtures = String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/")
let fixturesDirectory = "/" + fixtures + "/Fixtures"

let tinyLlama = """
    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100, "hidden_size": 64,
     "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2
    """

@Suite struct ConfigTests {
    @Test func transformers4LayoutLoads() throws {
        let spec = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/llama-gqa")
        #expect(spec.family == .llama)
        #expect(spec.numKVHeads == 2 && spec.headDim == 16 && spec.numLayers == 2)
        #expect(spec.rotary == RotaryEmbedding(theta: 10000, dimension: 16, scaling: .none))
        #expect(!spec.tiedEmbeddings && !spec.qkvBias)
    }

    @Test func transformers5LayoutLoadsTheSameModel() throws {
        let v4 = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/llama-gqa")
        let v5 = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/llama-gqa-bf16")
        #expect(v4 == v5)
    }

    @Test func llama3RopeParametersAndExplicitHeadDim() throws {
        let spec = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/llama3-rope-mha")
        #expect(spec.headDim == 32)
        #expect(spec.tiedEmbeddings)
        #expect(spec.rotary.theta == 500000)
        #expect(spec.rotary.scaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64))
    }

    @Test func qwen2HasQKVBiasAndTiedEmbeddings() throws {
        let spec = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/qwen2-tied")
        #expect(spec.family == .qwen2 && spec.qkvBias && !spec.outputBias && spec.tiedEmbeddings)
        #expect(spec.rotary.theta == 1_000_000 && spec.rmsNormEps == 1e-6)
        #expect(spec.slidingWindows == [nil, nil])
    }

    @Test func mistralIsFoundByArchitecture() throws {
        let spec = try HuggingFaceModel.readSpec(directory: fixturesDirectory + "/mistral-spm")
        #expect(spec.family == .mistral && spec.numKVHeads == 1)
    }

    @Test func linearAndYarnScalingDecode() throws {
        let linear = try HuggingFaceModel.readSpec(directory: configFolder(tinyLlama + #", "rope_scaling": {"type": "linear", "factor": 2.0}}"#))
        #expect(linear.rotary.scaling == .linear(factor: 2))
        let yarn = try HuggingFaceModel.readSpec(directory: configFolder(tinyLlama + """
            , "max_position_embeddings": 4096, "rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000.0,
              "original_max_position_embeddings": 1024}}
            """))
        #expect(yarn.rotary.theta == 1000)
        #expect(yarn.rotary.scaling == .yarn(YarnParameters(factor: 4, originalMaxPositions: 1024)))
    }

    @Test func unsupportedRopeTypeNamesFieldAndValue() throws {
        let dir = try configFolder(tinyLlama + #", "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}"#)
        #expect(throws: ModelConfigError.unsupportedRopeType(file: dir + "/config.json", field: "rope_scaling.rope_type", value: "dynamic")) {
            try HuggingFaceModel.readSpec(directory: dir)
        }
        let error = ModelConfigError.unsupportedRopeType(file: "config.json", field: "rope_parameters.rope_type", value: "longrope")
        #expect(error.description.contains("longrope") && error.description.contains("rope_parameters.rope_type"))
    }

    @Test func unknownArchitectureListsTheSupportedOnes() throws {
        let dir = try configFolder(#"{"architectures": ["GPT2LMHeadModel"], "vocab_size": 1}"#)
        do {
            _ = try HuggingFaceModel.readSpec(directory: dir)
            Issue.record("expected an error")
        } catch {
            #expect(error == .unsupportedArchitecture(file: dir + "/config.json", name: "GPT2LMHeadModel", supported: ModelRegistry.supportedArchitectures))
            #expect(error.description.contains("GPT2LMHeadModel") && error.description.contains("Qwen2ForCausalLM"))
        }
    }

    @Test func unknownModelTypeWithoutArchitecturesIsRefused() throws {
        let dir = try configFolder(#"{"model_type": "gpt_neox"}"#)
        #expect { try HuggingFaceModel.readSpec(directory: dir) } throws: { error in
            (error as? ModelConfigError).map { "\($0)".contains("gpt_neox") } ?? false
        }
    }

    @Test func missingAndInconsistentFieldsAreNamed() throws {
        let missing = try configFolder(#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 10}"#)
        #expect { try HuggingFaceModel.readSpec(directory: missing) } throws: { error in
            if case .missingField(_, let field) = error as? ModelConfigError { return field == "hidden_size" }
            return false
        }
        let badHeads = try configFolder(tinyLlama.replacingOccurrences(of: "\"num_key_value_heads\": 2", with: "\"num_key_value_heads\": 3") + "}")
        #expect { try HuggingFaceModel.readSpec(directory: badHeads) } throws: { error in
            if case .invalidField(_, let field, _, _) = error as? ModelConfigError { return field == "num_key_value_heads" }
            return false
        }
        let notJSON = try configFolder("{ not json")
        #expect { try HuggingFaceModel.readSpec(directory: notJSON) } throws: { error in
            if case .invalidJSON = error as? ModelConfigError { return true }
            return false
        }
    }

    @Test func missingConfigIsReported() {
        #expect { try HuggingFaceModel.readSpec(directory: "/tmp/kiln-no-such-folder") } throws: { error in
            if case .unreadable(let file, _) = error as? ModelConfigError { return file == "/tmp/kiln-no-such-folder/config.json" }
            return false
        }
    }

    @Test func qwen2SlidingWindowFollowsLayerTypes() throws {
        let dir = try configFolder(tinyLlama.replacingOccurrences(of: "LlamaForCausalLM", with: "Qwen2ForCausalLM")
            + #", "sliding_window": 8, "use_sliding_window": true, "layer_types": ["full_attention", "sliding_attention"]}"#)
        #expect(try HuggingFaceModel.readSpec(directory: dir).slidingWindows == [nil, 8])
    }
}
