// The API key check of /v1/ endpoints, and Hummingbird's own errors (no such route, wrong
// method) answered in OpenAI's error shape.

import Hummingbird

struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let apiKey: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let apiKey, request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else { return APIError.missingAPIKey.response() }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.equalInConstantTime(String(header.dropFirst(prefix.count)), apiKey) else {
            return APIError.wrongAPIKey.response()
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference, so timing tells nothing of the key.
    private static func equalInConstantTime(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }
}

struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound ? "No route \(request.method) \(request.uri.path)." : "\(error.status)")
            return APIError(error.status, message, type: error.status.code >= 500 ? "server_error" : "invalid_request_error").response()
        }
    }
}
