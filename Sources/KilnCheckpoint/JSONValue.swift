// Any JSON document as a value, so a header or index that fails the strict decode can be
// inspected field by field and its fault reported precisely; plus the decoding entry point.

import FoundationEssentials

enum JSONValue: Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var members: [String: JSONValue] = [:]
            for key in container.allKeys {
                members[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(members)
        } else if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !container.isAtEnd { elements.append(try container.decode(JSONValue.self)) }
            self = .array(elements)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .integer(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }

    /// What kind of value this is, for messages such as "the header is a JSON array".
    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Short, single-line rendering for messages; containers are elided as they can be huge.
    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): value.debugDescription
        case .array: "[…]"
        case .object: "{…}"
        }
    }
}

struct JSONDecodeFailure: Error {
    /// One line, fit for a user-facing message.
    let reason: String
}

func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) -> Result<T, JSONDecodeFailure> {
    do {
        return .success(try JSONDecoder().decode(type, from: Data(bytes)))
    } catch let DecodingError.dataCorrupted(context) {
        let detail = context.underlyingError.map { " \($0)" } ?? ""
        return .failure(JSONDecodeFailure(reason: oneLine(context.debugDescription + detail)))
    } catch {
        return .failure(JSONDecodeFailure(reason: oneLine("\(error)")))
    }
}

private func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
