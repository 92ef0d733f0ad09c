// `kiln doctor`'s GPU self-test: a kernel compiled by NVRTC and launched, Kiln's own kernel
// sources compiled for this GPU, and a cuBLASLt GEMM checked against the CPU.

/// One self-test check and what it found.
public struct SelfTestCheck: Sendable {
    public let name: String
    public let passed: Bool
    public let detail: String
}

public enum CUDASelfTest {
    /// Runs the checks on `device` (about 0.2 s): a kernel compiled and launched, a GEMM;
    /// with `kernelCache`, also compiles Kiln's own kernels for this GPU into that folder
    /// (seconds the first time; models then start without compiling). A failing check
    /// reports its error instead of throwing.
    public static func run(device: CUDADevice, kernelCache: String? = nil) -> [SelfTestCheck] {
        let clock = ContinuousClock()
        func check(_ name: String, _ body: () throws -> String) -> SelfTestCheck {
            let start = clock.now
            do {
                let detail = try body()
                return SelfTestCheck(name: name, passed: true, detail: detail + " in \(milliseconds(clock.now - start)) ms")
            } catch {
                return SelfTestCheck(name: name, passed: false, detail: "\(error)")
            }
        }
        return [check("nvrtc compile + launch") { try compileAndLaunch(device) }, check("cublasLt gemm") { try gemm(device) }]
            + (kernelCache.map { cache in [check("kiln kernels") { try compileKilnKernels(device, cache: cache) }] } ?? [])
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// y = a·x + y on a million floats, checked element by element.
    private static func compileAndLaunch(_ device: CUDADevice) throws -> String {
        let nvrtc = try NVRTC()
        let source = """
        extern "C" __global__ void axpy(float* y, const float* x, float a, int n) {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] = a * x[i] + y[i];
        }
        """
        let cubin = try nvrtc.compile(source, name: "axpy", architecture: device.info.smArchitecture)
        let kernel = try device.loadKernels(cubin: cubin, names: ["axpy"])["axpy"]!
        let n = 1 << 20
        let x = (0..<n).map { Float($0 % 1000) * 0.5 }, y = (0..<n).map { Float($0 % 7) }
        let xs = try device.allocate(n * 4, purpose: "self-test"), ys = try device.allocate(n * 4, purpose: "self-test")
        try x.withUnsafeBytes { try device.upload($0, to: xs.address) }
        try y.withUnsafeBytes { try device.upload($0, to: ys.address) }
        try device.launch(kernel, grid: ((n + 255) / 256, 1, 1), block: (256, 1, 1), [.pointer(ys.address), .pointer(xs.address), .float(3), .int(Int32(n))])
        var result = [Float](repeating: 0, count: n)
        try result.withUnsafeMutableBytes { try device.download(from: ys.address, into: $0) }
        let wrong = (0..<n).filter { result[$0] != 3 * x[$0] + y[$0] }.count
        guard wrong == 0 else { throw SelfTestFailure("\(wrong) of \(n) elements wrong") }
        return "NVRTC \(nvrtc.version), \(device.info.smArchitecture), \(n) elements right"
    }

    private static func compileKilnKernels(_ device: CUDADevice, cache: String) throws -> String {
        let compiler = KernelCompiler(nvrtc: try NVRTC(), architecture: device.info.smArchitecture, cacheDirectory: cache)
        for activation in CUDAKernelLibrary.activationTypes {
            _ = try CUDAKernelLibrary(device: device, compiler: compiler, activation: activation, elementwise: [])
        }
        let count = CUDAKernelLibrary.activationTypes.map { CUDAKernelLibrary.handwrittenNames(activation: $0).count }.max() ?? 0
        return "\(count) kernels for \(CUDAKernelLibrary.activationTypes.map { "\($0)".lowercased() }.joined(separator: ", "))"
    }

    /// A 512³ f32 GEMM against a CPU reference in double precision.
    private static func gemm(_ device: CUDADevice) throws -> String {
        let blas = try CuBLASLt(device: device)
        let m = 512, n = 512, k = 512
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 23) / 23 - 0.5 }, b = (0..<(n * k)).map { Float(($0 * 104_729) % 29) / 29 - 0.5 }
        let da = try device.allocate(a.count * 4, purpose: "self-test"), db = try device.allocate(b.count * 4, purpose: "self-test")
        let dd = try device.allocate(m * n * 4, purpose: "self-test")
        try a.withUnsafeBytes { try device.upload($0, to: da.address) }
        try b.withUnsafeBytes { try device.upload($0, to: db.address) }
        let shape = GemmShape(m: m, n: n, k: k, input: .f32, output: .f32)
        try blas.run(shape, a: da.address, b: db.address, d: dd.address)
        var d = [Float](repeating: 0, count: m * n)
        try d.withUnsafeMutableBytes { try device.download(from: dd.address, into: $0) }
        var worst = 0.0
        for i in stride(from: 0, to: m, by: 37) {
            for j in stride(from: 0, to: n, by: 41) {
                var expected = 0.0
                for p in 0..<k { expected += Double(a[i * k + p]) * Double(b[j * k + p]) }
                worst = max(worst, abs(Double(d[i * n + j]) - expected))
            }
        }
        guard worst < 1e-3 else { throw SelfTestFailure("largest difference from the CPU \(worst)") }
        return "cuBLASLt \(blas.version), \(m)x\(n)x\(k) f32 within \(worst)"
    }
}

struct SelfTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
