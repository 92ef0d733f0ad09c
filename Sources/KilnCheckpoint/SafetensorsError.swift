// Every way reading or writing a checkpoint can fail, each naming the file involved and
// saying in one line what the user can do about it.

import KilnTensor

/// A failure to read or write safetensors weights.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case truncated(file: String, size: Int)
    case headerLengthPastEnd(file: String, headerLength: UInt64, fileSize: Int)
    case invalidHeaderJSON(file: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case invalidEntry(file: String, tensor: String, reason: String)
    case byteLengthMismatch(file: String, tensor: String, expected: Int, actual: Int)
    case offsetsOutOfRange(file: String, tensor: String, end: Int, dataSize: Int)
    case overlappingTensors(file: String, first: String, second: String)
    case missingTensor(name: String, file: String)
    case invalidIndex(file: String, reason: String)
    case missingShard(index: String, shard: String)
    case duplicateTensor(name: String, files: [String])
    case noWeights(directory: String)
    case cannotWrite(file: String, reason: String)

    private static let corrupt = "the file is corrupt or was written by a broken tool; re-export it"

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            "\(file): cannot open (\(reason)) — check that the path exists and is readable"
        case let .truncated(file, size):
            "\(file): only \(size) bytes, too short to hold a safetensors header (at least 8) — the download is incomplete; fetch the file again"
        case let .headerLengthPastEnd(file, headerLength, fileSize):
            "\(file): header claims \(headerLength) bytes but the whole file is \(fileSize) bytes — the file is truncated or not safetensors; fetch it again"
        case let .invalidHeaderJSON(file, reason):
            "\(file): the header is not a valid safetensors JSON object (\(reason)) — \(Self.corrupt)"
        case let .unknownDType(file, tensor, dtype):
            "\(file): tensor '\(tensor)' has dtype '\(dtype)', which Kiln does not support (supported: \(DType.allCases.map(\.rawValue).joined(separator: ", "))) — convert the checkpoint to a supported dtype"
        case let .invalidEntry(file, tensor, reason):
            "\(file): tensor '\(tensor)' \(reason) — \(Self.corrupt)"
        case let .byteLengthMismatch(file, tensor, expected, actual):
            "\(file): tensor '\(tensor)' needs \(expected) bytes for its shape and dtype but data_offsets span \(actual) bytes — \(Self.corrupt)"
        case let .offsetsOutOfRange(file, tensor, end, dataSize):
            "\(file): tensor '\(tensor)' ends at byte \(end) of the data section, which holds only \(dataSize) bytes — the file is truncated; fetch it again"
        case let .overlappingTensors(file, first, second):
            "\(file): tensors '\(first)' and '\(second)' share bytes in the data section — \(Self.corrupt)"
        case let .missingTensor(name, file):
            "\(file): no tensor named '\(name)' — the checkpoint does not match the model configuration; check that both come from the same model"
        case let .invalidIndex(file, reason):
            "\(file): \(reason) — the shard index is corrupt; fetch it again together with its shards"
        case let .missingShard(index, shard):
            "\(index): names shard '\(shard)', which is not in the folder — download every shard the index lists"
        case let .duplicateTensor(name, files):
            "\(files.joined(separator: ", ")): tensor '\(name)' appears more than once — remove the stray file or tensor, or add a model.safetensors.index.json that says which one to use"
        case let .noWeights(directory):
            "\(directory): no model.safetensors, model.safetensors.index.json or other *.safetensors file — point Kiln at the folder that holds the model weights"
        case let .cannotWrite(file, reason):
            "\(file): cannot write (\(reason)) — check the folder exists, is writable and has free space"
        }
    }
}
