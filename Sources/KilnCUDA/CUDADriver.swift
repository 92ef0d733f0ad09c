// The CUDA driver API, opened from libcuda: initialization, what each GPU is, and the
// entry points the backend runs on (context, memory, modules, launches, streams, events,
// graphs).

/// A visible GPU.
public struct GPUInfo: Sendable, Equatable {
    public let index: Int
    public let name: String
    /// Compute capability, e.g. (9, 0) for Hopper.
    public let computeCapability: (major: Int, minor: Int)
    public let memoryBytes: Int
    public let multiprocessors: Int
    /// Bytes of L2 cache.
    public let l2CacheBytes: Int

    public static func == (a: GPUInfo, b: GPUInfo) -> Bool {
        a.index == b.index && a.name == b.name && a.computeCapability == b.computeCapability && a.memoryBytes == b.memoryBytes
    }

    /// `sm_90` and the like: what NVRTC compiles for.
    public var smArchitecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }
}

typealias CUresult = Int32
typealias CUdeviceptr = UInt64
typealias Handle = OpaquePointer

/// The driver's functions, as C function pointers looked up once.
struct DriverFunctions: @unchecked Sendable {
    let getErrorName: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> CUresult
    let driverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>?) -> CUresult
    let deviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>?) -> CUresult
    let deviceGet: @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> CUresult
    let deviceGetName: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> CUresult
    let deviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> CUresult
    let deviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>?, Int32) -> CUresult
    let primaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle?>?, Int32) -> CUresult
    let ctxSetCurrent: @convention(c) (Handle?) -> CUresult
    let memGetInfo: @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> CUresult
    let memAlloc: @convention(c) (UnsafeMutablePointer<CUdeviceptr>?, Int) -> CUresult
    let memFree: @convention(c) (CUdeviceptr) -> CUresult
    let memAllocHost: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int) -> CUresult
    let memFreeHost: @convention(c) (UnsafeMutableRawPointer?) -> CUresult
    let memHostGetDevicePointer: @convention(c) (UnsafeMutablePointer<CUdeviceptr>?, UnsafeMutableRawPointer?, UInt32) -> CUresult
    let memcpyHtoDAsync: @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int, Handle?) -> CUresult
    let memcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer?, CUdeviceptr, Int, Handle?) -> CUresult
    let memcpyDtoDAsync: @convention(c) (CUdeviceptr, CUdeviceptr, Int, Handle?) -> CUresult
    let memsetD8Async: @convention(c) (CUdeviceptr, UInt8, Int, Handle?) -> CUresult
    let moduleLoadData: @convention(c) (UnsafeMutablePointer<Handle?>?, UnsafeRawPointer?) -> CUresult
    let moduleGetFunction: @convention(c) (UnsafeMutablePointer<Handle?>?, Handle?, UnsafePointer<CChar>?) -> CUresult
    let funcSetAttribute: @convention(c) (Handle?, Int32, Int32) -> CUresult
    let launchKernel: @convention(c) (Handle?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle?,
                                      UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
    let launchKernelEx: @convention(c) (UnsafeRawPointer?, Handle?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
    let streamCreate: @convention(c) (UnsafeMutablePointer<Handle?>?, UInt32) -> CUresult
    let streamSynchronize: @convention(c) (Handle?) -> CUresult
    let eventCreate: @convention(c) (UnsafeMutablePointer<Handle?>?, UInt32) -> CUresult
    let eventRecord: @convention(c) (Handle?, Handle?) -> CUresult
    let eventRecordWithFlags: @convention(c) (Handle?, Handle?, UInt32) -> CUresult
    let eventSynchronize: @convention(c) (Handle?) -> CUresult
    let eventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>?, Handle?, Handle?) -> CUresult
    let eventDestroy: @convention(c) (Handle?) -> CUresult
    let streamBeginCapture: @convention(c) (Handle?, Int32) -> CUresult
    let streamEndCapture: @convention(c) (Handle?, UnsafeMutablePointer<Handle?>?) -> CUresult
    let graphInstantiate: @convention(c) (UnsafeMutablePointer<Handle?>?, Handle?, UInt64) -> CUresult
    let graphLaunch: @convention(c) (Handle?, Handle?) -> CUresult
    let graphDestroy: @convention(c) (Handle?) -> CUresult
    let graphExecDestroy: @convention(c) (Handle?) -> CUresult

    init(_ library: CUDALibrary) throws(CUDAError) {
        func f<T>(_ name: String, _ type: T.Type = T.self) throws(CUDAError) -> T { try library.function(name, as: type) }
        getErrorName = try f("cuGetErrorName")
        driverGetVersion = try f("cuDriverGetVersion")
        deviceGetCount = try f("cuDeviceGetCount")
        deviceGet = try f("cuDeviceGet")
        deviceGetName = try f("cuDeviceGetName")
        deviceGetAttribute = try f("cuDeviceGetAttribute")
        deviceTotalMem = try f("cuDeviceTotalMem_v2")
        primaryCtxRetain = try f("cuDevicePrimaryCtxRetain")
        ctxSetCurrent = try f("cuCtxSetCurrent")
        memGetInfo = try f("cuMemGetInfo_v2")
        memAlloc = try f("cuMemAlloc_v2")
        memFree = try f("cuMemFree_v2")
        memAllocHost = try f("cuMemAllocHost_v2")
        memFreeHost = try f("cuMemFreeHost")
        memHostGetDevicePointer = try f("cuMemHostGetDevicePointer_v2")
        memcpyHtoDAsync = try f("cuMemcpyHtoDAsync_v2")
        memcpyDtoHAsync = try f("cuMemcpyDtoHAsync_v2")
        memcpyDtoDAsync = try f("cuMemcpyDtoDAsync_v2")
        memsetD8Async = try f("cuMemsetD8Async")
        moduleLoadData = try f("cuModuleLoadData")
        moduleGetFunction = try f("cuModuleGetFunction")
        funcSetAttribute = try f("cuFuncSetAttribute")
        launchKernel = try f("cuLaunchKernel")
        launchKernelEx = try f("cuLaunchKernelEx")
        streamCreate = try f("cuStreamCreate")
        streamSynchronize = try f("cuStreamSynchronize")
        eventCreate = try f("cuEventCreate")
        eventRecord = try f("cuEventRecord")
        eventRecordWithFlags = try f("cuEventRecordWithFlags")
        eventSynchronize = try f("cuEventSynchronize")
        eventElapsedTime = try f("cuEventElapsedTime_v2")
        eventDestroy = try f("cuEventDestroy_v2")
        streamBeginCapture = try f("cuStreamBeginCapture_v2")
        streamEndCapture = try f("cuStreamEndCapture")
        graphInstantiate = try f("cuGraphInstantiateWithFlags")
        graphLaunch = try f("cuGraphLaunch")
        graphDestroy = try f("cuGraphDestroy")
        graphExecDestroy = try f("cuGraphExecDestroy")
    }
}

