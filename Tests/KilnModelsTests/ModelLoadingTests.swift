import Foundation
import KilnCheckpoint
import KilnGraph
@testable import KilnModels
import KilnTensor
import Testing

@Suite struct ModelLoadingTests {
    @Test func everyParameterIsBoundWithHuggingFaceNames() throws {
        let loaded = try HuggingFaceModel.load(directory: fixturesDirectory + "/qwen2-tied")
        let names = Set(loaded.model.parameters().map(\.name))
        #expect(names.contains("model.layers.1.self_attn.k_proj.bias"))
        #expect(!names.contains("lm_head.weight"))  // tied: the embedding table serves as the head
        #expect(names == Set(loaded.checkpoint.tensorNames))
        #expect(loaded.model.parameters().allSatisfy { $0.value != nil })
    }

    @Test func wrongShapeForAParameterNamesFileAndTensor() throws {
        let dir = try copyFixture("llama-gqa")
        // a config that wants a wider MLP than the weights hold
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"intermediate_size\": 160", with: "\"intermediate_size\": 128")
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect { try HuggingFaceModel.load(directory: dir) } throws: { error in
            guard case .wrongShape(let file, let tensor, let expected, let actual) = error as? ModelLoadError else { return false }
            return file == dir + "/model.safetensors" && tensor == "model.layers.0.mlp.gate_proj.weight"
                && expected == [128, 64] && actual == [160, 64]
        }
    }

    @Test func missingTensorIsReported() throws {
        let dir = try copyFixture("llama-gqa")
        let source = try SafetensorsFile(path: dir + "/model.safetensors")
        let kept = try source.tensorNames.filter { $0 != "model.norm.weight" }.map { (name: $0, tensor: try source.tensor(named: $0)) }
        try SafetensorsWriter.write(kept, to: dir + "/model.safetensors")
        #expect { try HuggingFaceModel.load(directory: dir) } throws: { error in
            guard case .checkpoint(.missingTensor(let name, _)) = error as? ModelLoadError else { return false }
            return name == "model.norm.weight"
        }
    }

    @Test func integerWeightsAreRefused() throws {
        let dir = try copyFixture("llama-gqa")
        let source = try SafetensorsFile(path: dir + "/model.safetensors")
        var tensors = try source.tensorNames.map { (name: $0, tensor: try source.tensor(named: $0)) }
        let index = try #require(tensors.firstIndex { $0.name == "model.norm.weight" })
        let ones = [Int32](repeating: 1, count: 64)
        tensors[index].tensor = ones.withUnsafeBytes { HostTensor(dtype: .i32, shape: [64], copying: $0) }
        try SafetensorsWriter.write(tensors, to: dir + "/model.safetensors")
        #expect { try HuggingFaceModel.load(directory: dir) } throws: { error in
            guard case .unsupportedDType(_, let tensor, .i32) = error as? ModelLoadError else { return false }
            return tensor == "model.norm.weight"
        }
    }
}

/// A private copy of a fixture folder that a test may change.
func copyFixture(_ name: String) throws -> String {
    let dir = "/tmp/kiln-fixture-\(name)-\(UInt64.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for file in ["config.json", "model.safetensors", "generation_config.json"] {
        try FileManager.default.copyItem(atPath: fixturesDirectory + "/" + name + "/" + file, toPath: dir + "/" + file)
    }
    return dir
}
