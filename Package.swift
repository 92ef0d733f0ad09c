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
        // the server: HTTP, logging, Prometheus metrics, signal handling (traits off: no
        // swift-configuration); async-http-client only for the server's tests
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
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
            .embedInCode("Kernels/attention.cu"), .embedInCode("Kernels/flash_attention.cu"), .embedInCode("Kernels/sampling.cu"), .embedInCode("Kernels/gemv.cu"),
            .embedInCode("Kernels/persistent.cu"),
        ]),
        .target(name: "KilnRuntime", dependencies: ["KilnGraph", "KilnTensor"]),
        .target(name: "KilnTokenizers"),
        .target(name: "Kiln", dependencies: ["KilnModels", "KilnCompiler", "KilnCPU", "KilnCUDA", "KilnRuntime", "KilnCheckpoint", "KilnTokenizers"]),
        .target(name: "KilnServer", dependencies: [
            "Kiln", "KilnRuntime", "KilnTokenizers",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        .executableTarget(name: "kiln", dependencies: [
            "Kiln", "KilnServer", "KilnCompiler", "KilnCPU", "KilnCUDA", "KilnGraph", "KilnTensor", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "KilnTensorTests", dependencies: ["KilnTensor"]),
        .testTarget(name: "KilnCheckpointTests", dependencies: ["KilnCheckpoint"]),
        .testTarget(name: "KilnGraphTests", dependencies: ["KilnGraph"]),
        .testTarget(name: "KilnModelsTests", dependencies: ["KilnModels"]),
        .testTarget(name: "KilnCompilerTests", dependencies: ["KilnCompiler", "KilnCPU", "KilnGraph"]),
        .testTarget(name: "KilnCPUTests", dependencies: ["KilnCPU", "KilnGraph"]),
        .testTarget(name: "KilnRuntimeTests", dependencies: ["KilnRuntime", "KilnGraph", "KilnTensor"]),
        .testTarget(name: "KilnTokenizersTests", dependencies: ["KilnTokenizers"]),
        .testTarget(name: "KilnServerTests", dependencies: [
            "KilnServer", "Kiln", "KilnRuntime",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "KilnTests", dependencies: ["Kiln", "KilnCheckpoint", "KilnCompiler", "KilnCPU", "KilnCUDA", "KilnGraph", "KilnModels", "KilnTensor"]),
    ]
)
