// swift-tools-version: 6.1
// Kiln: an LLM inference engine — define a model, build an engine, run it, serve it.
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
        .library(name: "Kiln", targets: ["Kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "KilnTensor"),
        .target(name: "KilnCheckpoint", dependencies: ["KilnTensor"]),
        .target(name: "KilnGraph", dependencies: ["KilnTensor"]),
        .target(name: "KilnModels", dependencies: ["KilnGraph", "KilnCheckpoint", "KilnTensor"]),
        .target(name: "CKilnCPU"),
        .target(name: "KilnCompiler", dependencies: ["KilnGraph", "KilnTensor", "KilnCheckpoint"]),
        .target(name: "KilnCPU", dependencies: ["CKilnCPU", "KilnGraph", "KilnTensor"]),
        .target(name: "KilnCUDA", dependencies: ["KilnGraph", "KilnTensor"], resources: [
            .embedInCode("Kernels/common.cuh"), .embedInCode("Kernels/gemv.cuh"), .embedInCode("Kernels/layers.cu"),
            .embedInCode("Kernels/attention.cu"), .embedInCode("Kernels/sampling.cu"), .embedInCode("Kernels/gemv.cu"),
        ]),
        .target(name: "KilnRuntime", dependencies: ["KilnGraph", "KilnTensor"]),
        .target(name: "KilnTokenizers"),
        .target(name: "Kiln", dependencies: ["KilnModels", "KilnCompiler", "KilnCPU", "KilnCUDA", "KilnRuntime", "KilnCheckpoint", "KilnTokenizers"]),
        .executableTarget(name: "kiln", dependencies: [
            "Kiln", "KilnCompiler", "KilnCPU", "KilnCUDA", "KilnGraph", "KilnTensor", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "KilnTensorTests", dependencies: ["KilnTensor"]),
        .testTarget(name: "KilnCheckpointTests", dependencies: ["KilnCheckpoint"]),
        .testTarget(name: "KilnGraphTests", dependencies: ["KilnGraph"]),
        .testTarget(name: "KilnModelsTests", dependencies: ["KilnModels"]),
        .testTarget(name: "KilnCompilerTests", dependencies: ["KilnCompiler", "KilnCPU", "KilnGraph"]),
        .testTarget(name: "KilnCPUTests", dependencies: ["KilnCPU", "KilnGraph"]),
        .testTarget(name: "KilnRuntimeTests", dependencies: ["KilnRuntime", "KilnGraph", "KilnTensor"]),
        .testTarget(name: "KilnTokenizersTests", dependencies: ["KilnTokenizers"]),
        .testTarget(name: "KilnTests", dependencies: ["Kiln", "KilnCheckpoint", "KilnCPU", "KilnCUDA", "KilnGraph"]),
    ]
)
