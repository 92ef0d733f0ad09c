// One GPU with its primary context and the stream every Kiln kernel runs on: device memory,
// copies, kernel launches, timing events and CUDA graphs, each checked and turned into a
// Swift error that names the call.

#if canImport(Glibc)
import Glibc
#endif

/// Device memory owned by Swift: freed when the last reference goes.
public final class DeviceBuffer: @unchecked Sendable {
    public let address: UInt64
    public let byteCount: Int
    private let device: CUDADevice

    fileprivate init(address: UInt64, byteCount: Int, device: CUDADevice) {
        self.address = address
        self.byteCount = byteCount
        self.device = device
    }

    deinit { _ = device.driver.api.memFree(address) }
}

/// Host memory the GPU copies from and to at full speed (page-locked).
final class PinnedBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// Where kernels read and write it.
    let deviceAddress: UInt64
    private let device: CUDADevice

    init(byteCount: Int, device: CUDADevice) throws(CUDAError) {
        var pointer: UnsafeMutableRawPointer?
        try device.checked(device.driver.api.memAllocHost(&pointer, max(byteCount, 64)), "cuMemAllocHost(\(byteCount) bytes)")
        base = pointer!
        var address: UInt64 = 0
        try device.checked(device.driver.api.memHostGetDevicePointer(&address, pointer, 0), "cuMemHostGetDevicePointer")
        deviceAddress = address
        self.byteCount = byteCount
        self.device = device
    }

    deinit { _ = device.driver.api.memFreeHost(base) }
}

/// A kernel argument as the launch passes it: by value, 8 bytes at most.
public enum KernelArgument: Sendable {
    case pointer(UInt64)
    case int(Int32)
    case float(Float)
}

/// A compiled kernel ready to launch.
public struct KernelFunction: @unchecked Sendable {
    let handle: OpaquePointer
    public let name: String
    /// Whether the kernel waits for the previous kernel's writes itself
    /// (`griddepcontrol.wait`), so it may be launched before that kernel ends.
    let waitsForPriorGrid: Bool
}

/// A GPU, its primary context and Kiln's stream on it.
///
/// Invariant: every call makes the context current on the calling thread first, so a
/// device may be used from any thread (one at a time: callers serialize their steps).
public final class CUDADevice: @unchecked Sendable {
    public let driver: CUDADriver
    public let info: GPUInfo
    private let context: OpaquePointer
    let stream: OpaquePointer

