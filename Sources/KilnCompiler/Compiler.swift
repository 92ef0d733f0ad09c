// The builder: runs the passes in their declared order over a recorded graph and reports
// what each did.

import KilnGraph

/// Turns a recorded graph into the graph a backend runs.
public struct Compiler: Sendable {
    /// Fusion rules left out (`--no-fuse`), by name.
    public var disabledRules: Set<String>
    /// The step size the report's memory plan is made for (the largest prefill).
    public var planningTokens: Int

    public init(disabledRules: Set<String> = [], planningTokens: Int = 512) throws(CompileError) {
        self.planningTokens = planningTokens
        let known = fusionRules.map(\.name)
        if let unknown = disabledRules.first(where: { !known.contains($0) }) { throw .unknownFusionRule(unknown, known: known) }
        self.disabledRules = disabledRules
    }

    /// The passes in order: check, clean up, fuse by the rule table, clean up.
    public var passes: [any Pass] {
        [ShapeCheck(), DeadCodeElimination(), CommonSubexpressionElimination()]
            + fusionRules.filter { !disabledRules.contains($0.name) } as [any Pass]
            + [ShapeCheck()]
    }

    /// The compiled graph and a report of every pass.
    public func compile(_ graph: Graph) throws(CompileError) -> (graph: Graph, report: BuildReport) {
        var current = graph
        var entries: [BuildReport.PassEntry] = []
        let clock = ContinuousClock()
        for pass in passes {
            let before = current.nodes.count
            let start = clock.now
            let (next, counts) = try pass.run(current)
            entries.append(BuildReport.PassEntry(name: pass.name, nodesBefore: before, nodesAfter: next.nodes.count,
                                                 counts: counts, time: clock.now - start))
            current = next
        }
        let plan = MemoryPlan(current, numTokens: planningTokens, numSeqs: 1)
        return (current, BuildReport(passes: entries, nodesBefore: graph.nodes.count, nodesAfter: current.nodes.count,
                                     plannedTokens: planningTokens, activationBytes: (MemoryPlan(graph, numTokens: planningTokens, numSeqs: 1).unplannedBytes,
                                                                                    plan.arenaBytes)))
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

    public let passes: [PassEntry]
    public let nodesBefore: Int
    public let nodesAfter: Int
    /// The step size the memory figures are for.
    public let plannedTokens: Int
    /// Activation bytes of the recorded graph with one buffer per value, and of the built
    /// graph placed by its memory plan.
    public let activationBytes: (unplanned: Int, planned: Int)

    /// How often each fusion rule fired.
    public var fusions: [String: Int] {
        Dictionary(passes.flatMap { entry in fusionRules.filter { $0.name == entry.name }.compactMap { rule in entry.counts[rule.name].map { (rule.name, $0) } } },
                   uniquingKeysWith: +)
    }

    public var description: String {
        func megabytes(_ bytes: Int) -> String { "\((Double(bytes) / 1e6 * 10).rounded() / 10) MB" }
        var lines = ["ops: \(nodesBefore) → \(nodesAfter); activations for a \(plannedTokens)-token step: "
            + "\(megabytes(activationBytes.unplanned)) unplanned → \(megabytes(activationBytes.planned)) planned"]
        for entry in passes {
            let microseconds = Double(entry.time.components.attoseconds) / 1e12 + Double(entry.time.components.seconds) * 1e6
            let counts = entry.counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            lines.append("  \(entry.name): \(entry.nodesBefore) → \(entry.nodesAfter) nodes, \(Int(microseconds)) µs" + (counts.isEmpty ? "" : " (\(counts))"))
        }
        return lines.joined(separator: "\n")
    }
}
