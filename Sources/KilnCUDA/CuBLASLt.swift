// cuBLASLt: the GEMMs. Kiln's tensors are row-major; cuBLAS is column-major, so
// `D[m,n] = A[m,k] · W[n,k]ᵀ` runs as the column-major `Dᵀ = W · Aᵀ`, with the bias (one per
// output column of D, a row of Dᵀ) added in cuBLASLt's epilogue.

/// An element type a GEMM reads or writes.
public enum GemmElement: Int32, Sendable, Hashable, Codable {
    // cudaDataType_t values
    case f32 = 0
    case f16 = 2
    case bf16 = 14

    public var byteCount: Int { self == .f32 ? 4 : 2 }
}

/// One GEMM's shape and types: `D[m,n] = A[m,k] · B` with B stored `[n,k]` (`transposeB`,
/// the weight layout) or `[k,n]`, plus an optional bias of n entries (typed as D) and ReLU.
public struct GemmShape: Hashable, Sendable, CustomStringConvertible {
    public var m: Int, n: Int, k: Int
    public var transposeB: Bool
    public var input: GemmElement
    public var output: GemmElement
    public var bias: Bool
    public var relu: Bool

    public init(m: Int, n: Int, k: Int, transposeB: Bool = true, input: GemmElement, output: GemmElement, bias: Bool = false, relu: Bool = false) {
        (self.m, self.n, self.k, self.transposeB, self.input, self.output, self.bias, self.relu) = (m, n, k, transposeB, input, output, bias, relu)
    }

    public var description: String {
        "gemm_\(transposeB ? "nt" : "nn") \(input)->\(output) \(n)x\(k) m=\(m)" + (bias ? "+bias" : "") + (relu ? "+relu" : "")
    }
}

/// cuBLASLt with one handle and one workspace on a device's stream.
public final class CuBLASLt: @unchecked Sendable {
    public let library: CUDALibrary
    private let device: CUDADevice
    private let api: Functions
    private let handle: OpaquePointer
    private let workspace: DeviceBuffer
    /// Descriptors and candidate algorithms per shape, made once.
    private var plans: [GemmShape: Plan] = [:]

