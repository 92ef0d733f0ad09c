// Everything that can go wrong loading or using a tokenizer, each case naming the file and
// JSON field it concerns, so a user can fix a broken model folder without reading our code.

/// Why a tokenizer could not be loaded or used.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A required file does not exist.
    case fileNotFound(file: String)
    /// A file exists but could not be read.
    case unreadableFile(file: String, reason: String)
    /// A file is not valid JSON.
    case malformedJSON(file: String, error: JSONError)
    /// A required field is absent (`path` like `model.vocab`).
    case missingField(file: String, path: String)
    /// A field holds the wrong kind of JSON value.
    case wrongType(file: String, path: String, expected: String)
    /// A field has the right type but a value that makes no sense.
    case invalidValue(file: String, path: String, reason: String)
    /// A component type or option this engine does not implement.
    case unsupported(file: String, path: String, what: String)
    /// `decode`/`tokens` was given an id that names no token.
    case idOutOfRange(id: Int32, vocabularySize: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            "\(file): file not found; point the loader at a folder holding the model's tokenizer.json"
        case .unreadableFile(let file, let reason):
            "\(file): cannot be read (\(reason)); check its permissions and that it is a regular file"
        case .malformedJSON(let file, let error):
            "\(file):\(error.line):\(error.column): not valid JSON (\(error.reason)); re-download or repair the file"
        case .missingField(let file, let path):
            "\(file): required field \"\(path)\" is missing; the file may be truncated or from an incompatible exporter"
        case .wrongType(let file, let path, let expected):
            "\(file): field \"\(path)\" should be \(expected); fix that value or re-export the tokenizer"
        case .invalidValue(let file, let path, let reason):
            "\(file): field \"\(path)\" is invalid: \(reason); fix that value or re-export the tokenizer"
        case .unsupported(let file, let path, let what):
            "\(file): \"\(path)\" uses \(what), which Kiln does not support; convert the tokenizer to a supported configuration"
        case .idOutOfRange(let id, let vocabularySize):
            "token id \(id) names no token (vocabulary size \(vocabularySize)); the ids come from a different model or are corrupt"
        }
    }
}
