// Errors in a model's config.json, each naming the file, the field and what to do.

public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case invalidJSON(file: String, reason: String)
    case missingField(file: String, field: String)
    case invalidField(file: String, field: String, value: String, reason: String)
    case unsupportedArchitecture(file: String, name: String, supported: [String])
    case unsupportedRopeType(file: String, field: String, value: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            "\(file): cannot read (\(reason)); pass a Hugging Face model folder that holds config.json"
        case .invalidJSON(let file, let reason):
            "\(file): not a valid model config (\(reason))"
        case .missingField(let file, let field):
            "\(file): required field '\(field)' is missing"
        case .invalidField(let file, let field, let value, let reason):
            "\(file): field '\(field)' = \(value) is invalid: \(reason)"
        case .unsupportedArchitecture(let file, let name, let supported):
            "\(file): architecture '\(name)' is not supported; supported: \(supported.joined(separator: ", "))"
        case .unsupportedRopeType(let file, let field, let value):
            "\(file): unsupported rope_type '\(value)' in '\(field)'; supported: default, linear, llama3, yarn"
        }
    }
}