    /// Opens GPU `index` (0: the first visible one).
    public init(driver: CUDADriver? = nil, index: Int = 0) throws(CUDAError) {
        let opened: CUDADriver
        if let driver { opened = driver } else { opened = try CUDADriver() }
        let driver = opened
        let devices = try driver.devices()
        guard index < devices.count else { throw .driver(call: "cuDeviceGet(\(index))", code: 100, name: "CUDA_ERROR_NO_DEVICE") }
        self.driver = driver
        info = devices[index]
        var device: Int32 = 0
        try driver.check(driver.api.deviceGet(&device, Int32(index)), "cuDeviceGet")
        var context: Handle?
        try driver.check(driver.api.primaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain")
        try driver.check(driver.api.ctxSetCurrent(context), "cuCtxSetCurrent")
        var stream: Handle?
        try driver.check(driver.api.streamCreate(&stream, 1), "cuStreamCreate")  // non-blocking
        self.context = context!
        self.stream = stream!
    }

    func checked(_ code: Int32, _ call: @autoclosure () -> String) throws(CUDAError) {
        try driver.check(code, call())
    }

    /// Makes this device's context current on the calling thread.
    public func makeCurrent() throws(CUDAError) {
        try checked(driver.api.ctxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Free and total bytes of device memory.
    public func memoryInfo() throws(CUDAError) -> (free: Int, total: Int) {
        try makeCurrent()
        var free = 0, total = 0
        try checked(driver.api.memGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// `byteCount` bytes of device memory, or an out-of-memory error with the numbers.
    public func allocate(_ byteCount: Int, purpose: String) throws(CUDAError) -> DeviceBuffer {
        try makeCurrent()
        var address: CUdeviceptr = 0
        let code = driver.api.memAlloc(&address, max(byteCount, 256))
        if code == 2 {  // CUDA_ERROR_OUT_OF_MEMORY
            let free = (try? memoryInfo().free) ?? 0
            throw .outOfMemory(purpose: purpose, requested: byteCount, free: free)
        }
        try checked(code, "cuMemAlloc(\(byteCount) bytes for \(purpose))")
        return DeviceBuffer(address: address, byteCount: byteCount, device: self)
    }

    /// Copies host bytes to device memory (ordered on the stream; the source must stay
    /// alive until the stream reaches the copy: call `synchronize` before freeing it).
    public func upload(_ bytes: UnsafeRawBufferPointer, to address: UInt64) throws(CUDAError) {
        guard bytes.count > 0 else { return }
        try checked(driver.api.memcpyHtoDAsync(address, bytes.baseAddress, bytes.count, stream), "cuMemcpyHtoDAsync(\(bytes.count) bytes)")
    }

    /// Copies device bytes into host memory and waits for them.
    public func download(from address: UInt64, into bytes: UnsafeMutableRawBufferPointer) throws(CUDAError) {
        guard bytes.count > 0 else { return }
        try checked(driver.api.memcpyDtoHAsync(bytes.baseAddress, address, bytes.count, stream), "cuMemcpyDtoHAsync(\(bytes.count) bytes)")
        try synchronize()
    }

    func downloadAsync(from address: UInt64, into base: UnsafeMutableRawPointer, count: Int) throws(CUDAError) {
        try checked(driver.api.memcpyDtoHAsync(base, address, count, stream), "cuMemcpyDtoHAsync(\(count) bytes)")
    }

    public func fill(_ address: UInt64, byte: UInt8, count: Int) throws(CUDAError) {
        try checked(driver.api.memsetD8Async(address, byte, count, stream), "cuMemsetD8Async(\(count) bytes)")
    }

    /// Waits until every queued copy and kernel is done; reports a kernel's fault here.
    public func synchronize() throws(CUDAError) {
        try checked(driver.api.streamSynchronize(stream), "cuStreamSynchronize (a kernel or copy before it failed)")
    }

    /// Loads a compiled module (cubin) and looks up `names`.
    public func loadKernels(cubin: [UInt8], names: [String], waitForPriorGrid: Bool = false) throws(CUDAError) -> [String: KernelFunction] {
        try makeCurrent()
        var module: Handle?
        let loaded = cubin.withUnsafeBytes { driver.api.moduleLoadData(&module, $0.baseAddress) }
        try checked(loaded, "cuModuleLoadData")
        var functions: [String: KernelFunction] = [:]
        for name in names {
            var function: Handle?
            try checked(driver.api.moduleGetFunction(&function, module, name), "cuModuleGetFunction(\(name))")
            functions[name] = KernelFunction(handle: function!, name: name, waitsForPriorGrid: waitForPriorGrid)
        }
        return functions
    }

    /// Lets `kernel` use up to `bytes` of dynamic shared memory (above the default 48 KiB).
    public func allowSharedMemory(_ kernel: KernelFunction, bytes: Int) throws(CUDAError) {
        // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
        try checked(driver.api.funcSetAttribute(kernel.handle, 8, Int32(bytes)), "cuFuncSetAttribute(\(kernel.name), shared \(bytes))")
    }

    /// Whether Kiln's kernels are launched with programmatic dependent launch: on Hopper and
    /// later, each is scheduled while the previous one drains (it waits for its inputs in
    /// the kernel), which hides most of the gap between small kernels.
    /// `KILN_NO_PDL=1` turns it off (for comparisons).
    public var programmaticLaunch: Bool { info.computeCapability.major >= 9 && getenv("KILN_NO_PDL") == nil }

    /// Whether kernels launch blocks that work together as thread block clusters (Hopper and
    /// later), which combine their results through each other's shared memory: a decode
    /// token's attention splits, a sampled row's slices of the vocabulary.
    /// `KILN_NO_CLUSTERS=1` turns them off (attention merges through global memory, sampling
    /// takes a block a row; for comparisons).
    public var usesClusters: Bool { info.computeCapability.major >= 9 && getenv("KILN_NO_CLUSTERS") == nil }

    /// Whether decode attention is also compiled for the model's head size and cache block
    /// size, which one-row decode steps then take (the kernel that takes any shape serves the
    /// rest). `KILN_GENERIC_ATTENTION=1` keeps only the latter (for comparisons).
    public var specializesDecodeAttention: Bool { getenv("KILN_GENERIC_ATTENTION") == nil }

    /// The most blocks a cluster may have on every GPU that has clusters (the portable size).
    public static let portableClusterBlocks = 8

    /// The most blocks a decode token's attention splits take as one cluster: the portable 8,
    /// unless `KILN_ATTENTION_CLUSTER_BLOCKS` asks for 2–16 (above 8, a non-portable size
    /// Hopper allows; for comparisons).
    public var attentionClusterBlocks: Int {
        guard let text = getenv("KILN_ATTENTION_CLUSTER_BLOCKS"), let blocks = Int(String(cString: text)), (2...16).contains(blocks) else {
            return Self.portableClusterBlocks
        }
        return blocks
    }

    /// Lets `kernel` launch clusters larger than the portable size.
    public func allowNonPortableClusters(_ kernel: KernelFunction) throws(CUDAError) {
        // CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14
        try checked(driver.api.funcSetAttribute(kernel.handle, 14, 1), "cuFuncSetAttribute(\(kernel.name), non-portable clusters)")
    }

    /// `KILN_SPLIT_DECODE_ATTENTION=1` keeps every decode step on the split-K decode kernel,
    /// also where the tokens fill the GPU and the tensor-core kernel takes them (for comparisons).
    public var prefersSplitDecodeAttention: Bool { getenv("KILN_SPLIT_DECODE_ATTENTION") != nil }

    /// Queues `kernel` on the stream. `cluster`: blocks launched together as one thread block
    /// cluster (Hopper and later; the grid a multiple of it), which share their shared memory.
    public func launch(_ kernel: KernelFunction, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                       cluster: (Int, Int, Int)? = nil, _ arguments: [KernelArgument]) throws(CUDAError) {
        guard grid.0 > 0 && grid.1 > 0 && grid.2 > 0 else { return }
        let count = arguments.count
        let values = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 8, alignment: 8)
        defer { values.deallocate() }
        let slots = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(count, 1))
        defer { slots.deallocate() }
        for (i, argument) in arguments.enumerated() {
            let slot = values + i * 8
            switch argument {
            case .pointer(let address): slot.storeBytes(of: address, as: UInt64.self)
            case .int(let value): slot.storeBytes(of: value, as: Int32.self)
            case .float(let value): slot.storeBytes(of: value, as: Float.self)
            }
            slots[i] = slot
        }
        // CUlaunchAttribute (72 bytes: id, padding, a 64-byte value):
        // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (6) = 1, CLUSTER_DIMENSION (4) = x, y, z
        var attributes: [(id: UInt32, values: [UInt32])] = []
        if programmaticLaunch && kernel.waitsForPriorGrid { attributes.append((6, [1])) }
        if let cluster { attributes.append((4, [UInt32(cluster.0), UInt32(cluster.1), UInt32(cluster.2)])) }
        let code: Int32
        if !attributes.isEmpty {
            // CUlaunchConfig (56 bytes), then its attributes
            let bytes = 56 + 72 * attributes.count
            let config = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
            defer { config.deallocate() }
            config.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            for (i, value) in [grid.0, grid.1, grid.2, block.0, block.1, block.2, sharedBytes].enumerated() {
                config.storeBytes(of: UInt32(value), toByteOffset: i * 4, as: UInt32.self)
            }
            config.storeBytes(of: UnsafeRawPointer(stream), toByteOffset: 32, as: UnsafeRawPointer.self)
            config.storeBytes(of: UnsafeRawPointer(config + 56), toByteOffset: 40, as: UnsafeRawPointer.self)
            config.storeBytes(of: UInt32(attributes.count), toByteOffset: 48, as: UInt32.self)
            for (i, attribute) in attributes.enumerated() {
                let base = 56 + 72 * i
                config.storeBytes(of: attribute.id, toByteOffset: base, as: UInt32.self)
                for (j, value) in attribute.values.enumerated() { config.storeBytes(of: value, toByteOffset: base + 8 + 4 * j, as: UInt32.self) }
            }
            code = driver.api.launchKernelEx(config, kernel.handle, slots, nil)
        } else {
            code = driver.api.launchKernel(kernel.handle, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                                           UInt32(block.0), UInt32(block.1), UInt32(block.2), UInt32(sharedBytes), stream, slots, nil)
        }
        try checked(code, "cuLaunchKernel(\(kernel.name), grid \(grid), block \(block))")
    }

    /// Milliseconds the GPU spends on `work` (queued on the stream), measured with events.
    public func time(_ work: () throws -> Void) throws -> Double {
        try makeCurrent()
        let start = try CUDAEvent(device: self), end = try CUDAEvent(device: self)
        try start.record()
        try work()
        try end.record()
        return try end.milliseconds(since: start)
    }

    /// Records what `work` queues on the stream as a CUDA graph instead of running it.
    public func capture(_ work: () throws -> Void) throws -> CUDAGraph {
        try makeCurrent()
        try checked(driver.api.streamBeginCapture(stream, 2), "cuStreamBeginCapture")  // relaxed: other threads may allocate
        var graph: Handle?
        do { try work() } catch {
            _ = driver.api.streamEndCapture(stream, &graph)
            if graph != nil { _ = driver.api.graphDestroy(graph) }
            throw error
        }
        try checked(driver.api.streamEndCapture(stream, &graph), "cuStreamEndCapture")
        defer { _ = driver.api.graphDestroy(graph) }
        var exec: Handle?
        try checked(driver.api.graphInstantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags")
        return CUDAGraph(exec: exec!, device: self)
    }
}

/// An instantiated CUDA graph: a recorded sequence of launches replayed with one call.
public final class CUDAGraph: @unchecked Sendable {
    private let exec: OpaquePointer
    private let device: CUDADevice

    fileprivate init(exec: OpaquePointer, device: CUDADevice) {
        self.exec = exec
        self.device = device
    }

    /// Queues the whole graph on the device's stream.
    public func launch() throws(CUDAError) {
        try device.checked(device.driver.api.graphLaunch(exec, device.stream), "cuGraphLaunch")
    }

    deinit { _ = device.driver.api.graphExecDestroy(exec) }
}

/// A point in the stream's work: for timing on the GPU's clock, or for waiting until the
/// stream has passed it.
public final class CUDAEvent: @unchecked Sendable {
    private let handle: OpaquePointer
    private let device: CUDADevice

    /// `timing`: whether the event can be timed (events only waited for are cheaper without).
    public init(device: CUDADevice, timing: Bool = true) throws(CUDAError) {
        var event: Handle?
        // CU_EVENT_DISABLE_TIMING = 2
        try device.checked(device.driver.api.eventCreate(&event, timing ? 0 : 2), "cuEventCreate")
        handle = event!
        self.device = device
    }

    /// Marks the point the stream has reached. While the stream is captured, `inGraph`
    /// makes the mark a node of the graph (CU_EVENT_RECORD_EXTERNAL), timed at each replay.
    public func record(inGraph: Bool = false) throws(CUDAError) {
        try device.checked(device.driver.api.eventRecordWithFlags(handle, device.stream, inGraph ? 1 : 0), "cuEventRecordWithFlags")
    }

    /// Waits until the stream has passed the point recorded last.
    public func synchronize() throws(CUDAError) {
        try device.checked(device.driver.api.eventSynchronize(handle), "cuEventSynchronize (a kernel or copy before it failed)")
    }

    /// Milliseconds from `earlier` to this event (waits for this one).
    public func milliseconds(since earlier: CUDAEvent) throws(CUDAError) -> Double {
        try device.checked(device.driver.api.eventSynchronize(handle), "cuEventSynchronize")
        var milliseconds: Float = 0
        try device.checked(device.driver.api.eventElapsedTime(&milliseconds, earlier.handle, handle), "cuEventElapsedTime")
        return Double(milliseconds)
    }

    deinit { _ = device.driver.api.eventDestroy(handle) }
}
