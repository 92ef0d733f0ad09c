// `kiln serve`: the OpenAI-compatible HTTP server (KilnServer) for one model.

import ArgumentParser
import Kiln
import KilnServer
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics).",
        discussion: """
            /health answers 503 until the model has loaded. At most --max-batch-size + --max-waiting-requests \
            generation requests are in flight; past that the server answers 429 with Retry-After: 1. SIGINT or \
            SIGTERM stop new requests, give those in flight --shutdown-timeout seconds, cancel the rest and exit 0.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port, printed when listening).")
    var port = 8000
    @Option(name: .customLong("api-key"), help: "Require `Authorization: Bearer KEY` on /v1/ endpoints.")
    var apiKey: String?
    @Option(name: .customLong("served-model-name"), help: "The model name clients send (default: the model file or folder's name).")
    var servedModelName: String?
    @Option(name: .customLong("max-waiting-requests"), help: "Requests that may wait beyond the running batch before the server answers 429.")
    var maxWaitingRequests = 256
    @Option(name: .customLong("shutdown-timeout"), help: "Seconds a shutdown lets requests in flight finish before cancelling them.")
    var shutdownTimeout = 30.0
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): expected 0…65535") }
        guard maxWaitingRequests >= 0 else { throw ValidationError("--max-waiting-requests must be ≥ 0") }
        guard shutdownTimeout >= 0 else { throw ValidationError("--shutdown-timeout must be ≥ 0") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \(logLevel): expected trace … critical") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let path = modelOptions.model, options = build.options
        let name = servedModelName ?? Self.defaultName(path)
        let server = OpenAIServer(configuration: ServerConfiguration(
            host: host, port: port, apiKey: apiKey, servedModelName: name, maxWaitingRequests: maxWaitingRequests,
            shutdownTimeout: .milliseconds(Int64(shutdownTimeout * 1000))))
        try await server.run(loading: {
            try ServedModel(try await LLM(model: path, options: options, progress: buildProgressBar()), name: name)
        })
    }

    /// A path's last component without a .gguf extension.
    static func defaultName(_ path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        return last.hasSuffix(".gguf") ? String(last.dropLast(5)) : last
    }
}
