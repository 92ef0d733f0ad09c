// Typed reads from a JSON document that remember where they are (file and field path), so
// every failure names the field, e.g. `model.merges[12]`.

/// A JSON value together with the file and field path it was read from.
struct JSONField {
    let value: JSONValue
    let file: String
    let path: String

    init(_ value: JSONValue, file: String, path: String = "") {
        self.value = value
        self.file = file
        self.path = path
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member `key`, or nil when absent or JSON `null` (the `tokenizers` library treats both alike).
    func optional(_ key: String) throws(TokenizerError) -> JSONField? {
        guard case .object(let object) = value else { throw wrongType("an object") }
        guard let member = object[key], !member.isNull else { return nil }
        return JSONField(member, file: file, path: childPath(key))
    }

    /// The member `key`, which must be present and not `null`.
    func required(_ key: String) throws(TokenizerError) -> JSONField {
        guard let field = try optional(key) else { throw .missingField(file: file, path: childPath(key)) }
        return field
    }

    func wrongType(_ expected: String) -> TokenizerError {
        .wrongType(file: file, path: path.isEmpty ? "(document)" : path, expected: expected)
    }

    func invalid(_ reason: String) -> TokenizerError {
        .invalidValue(file: file, path: path.isEmpty ? "(document)" : path, reason: reason)
    }

    func unsupported(_ what: String) -> TokenizerError {
        .unsupported(file: file, path: path.isEmpty ? "(document)" : path, what: what)
    }

    func string() throws(TokenizerError) -> String {
        guard case .string(let s) = value else { throw wrongType("a string") }
        return s
    }

    func int() throws(TokenizerError) -> Int {
        guard let i = value.int else { throw wrongType("an integer") }
        return i
    }

    func double() throws(TokenizerError) -> Double {
        guard let d = value.double else { throw wrongType("a number") }
        return d
    }

    func bool() throws(TokenizerError) -> Bool {
        guard case .bool(let b) = value else { throw wrongType("true or false") }
        return b
    }

    /// A string holding exactly one Unicode scalar (Rust's `char`).
    func scalar() throws(TokenizerError) -> Unicode.Scalar {
        let s = try string()
        guard s.unicodeScalars.count == 1, let first = s.unicodeScalars.first else { throw invalid("expected a single character, got \"\(s)\"") }
        return first
    }

    func array() throws(TokenizerError) -> [JSONField] {
        guard case .array(let elements) = value else { throw wrongType("an array") }
        var fields: [JSONField] = []
        fields.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() { fields.append(JSONField(element, file: file, path: "\(path)[\(i)]")) }
        return fields
    }

    func object() throws(TokenizerError) -> JSONObject {
        guard case .object(let object) = value else { throw wrongType("an object") }
        return object
    }

    /// The `type` member that tags every pipeline component.
    func typeName() throws(TokenizerError) -> String { try required("type").string() }

    func optionalString(_ key: String) throws(TokenizerError) -> String? { try optional(key)?.string() }
    func optionalBool(_ key: String) throws(TokenizerError) -> Bool? { try optional(key)?.bool() }
    func optionalInt(_ key: String) throws(TokenizerError) -> Int? { try optional(key)?.int() }
}
