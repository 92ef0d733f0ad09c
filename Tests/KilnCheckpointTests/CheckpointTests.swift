// Opening checkpoint folders: single files, sharded indexes, loose files and their faults.

import Testing
@testable import KilnCheckpoint
import KilnTensor

@Suite final class CheckpointTests {
    let scratch: ScratchDirectory

    init() throws {
        scratch = try ScratchDirectory()
    }

    private func writeShard(_ name: String, _ tensors: [(name: String, tensor: HostTensor)]) throws {
        try SafetensorsWriter.write(tensors, to: scratch.file(name))
    }

    private func writeTwoShardsAndIndex() throws {
        try writeShard("model-00001-of-00002.safetensors", [("embed", ramp([2, 2])), ("layer.0.w", ramp([3], from: 10))])
        try writeShard("model-00002-of-00002.safetensors", [("layer.1.w", ramp([3], from: 20)), ("norm", ramp([2], from: 30))])
        try scratch.write(#"""
            {"metadata": {"total_size": 48},
             "weight_map": {"embed": "model-00001-of-00002.safetensors",
                            "layer.0.w": "model-00001-of-00002.safetensors",
                            "layer.1.w": "model-00002-of-00002.safetensors",
                            "norm": "model-00002-of-00002.safetensors"}}
            """#, to: "model.safetensors.index.json")
    }

    @Test func singleModelFileLoads() throws {
        try writeShard("model.safetensors", [("b", ramp([2], from: 1)), ("a", ramp([1], from: 5))])
        try scratch.write("{}", to: "config.json")

        let checkpoint = try Checkpoint.open(directory: scratch.path)
        #expect(checkpoint.files.map(\.path) == [scratch.file("model.safetensors")])
        #expect(checkpoint.tensorNames == ["a", "b"])
        #expect(try checkpoint.tensor(named: "b").floats() == [1, 2])
        #expect(checkpoint.info(named: "a")?.shape == [1])
        expectError(.missingTensor(name: "c", file: scratch.file("model.safetensors")), naming: "model.safetensors") {
            _ = try checkpoint.tensor(named: "c")
        }
    }

    @Test func shardedCheckpointLoadsEveryTensorFromItsShard() throws {
        try writeTwoShardsAndIndex()

        let checkpoint = try Checkpoint.open(directory: scratch.path)
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.tensorNames == ["embed", "layer.0.w", "layer.1.w", "norm"])
        #expect(try checkpoint.tensor(named: "embed").floats() == [0, 1, 2, 3])
        #expect(try checkpoint.tensor(named: "layer.0.w").floats() == [10, 11, 12])
        #expect(try checkpoint.tensor(named: "layer.1.w").floats() == [20, 21, 22])
        #expect(try checkpoint.tensor(named: "norm").floats() == [30, 31])
        #expect(checkpoint.info(named: "norm")?.dtype == .f32)
        #expect(checkpoint.info(named: "absent") == nil)
    }

    @Test func missingTensorInAShardedCheckpointNamesTheIndex() throws {
        try writeTwoShardsAndIndex()
        let checkpoint = try Checkpoint.open(directory: scratch.path)
        let index = scratch.file("model.safetensors.index.json")
        expectError(.missingTensor(name: "lm_head.weight", file: index), naming: "model.safetensors.index.json") {
            _ = try checkpoint.tensor(named: "lm_head.weight")
        }
    }

    @Test func indexNamingAMissingShard() throws {
        try writeShard("model-00001-of-00002.safetensors", [("a", ramp([1]))])
        try scratch.write(#"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#,
                          to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(.missingShard(index: index, shard: "model-00002-of-00002.safetensors"), naming: "model.safetensors.index.json") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func malformedIndexJSON() throws {
        try writeShard("model-00001-of-00001.safetensors", [("a", ramp([1]))])
        try scratch.write(#"{"weight_map": {"a": "model-00001-of-00001.safetensors""#, to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(naming: "model.safetensors.index.json", { _ = try Checkpoint.open(directory: scratch.path) }) { error in
            guard case .invalidIndex(let file, let reason) = error else { Issue.record("got \(error)"); return }
            #expect(file == index)
            #expect(reason.hasPrefix("is not valid JSON"))
        }
    }

    @Test func indexWithoutAWeightMap() throws {
        try scratch.write(#"{"metadata": {}}"#, to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(.invalidIndex(file: index, reason: "has no 'weight_map' object"), naming: "model.safetensors.index.json") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func indexWhoseWeightMapIsNotAnObject() throws {
        try scratch.write(#"{"weight_map": ["a"]}"#, to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(.invalidIndex(file: index, reason: "has a 'weight_map' that is a JSON array, not an object"),
                    naming: "model.safetensors.index.json") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func indexMappingATensorToAShardThatLacksIt() throws {
        try writeShard("shard.safetensors", [("a", ramp([1]))])
        try scratch.write(#"{"weight_map": {"a": "shard.safetensors", "b": "shard.safetensors"}}"#, to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(.invalidIndex(file: index, reason: "maps tensor 'b' to shard 'shard.safetensors', which does not contain it"),
                    naming: "model.safetensors.index.json") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func indexMappingATensorToSomethingOtherThanAFileName() throws {
        try scratch.write(#"{"weight_map": {"a": 3}}"#, to: "model.safetensors.index.json")
        let index = scratch.file("model.safetensors.index.json")
        expectError(.invalidIndex(file: index, reason: "maps tensor 'a' to 3, not a shard file name"),
                    naming: "model.safetensors.index.json") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func corruptShardIsReportedByItsOwnName() throws {
        try scratch.write([1, 2, 3], to: "shard.safetensors")
        try scratch.write(#"{"weight_map": {"a": "shard.safetensors"}}"#, to: "model.safetensors.index.json")
        expectError(.truncated(file: scratch.file("shard.safetensors"), size: 3), naming: "shard.safetensors") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func looseSafetensorsFilesAreCombined() throws {
        try writeShard("experts.safetensors", [("expert.0", ramp([2], from: 4))])
        try writeShard("base.safetensors", [("embed", ramp([1], from: 9))])
        try scratch.write("not weights", to: "notes.txt")

        let checkpoint = try Checkpoint.open(directory: scratch.path)
        #expect(checkpoint.files.map(\.path) == [scratch.file("base.safetensors"), scratch.file("experts.safetensors")])
        #expect(checkpoint.tensorNames == ["embed", "expert.0"])
        #expect(try checkpoint.tensor(named: "expert.0").floats() == [4, 5])
        expectError(.missingTensor(name: "x", file: scratch.path), naming: scratch.path) {
            _ = try checkpoint.tensor(named: "x")
        }
    }

    @Test func duplicateTensorAcrossLooseFiles() throws {
        try writeShard("a.safetensors", [("shared", ramp([1])), ("only.a", ramp([1]))])
        try writeShard("b.safetensors", [("shared", ramp([1]))])
        expectError(.duplicateTensor(name: "shared", files: [scratch.file("a.safetensors"), scratch.file("b.safetensors")]),
                    naming: "b.safetensors") {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func combiningFilesRejectsDuplicateTensors() throws {
        try writeShard("a.safetensors", [("w", ramp([1]))])
        try writeShard("b.safetensors", [("w", ramp([1]))])
        let files = try [SafetensorsFile(path: scratch.file("a.safetensors")), SafetensorsFile(path: scratch.file("b.safetensors"))]
        expectError(.duplicateTensor(name: "w", files: [scratch.file("a.safetensors"), scratch.file("b.safetensors")]),
                    naming: "a.safetensors") {
            _ = try Checkpoint(files: files)
        }
        #expect(try Checkpoint(files: [files[1]]).tensorNames == ["w"])
    }

    @Test func emptyFolderHasNoWeights() {
        expectError(.noWeights(directory: scratch.path), naming: scratch.path) {
            _ = try Checkpoint.open(directory: scratch.path)
        }
    }

    @Test func missingFolderCannotBeOpened() {
        let missing = scratch.file("nowhere")
        expectError(.cannotOpen(file: missing, reason: "No such file or directory"), naming: "nowhere") {
            _ = try Checkpoint.open(directory: missing)
        }
    }
}
