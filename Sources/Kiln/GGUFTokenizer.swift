// The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`, `tokenizer.chat_template*`),
// read into `GGUFTokenizerMetadata` and built by KilnTokenizers.

import KilnCheckpoint
import KilnTokenizers

extension Tokenizer {
    /// The tokenizer `file` carries. Missing or ill-typed metadata throws `GGUFError` naming the
    /// key; metadata that does not describe a usable tokenizer throws `TokenizerError` naming it.
    public static func load(gguf file: GGUFFile) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFTokenizerMetadata(file), file: file.path)
    }
}

extension GGUFTokenizerMetadata {
    /// The tokenizer metadata of `file`.
    public init(_ file: GGUFFile) throws(GGUFError) {
        let reader = MetadataReader(file: file)
        guard file.metadata["tokenizer.ggml.model"] != nil else {
            throw .missingKey(file: file.path, key: "tokenizer.ggml.model")
        }
        var namedTemplates: [String: String] = [:]
        let templatePrefix = "tokenizer.chat_template."
        for key in file.metadataKeys where key.hasPrefix(templatePrefix) && key.count > templatePrefix.count {
            namedTemplates[String(key.dropFirst(templatePrefix.count))] = try reader.string(key)
        }
        self.init(
            model: try reader.string("tokenizer.ggml.model")!,
            pre: try reader.string("tokenizer.ggml.pre"),
            tokens: try reader.strings("tokenizer.ggml.tokens", required: true)!,
            scores: try reader.floats("tokenizer.ggml.scores"),
            tokenTypes: try reader.ints("tokenizer.ggml.token_type"),
            merges: try reader.strings("tokenizer.ggml.merges"),
            bosTokenId: try reader.int("tokenizer.ggml.bos_token_id"),
            eosTokenId: try reader.int("tokenizer.ggml.eos_token_id"),
            eotTokenId: try reader.int("tokenizer.ggml.eot_token_id"),
            eomTokenId: try reader.int("tokenizer.ggml.eom_token_id"),
            unknownTokenId: try reader.int("tokenizer.ggml.unknown_token_id"),
            paddingTokenId: try reader.int("tokenizer.ggml.padding_token_id"),
            addBosToken: try reader.bool("tokenizer.ggml.add_bos_token"),
            addEosToken: try reader.bool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try reader.bool("tokenizer.ggml.add_space_prefix"),
            chatTemplate: try reader.string("tokenizer.chat_template"),
            namedChatTemplates: namedTemplates)
    }
}

/// Typed reads of optional metadata; a value of the wrong type is an error naming its key.
private struct MetadataReader {
    let file: GGUFFile

    private func value(_ key: String, required: Bool) throws(GGUFError) -> GGUFValue? {
        guard let value = file.metadata[key] else {
            if required { throw .missingKey(file: file.path, key: key) }
            return nil
        }
        return value
    }

    private func wrongType(_ key: String, _ expected: String, _ value: GGUFValue) -> GGUFError {
        .invalidValue(file: file.path, key: key, reason: "expected \(expected), found \(describe(value))")
    }

    func string(_ key: String) throws(GGUFError) -> String? {
        guard let value = try value(key, required: false) else { return nil }
        guard let string = value.string else { throw wrongType(key, "a string", value) }
        return string
    }

    func bool(_ key: String) throws(GGUFError) -> Bool? {
        guard let value = try value(key, required: false) else { return nil }
        guard let bool = value.bool else { throw wrongType(key, "a bool", value) }
        return bool
    }

    func int(_ key: String) throws(GGUFError) -> Int? {
        guard let value = try value(key, required: false) else { return nil }
        guard let int = value.int else { throw wrongType(key, "an integer", value) }
        return int
    }

    func strings(_ key: String, required: Bool = false) throws(GGUFError) -> [String]? {
        guard let value = try value(key, required: required) else { return nil }
        guard let array = value.array else { throw wrongType(key, "an array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let string = element.string else { throw wrongType("\(key)[\(index)]", "a string", element) }
            strings.append(string)
        }
        return strings
    }

    func floats(_ key: String) throws(GGUFError) -> [Float]? {
        guard let value = try value(key, required: false) else { return nil }
        guard let array = value.array else { throw wrongType(key, "an array of numbers", value) }
        var floats: [Float] = []
        floats.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            switch element {
            case .float32(let f): floats.append(f)
            default:
                guard let d = element.double else { throw wrongType("\(key)[\(index)]", "a number", element) }
                floats.append(Float(d))
            }
        }
        return floats
    }

    func ints(_ key: String) throws(GGUFError) -> [Int32]? {
        guard let value = try value(key, required: false) else { return nil }
        guard let array = value.array else { throw wrongType(key, "an array of integers", value) }
        var ints: [Int32] = []
        ints.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let int = element.int, let narrow = Int32(exactly: int) else { throw wrongType("\(key)[\(index)]", "a 32-bit integer", element) }
            ints.append(narrow)
        }
        return ints
    }
}

private func describe(_ value: GGUFValue) -> String {
    switch value {
    case .string: "a string"
    case .bool: "a bool"
    case .float32, .float64: "a float"
    case .array(let elements): "an array of \(elements.count)"
    default: "an integer"
    }
}

/// The tokenizer of a model: a Hugging Face folder's tokenizer.json, or a GGUF file's
/// tokenizer metadata (without loading any weights).
public func loadTokenizer(model path: String) throws -> Tokenizer {
    isGGUFFile(path) ? try Tokenizer.load(gguf: GGUFFile(path: path)) : try Tokenizer.load(directory: path)
}
