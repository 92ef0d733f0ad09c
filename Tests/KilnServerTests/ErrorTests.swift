// Every error in OpenAI's shape — {"error": {"message", "type", "param", "code"}} — with the
// status a client acts on.

import Foundation
import Kiln
import KilnServer
import Synchronization
import Testing

@Suite struct ErrorTests {
    /// Posts `body` and checks the reply is an error of `status` naming `param`; returns its message.
    @discardableResult
    static func expectError(_ server: TestServer, _ path: String, _ body: String, status: Int, param: String?,
                            type: String = "invalid_request_error", code: String? = nil, headers: [(String, String)] = [],
                            sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let reply = try await server.post(path, body, headers: headers)
        #expect(reply.status == status, "\(reply.body)", sourceLocation: sourceLocation)
        let error = try reply.error
        #expect(error["type"] as? String == type, "\(reply.body)", sourceLocation: sourceLocation)
        #expect(error["param"] as? String == param, "\(reply.body)", sourceLocation: sourceLocation)
        if let code { #expect(error["code"] as? String == code, "\(reply.body)", sourceLocation: sourceLocation) }
        // param and code are always present, null when they do not apply
        #expect(error.keys.sorted() == ["code", "message", "param", "type"], sourceLocation: sourceLocation)
        return try #require(error["message"] as? String)
    }

    static let chat = "/v1/chat/completions"
    /// A small chat request with `changes` made to it.
    static func hello(_ changes: [String: Any]) -> String {
        json(["messages": [["role": "user", "content": "Hi"]], "max_tokens": 2].merging(changes) { $1 })
    }

    @Test func malformedJSONAndWrongTypesNameTheField() async throws {
        let server = try await TestServer.start()
        try await Self.expectError(server, Self.chat, #"{"messages": [ "#, status: 400, param: nil, code: "invalid_json")
        try await Self.expectError(server, Self.chat, "", status: 400, param: nil, code: "invalid_json")
        try await Self.expectError(server, Self.chat, "[1, 2]", status: 400, param: nil, code: "invalid_type")
        try await Self.expectError(server, Self.chat, json(["max_tokens": 2]), status: 400, param: "messages", code: "missing_required_parameter")
        try await Self.expectError(server, Self.chat, Self.hello(["temperature": "hot"]), status: 400, param: "temperature", code: "invalid_type")
        try await Self.expectError(server, Self.chat, Self.hello(["max_tokens": 1.5]), status: 400, param: "max_tokens")
        try await Self.expectError(server, Self.chat, Self.hello(["stream": "yes"]), status: 400, param: "stream", code: "invalid_type")
        try await Self.expectError(server, Self.chat, Self.hello(["messages": "Hi"]), status: 400, param: "messages", code: "invalid_type")
        try await Self.expectError(server, Self.chat, Self.hello(["messages": [["role": "user", "content": 5]]]), status: 400,
                                   param: "messages[0].content", code: "invalid_type")
        try await Self.expectError(server, Self.chat, Self.hello(["messages": [["role": "user", "content": [["type": "image_url", "image_url": "x"]]]]]),
                                   status: 400, param: "messages[0].content[0].type")
        try await Self.expectError(server, Self.chat, Self.hello(["stop": 3]), status: 400, param: "stop", code: "invalid_type")
        try await Self.expectError(server, "/v1/completions", json(["prompt": [true]]), status: 400, param: "prompt", code: "invalid_type")
        try await server.stop()
    }

    /// Each field with a value (as JSON) out of its range.
    @Test(arguments: [
        ("temperature", "-0.5"), ("temperature", "2.5"), ("top_p", "0"), ("top_p", "1.5"), ("top_k", "-1"), ("min_p", "2"), ("n", "0"),
        ("max_tokens", "0"), ("max_completion_tokens", "-3"), ("presence_penalty", "3"), ("frequency_penalty", "-2.5"),
        ("repetition_penalty", "0"), ("min_tokens", "5"), ("top_logprobs", "30"), ("logit_bias", #"{"5000000": 1}"#),
        ("logit_bias", #"{"7": 500}"#), ("logit_bias", #"{"seven": 1}"#), ("stop", #"[""]"#),
    ])
    func outOfRangeValuesNameTheField(field: String, value: String) async throws {
        let server = try await TestServer.start()
        var changes: [String: Any] = [field: try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)]
        if field == "top_logprobs" { changes["logprobs"] = true }
        let message = try await Self.expectError(server, Self.chat, Self.hello(changes), status: 400, param: field)
        #expect(message.contains(field))
        try await server.stop()
    }

    @Test func promptsLongerThanTheContextGive400WithTheCounts() async throws {
        let server = try await TestServer.start()
        let long = String(repeating: "kiln fire clay ", count: 200)
        let message = try await Self.expectError(server, Self.chat, Self.hello(["messages": [["role": "user", "content": long]]]), status: 400,
                                                 param: "messages", code: "context_length_exceeded")
        #expect(message.contains("maximum context length is 512 tokens"), "\(message)")
        let counts = try await Self.expectError(server, "/v1/completions", json(["prompt": [1, 2, 3], "max_tokens": 600]), status: 400,
                                                param: "prompt", code: "context_length_exceeded")
        #expect(counts.contains("you requested 603 tokens (3 in the prompt, 600 in the completion)"), "\(counts)")
        try await Self.expectError(server, "/v1/completions", json(["prompt": [1, 5000]]), status: 400, param: "prompt")
        try await Self.expectError(server, "/v1/completions", json(["prompt": ""]), status: 400, param: "prompt")
        try await server.stop()
    }

    @Test func unknownModelsAndRoutesGive404() async throws {
        let server = try await TestServer.start()
        let message = try await Self.expectError(server, Self.chat, Self.hello(["model": "gpt-7"]), status: 404, param: "model", code: "model_not_found")
        #expect(message.contains("gpt-7"))
        try await Self.expectError(server, "/v1/embeddings", "{}", status: 404, param: nil)
        try await server.stop()
    }

    @Test func anAPIKeyGuardsTheV1Endpoints() async throws {
        let server = try await TestServer.start(apiKey: "sesame")
        try await Self.expectError(server, Self.chat, Self.hello([:]), status: 401, param: nil, type: "authentication_error", code: "invalid_api_key")
        try await Self.expectError(server, Self.chat, Self.hello([:]), status: 401, param: nil, type: "authentication_error",
                                   headers: [("authorization", "Bearer sesam")])
        #expect(try await server.get("/v1/models").status == 401)
        #expect(try await server.post(Self.chat, Self.hello([:]), headers: [("authorization", "Bearer sesame")]).status == 200)
        #expect(try await server.get("/v1/models", headers: [("authorization", "Bearer sesame")]).status == 200)
        // health checks and scrapes need no key
        #expect(try await server.get("/health").status == 200)
        #expect(try await server.get("/metrics").status == 200)
        try await server.stop()
    }

    /// With a batch of one and no waiting room, a second request while one streams is refused.
    @Test func requestsPastTheBoundGet429() async throws {
        // a stream long enough that an optimized build is still generating it (see LifecycleTests)
        let server = try await TestServer.start(options: BuildOptions(maxSequenceLength: 32768, limits: .init(maxNumTokens: 256, maxBatchSize: 1)),
                                                maxWaitingRequests: 0)
        let long = json(["prompt": "The kiln", "max_tokens": LifecycleTests.longTokens, "ignore_eos": true, "stream": true])
        let (stream, started) = server.startStream("/v1/completions", long)
        for await _ in started { break }
        let reply = try await server.post("/v1/completions", json(["prompt": "Hi", "max_tokens": 2]))
        #expect(reply.status == 429)
        #expect(reply.headers["retry-after"].first == "1")
        #expect(try reply.error["type"] as? String == "rate_limit_error")
        #expect(try (reply.error["message"] as? String)?.contains("limit of 1 requests") == true)
        #expect(try await server.metric("kiln_requests_rejected_total") == 1)
        stream.cancel()
        // once the stream is gone, its place is free again
        #expect(try await server.eventually { try await server.metric("kiln_server_requests_in_flight") == 0 })
        #expect(try await server.post("/v1/completions", json(["prompt": "Hi", "max_tokens": 2])).status == 200)
        try await server.stop()
    }

    @Test func healthAndGenerationAnswer503WhileTheModelLoads() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let path = fixturesDirectory + "/qwen2-tied"
        let server = try await TestServer.start(load: {
            for await _ in gate { break }
            return try ServedModel(try await LLM(model: path, options: BuildOptions(maxSequenceLength: 512)), name: "test-model")
        })
        let health = try await server.get("/health")
        #expect(health.status == 503)
        #expect(try health.json["status"] as? String == "loading")
        try await Self.expectError(server, Self.chat, Self.hello([:]), status: 503, param: nil, type: "service_unavailable", code: "model_loading")
        open.yield()
        #expect(try await server.eventually { try await server.get("/health").status == 200 })
        #expect(try await server.post(Self.chat, Self.hello([:])).status == 200)
        try await server.stop()
    }
}
