// Errors as the OpenAI API shapes them — `{"error": {"message", "type", "param", "code"}}`
// with the HTTP status a client acts on — and the mapping from Kiln's own errors.

import Foundation
import HTTPTypes
import Hummingbird
import KilnRuntime

/// An error answered to a client in OpenAI's JSON shape.
public struct APIError: Error, CustomStringConvertible, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's `type`: invalid_request_error, authentication_error, rate_limit_error, …
    public var type: String
    /// The request field at fault, as the API spells it.
    public var param: String?
    public var code: String?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(.badRequest, message, param: param, code: code)
    }

    static func modelNotFound(_ name: String) -> APIError {
        APIError(.notFound, "The model `\(name)` does not exist.", param: "model", code: "model_not_found")
    }

    static let missingAPIKey = APIError(.unauthorized, "Missing API key: send it as `Authorization: Bearer KEY`.",
                                        type: "authentication_error", code: "invalid_api_key")
    static let wrongAPIKey = APIError(.unauthorized, "Incorrect API key provided.", type: "authentication_error", code: "invalid_api_key")

    static func overloaded(limit: Int) -> APIError {
        APIError(.tooManyRequests, "The server is at its limit of \(limit) requests in flight; retry shortly.",
                 type: "rate_limit_error", code: "server_overloaded")
    }

    static let loading = APIError(.serviceUnavailable, "The model is still loading; retry once GET /health answers 200.",
                                  type: "service_unavailable", code: "model_loading")
    static let shuttingDown = APIError(.serviceUnavailable, "The server is shutting down and takes no new requests.",
                                       type: "service_unavailable", code: "shutting_down")

    static func contextTooLong(promptTokens: Int, maxTokens: Int, capacity: Int, param: String) -> APIError {
        .invalid("This model's maximum context length is \(capacity) tokens. However, you requested \(promptTokens + maxTokens) tokens "
                 + "(\(promptTokens) in the \(param), \(maxTokens) in the completion). Please reduce the length of the \(param) or completion.",
                 param: param, code: "context_length_exceeded")
    }

    /// The error a failed generation is answered with: the client's fault (400) for anything
    /// the request could have avoided, the server's (500) otherwise.
    static func from(_ error: any Error, promptParam: String) -> APIError {
        if let error = error as? APIError { return error }
        if case .some(.shutDown) = error as? ExecutorError { return .shuttingDown }
        if let error = error as? SamplingError { return .from(error) }
        guard let error = error as? GenerationError else { return APIError(.internalServerError, "\(error)", type: "server_error") }
        switch error {
        case .sampling(let error):
            return .from(error)
        case .contextTooLong(let prompt, let maxTokens, let capacity):
            return .contextTooLong(promptTokens: prompt, maxTokens: maxTokens, capacity: capacity, param: promptParam)
        case .emptyPrompt:
            return .invalid("The \(promptParam) has no tokens.", param: promptParam)
        case .tokenOutOfRange:
            return .invalid(error.description, param: promptParam)
        default:
            return .invalid(error.description)
        }
    }

    /// A sampling field out of range, named as the API spells it.
    static func from(_ error: SamplingError) -> APIError {
        switch error {
        case .invalid(let field, _, _): .invalid(error.description, param: field, code: "invalid_value")
        }
    }

    /// The error's JSON body.
    var body: ErrorBody {
        ErrorBody(error: .init(message: message, type: type, param: param, code: code))
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?

            // OpenAI sends `param` and `code` as null rather than leaving them out
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(message, forKey: .message)
                try container.encode(type, forKey: .type)
                try container.encode(param, forKey: .param)
                try container.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }

        var error: Detail
    }

    /// The error as an HTTP response.
    func response(headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes(body))))
    }
}

/// Decoding failures of a request body, named by the field at fault.
extension APIError {
    init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context, appending key: (any CodingKey)? = nil) -> String {
            (context.codingPath + (key.map { [$0] } ?? [])).reduce("") { path, key in
                if let index = key.intValue { return path + "[\(index)]" }
                return path.isEmpty ? key.stringValue : path + "." + key.stringValue
            }
        }
        switch error {
        case .typeMismatch(let type, let context):
            let field = path(context)
            let name = field.isEmpty ? "The request body" : "'\(field)'"
            self = .invalid("\(name) has the wrong type: expected \(Self.typeName(type)). \(context.debugDescription)",
                            param: field.isEmpty ? nil : field, code: "invalid_type")
        case .valueNotFound(let type, let context):
            let field = path(context)
            self = .invalid("'\(field)' must not be null: expected \(Self.typeName(type)).", param: field, code: "invalid_type")
        case .keyNotFound(let key, let context):
            let field = path(context, appending: key)
            self = .invalid("'\(field)' is a required property.", param: field, code: "missing_required_parameter")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let reason = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
                self = .invalid("The request body is not valid JSON: \(reason)", code: "invalid_json")
            } else {
                let field = path(context)
                self = .invalid("'\(field)' is invalid: \(context.debugDescription)", param: field, code: "invalid_value")
            }
        @unknown default:
            self = .invalid("The request body could not be read: \(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default: "\(type)".hasPrefix("Array") ? "an array" : "\(type)".hasPrefix("Dictionary") ? "an object" : "\(type)"
        }
    }
}

/// `value` as compact JSON (slashes unescaped, as OpenAI writes them).
func jsonBytes(_ value: some Encodable) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    // every type encoded here is plain data: encoding cannot fail
    return (try? Array(encoder.encode(value))) ?? Array(#"{"error":{"message":"response encoding failed","type":"server_error","param":null,"code":null}}"#.utf8)
}
