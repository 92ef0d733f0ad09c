// The builder: runs the passes in their declared order over a recorded graph and reports
// what each did.

import KilnGraph

/// Turns a recorded graph into the graph a backend runs.
public struct Compiler: Sendable {
    /// Fusion rules left out (`--no-fuse`), by name.
    public var disabledRules: Set<String>
    /// The element types of the target backend and of the stored weights.
    public var precision: PrecisionPolicy
    /// The largest step the memory plan is made for.
    public var limits: StepLimits

    public init(disabledRules: Set<String> = [], precision: PrecisionPolicy = PrecisionPolicy(),
                limits: StepLimits = StepLimits()) throws(CompileError) {
        let known = fusionRules.map(\.name)
        if let unknown = disabledRules.first(where: { !known.contains($0) }) { throw .unknownFusionRule(unknown, known: known) }
        self.disabledRules = disabledRules
        self.precision = precision
        self.limits = limits
    }

    /// The passes in order: check, clean up, fuse by the rule table, fold what only weights
    /// feed, assign precision (which may widen weights: folded again), check the result.
    public var passes: [any Pass] {
        [ShapeCheck(), DeadCodeElimination(), CommonSubexpressionElimination()]
            + fusionRules.filter { !disabledRules.contains($0.name) } as [any Pass]
            + [ConstantFolding(), PrecisionAssignment(precision), ConstantFolding(), ShapeCheck()]
    }

    /// The compiled graph and a report of every pass; `progress` hears each pass start
    /// (its name, its index, the number of passes).
    public func compile(_ graph: Graph, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws(CompileError)
        -> (graph: Graph, report: BuildReport) {
        var current = graph
        var entries: [BuildReport.PassEntry] = []
        let clock = ContinuousClock()
        let passes = passes
        for (index, pass) in passes.enumerated() {
            progress(pass.name, index, passes.count)
            let before = current.nodes.count
            let start = clock.now
            let (next, counts) = try pass.run(current)
            entries.append(BuildReport.PassEntry(name: pass.name, nodesBefore: before, nodesAfter: next.nodes.count,
                                                 counts: counts, time: clock.now - start))
            current = next
        }
        let start = clock.now
        let plan = MemoryPlan(current, numTokens: limits.maxNumTokens, numSeqs: limits.maxBatchSize)
        entries.append(BuildReport.PassEntry(name: "memory-plan", nodesBefore: current.nodes.count, nodesAfter: current.nodes.count,
                                             counts: [:], time: clock.now - start))
        let unplanned = MemoryPlan.unplannedBytes(graph, numTokens: limits.maxNumTokens, numSeqs: limits.maxBatchSize)
        return (current, BuildReport(passes: entries, nodesBefore: graph.nodes.count, nodesAfter: current.nodes.count,
                                     limits: limits, activationBytes: (unplanned, plan.arenaBytes)))
    }
}

/// What a build did, pass by pass.
public struct BuildReport: Sendable, CustomStringConvertible {
    public struct PassEntry: Sendable {
        public let name: String
        public let nodesBefore: Int
        public let nodesAfter: Int
        public let counts: [String: Int]
        public let time: Duration
    }

    public private(set) var passes: [PassEntry]
    public let nodesBefore: Int
    public let nodesAfter: Int
    /// The step size the memory figures are for.
    public let limits: StepLimits
    /// Activation bytes of the recorded graph with one buffer per value, and of the built
    /// graph placed by its memory plan.
    public let activationBytes: (unplanned: Int, planned: Int)

    /// Adds a stage run after the passes (a backend's kernel selection, say).
    public mutating func record(_ name: String, nodes: Int, time: Duration, counts: [String: Int] = [:]) {
        passes.append(PassEntry(name: name, nodesBefore: nodes, nodesAfter: nodes, counts: counts, time: time))
    }

    /// How often each fusion rule fired.
    public var fusions: [String: Int] {
        Dictionary(passes.flatMap { entry in fusionRules.filter { $0.name == entry.name }.compactMap { rule in entry.counts[rule.name].map { (rule.name, $0) } } },
                   uniquingKeysWith: +)
    }

    public var description: String {
        func megabytes(_ bytes: Int) -> String { "\((Double(bytes) / 1e6 * 10).rounded() / 10) MB" }
        var lines = ["ops: \(nodesBefore) → \(nodesAfter); activations for the largest step (\(limits)): "
            + "\(megabytes(activationBytes.unplanned)) unplanned → \(megabytes(activationBytes.planned)) planned"]
        for entry in passes {
            let microseconds = Double(entry.time.components.attoseconds) / 1e12 + Double(entry.time.components.seconds) * 1e6
            let counts = entry.counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            lines.append("  \(entry.name): \(entry.nodesBefore) → \(entry.nodesAfter) nodes, \(Int(microseconds)) µs" + (counts.isEmpty ? "" : " (\(counts))"))
        }
        return lines.joined(separator: "\n")
    }
}
