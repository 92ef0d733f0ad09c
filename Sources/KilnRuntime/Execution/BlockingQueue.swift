// The hand-off between threads that must not share state: many push, one drains, and the
// drainer sleeps while there is nothing to do (the executor's loop, a blocking generate).

import Dispatch
import Synchronization

/// A queue any thread pushes to and one thread drains, sleeping while it is empty.
final class BlockingQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var closed = false
    }

    private let state = Mutex(State())
    /// Signalled once per push, so a drainer that finds the queue empty sleeps until the next.
    private let pushed = DispatchSemaphore(value: 0)

    /// Adds `item`; false (dropping it) once the queue is closed.
    @discardableResult
    func push(_ item: Element) -> Bool {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.items.append(item)
            return true
        }
        if accepted { pushed.signal() }
        return accepted
    }

    /// Everything queued, in order; when the queue is empty, waits for a push first.
    func drain() -> [Element] {
        while true {
            let items = take()
            if !items.isEmpty { return items }
            pushed.wait()
        }
    }

    /// Everything queued, in order, without waiting.
    func take() -> [Element] {
        state.withLock { state in
            defer { state.items = [] }
            return state.items
        }
    }

    /// Refuses every later push; returns what is still queued.
    func close() -> [Element] {
        state.withLock { state in
            state.closed = true
            defer { state.items = [] }
            return state.items
        }
    }
}
