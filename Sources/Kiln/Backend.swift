// The two backends behind one switch: what each computes in, which machine an engine built
// for it runs on, and how a built graph becomes an executable.

import KilnCompiler
import KilnCPU
import KilnCUDA
import KilnGraph
import KilnTensor

/// Where a model runs.
public enum Backend: String, Sendable, CaseIterable {
    /// SIMD, multithreaded kernels on this machine's CPU: the reference and the default.
    case cpu
    /// The first visible NVIDIA GPU, through the driver, NVRTC and cuBLASLt.
    case cuda

    func precision(weightType: DType?) -> PrecisionPolicy {
        switch self {
        case .cpu: CPUExecutable.precision(weightType: weightType)
        case .cuda: CUDAExecutable.precision(weightType: weightType)
        }
    }

    /// Fusion rules off by default: the CPU's GEMMs gain nothing from concatenated
    /// projections; on the GPU one wider GEMM beats three launches.
    var defaultDisabledFusions: Set<String> {
        switch self {
        case .cpu: cpuDisabledFusions
        case .cuda: []
        }
    }

    /// The target an engine is built for here, and a description of the device.
    func target() throws -> (architecture: String, device: String) {
        switch self {
        case .cpu: (CPUExecutable.architecture, CPUExecutable.deviceDescription)
        case .cuda: try CUDAContext.shared().target
        }
    }

    /// Targets whose engines run on this machine.
    func runnableArchitectures() throws -> [String] {
        switch self {
        case .cpu: CPUExecutable.runnableArchitectures
        case .cuda: [try CUDAContext.shared().target.architecture]
        }
    }
}

/// The GPU every CUDA executable of this process shares, opened once.
final class CUDAContext: Sendable {
    let device: CUDADevice
    let target: (architecture: String, device: String)

    private init() throws {
        device = try CUDADevice()
        target = (device.info.smArchitecture, CUDAExecutable.deviceDescription(device.info))
    }

    private static let opened: Result<CUDAContext, any Error> = Result { try CUDAContext() }

    static func shared() throws -> CUDAContext { try opened.get() }
}
