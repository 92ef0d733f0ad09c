// Errors reading a GGUF file, each naming the file and the key or tensor at fault.

public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case badMagic(file: String)
    case unsupportedVersion(file: String, version: UInt32)
    case truncated(file: String, what: String)
    case invalidValue(file: String, key: String, reason: String)
    case unknownValueType(file: String, key: String, type: UInt32)
    case unknownTensorType(file: String, tensor: String, type: UInt32)
    case invalidTensor(file: String, tensor: String, reason: String)
    case tensorOutOfRange(file: String, tensor: String)
    case missingKey(file: String, key: String)
    case missingTensor(file: String, tensor: String)
    case unsupportedTensorType(file: String, tensor: String, type: String)

    public var description: String {
        switch self {
        case .cannotOpen(let file, let reason): "\(file): cannot open (\(reason))"
        case .badMagic(let file): "\(file): not a GGUF file (no 'GGUF' magic); pass a .gguf model file"
        case .unsupportedVersion(let file, let version): "\(file): GGUF version \(version) is not supported (2 and 3 are); re-convert with a current llama.cpp"
        case .truncated(let file, let what): "\(file): the file ends inside \(what); it is truncated — download it again"
        case .invalidValue(let file, let key, let reason): "\(file): metadata '\(key)': \(reason)"
        case .unknownValueType(let file, let key, let type): "\(file): metadata '\(key)' has unknown value type \(type); the file is corrupt or newer than Kiln"
        case .unknownTensorType(let file, let tensor, let type): "\(file): tensor '\(tensor)' has unknown ggml type \(type)"
        case .invalidTensor(let file, let tensor, let reason): "\(file): tensor '\(tensor)': \(reason)"
        case .tensorOutOfRange(let file, let tensor): "\(file): tensor '\(tensor)' lies past the end of the file; it is truncated — download it again"
        case .missingKey(let file, let key): "\(file): required metadata '\(key)' is missing"
        case .missingTensor(let file, let tensor): "\(file): no tensor named '\(tensor)'; the file does not hold this model architecture's weights"
        case .unsupportedTensorType(let file, let tensor, let type): "\(file): tensor '\(tensor)' is \(type), which Kiln cannot dequantize yet"
        }
    }
}
