// The engine on disk: a versioned JSON header (build options, device, the built graphs, the
// weight table) and one weights file with every tensor page-aligned, memory-mapped at load.

import FoundationEssentials
import KilnCheckpoint
import KilnGraph
import KilnTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A built model as it is saved and loaded.
public struct Engine {
    public static let formatVersion = 2
    public static let headerFile = "engine.json"
    public static let weightsFile = "weights.bin"

    public var header: EngineHeader
    /// The graph for generation (last-token logits).
    public var generateGraph: Graph
    /// The graph for prompt scoring (logits at every token).
    public var promptLogitsGraph: Graph
    public var weights: [String: HostTensor]

    public init(header: EngineHeader, generateGraph: Graph, promptLogitsGraph: Graph, weights: [String: HostTensor]) {
        self.header = header
        self.generateGraph = generateGraph
        self.promptLogitsGraph = promptLogitsGraph
        self.weights = weights
    }

    /// Writes `engine.json` and `weights.bin` into `directory` (created if needed).
    public func save(to directory: String) throws(EngineError) {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .cannotWrite(file: directory, reason: "\(error)")
        }
        var header = header
        let weightsPath = directory + "/" + Self.weightsFile
        (header.weights, header.weightsBytes, header.weightsChecksum) = try Self.writeWeights(weights, to: weightsPath)
        header.graphs = ["generate": EncodedGraph(generateGraph), "prompt_logits": EncodedGraph(promptLogitsGraph)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(header) } catch { throw .cannotWrite(file: directory + "/" + Self.headerFile, reason: "\(error)") }
        guard FileManager.default.createFile(atPath: directory + "/" + Self.headerFile, contents: data) else {
            throw .cannotWrite(file: directory + "/" + Self.headerFile, reason: "the folder is not writable")
        }
    }

    /// The backend an engine folder was built for, or nil when its header cannot be read
    /// (`load` then says why).
    public static func backend(of directory: String) -> String? {
        struct Probe: Decodable { var backend: String }
        return FileManager.default.contents(atPath: directory + "/" + headerFile).flatMap { try? JSONDecoder().decode(Probe.self, from: $0).backend }
    }

    /// Reads an engine, refusing another format version, another backend, a device
    /// architecture not among `architectures` (those this machine runs; nil reads an engine
    /// for any machine, e.g. to inspect it), a truncated or
    /// corrupt weights file. Weights stay memory-mapped.
    public static func load(from directory: String, backend: String, architectures: [String]?) throws(EngineError) -> Engine {
        let headerPath = directory + "/" + headerFile
        guard FileManager.default.fileExists(atPath: headerPath) else { throw .missing(file: headerPath) }
        guard let data = FileManager.default.contents(atPath: headerPath) else { throw .unreadable(file: headerPath, reason: "permission denied") }
        struct Probe: Decodable { var format: String?; var formatVersion: Int?
            enum CodingKeys: String, CodingKey { case format, formatVersion = "format_version" } }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: data), probe.format == EngineHeader.formatName else {
            throw .notAnEngine(file: headerPath)
        }
        guard probe.formatVersion == formatVersion else {
            throw .formatVersion(file: headerPath, found: probe.formatVersion ?? 0, supported: formatVersion)
        }
        let header: EngineHeader
        do { header = try JSONDecoder().decode(EngineHeader.self, from: data) } catch { throw .notAnEngine(file: headerPath) }
        guard header.backend == backend else { throw .backend(file: headerPath, built: header.backend, requested: backend) }
        if let architectures, !architectures.contains(header.architecture) {
            throw .device(file: headerPath, built: header.architecture, available: architectures)
        }
        guard let generate = header.graphs["generate"]?.validGraph, let logits = header.graphs["prompt_logits"]?.validGraph else {
            throw .notAnEngine(file: headerPath)
        }

        let weightsPath = directory + "/" + weightsFile
        let mapping: MappedFile
        do { mapping = try MappedFile(path: weightsPath) } catch {
            throw FileManager.default.fileExists(atPath: weightsPath) ? .unreadable(file: weightsPath, reason: "\(error)") : .missing(file: weightsPath)
        }
        guard mapping.bytes.count == header.weightsBytes else {
            throw .truncated(file: weightsPath, expectedBytes: header.weightsBytes, actualBytes: mapping.bytes.count)
        }
        guard checksum64(mapping.bytes) == header.weightsChecksum else { throw .checksum(file: weightsPath) }
        var weights: [String: HostTensor] = [:]
        for entry in header.weights {
            guard entry.offset >= 0, entry.offset + entry.bytes <= mapping.bytes.count,
                  entry.dtype.byteCount(elements: entry.shape.reduce(1, *)) == entry.bytes else { throw .notAnEngine(file: headerPath) }
            let storage = TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: mapping.bytes[entry.offset..<(entry.offset + entry.bytes)]), owner: mapping)
            weights[entry.name] = HostTensor(dtype: entry.dtype, shape: entry.shape, storage: storage)
        }
        return Engine(header: header, generateGraph: generate, promptLogitsGraph: logits, weights: weights)
    }

    /// Replaces the weights of the engine in `directory` with those made from `base` (the
    /// checkpoint's tensors; derived ones are rebuilt), which must have the same names,
    /// shapes and dtypes (the first mismatches are listed otherwise).
    public static func refit(_ directory: String, with base: [String: HostTensor], backend: String, architectures: [String]) throws(EngineError) {
        var engine = try load(from: directory, backend: backend, architectures: architectures)
        let weights = DerivedWeight.materialize(engine.header.weights.map(\.name), from: base)
        var mismatches: [String] = []
        for entry in engine.header.weights {
            guard let new = weights[entry.name] ?? nil else { mismatches.append("'\(entry.name)' is missing or cannot be derived"); continue }
            if new.shape != entry.shape || new.dtype != entry.dtype {
                mismatches.append("'\(entry.name)' is \(new.dtype) \(new.shape), the engine has \(entry.dtype) \(entry.shape)")
            }
        }
        guard mismatches.isEmpty else { throw .refitMismatch(engine: directory, mismatches: Array(mismatches.prefix(5))) }
        // copy the new bytes before the old mapping is replaced
        engine.weights = weights.compactMapValues { $0 }.mapValues { tensor in
            tensor.withUnsafeBytes { HostTensor(dtype: tensor.dtype, shape: tensor.shape, copying: $0) }
        }
        try engine.save(to: directory)
    }

    private static let alignment = 4096

    /// Writes each tensor at a page-aligned offset, through a temporary file and a rename.
    private static func writeWeights(_ weights: [String: HostTensor], to path: String) throws(EngineError) -> ([WeightEntry], Int, UInt64) {
        var entries: [WeightEntry] = []
        var offset = 0
        for name in weights.keys.sorted() {
            let tensor = weights[name]!
            entries.append(WeightEntry(name: name, dtype: tensor.dtype, shape: tensor.shape, offset: offset, bytes: tensor.byteCount))
            offset = (offset + tensor.byteCount + alignment - 1) / alignment * alignment
        }
        let total = entries.last.map { $0.offset + $0.bytes } ?? 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: alignment)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for entry in entries {
            weights[entry.name]!.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[entry.offset..<(entry.offset + entry.bytes)]).copyMemory(from: $0) }
        }
        let contents = UnsafeRawBufferPointer(rebasing: buffer[0..<total])
        let temporary = path + ".partial"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw .cannotWrite(file: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < total {
            let n = write(descriptor, contents.baseAddress! + written, total - written)
            guard n > 0 else {
                close(descriptor)
                throw .cannotWrite(file: path, reason: String(cString: strerror(errno)))
            }
            written += n
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw .cannotWrite(file: path, reason: String(cString: strerror(errno))) }
        return (entries, total, checksum64(contents))
    }
}

