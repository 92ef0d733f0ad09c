// The seam between the runtime and a backend: run one step, get logits.

import KilnTensor

/// A model loaded onto one device, with its KV-cache pool.
public protocol Executable: AnyObject, Sendable {
    var kvCacheLayout: KVCacheLayout { get }
    /// Width of each logits row.
    var vocabularySize: Int { get }
    /// The largest step `forward` takes.
    var limits: StepLimits { get }

    /// Runs one step and returns the graph's output: F32 logits, one row per sequence (or
    /// per token for graphs recorded with all-token logits).
    func forward(_ step: StepInputs) throws -> HostTensor

    /// Runs one step and returns each output row's token, picked as `choices` say (rows past
    /// its end take the most likely token); a GPU picks them on the device, so only the ids
    /// cross to the host.
    func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32]

    /// Queues one step whose tokens are picked as `choices` say, and returns without waiting
    /// where the backend runs steps asynchronously; `picks(of:)` brings the picks back. The
    /// token rows `feeds` names take the tokens the previous queued step picks, on the device:
    /// a decode step is queued before the previous step's picks reach the host, so the host's
    /// work between steps overlaps the device's. At most two queued steps may be uncollected.
    func queue(_ step: StepInputs, choices: [TokenChoice], feeds: TokenFeeds?) throws -> QueuedStep

    /// The picks of a queued step, one per output row, once they are on the host.
    func picks(of step: QueuedStep) throws -> [Int32]

    /// Whether `queue` returns before the step has run (a GPU), so queueing a step before the
    /// previous one's picks are taken overlaps the host's work with the device's. Where it
    /// runs the step itself (a CPU), queueing ahead would only hold each token back a step.
    var queuesAsynchronously: Bool { get }
}

/// Token rows of a step that take their ids from the picks of the step queued before it.
public struct TokenFeeds {
    /// The step whose picks are fed (the one queued last).
    public let source: QueuedStep
    /// For each token row of the step: the output row of `source` whose pick it takes, or
    /// nil to keep the step's own id.
    public let rows: [Int?]

    public init(source: QueuedStep, rows: [Int?]) {
        self.source = source
        self.rows = rows
    }
}

/// A step a backend has queued. Backends that run steps as they are queued carry the picks
/// in it; the others find them by `ticket`.
public final class QueuedStep: @unchecked Sendable {
    /// The backend's count of queued steps when this one was queued.
    public let ticket: Int
    /// Output rows: one pick each.
    public let rows: Int
    /// The picks, when the step ran as it was queued.
    public let ready: [Int32]?

    public init(ticket: Int, rows: Int, ready: [Int32]? = nil) {
        self.ticket = ticket
        self.rows = rows
        self.ready = ready
    }
}

extension Executable {
    public func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32] {
        let logits = try forward(step)
        let width = logits.shape.last ?? 1
        return logits.withUnsafeBytes { bytes in
            let values = bytes.assumingMemoryBound(to: Float.self)
            return (0..<(values.count / width)).map { row in
                (row < choices.count ? choices[row] : .greedy).pick(UnsafeBufferPointer(rebasing: values[(row * width)..<((row + 1) * width)]))
            }
        }
    }

    public var queuesAsynchronously: Bool { false }

    /// Runs the step at once (the previous step's picks are on the host already).
    public func queue(_ step: StepInputs, choices: [TokenChoice], feeds: TokenFeeds?) throws -> QueuedStep {
        let picked = try forward(step.fed(by: feeds, picks: feeds.map { try picks(of: $0.source) } ?? []), choices: choices)
        return QueuedStep(ticket: 0, rows: picked.count, ready: picked)
    }

    public func picks(of step: QueuedStep) throws -> [Int32] {
        guard let ready = step.ready else { preconditionFailure("a step queued on another backend") }
        return ready
    }

    /// Each output row's most likely token (the first on ties).
    public func forwardGreedy(_ step: StepInputs) throws -> [Int32] { try forward(step, choices: []) }
}

extension StepInputs {
    /// The step with the fed rows' ids taken from `picks` (the feeds' source step's picks).
    public func fed(by feeds: TokenFeeds?, picks: [Int32]) -> StepInputs {
        guard let feeds else { return self }
        var step = self
        for (row, source) in feeds.rows.enumerated() {
            if let source { step.tokenIds[row] = picks[source] }
        }
        return step
    }
}
