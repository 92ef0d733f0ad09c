// A real server on a loopback port (chosen by the OS) serving a fixture model, and a real
// HTTP client (async-http-client) to talk to it.

import AsyncHTTPClient
import Foundation
import Kiln
import KilnServer
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

let repositoryRoot = "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
let fixturesDirectory = repositoryRoot + "/Tests/Fixtures"

/// A server running in this process until `stop()` (or, without `server`, a client of one
/// running elsewhere).
struct TestServer {
    var server: OpenAIServer?
    var task: Task<Void, any Error>?
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    static let quietLogger: Logger = {
        var logger = Logger(label: "kiln.server.test")
        logger.logLevel = .warning
        return logger
    }()

    /// Serves `fixture` as "test-model"; `load` replaces the fixture's loading.
    static func start(fixture: String = "qwen2-tied", options: BuildOptions = BuildOptions(maxSequenceLength: 512),
                      apiKey: String? = nil, maxWaitingRequests: Int = 256, shutdownTimeout: Duration = .seconds(30),
                      load: (@Sendable () async throws -> ServedModel)? = nil) async throws -> TestServer {
        let server = OpenAIServer(configuration: ServerConfiguration(
            port: 0, apiKey: apiKey, servedModelName: "test-model", maxWaitingRequests: maxWaitingRequests, shutdownTimeout: shutdownTimeout),
            logger: quietLogger)
        let path = fixturesDirectory + "/" + fixture
        let loader = load ?? { try ServedModel(try await LLM(model: path, options: options), name: "test-model") }
        let task = Task { try await server.run(loading: loader, gracefulShutdownSignals: []) }
        let port = try #require(await server.listeningPort())
        // wait for the model unless the caller loads it itself
        if load == nil {
            while !server.isReady { try await Task.sleep(for: .milliseconds(10)) }
        }
        return TestServer(server: server, task: task, port: port)
    }

    /// Shuts down gracefully and waits for `run` to return.
    func stop() async throws {
        await server?.shutdown()
        try await task?.value
    }

    // MARK: requests

    struct Reply {
        var status: Int
        var body: String
        var headers: HTTPHeaders

        /// The body as a JSON object.
        var json: [String: Any] {
            get throws { try #require(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(body)") }
        }

        /// The OpenAI error object of an error reply.
        var error: [String: Any] {
            get throws { try #require(try json["error"] as? [String: Any], "\(body)") }
        }

        /// The `data:` payloads of a server-sent-event stream, in order.
        var events: [String] {
            body.components(separatedBy: "\n\n").compactMap { event in
                event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
            }
        }

        /// The events as JSON objects (without the final [DONE]).
        var eventObjects: [[String: Any]] {
            get throws {
                try events.filter { $0 != "[DONE]" }.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)") }
            }
        }
    }

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: bytes), headers: response.headers)
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> Reply {
        try await request(.POST, path, body: body, headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await request(.GET, path, headers: headers)
    }

    /// A metric's value from /metrics (the sum over its label sets when `labels` is nil).
    func metric(_ name: String, labels: String? = nil) async throws -> Double {
        let text = try await get("/metrics").body
        var total = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            let series = String(parts[0])
            if let labels {
                if series == "\(name){\(labels)}" { total += value }
            } else if series == name || series.hasPrefix(name + "{") {
                total += value
            }
        }
        return total
    }

    /// Polls until `condition` holds or `timeout` passes; whether it held.
    func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return try await condition()
    }

    /// Starts a streaming request in a task of its own; returns the task and a signal that
    /// fires once the first content event has arrived.
    func startStream(_ path: String, _ body: String) -> (task: Task<String, any Error>, firstEvent: AsyncStream<Void>) {
        let (signal, continuation) = AsyncStream.makeStream(of: Void.self)
        let url = baseURL + path
        let task = Task {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                // a generated piece of text, not the opening chunk's empty content
                if text.contains(#/"(content|text)":"[^"]/#) { continuation.yield() }
            }
            continuation.finish()
            return text
        }
        return (task, signal)
    }
}

/// A JSON request body from a dictionary.
func json(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}
