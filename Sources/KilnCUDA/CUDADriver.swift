// The CUDA driver API, opened from libcuda: initialization and what each GPU is.

/// A visible GPU.
public struct GPUInfo: Sendable, Equatable {
    public let index: Int
    public let name: String
    /// Compute capability, e.g. (9, 0) for Hopper.
    public let computeCapability: (major: Int, minor: Int)
    public let memoryBytes: Int
    public let multiprocessors: Int

    public static func == (a: GPUInfo, b: GPUInfo) -> Bool {
        a.index == b.index && a.name == b.name && a.computeCapability == b.computeCapability && a.memoryBytes == b.memoryBytes
    }

    /// `sm_90` and the like: what NVRTC compiles for.
    public var smArchitecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }
}

/// The driver API's entry points Kiln uses.
public final class CUDADriver: Sendable {
    public let library: CUDALibrary
    private let getErrorName: @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32
    private let driverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    private let deviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    private let deviceGet: @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private let deviceGetName: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32
    private let deviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> Int32
    private let deviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>?, Int32) -> Int32

    /// Opens libcuda and initializes the driver.
    public init() throws(CUDAError) {
        let (opened, tried) = CUDALibrary.open(.driver)
        guard let library = opened else { throw .libraryMissing(.driver, tried: tried) }
        self.library = library
        getErrorName = try library.function("cuGetErrorName", as: (@convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32).self)
        driverGetVersion = try library.function("cuDriverGetVersion", as: (@convention(c) (UnsafeMutablePointer<Int32>?) -> Int32).self)
        deviceGetCount = try library.function("cuDeviceGetCount", as: (@convention(c) (UnsafeMutablePointer<Int32>?) -> Int32).self)
        deviceGet = try library.function("cuDeviceGet", as: (@convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32).self)
        deviceGetName = try library.function("cuDeviceGetName", as: (@convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32).self)
        deviceGetAttribute = try library.function("cuDeviceGetAttribute", as: (@convention(c) (UnsafeMutablePointer<Int32>?, Int32, Int32) -> Int32).self)
        deviceTotalMem = try library.function("cuDeviceTotalMem_v2", as: (@convention(c) (UnsafeMutablePointer<Int>?, Int32) -> Int32).self)
        let initialize = try library.function("cuInit", as: (@convention(c) (UInt32) -> Int32).self)
        try check(initialize(0), "cuInit")
    }

    /// Throws the driver's name for `code` unless it is success.
    func check(_ code: Int32, _ call: String) throws(CUDAError) {
        guard code != 0 else { return }
        var name: UnsafePointer<CChar>?
        let known = getErrorName(code, &name) == 0 && name != nil
        throw .driver(call: call, code: code, name: known ? String(cString: name!) : "CUDA error")
    }

    /// The driver's CUDA version, e.g. "13.0".
    public func version() throws(CUDAError) -> String {
        var version: Int32 = 0
        try check(driverGetVersion(&version), "cuDriverGetVersion")
        return "\(version / 1000).\(version % 1000 / 10)"
    }

    /// Every visible GPU.
    public func devices() throws(CUDAError) -> [GPUInfo] {
        var count: Int32 = 0
        try check(deviceGetCount(&count), "cuDeviceGetCount")
        var result: [GPUInfo] = []
        for index in 0..<count {
            var device: Int32 = 0
            try check(deviceGet(&device, index), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(deviceGetName(&name, 256, device), "cuDeviceGetName")
            func attribute(_ id: Int32, _ label: String) throws(CUDAError) -> Int {
                var value: Int32 = 0
                try check(deviceGetAttribute(&value, id, device), "cuDeviceGetAttribute(\(label))")
                return Int(value)
            }
            var memory = 0
            try check(deviceTotalMem(&memory, device), "cuDeviceTotalMem")
            // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76, MULTIPROCESSOR_COUNT = 16
            result.append(GPUInfo(index: Int(index), name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                  computeCapability: (try attribute(75, "compute capability major"), try attribute(76, "compute capability minor")),
                                  memoryBytes: memory, multiprocessors: try attribute(16, "multiprocessors")))
        }
        return result
    }
}
