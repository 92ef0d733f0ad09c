// Every error message names the file it is about and fits on one line.

import Testing
import KilnCheckpoint

struct SafetensorsErrorTests {
    static let file = "/models/llama/model-00002-of-00004.safetensors"

    static let everyCase: [SafetensorsError] = [
        .cannotOpen(file: file, reason: "Permission denied"),
        .truncated(file: file, size: 3),
        .headerLengthPastEnd(file: file, headerLength: 1 << 40, fileSize: 100),
        .invalidHeaderJSON(file: file, reason: "it is a JSON array, not an object"),
        .unknownDType(file: file, tensor: "w", dtype: "F64"),
        .invalidEntry(file: file, tensor: "w", reason: "has no string 'dtype'"),
        .byteLengthMismatch(file: file, tensor: "model.norm.weight", expected: 256, actual: 200),
        .offsetsOutOfRange(file: file, tensor: "w", end: 16, dataSize: 8),
        .overlappingTensors(file: file, first: "a", second: "b"),
        .missingTensor(name: "lm_head.weight", file: file),
        .invalidIndex(file: file, reason: "has no 'weight_map' object"),
        .missingShard(index: file, shard: "model-00003-of-00004.safetensors"),
        .duplicateTensor(name: "w", files: ["/models/a.safetensors", file]),
        .noWeights(directory: file),
        .cannotWrite(file: file, reason: "No space left on device"),
    ]

    @Test(arguments: everyCase)
    func descriptionNamesTheFileOnOneLine(error: SafetensorsError) {
        #expect(error.description.contains("model-00002-of-00004.safetensors"))
        #expect(!error.description.contains("\n"))
    }

    @Test func descriptionSaysWhatIsWrongAndWhatToDo() {
        let error = SafetensorsError.byteLengthMismatch(file: "model.safetensors", tensor: "model.norm.weight", expected: 256, actual: 200)
        #expect(error.description == "model.safetensors: tensor 'model.norm.weight' needs 256 bytes for its shape and dtype but data_offsets span 200 bytes — the file is corrupt or was written by a broken tool; re-export it")
    }
}