    private struct Functions: @unchecked Sendable {
        typealias Status = Int32
        let create: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Status
        let descCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, Int32, Int32) -> Status
        let descSet: @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer?, Int) -> Status
        let layoutCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, Int32, UInt64, UInt64, Int64) -> Status
        let preferenceCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Status
        let preferenceSet: @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer?, Int) -> Status
        let heuristic: @convention(c) (OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?,
                                       OpaquePointer?, Int32, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> Status
        let matmul: @convention(c) (OpaquePointer?, OpaquePointer?, UnsafeRawPointer?, UInt64, OpaquePointer?, UInt64, OpaquePointer?,
                                    UnsafeRawPointer?, UInt64, OpaquePointer?, UInt64, OpaquePointer?, UnsafeRawPointer?, UInt64, UInt64, OpaquePointer?) -> Status
        let version: @convention(c) () -> Int
    }

    /// The descriptors of one shape and the algorithms cuBLASLt proposes for it, best first.
    private struct Plan {
        let description: OpaquePointer
        let a: OpaquePointer, b: OpaquePointer, d: OpaquePointer
        /// `cublasLtMatmulHeuristicResult_t` records (96 bytes each; the algorithm is the first 64).
        let candidates: [[UInt8]]
        var chosen: Int
    }

    static let workspaceBytes = 32 << 20
    static let heuristicResultBytes = 96

    public init(device: CUDADevice) throws(CUDAError) {
        let (opened, tried) = CUDALibrary.open(.cublasLt)
        guard let library = opened else { throw .libraryMissing(.cublasLt, tried: tried) }
        self.library = library
        self.device = device
        func f<T>(_ name: String, _ type: T.Type = T.self) throws(CUDAError) -> T { try library.function(name, as: type) }
        api = Functions(create: try f("cublasLtCreate"), descCreate: try f("cublasLtMatmulDescCreate"), descSet: try f("cublasLtMatmulDescSetAttribute"),
                        layoutCreate: try f("cublasLtMatrixLayoutCreate"), preferenceCreate: try f("cublasLtMatmulPreferenceCreate"),
                        preferenceSet: try f("cublasLtMatmulPreferenceSetAttribute"), heuristic: try f("cublasLtMatmulAlgoGetHeuristic"),
                        matmul: try f("cublasLtMatmul"), version: try f("cublasLtGetVersion"))
        try device.makeCurrent()
        var handle: OpaquePointer?
        try Self.check(api.create(&handle), "cublasLtCreate")
        self.handle = handle!
        workspace = try device.allocate(Self.workspaceBytes, purpose: "the cuBLASLt workspace")
    }

    /// cuBLASLt's version, e.g. 130100 for 13.1.0.
    public var version: Int { api.version() }

    private static func check(_ status: Int32, _ call: @autoclosure () -> String) throws(CUDAError) {
        guard status == 0 else { throw .cublas(call: call(), status: status) }
    }

    private func plan(_ shape: GemmShape) throws(CUDAError) -> Plan {
        if let plan = plans[shape] { return plan }
        var description: OpaquePointer?
        // CUBLAS_COMPUTE_32F (68): f32 accumulation, never TF32; f32 scale type (0)
        try Self.check(api.descCreate(&description, 68, 0), "cublasLtMatmulDescCreate")
        func set(_ attribute: Int32, _ value: Int32) throws(CUDAError) {
            var value = value
            try Self.check(api.descSet(description, attribute, &value, 4), "cublasLtMatmulDescSetAttribute(\(attribute))")
        }
        // cuBLAS's A is our B (the weight), its B is our A: Dᵀ[n,m] = op(W) · Aᵀ
        try set(3, shape.transposeB ? 1 : 0)  // TRANSA
        try set(4, 0)  // TRANSB
        // EPILOGUE: DEFAULT 1, RELU 2, BIAS 4, RELU_BIAS 6
        try set(7, shape.bias ? (shape.relu ? 6 : 4) : (shape.relu ? 2 : 1))
        if shape.bias { try set(26, shape.output.rawValue) }  // BIAS_DATA_TYPE
        func layout(_ type: GemmElement, rows: Int, columns: Int, leading: Int) throws(CUDAError) -> OpaquePointer {
            var layout: OpaquePointer?
            try Self.check(api.layoutCreate(&layout, type.rawValue, UInt64(rows), UInt64(columns), Int64(leading)), "cublasLtMatrixLayoutCreate")
            return layout!
        }
        let a = shape.transposeB ? try layout(shape.input, rows: shape.k, columns: shape.n, leading: shape.k)
                                 : try layout(shape.input, rows: shape.n, columns: shape.k, leading: shape.n)
        let b = try layout(shape.input, rows: shape.k, columns: shape.m, leading: shape.k)
        let d = try layout(shape.output, rows: shape.n, columns: shape.m, leading: shape.n)
        var preference: OpaquePointer?
        try Self.check(api.preferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
        var bytes = UInt64(Self.workspaceBytes)
        try Self.check(api.preferenceSet(preference, 1, &bytes, 8), "cublasLtMatmulPreferenceSetAttribute")
        let requested = 8
        var results = [UInt8](repeating: 0, count: requested * Self.heuristicResultBytes)
        var returned: Int32 = 0
        let status = results.withUnsafeMutableBytes {
            api.heuristic(handle, description, a, b, d, d, preference, Int32(requested), $0.baseAddress, &returned)
        }
        try Self.check(status, "cublasLtMatmulAlgoGetHeuristic(\(shape))")
        guard returned > 0 else { throw .cublas(call: "cublasLtMatmulAlgoGetHeuristic(\(shape)): no algorithm", status: 15) }
        let candidates = (0..<Int(returned)).map { Array(results[($0 * Self.heuristicResultBytes)..<(($0 + 1) * Self.heuristicResultBytes)]) }
        let plan = Plan(description: description!, a: a, b: b, d: d, candidates: candidates, chosen: 0)
        plans[shape] = plan
        return plan
    }

    /// Queues `d = a · b (+ bias) (relu)` on the device's stream, with the measured or
    /// proposed algorithm for this shape. Addresses are device pointers.
    public func run(_ shape: GemmShape, a: UInt64, b: UInt64, d: UInt64, bias: UInt64 = 0) throws(CUDAError) {
        let plan = try plan(shape)
        try run(plan, candidate: plan.chosen, shape: shape, a: a, b: b, d: d, bias: bias)
    }

    private func run(_ plan: Plan, candidate: Int, shape: GemmShape, a: UInt64, b: UInt64, d: UInt64, bias: UInt64) throws(CUDAError) {
        if shape.bias {
            var pointer = bias
            try Self.check(api.descSet(plan.description, 8, &pointer, 8), "cublasLtMatmulDescSetAttribute(bias)")
        }
        var alpha: Float = 1, beta: Float = 0
        let status = plan.candidates[candidate].withUnsafeBytes { record in
            api.matmul(handle, plan.description, &alpha, b, plan.a, a, plan.b, &beta, d, plan.d, d, plan.d,
                       record.baseAddress, workspace.address, UInt64(Self.workspaceBytes), device.stream)
        }
        try Self.check(status, "cublasLtMatmul(\(shape))")
    }

    /// Times every proposed algorithm for `shape` on the given operands and keeps the
    /// fastest; returns its index among the proposals (0: cuBLASLt's own first choice) and
    /// the milliseconds `repeats` runs of it took.
    @discardableResult
    public func tune(_ shape: GemmShape, a: UInt64, b: UInt64, d: UInt64, bias: UInt64 = 0,
                     repeats: Int = 5) throws -> (index: Int, milliseconds: Double) {
        var plan = try plan(shape)
        var best = (index: 0, time: Double.infinity)
        for index in plan.candidates.indices {
            // an algorithm that fails to run for this shape is simply not a candidate
            guard (try? run(plan, candidate: index, shape: shape, a: a, b: b, d: d, bias: bias)) != nil else { continue }
            let time = try device.time {
                for _ in 0..<repeats { try run(plan, candidate: index, shape: shape, a: a, b: b, d: d, bias: bias) }
            }
            if time < best.time { best = (index, time) }
        }
        plan.chosen = best.index
        plans[shape] = plan
        return (best.index, best.time)
    }

    /// Uses proposal `index` for `shape` (a choice measured earlier, e.g. stored in an engine).
    public func choose(_ index: Int, for shape: GemmShape) throws(CUDAError) {
        var plan = try plan(shape)
        guard plan.candidates.indices.contains(index) else { return }
        plan.chosen = index
        plans[shape] = plan
    }
}
