// `kiln serve`: an OpenAI-compatible HTTP server (Hummingbird 2) in front of one model's
// executor. The server listens at once and answers /health with 503 until the model has
// loaded; SIGINT/SIGTERM drain it (see ModelService) and `run` returns.

import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (`OpenAIServer.listeningPort()` tells which).
    public var port: Int
    /// When set, /v1/ endpoints need `Authorization: Bearer KEY` (/health and /metrics do not).
    public var apiKey: String?
    /// The name clients send as `model`; another name is answered 404.
    public var servedModelName: String
    /// Requests that may wait beyond the engine's running batch. Past the batch size plus
    /// this, requests are refused with 429 at once: a client can retry or go elsewhere, where
    /// an unbounded queue only grows every waiting request's latency.
    public var maxWaitingRequests: Int
    /// How long a shutdown lets requests in flight finish before it cancels them.
    public var shutdownTimeout: Duration
    public var maxRequestBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil, servedModelName: String,
                maxWaitingRequests: Int = 256, shutdownTimeout: Duration = .seconds(30), maxRequestBytes: Int = 16 << 20) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.servedModelName = servedModelName
        self.maxWaitingRequests = maxWaitingRequests
        self.shutdownTimeout = shutdownTimeout
        self.maxRequestBytes = maxRequestBytes
    }
}

/// The request context: Hummingbird's, plus the connection, whose closing cancels the
/// connection's generations.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

public final class OpenAIServer: Sendable {
    public let configuration: ServerConfiguration
    let state: ServerState
    let metrics = ServerMetrics()
    private let logger: Logger
    private let listening = Mutex<(port: Int?, ended: Bool, waiters: [CheckedContinuation<Int?, Never>])>((nil, false, []))
    private let group = Mutex<(group: ServiceGroup?, shutdownAsked: Bool)>((nil, false))

    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "kiln.server")) {
        self.configuration = configuration
        self.logger = logger
        state = ServerState(maxWaitingRequests: configuration.maxWaitingRequests)
    }

    /// Serves until a graceful shutdown (one of `signals`, or `shutdown()`); meanwhile `load`
    /// loads the model, and generation endpoints answer 503 until it has. Throws when the
    /// address cannot be bound or the model cannot be loaded.
    public func run(loading load: @escaping @Sendable () async throws -> ServedModel,
                    gracefulShutdownSignals signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let application = Application(router: makeRouter(), server: .http1(configuration: .init(additionalChannelHandlers: [DisconnectHandler()])),
                                      configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
                                      onServerRunning: { [self] channel in
                                          let port = channel.localAddress?.port
                                          logger.info("listening on http://\(configuration.host):\(port ?? configuration.port)")
                                          announce(port: port)
                                      }, logger: logger)
        let models = ModelService(load: load, state: state, shutdownTimeout: configuration.shutdownTimeout, logger: logger)
        // services shut down last first: the model drains before the HTTP server closes
        let serviceGroup = ServiceGroup(configuration: .init(services: [application, models], gracefulShutdownSignals: signals, logger: logger))
        let shutdownAsked = group.withLock { state in
            state.group = serviceGroup
            return state.shutdownAsked
        }
        defer { announce(port: nil, ended: true) }
        if shutdownAsked { await serviceGroup.triggerGracefulShutdown() }
        try await serviceGroup.run()
    }

    /// The port the server listens on, once it does; nil if it stopped without listening.
    public func listeningPort() async -> Int? {
        await withCheckedContinuation { continuation in
            let known: Int?? = listening.withLock { state in
                if state.port != nil || state.ended { return .some(state.port) }
                state.waiters.append(continuation)
                return .none
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    public func shutdown() async {
        let serviceGroup = group.withLock { state in
            state.shutdownAsked = true
            return state.group
        }
        await serviceGroup?.triggerGracefulShutdown()
    }

    /// Whether the model has loaded and the server takes requests.
    public var isReady: Bool {
        if case .ready = state.phase { return true }
        return false
    }

    private func announce(port: Int?, ended: Bool = false) {
        let waiters = listening.withLock { state in
            if let port { state.port = port }
            state.ended = state.ended || ended
            defer { state.waiters = [] }
            return state.waiters
        }
        let port = listening.withLock { $0.port }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    private func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: OpenAIErrorMiddleware())
        router.add(middleware: APIKeyMiddleware(apiKey: configuration.apiKey))
        let generation = GenerationEndpoints(configuration: configuration, state: state, metrics: metrics, logger: logger)
        router.post("/v1/chat/completions") { request, context in await generation.chatCompletions(request, context: context) }
        router.post("/v1/completions") { request, context in await generation.completions(request, context: context) }
        let info = InfoEndpoints(configuration: configuration, state: state, metrics: metrics)
        router.get("/v1/models") { _, _ in info.models() }
        router.get("/v1/models/{id}") { _, context in info.model(context.parameters.get("id") ?? "") }
        router.get("/health") { _, _ in info.health() }
        router.get("/metrics") { _, _ in info.metricsText() }
        return router
    }
}

/// Loads the model, marks the server ready, and on a graceful shutdown drains it: new
/// requests get 503, those in flight get `shutdownTimeout` to finish, then the rest are
/// cancelled (their streams end with finish reason "abort"), so the HTTP server, shut down
/// next, finds every response done.
struct ModelService: Service {
    let load: @Sendable () async throws -> ServedModel
    let state: ServerState
    let shutdownTimeout: Duration
    let logger: Logger

    func run() async throws {
        let model = try await load()
        state.setReady(model)
        logger.info("model \(model.name) ready: context \(model.contextLength) tokens, batch \(model.maxBatchSize)")
        // returns on a graceful shutdown; a cancelled group skips the drain
        do { try await gracefulShutdown() } catch { return }
        guard let model = state.startDraining() else { return }
        logger.info("shutting down: \(state.inFlight) requests in flight get up to \(shutdownTimeout) to finish")
        if !(await state.waitUntilIdle(timeout: shutdownTimeout)) {
            logger.warning("shutdown timeout: cancelling \(state.inFlight) requests still in flight")
        }
        await model.executor.shutdown(.cancelInFlight)
        // the cancelled streams write their last events
        _ = await state.waitUntilIdle(timeout: .seconds(5))
        logger.info("model \(model.name) stopped")
    }
}
