// Malformed safetensors files are rejected on open with the precise error, never a crash.

import Testing
@testable import KilnCheckpoint
import KilnTensor

@Suite final class SafetensorsValidationTests {
    let scratch: ScratchDirectory
    let path: String

    init() throws {
        scratch = try ScratchDirectory()
        path = scratch.file("model.safetensors")
    }

    /// Writes a file with `header` and `data`, then expects opening it to fail with `expected`.
    private func expectRejected(
        header: String, data: [UInt8] = [], _ expected: SafetensorsError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try scratch.writeSafetensors(header: header, data: data, to: "model.safetensors")
        expectError(expected, naming: "model.safetensors", sourceLocation: sourceLocation) {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func missingFileCannotBeOpened() {
        expectError(.cannotOpen(file: path, reason: "No such file or directory"), naming: "model.safetensors") {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func folderCannotBeOpenedAsAFile() {
        expectError(.cannotOpen(file: scratch.path, reason: "not a regular file"), naming: scratch.path) {
            _ = try SafetensorsFile(path: scratch.path)
        }
    }

    @Test func emptyFileIsTruncated() throws {
        try scratch.write([], to: "model.safetensors")
        expectError(.truncated(file: path, size: 0), naming: "model.safetensors") {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func fileShorterThanTheLengthPrefixIsTruncated() throws {
        try scratch.write([1, 2, 3, 4, 5], to: "model.safetensors")
        expectError(.truncated(file: path, size: 5), naming: "model.safetensors") {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func headerLengthPastTheEndOfTheFile() throws {
        try scratch.write(lengthPrefix(100) + Array("{}".utf8), to: "model.safetensors")
        expectError(.headerLengthPastEnd(file: path, headerLength: 100, fileSize: 10), naming: "model.safetensors") {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func hugeHeaderLengthIsPastTheEndWithoutOverflowing() throws {
        try scratch.write([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], to: "model.safetensors")
        expectError(.headerLengthPastEnd(file: path, headerLength: .max, fileSize: 10), naming: "model.safetensors") {
            _ = try SafetensorsFile(path: path)
        }
    }

    @Test func headerThatIsNotJSON() throws {
        try scratch.writeSafetensors(header: "{\"a\": nope}", to: "model.safetensors")
        expectError(naming: "model.safetensors", { _ = try SafetensorsFile(path: path) }) { error in
            guard case .invalidHeaderJSON(let file, let reason) = error else { Issue.record("got \(error)"); return }
            #expect(file == path)
            #expect(!reason.isEmpty)
        }
    }

    @Test func headerThatIsNotUTF8() throws {
        try scratch.write(lengthPrefix(4) + [0x7B, 0xFF, 0xFE, 0x7D], to: "model.safetensors")
        expectError(naming: "model.safetensors", { _ = try SafetensorsFile(path: path) }) { error in
            guard case .invalidHeaderJSON(let file, _) = error else { Issue.record("got \(error)"); return }
            #expect(file == path)
        }
    }

    @Test func deeplyNestedHeaderIsRejectedWithoutCrashing() throws {
        let nesting = 100_000
        try scratch.writeSafetensors(
            header: "{\"a\":" + String(repeating: "[", count: nesting) + String(repeating: "]", count: nesting) + "}",
            to: "model.safetensors")
        expectError(naming: "model.safetensors", { _ = try SafetensorsFile(path: path) }) { error in
            guard case .invalidHeaderJSON(let file, _) = error else { Issue.record("got \(error)"); return }
            #expect(file == path)
        }
    }

    @Test func headerThatIsAJSONArray() throws {
        try expectRejected(header: "[1, 2]", .invalidHeaderJSON(file: path, reason: "it is a JSON array, not an object of tensor entries"))
    }

    @Test func metadataThatIsNotAStringMap() throws {
        try expectRejected(header: #"{"__metadata__": {"epoch": 3}}"#,
                           .invalidHeaderJSON(file: path, reason: "__metadata__ value for 'epoch' is a JSON number, not a string"))
    }

    @Test func unknownDType() throws {
        try expectRejected(header: #"{"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}"#, data: .init(repeating: 0, count: 8),
                           .unknownDType(file: path, tensor: "w", dtype: "F64"))
    }

    @Test func entryThatIsNotAnObject() throws {
        try expectRejected(header: #"{"w": [1, 2]}"#, .invalidEntry(
            file: path, tensor: "w", reason: "is a JSON array, not an object with dtype, shape and data_offsets"))
    }

    @Test func negativeShapeEntry() throws {
        try expectRejected(header: #"{"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}"#, .invalidEntry(
            file: path, tensor: "w", reason: "has negative shape entry -1"))
    }

    @Test func fractionalShapeEntry() throws {
        try expectRejected(header: #"{"w": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}}"#, .invalidEntry(
            file: path, tensor: "w", reason: "has shape entry 1.5, which is not an integer"))
    }

    @Test func shapeTooLargeToAddress() throws {
        try expectRejected(header: #"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}"#,
                           data: [0, 0, 0, 0],
                           .invalidEntry(file: path, tensor: "w", reason: "has shape [4294967296, 4294967296], too large to address"))
    }

    @Test func dataOffsetsThatAreNotTwoIntegers() throws {
        try expectRejected(header: #"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}"#, data: [0], .invalidEntry(
            file: path, tensor: "w", reason: "has data_offsets [0], not two non-negative integers [begin, end]"))
    }

    @Test func dataOffsetsThatAreNotIntegers() throws {
        try expectRejected(header: #"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, "1"]}}"#, data: [0], .invalidEntry(
            file: path, tensor: "w", reason: "has data_offsets entry \"1\", which is not an integer"))
    }

    @Test func entryWithoutADType() throws {
        try expectRejected(header: #"{"w": {"shape": [1], "data_offsets": [0, 1]}}"#, data: [0], .invalidEntry(
            file: path, tensor: "w", reason: "has no string 'dtype'"))
    }

    @Test func extraEntryFieldsAreIgnored() throws {
        try scratch.writeSafetensors(header: #"{"w": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2], "note": [null]}}"#,
                                     data: [7, 9], to: "model.safetensors")
        #expect(try contents(of: SafetensorsFile(path: path).tensor(named: "w")) == [7, 9])
    }

    @Test func dataOffsetsThatBeginAfterTheyEnd() throws {
        try expectRejected(header: #"{"w": {"dtype": "U8", "shape": [0], "data_offsets": [16, 0]}}"#, data: .init(repeating: 0, count: 16),
                           .invalidEntry(file: path, tensor: "w", reason: "has data_offsets [16, 0] that begin after they end"))
    }

    @Test func shapeAndByteLengthDisagree() throws {
        try expectRejected(header: #"{"model.norm.weight": {"dtype": "F32", "shape": [64], "data_offsets": [0, 200]}}"#,
                           data: .init(repeating: 0, count: 256),
                           .byteLengthMismatch(file: path, tensor: "model.norm.weight", expected: 256, actual: 200))
    }

    @Test func offsetsPastTheEndOfTheDataSection() throws {
        try expectRejected(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: .init(repeating: 0, count: 8),
                           .offsetsOutOfRange(file: path, tensor: "w", end: 16, dataSize: 8))
    }

    @Test func overlappingTensors() throws {
        try expectRejected(header: #"""
            {"b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
             "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
            """#, data: .init(repeating: 0, count: 24),
            .overlappingTensors(file: path, first: "a", second: "b"))
    }

    @Test func emptyTensorsMayShareAnOffset() throws {
        try scratch.writeSafetensors(header: #"""
            {"empty": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]},
             "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
            """#, data: .init(repeating: 0, count: 8), to: "model.safetensors")
        let file = try SafetensorsFile(path: path)
        #expect(file.tensorNames == ["empty", "w"])
        #expect(try file.tensor(named: "empty").shape == [0, 3])
    }

    @Test func missingTensor() throws {
        try SafetensorsWriter.write([("w", ramp([1]))], to: path)
        let file = try SafetensorsFile(path: path)
        expectError(.missingTensor(name: "model.norm.weight", file: path), naming: "model.safetensors") {
            _ = try file.tensor(named: "model.norm.weight")
        }
        #expect(file.info(named: "model.norm.weight") == nil)
    }
}
