// Requests whose client goes away, and shutdowns: blocks come back, streams end cleanly,
// and `kiln serve` exits 0 on SIGTERM (the official openai client is checked against it
// when python3 has it).

import AsyncHTTPClient
import Foundation
import Kiln
import NIOCore
import Synchronization
import Testing

@Suite struct LifecycleTests {
    /// Long enough that an optimized build (thousands of tokens a second on the tiny fixture)
    /// is still generating when the test acts.
    static let longContext = BuildOptions(maxSequenceLength: 32768)
    static let longTokens = 32000
    static let longStream = json(["messages": [["role": "user", "content": "Tell me everything."]], "max_tokens": longTokens,
                                  "ignore_eos": true, "stream": true])

    @Test func aClientDisconnectingMidStreamFreesItsBlocks() async throws {
        let server = try await TestServer.start(options: Self.longContext)
        let (stream, started) = server.startStream("/v1/chat/completions", Self.longStream)
        for await _ in started { break }
        #expect(try await server.metric("kiln_kv_blocks_used") > 0)
        #expect(try await server.metric("kiln_requests_running") == 1)
        stream.cancel()
        let freed = try await server.eventually {
            let used = try await server.metric("kiln_kv_blocks_used"), running = try await server.metric("kiln_requests_running")
            return used == 0 && running == 0
        }
        #expect(freed)
        #expect(try await server.metric("kiln_requests_cancelled_total") == 1)
        #expect(try await server.metric("kiln_server_requests_in_flight") == 0)
        // the cancelled request stopped far short of its tokens
        #expect(try await server.metric("kiln_inter_token_latency_seconds_count") < Double(Self.longTokens - 1000))
        try await server.stop()
    }

    /// A whole (non-streamed) answer writes nothing until it is done: the closed connection
    /// itself cancels the request.
    @Test func aClientDisconnectingBeforeAWholeAnswerFreesItsBlocks() async throws {
        let server = try await TestServer.start(options: Self.longContext)
        let url = server.baseURL + "/v1/completions"
        let request = Task {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: json(["prompt": "The kiln", "max_tokens": Self.longTokens, "ignore_eos": true])))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        }
        #expect(try await server.eventually { try await server.metric("kiln_kv_blocks_used") > 0 })
        request.cancel()
        let freed = try await server.eventually {
            let used = try await server.metric("kiln_kv_blocks_used"), running = try await server.metric("kiln_requests_running")
            return used == 0 && running == 0
        }
        #expect(freed)
        #expect(try await server.metric("kiln_requests_cancelled_total") == 1)
        #expect(try await server.eventually { try await server.metric("kiln_server_requests_in_flight") == 0 })
        #expect(try await server.metric("kiln_inter_token_latency_seconds_count") < Double(Self.longTokens - 1000))
        try await server.stop()
    }

    @Test func shutdownCancelsRequestsStillRunningAfterItsTimeout() async throws {
        let server = try await TestServer.start(options: Self.longContext, shutdownTimeout: .milliseconds(300))
        let (stream, started) = server.startStream("/v1/chat/completions", Self.longStream)
        for await _ in started { break }
        try await server.stop()
        let reply = TestServer.Reply(status: 200, body: try await stream.value, headers: [:])
        #expect(reply.events.last == "[DONE]")
        let reasons = try reply.eventObjects.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(reasons == ["abort"])
        // nothing listens any more (a new client: the shared one would reuse its pooled connection)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(1))))
        // (async-http-client retries a refused connection until its deadline)
        await #expect(throws: (any Error).self) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/health"), timeout: .seconds(1))
        }
        try await client.shutdown()
    }

    @Test func shutdownLetsShortRequestsFinish() async throws {
        let server = try await TestServer.start(options: Self.longContext, shutdownTimeout: .seconds(60))
        let (stream, started) = server.startStream("/v1/completions", json(["prompt": "The kiln", "max_tokens": 200, "ignore_eos": true, "stream": true]))
        for await _ in started { break }
        try await server.stop()
        let reply = TestServer.Reply(status: 200, body: try await stream.value, headers: [:])
        let reasons = try reply.eventObjects.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(reasons == ["length"])
        #expect(reply.events.last == "[DONE]")
    }

    @Test func kilnServeAnswersAndExitsZeroOnSIGTERM() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("kiln")
        process.arguments = ["serve", "--model", fixturesDirectory + "/qwen2-tied", "--port", "0", "--max-seq-len", "512",
                             "--served-model-name", "qwen2-tied", "--shutdown-timeout", "5"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let log = LogCollector()
        errors.fileHandleForReading.readabilityHandler = { handle in log.append(handle.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // the log names the port once listening, then says when the model is ready
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(60)
        while port == nil || !log.text.contains("ready"), ContinuousClock.now < deadline, process.isRunning {
            port = port ?? log.port
            try await Task.sleep(for: .milliseconds(50))
        }
        let server = TestServer(port: try #require(port, "\(log.text)"))
        #expect(try await server.get("/health").status == 200)
        let reply = try await server.post("/v1/chat/completions", json(["model": "qwen2-tied", "messages": [["role": "user", "content": "Hi"]], "max_tokens": 3]))
        #expect(reply.status == 200)
        // one log line per request: id, tokens in and out, latency
        let id = try #require(try reply.json["id"] as? String)
        #expect(try await server.eventually(timeout: .seconds(5)) { log.text.contains("id=\(id) status=200 prompt_tokens=") })
        let line = try #require(log.text.split(separator: "\n").first { $0.contains("id=\(id)") })
        #expect(line.contains("completion_tokens=") && line.contains("latency_ms="))

        if let python = OpenAIClientCheck.python() {
            let check = try OpenAIClientCheck.run(python: python, baseURL: "http://127.0.0.1:\(port!)/v1", model: "qwen2-tied")
            #expect(check.status == 0, "\(check.output)")
        } else {
            print("openai_client_check.py skipped: python3 cannot import openai (pip install openai)")
        }

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(log.text)")
        #expect(log.text.contains("shutting down"))
    }
}

/// The server's stderr, collected as it comes.
final class LogCollector: Sendable {
    private let data = Mutex(Data())

    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }

    /// The port from "listening on http://HOST:PORT".
    var port: Int? {
        guard let range = text.range(of: "listening on http://") else { return nil }
        let rest = text[range.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...].prefix { $0.isNumber })
    }
}

/// Runs Scripts/server/openai_client_check.py when python3 has the openai package.
enum OpenAIClientCheck {
    static func python() -> String? {
        for candidate in ["/usr/bin/env"] {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["python3", "-c", "import openai"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { continue }
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { return candidate }
        }
        return nil
    }

    static func run(python: String, baseURL: String, model: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["python3", repositoryRoot + "/Scripts/server/openai_client_check.py", "--base-url", baseURL, "--model", model]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: text, as: UTF8.self))
    }
}