/// The driver API's entry points Kiln uses.
public final class CUDADriver: Sendable {
    public let library: CUDALibrary
    let api: DriverFunctions

    /// Opens libcuda and initializes the driver.
    public init() throws(CUDAError) {
        let (opened, tried) = CUDALibrary.open(.driver)
        guard let library = opened else { throw .libraryMissing(.driver, tried: tried) }
        self.library = library
        // cuGetErrorName and cuInit first: a driver too old for the rest still explains itself
        api = try DriverFunctions(library)
        let initialize = try library.function("cuInit", as: (@convention(c) (UInt32) -> Int32).self)
        try check(initialize(0), "cuInit")
    }

    /// Throws the driver's name for `code` unless it is success.
    func check(_ code: CUresult, _ call: @autoclosure () -> String) throws(CUDAError) {
        guard code != 0 else { return }
        var name: UnsafePointer<CChar>?
        let known = api.getErrorName(code, &name) == 0 && name != nil
        throw .driver(call: call(), code: code, name: known ? String(cString: name!) : "CUDA error")
    }

    /// The driver's CUDA version, e.g. "13.0".
    public func version() throws(CUDAError) -> String {
        var version: Int32 = 0
        try check(api.driverGetVersion(&version), "cuDriverGetVersion")
        return "\(version / 1000).\(version % 1000 / 10)"
    }

    /// Every visible GPU.
    public func devices() throws(CUDAError) -> [GPUInfo] {
        var count: Int32 = 0
        try check(api.deviceGetCount(&count), "cuDeviceGetCount")
        var result: [GPUInfo] = []
        for index in 0..<count {
            var device: Int32 = 0
            try check(api.deviceGet(&device, index), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(api.deviceGetName(&name, 256, device), "cuDeviceGetName")
            func attribute(_ id: Int32, _ label: String) throws(CUDAError) -> Int {
                var value: Int32 = 0
                try check(api.deviceGetAttribute(&value, id, device), "cuDeviceGetAttribute(\(label))")
                return Int(value)
            }
            var memory = 0
            try check(api.deviceTotalMem(&memory, device), "cuDeviceTotalMem")
            // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76, MULTIPROCESSOR_COUNT = 16, L2_CACHE_SIZE = 38
            result.append(GPUInfo(index: Int(index), name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                  computeCapability: (try attribute(75, "compute capability major"), try attribute(76, "compute capability minor")),
                                  memoryBytes: memory, multiprocessors: try attribute(16, "multiprocessors"),
                                  l2CacheBytes: try attribute(38, "L2 cache size")))
        }
        return result
    }
}
