// Noticing a client that went away while its request waits or runs with nothing to write.

import NIOCore

/// Closes a connection once its client has closed its side. Hummingbird lets a connection
/// stay half-open (the client may stop sending and still read), so without this a client that
/// disconnects is noticed only when a write to it fails: never for a request still queued or
/// generating a whole (non-streamed) answer. Closing fires the channel's `closeFuture`, which
/// cancels the connection's generations (`GenerationJob.run`) and frees their KV blocks. The
/// cost: a client that half-closes on purpose after sending its request loses the answer, as
/// with uvicorn (vLLM's server), which treats the end of input as a disconnect too.
final class DisconnectHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
