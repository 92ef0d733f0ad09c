// `kiln doctor`: what this machine offers Kiln — the CPU kernels, and the GPUs and NVIDIA
// libraries the CUDA backend uses, with what to install when one is missing, and a GPU
// self-test (NVRTC compile + launch, Kiln's kernels, a cuBLASLt GEMM).

import ArgumentParser
import Kiln
import KilnCPU
import KilnCUDA

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check this machine: CPU kernels, GPUs, driver and CUDA libraries.")

    @Flag(help: "Also compile Kiln's GPU kernels for this GPU into the kernel cache (models then start without compiling).")
    var kernels = false

    func run() throws {
        print("\(CPUExecutable.deviceDescription) (engines for \(CPUExecutable.architecture))")
        let driver: CUDADriver
        do { driver = try CUDADriver() } catch {
            if case .libraryMissing = error {
                print("gpu: none — no NVIDIA driver on this machine (libcuda.so.1 not found); the CPU backend runs everything")
            } else if case .driver(_, _, "CUDA_ERROR_NO_DEVICE") = error {
                print("gpu: none — the NVIDIA driver sees no GPU; the CPU backend runs everything")
            } else {
                print("gpu: the NVIDIA driver does not start: \(error)")
            }
            return
        }
        let gpus = try driver.devices()
        print("driver: \(driver.library.path), CUDA \(try driver.version())")
        if gpus.isEmpty { print("gpu: none visible (check CUDA_VISIBLE_DEVICES)") }
        for gpu in gpus {
            print("gpu \(gpu.index): \(gpu.name), \(gpu.smArchitecture), \(gpu.multiprocessors) SMs, "
                  + "\((Double(gpu.memoryBytes) / 1_073_741_824 * 10).rounded() / 10) GiB, \(gpu.l2CacheBytes >> 20) MiB L2")
        }
        for kind in CUDALibraryKind.allCases where kind != .driver {
            let (library, tried) = CUDALibrary.open(kind)
            if let library {
                print("\(kind.rawValue): \(library.path)")
            } else {
                print("\(kind.rawValue): missing (tried \(tried.count) places) — \(kind.installHint)")
            }
        }
        guard !gpus.isEmpty else { return }
        let device = try CUDADevice(driver: driver)
        let checks = CUDASelfTest.run(device: device, kernelCache: kernels ? cudaKernelCacheDirectory : nil)
        for check in checks { print("self-test \(check.name): \(check.passed ? "ok" : "FAILED") — \(check.detail)") }
        if checks.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }
}