/// The engine's header (engine.json).
public struct EngineHeader: Codable, Sendable {
    static let formatName = "kiln-engine"

    public var format = EngineHeader.formatName
    public var formatVersion = Engine.formatVersion
    public var kilnVersion: String
    public var backend: String
    /// The device architecture the kernels were chosen for (e.g. `x86_64-simd512`); loading
    /// on a machine that cannot run it is refused.
    public var architecture: String
    /// The building machine, in words.
    public var device: String
    public var source: String
    public var disabledFusions: [String]
    /// The type float weights were stored in; nil kept the checkpoint's.
    public var weightType: DType?
    public var maxSequenceLength: Int
    public var tokensPerBlock: Int
    /// The largest step the activation arena is planned for.
    public var limits: StepLimits
    /// The kernels measured fastest on the building machine.
    public var kernels: KernelSelection
    public var numLayers: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var eosTokenIds: [Int]
    public var report: String
    public var graphs: [String: EncodedGraph] = [:]
    public var weights: [WeightEntry] = []
    public var weightsBytes = 0
    public var weightsChecksum: UInt64 = 0

    public init(kilnVersion: String, backend: String, architecture: String, device: String, source: String, disabledFusions: [String],
                weightType: DType?, maxSequenceLength: Int, tokensPerBlock: Int, limits: StepLimits, kernels: KernelSelection,
                numLayers: Int, numKVHeads: Int, headDim: Int, eosTokenIds: [Int], report: String) {
        self.kilnVersion = kilnVersion
        self.backend = backend
        self.architecture = architecture
        self.device = device
        self.source = source
        self.disabledFusions = disabledFusions
        self.weightType = weightType
        self.maxSequenceLength = maxSequenceLength
        self.tokensPerBlock = tokensPerBlock
        self.limits = limits
        self.kernels = kernels
        self.numLayers = numLayers
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.eosTokenIds = eosTokenIds
        self.report = report
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", kilnVersion = "kiln_version", backend, architecture, device, source
        case disabledFusions = "disabled_fusions", weightType = "weight_type", maxSequenceLength = "max_seq_len"
        case tokensPerBlock = "tokens_per_block", limits, kernels
        case numLayers = "num_layers", numKVHeads = "num_kv_heads", headDim = "head_dim", eosTokenIds = "eos_token_ids"
        case report, graphs, weights, weightsBytes = "weights_bytes", weightsChecksum = "weights_checksum"
    }
}

/// Where one weight lies in weights.bin.
public struct WeightEntry: Codable, Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let offset: Int
    public let bytes: Int
}

/// A graph as JSON: its nodes and outputs.
public struct EncodedGraph: Codable, Sendable {
    public let nodes: [Node]
    public let outputs: [Int]

    init(_ graph: Graph) {
        nodes = graph.nodes
        outputs = graph.outputs
    }

    /// The graph, or nil when the nodes do not form one (reading later nodes, outputs out of
    /// range, shapes that do not fit): a damaged header must fail cleanly, not crash.
    var validGraph: Graph? {
        guard nodes.enumerated().allSatisfy({ id, node in node.inputs.allSatisfy { (0..<id).contains($0) } }),
              !outputs.isEmpty, outputs.allSatisfy({ nodes.indices.contains($0) }) else { return nil }
        let graph = Graph(nodes: nodes, outputs: outputs)
        return (try? ShapeCheck().run(graph)) == nil ? nil : graph
    }
}
