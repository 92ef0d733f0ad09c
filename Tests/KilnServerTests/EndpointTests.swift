// Every endpoint over real HTTP, whole and streamed, against the answers the LLM API gives
// for the same fixture model.

import Foundation
import Kiln
import KilnRuntime
import Testing

@Suite struct EndpointTests {
    static let options = BuildOptions(maxSequenceLength: 512)

    /// The greedy chat answer the LLM API gives (special tokens skipped).
    static func expectedChat(_ messages: [ChatMessage], maxTokens: Int) async throws -> (text: String, promptTokens: Int) {
        let llm = try await LLM(model: fixturesDirectory + "/qwen2-tied", options: options)
        var result: GenerationResult?, text = ""
        for try await delta in llm.chat(messages: messages, params: SamplingParams(maxTokens: maxTokens, ignoreEOS: true)) {
            text += delta.text
            result = delta.result ?? result
        }
        return (try #require(result?.completions[0].text), try #require(result?.promptIds.count))
    }

    @Test func chatCompletionIsTheGreedyAnswerWithUsage() async throws {
        let server = try await TestServer.start()
        let expected = try await Self.expectedChat([.system("Be brief."), .user("What is a kiln?")], maxTokens: 12)
        let reply = try await server.post("/v1/chat/completions", json([
            "model": "test-model", "temperature": 0, "max_tokens": 12, "ignore_eos": true,
            "messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": [["type": "text", "text": "What is a kiln?"]]]],
        ]))
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.headers["content-type"].first == "application/json")
        let body = try reply.json
        #expect(body["object"] as? String == "chat.completion")
        #expect((body["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        #expect(body["model"] as? String == "test-model")
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant")
        #expect(message["content"] as? String == expected.text)
        #expect(choice["finish_reason"] as? String == "length")
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == expected.promptTokens)
        #expect(usage["completion_tokens"] as? Int == 12)
        #expect(usage["total_tokens"] as? Int == expected.promptTokens + 12)
        try await server.stop()
    }

    @Test func completionTakesStringsListsAndTokenIds() async throws {
        let server = try await TestServer.start()
        let llm = try await LLM(model: fixturesDirectory + "/qwen2-tied", options: Self.options)
        let params = SamplingParams(maxTokens: 6, ignoreEOS: true)
        let expected = try await llm.generate(prompts: ["The kiln", "Once upon a time"], params: params)
        let reply = try await server.post("/v1/completions", json([
            "model": "test-model", "prompt": ["The kiln", "Once upon a time"], "max_tokens": 6, "temperature": 0, "n": 2, "ignore_eos": true,
        ]))
        #expect(reply.status == 200, "\(reply.body)")
        let body = try reply.json
        #expect(body["object"] as? String == "text_completion")
        let choices = try #require(body["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1, 2, 3])
        // greedy: both completions of a prompt are its one answer
        #expect(choices.map { $0["text"] as? String } == [expected[0], expected[0], expected[1], expected[1]])
        let tokenizer = try llm.requireTokenizer()
        let promptTokens = tokenizer.encode("The kiln").count + tokenizer.encode("Once upon a time").count
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == promptTokens)
        #expect(usage["completion_tokens"] as? Int == 24)

        let ids = tokenizer.encode("The kiln").map(Int.init)
        let byIds = try await server.post("/v1/completions", json(["prompt": ids, "max_tokens": 6, "temperature": 0, "ignore_eos": true]))
        #expect(try (byIds.json["choices"] as? [[String: Any]])?.first?["text"] as? String == expected[0])
        #expect(try (byIds.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == ids.count)
        try await server.stop()
    }

    @Test func streamedChatAddsUpToTheWholeAnswer() async throws {
        let server = try await TestServer.start()
        let request: [String: Any] = ["model": "test-model", "temperature": 0, "max_tokens": 16, "ignore_eos": true,
                                      "messages": [["role": "user", "content": "Tell me about kilns."]]]
        var streamed = request
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let whole = try await server.post("/v1/chat/completions", json(request))
        let reply = try await server.post("/v1/chat/completions", json(streamed))
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"].first == "text/event-stream")
        #expect(reply.events.last == "[DONE]")
        let chunks = try reply.eventObjects
        #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1)
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        let text = deltas.compactMap { $0["content"] as? String }.joined()
        let wholeMessage = try #require(((try whole.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]))
        #expect(text == wholeMessage["content"] as? String)
        let reasons = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(reasons == ["length"])
        // every chunk but the last has usage null; the last has no choices and the usage
        let last = try #require(chunks.last)
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        #expect((last["usage"] as? [String: Any])?["completion_tokens"] as? Int == 16)
        #expect(chunks.dropLast().allSatisfy { $0["usage"] is NSNull })

        streamed["stream_options"] = nil
        let withoutUsage = try await server.post("/v1/chat/completions", json(streamed))
        #expect(try withoutUsage.eventObjects.allSatisfy { $0["usage"] == nil })
        try await server.stop()
    }

    @Test func streamedCompletionAddsUpToTheWholeText() async throws {
        let server = try await TestServer.start()
        let request: [String: Any] = ["prompt": "The kiln", "temperature": 0, "max_tokens": 10, "ignore_eos": true]
        var streamed = request
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let whole = try await server.post("/v1/completions", json(request))
        let reply = try await server.post("/v1/completions", json(streamed))
        #expect(reply.events.last == "[DONE]")
        let chunks = try reply.eventObjects
        #expect(chunks.allSatisfy { $0["object"] as? String == "text_completion" })
        let text = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        #expect(text == (try whole.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
        #expect((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 10)
        try await server.stop()
    }

    @Test func modelsHealthAndMetricsDescribeTheServer() async throws {
        let server = try await TestServer.start()
        let models = try await server.get("/v1/models")
        let data = try #require(try models.json["data"] as? [[String: Any]])
        #expect(data.count == 1)
        #expect(data[0]["id"] as? String == "test-model")
        #expect(data[0]["object"] as? String == "model")
        #expect(data[0]["max_model_len"] as? Int == 512)
        #expect(try await server.get("/v1/models/test-model").json["id"] as? String == "test-model")
        #expect(try await server.get("/v1/models/other").status == 404)
        let health = try await server.get("/health")
        #expect(health.status == 200)
        #expect(try health.json["status"] as? String == "ok")

        let reply = try await server.post("/v1/completions", json(["prompt": "The kiln", "max_tokens": 5, "temperature": 0, "ignore_eos": true]))
        let promptTokens = try #require((try reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int)
        let metrics = try await server.get("/metrics")
        #expect(metrics.headers["content-type"].first?.hasPrefix("text/plain") == true)
        #expect(try await server.metric("kiln_requests_total", labels: #"endpoint="/v1/completions",status="200""#) == 1)
        #expect(try await server.metric("kiln_prompt_tokens_total") == Double(promptTokens))
        #expect(try await server.metric("kiln_generation_tokens_total") == 5)
        #expect(try await server.metric("kiln_time_to_first_token_seconds_count") == 1)
        #expect(try await server.metric("kiln_inter_token_latency_seconds_count") == 4)
        #expect(try await server.metric("kiln_request_latency_seconds_count") == 1)
        #expect(try await server.metric("kiln_kv_blocks_used") == 0)
        #expect(try await server.metric("kiln_kv_blocks_free") == 16)
        #expect(try await server.metric("kiln_requests_waiting") == 0)
        #expect(try await server.metric("kiln_requests_running") == 0)
        for name in ["kiln_prefix_cache_hit_rate", "kiln_server_requests_in_flight"] { #expect(metrics.body.contains("\n\(name) ")) }
        try await server.stop()
    }

    @Test func logprobsComeInEachEndpointsShape() async throws {
        let server = try await TestServer.start()
        let chat = try await server.post("/v1/chat/completions", json([
            "messages": [["role": "user", "content": "Hi"]], "max_tokens": 4, "temperature": 0, "ignore_eos": true,
            "logprobs": true, "top_logprobs": 3,
        ]))
        let content = try #require((((try chat.json["choices"] as? [[String: Any]])?.first?["logprobs"]) as? [String: Any])?["content"] as? [[String: Any]])
        #expect(content.count == 4)
        for entry in content {
            let top = try #require(entry["top_logprobs"] as? [[String: Any]])
            #expect(top.count == 3)
            let values = top.compactMap { $0["logprob"] as? Double }
            #expect(values == values.sorted(by: >))
            // greedy: the chosen token is the most likely one
            #expect(entry["logprob"] as? Double == values.first)
            #expect(entry["token"] is String && entry["bytes"] is [Int])
        }
        let completion = try await server.post("/v1/completions", json(["prompt": "The kiln", "max_tokens": 3, "temperature": 0, "ignore_eos": true, "logprobs": 2]))
        let logprobs = try #require(((try completion.json["choices"] as? [[String: Any]])?.first?["logprobs"]) as? [String: Any])
        #expect((logprobs["tokens"] as? [String])?.count == 3)
        #expect((logprobs["token_logprobs"] as? [Double])?.allSatisfy { $0 <= 0 } == true)
        #expect((logprobs["top_logprobs"] as? [[String: Double]])?.allSatisfy { $0.count <= 2 && !$0.isEmpty } == true)
        #expect((logprobs["text_offset"] as? [Int])?.first == 0)
        try await server.stop()
    }

    @Test func seedsStopStringsAndUnknownFieldsBehave() async throws {
        let server = try await TestServer.start()
        let sampled: [String: Any] = ["prompt": "The kiln", "max_tokens": 12, "temperature": 1, "seed": 7, "ignore_eos": true,
                                      "user": "someone", "some_future_field": ["x": 1]]
        let first = try await server.post("/v1/completions", json(sampled))
        let second = try await server.post("/v1/completions", json(sampled))
        #expect(first.status == 200, "\(first.body)")
        let text = try #require((try first.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
        #expect((try second.json["choices"] as? [[String: Any]])?.first?["text"] as? String == text)

        // stop at a piece of the greedy answer: the text ends before it
        let greedy = try await server.post("/v1/completions", json(["prompt": "The kiln", "max_tokens": 12, "temperature": 0, "ignore_eos": true]))
        let answer = try #require((try greedy.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
        let characters = Array(answer)
        try #require(characters.count > 6)
        let stop = String(characters[4..<6])
        let stopped = try await server.post("/v1/completions", json([
            "prompt": "The kiln", "max_tokens": 12, "temperature": 0, "ignore_eos": true, "stop": stop,
        ]))
        let choice = try #require((try stopped.json["choices"] as? [[String: Any]])?.first)
        let cut = try #require(choice["text"] as? String)
        #expect(answer.hasPrefix(cut) && !cut.contains(stop) && answer.dropFirst(cut.count).hasPrefix(stop))
        #expect(choice["finish_reason"] as? String == "stop")
        try await server.stop()
    }

    /// A logit bias that forces a special token: its text shows only with skip_special_tokens false.
    @Test func skipSpecialTokensDecidesWhetherSpecialTokensShow() async throws {
        let server = try await TestServer.start()
        var request: [String: Any] = ["prompt": "The kiln", "max_tokens": 2, "temperature": 0, "ignore_eos": true,
                                      "logit_bias": ["1024": 100]]
        let skipped = try await server.post("/v1/completions", json(request))
        #expect((try skipped.json["choices"] as? [[String: Any]])?.first?["text"] as? String == "")
        #expect((try skipped.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 2)
        request["skip_special_tokens"] = false
        let shown = try await server.post("/v1/completions", json(request))
        #expect((try shown.json["choices"] as? [[String: Any]])?.first?["text"] as? String == "<|im_start|><|im_start|>")
        try await server.stop()
    }
}
