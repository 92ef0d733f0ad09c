// Where this process sits in a parallel deployment: which slice of every split layer it holds.

/// Tensor- and pipeline-parallel placement of one rank.
public struct Mapping: Hashable, Sendable {
    public let tpSize: Int
    public let tpRank: Int
    public let ppSize: Int
    public let ppRank: Int

    /// A single-device deployment.
    public static let single = Mapping(uncheckedTP: 1, tpRank: 0, pp: 1, ppRank: 0)

    /// Validates the placement: ranks inside their group sizes, and sizes this build can run.
    public init(tpSize: Int = 1, tpRank: Int = 0, ppSize: Int = 1, ppRank: Int = 0) throws(MappingError) {
        guard tpSize >= 1, ppSize >= 1, (0..<tpSize).contains(tpRank), (0..<ppSize).contains(ppRank) else {
            throw .invalid(tpSize: tpSize, tpRank: tpRank, ppSize: ppSize, ppRank: ppRank)
        }
        // The split weights are ready (ColumnLinear/RowLinear); the collectives that join
        // their partial results arrive with the multi-GPU backend.
        guard tpSize == 1, ppSize == 1 else { throw .parallelismUnavailable(tpSize: tpSize, ppSize: ppSize) }
        self.init(uncheckedTP: tpSize, tpRank: tpRank, pp: ppSize, ppRank: ppRank)
    }

    private init(uncheckedTP tpSize: Int, tpRank: Int, pp ppSize: Int, ppRank: Int) {
        self.tpSize = tpSize
        self.tpRank = tpRank
        self.ppSize = ppSize
        self.ppRank = ppRank
    }
}

public enum MappingError: Error, CustomStringConvertible, Equatable {
    case invalid(tpSize: Int, tpRank: Int, ppSize: Int, ppRank: Int)
    case parallelismUnavailable(tpSize: Int, ppSize: Int)

    public var description: String {
        switch self {
        case .invalid(let tp, let tpRank, let pp, let ppRank):
            "invalid parallel mapping: tp rank \(tpRank) of \(tp), pp rank \(ppRank) of \(pp) — ranks must lie in 0..<size"
        case .parallelismUnavailable(let tp, let pp):
            "tensor parallel size \(tp) / pipeline parallel size \(pp) needs the multi-GPU backend; use size 1"
        }
    }
}
