// Kiln's CUDA sources, checked without a GPU: clang's CUDA front end parses and type-checks
// every module NVRTC would build (each activation type, Hopper and Ampere, the persistent
// module, generated elementwise kernels and GEMV prologues), so a kernel that no longer
// compiles fails here, in CI, rather than on the GPU machine. CUDA's headers are not needed:
// the built-ins the kernels use are declared below, as NVRTC provides them.

import Foundation
@testable import KilnCUDA
import KilnGraph
import KilnTensor
import Testing

/// clang++ on PATH (the Swift toolchain's), if any.
let clangPath: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    .map { "\($0)/clang++" }.first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(.enabled(if: clangPath != nil, "no clang++ on PATH")) struct KernelSourceTests {
    /// The CUDA built-ins Kiln's kernels call, declared for clang (a kernel that uses another
    /// fails with "use of undeclared identifier": declare it here).
    static let builtins = """
    #define __global__ __attribute__((global))
    #define __device__ __attribute__((device))
    #define __shared__ __attribute__((shared))
    #define __forceinline__ __attribute__((always_inline)) inline
    #define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
    #define __maxnreg__(n)
    struct kiln_dim3 { unsigned x, y, z; };
    extern __device__ const kiln_dim3 threadIdx, blockIdx, blockDim, gridDim;
    __device__ float expf(float); __device__ float exp2f(float); __device__ float logf(float); __device__ float sqrtf(float);
    __device__ float rsqrtf(float); __device__ float cosf(float); __device__ float sinf(float); __device__ float tanhf(float);
    __device__ float erff(float); __device__ float powf(float, float); __device__ float fabsf(float);
    __device__ float fmaxf(float, float); __device__ float fminf(float, float); __device__ float fmaf(float, float, float);
    __device__ float __uint_as_float(unsigned); __device__ unsigned __float_as_uint(float);
    __device__ float __int_as_float(int); __device__ int __float_as_int(float);
    __device__ float __shfl_xor_sync(unsigned, float, int); __device__ int __shfl_xor_sync(unsigned, int, int);
    __device__ unsigned __shfl_xor_sync(unsigned, unsigned, int);
    __device__ float __shfl_up_sync(unsigned, float, int); __device__ int __shfl_up_sync(unsigned, int, int);
    __device__ float __shfl_sync(unsigned, float, int); __device__ int __shfl_sync(unsigned, int, int);
    __device__ void __syncthreads(); __device__ void __syncwarp(unsigned = 0xffffffffu); __device__ void __threadfence(); __device__ void __trap();
    __device__ int atomicAdd(int*, int); __device__ unsigned atomicAdd(unsigned*, unsigned); __device__ float atomicAdd(float*, float);
    __device__ float __ldcg(const float*); __device__ int __ldcg(const int*);
    __device__ long long clock64();
    template <typename T> __device__ T min(T a, T b) { return a < b ? a : b; }
    template <typename T> __device__ T max(T a, T b) { return a > b ? a : b; }

    """

    /// clang's complaints about `source` compiled for `architecture` with `options` (empty: none).
    func errors(_ source: String, architecture: String, options: [String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("module.cu")
        try (Self.builtins + source).write(to: file, atomically: true, encoding: .utf8)
        let process = Process(), log = Pipe()
        process.executableURL = URL(fileURLWithPath: clangPath!)
        process.arguments = ["-x", "cuda", "--cuda-gpu-arch=\(architecture)", "--cuda-device-only", "-nocudainc", "-nocudalib",
                             "-fsyntax-only", "-std=c++17", "-Wno-unknown-cuda-version"] + options + [file.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return "" }
        let errors = output.split(separator: "\n").filter { $0.contains("error") }.prefix(10)
        return errors.isEmpty ? "clang++ exited with \(process.terminationStatus): \(output)" : errors.joined(separator: "\n")
    }

    /// A generated kernel like the builder's SwiGLU chain: silu(gate) · up.
    static let swiglu = ElementwiseKernel(program: ElementwiseProgram(steps: [.input(0), .input(1), .activation(.sigmoid, 0), .mul(0, 2), .mul(3, 1)]),
                                          operandIsActivation: [true, true], outputIsActivation: true)

    @Test(arguments: CUDAKernelLibrary.activationTypes, ["sm_90", "sm_80"])
    func everyModuleCompiles(activation: DType, architecture: String) throws {
        let options = CUDAKernelLibrary.options(activation: activation)
        let main = try errors(CUDAKernelLibrary.mainSource, architecture: architecture, options: options)
        #expect(main.isEmpty, "the main module (\(activation), \(architecture)):\n\(main)")
        let generated = CUDAKernelLibrary.commonSource + "\n" + Self.swiglu.source + "\n" + Self.swiglu.gemvSource
        let elementwise = try errors(generated, architecture: architecture, options: options)
        #expect(elementwise.isEmpty, "the generated kernels (\(activation), \(architecture)):\n\(elementwise)")
    }

    /// Decode attention specialized for a model's head size and cache block size (as the CUDA
    /// backend builds the main module for a model).
    @Test func theSpecializedDecodeAttentionCompiles() throws {
        let options = CUDAKernelLibrary.options(activation: .bf16) + ["-DKILN_DECODE_HEAD_DIM=64", "-DKILN_DECODE_TOKENS_PER_BLOCK=32"]
        let log = try errors(CUDAKernelLibrary.mainSource, architecture: "sm_90", options: options)
        #expect(log.isEmpty, "the main module, specialized:\n\(log)")
    }

    @Test func thePersistentModuleCompiles() throws {
        let source = CUDAKernelLibrary.persistentSource(prologues: [Self.swiglu], attentionGroups: [1, 2, 4, 8])
        let log = try errors(source, architecture: "sm_90", options: CUDAKernelLibrary.options(activation: .bf16) + CUDAKernelLibrary.persistentOptions)
        #expect(log.isEmpty, "the persistent module:\n\(log)")
    }

    /// The check catches what it is for: a kernel calling something that does not exist.
    @Test func aBrokenKernelIsReported() throws {
        let log = try errors(CUDAKernelLibrary.commonSource + "\n__global__ void broken() { no_such_helper(); }", architecture: "sm_90", options: [])
        #expect(log.contains("no_such_helper"))
    }
}
