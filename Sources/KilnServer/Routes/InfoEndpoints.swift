// GET /v1/models, /health and /metrics.

import Hummingbird

struct InfoEndpoints: Sendable {
    let configuration: ServerConfiguration
    let state: ServerState
    let metrics: ServerMetrics

    private var card: ModelCard {
        let model = state.model
        return ModelCard(id: configuration.servedModelName, created: model?.created ?? unixTime(), maxModelLen: model?.contextLength)
    }

    func models() -> Response { jsonResponse(ModelList(data: [card])) }

    func model(_ id: String) -> Response {
        guard id == configuration.servedModelName else { return APIError.modelNotFound(id).response() }
        return jsonResponse(card)
    }

    /// 200 once the model is loaded and the server takes requests; 503 while it loads or drains.
    func health() -> Response {
        struct Health: Encodable { var status: String }
        switch state.phase {
        case .ready: return jsonResponse(Health(status: "ok"))
        case .loading: return jsonResponse(Health(status: "loading"), status: .serviceUnavailable)
        case .draining, .stopped: return jsonResponse(Health(status: "shutting down"), status: .serviceUnavailable)
        }
    }

    func metricsText() -> Response {
        let text = metrics.exposition(model: state.model, state: state)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
