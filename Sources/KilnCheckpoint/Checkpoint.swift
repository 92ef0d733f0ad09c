// A model's weights as one set of named tensors, whether they sit in one safetensors
// file, in shards listed by an index, or in loose files.

import KilnTensor

/// All the tensors of a model checkpoint folder.
public struct Checkpoint: Sendable {
    public let files: [SafetensorsFile]
    /// Sorted.
    public let tensorNames: [String]
    private let fileOfTensor: [String: Int]
    /// What errors about a missing tensor name: the index, the single file or the folder.
    private let source: String

    /// Combines files whose tensor names must not repeat.
    public init(files: [SafetensorsFile]) throws(SafetensorsError) {
        try self.init(files: files, source: files.map(\.path).joined(separator: ", "))
    }

    private init(files: [SafetensorsFile], source: String) throws(SafetensorsError) {
        var fileOfTensor: [String: Int] = [:]
        for (index, file) in files.enumerated() {
            for name in file.tensorNames {
                if let earlier = fileOfTensor.updateValue(index, forKey: name) {
                    throw .duplicateTensor(name: name, files: [files[earlier].path, file.path])
                }
            }
        }
        self.init(files: files, fileOfTensor: fileOfTensor, source: source)
    }

    private init(files: [SafetensorsFile], fileOfTensor: [String: Int], source: String) {
        self.files = files
        self.fileOfTensor = fileOfTensor
        self.tensorNames = fileOfTensor.keys.sorted()
        self.source = source
    }

    /// Opens the weights in `directory`, preferring `model.safetensors.index.json`, then
    /// `model.safetensors`, then every `*.safetensors` file there.
    public static func open(directory: String) throws(SafetensorsError) -> Checkpoint {
        let index = joinPath(directory, "model.safetensors.index.json")
        if isRegularFile(index) { return try open(index: index, directory: directory) }
        let single = joinPath(directory, "model.safetensors")
        if isRegularFile(single) { return try Checkpoint(files: [SafetensorsFile(path: single)], source: single) }

        let names = try directoryEntries(directory).filter {
            $0.hasSuffix(".safetensors") && isRegularFile(joinPath(directory, $0))
        }
        guard !names.isEmpty else { throw .noWeights(directory: directory) }
        var files: [SafetensorsFile] = []
        for name in names.sorted() { files.append(try SafetensorsFile(path: joinPath(directory, name))) }
        return try Checkpoint(files: files, source: directory)
    }

    /// The index's `weight_map` decides which shard each tensor comes from; tensors a
    /// shard holds beyond it are not part of the checkpoint.
    private static func open(index: String, directory: String) throws(SafetensorsError) -> Checkpoint {
        let mapping = try MappedFile(path: index)
        let root: Lenient<IndexDocument>
        switch decodeJSON(Lenient<IndexDocument>.self, from: mapping.bytes) {
        case .success(let value): root = value
        case .failure(let failure): throw .invalidIndex(file: index, reason: "is not valid JSON (\(failure.reason))")
        }
        guard case .expected(let document) = root, let weightMap = document.weightMap else {
            throw .invalidIndex(file: index, reason: "has no 'weight_map' object")
        }
        let shardOfTensor: [String: String]
        switch weightMap {
        case .expected(let names): shardOfTensor = names
        case .other(let value): shardOfTensor = try shardNames(value, index: index)
        }
        guard !shardOfTensor.isEmpty else { throw .invalidIndex(file: index, reason: "has an empty 'weight_map'") }

        let shards = Set(shardOfTensor.values).sorted()
        var files: [SafetensorsFile] = []
        for shard in shards {
            let path = joinPath(directory, shard)
            guard isRegularFile(path) else { throw .missingShard(index: index, shard: shard) }
            files.append(try SafetensorsFile(path: path))
        }
        let fileOfShard = Dictionary(uniqueKeysWithValues: zip(shards, shards.indices))
        var fileOfTensor: [String: Int] = [:]
        for (name, shard) in shardOfTensor.sorted(by: { $0.key < $1.key }) {
            let fileIndex = fileOfShard[shard]!
            guard files[fileIndex].info(named: name) != nil else {
                throw .invalidIndex(file: index, reason: "maps tensor '\(name)' to shard '\(shard)', which does not contain it")
            }
            fileOfTensor[name] = fileIndex
        }
        return Checkpoint(files: files, fileOfTensor: fileOfTensor, source: index)
    }

    /// Explains why `weightMap` is not a map from tensor names to shard file names, or
    /// extracts one when only JSONDecoder's strictness rejected it.
    private static func shardNames(_ weightMap: JSONValue, index: String) throws(SafetensorsError) -> [String: String] {
        guard case .object(let members) = weightMap else {
            throw .invalidIndex(file: index, reason: "has a 'weight_map' that is a JSON \(weightMap.kind), not an object")
        }
        var shardOfTensor: [String: String] = [:]
        for (name, value) in members {
            guard case .string(let shard) = value else {
                throw .invalidIndex(file: index, reason: "maps tensor '\(name)' to \(value), not a shard file name")
            }
            shardOfTensor[name] = shard
        }
        return shardOfTensor
    }

    public func info(named name: String) -> TensorInfo? {
        fileOfTensor[name].flatMap { files[$0].info(named: name) }
    }

    /// A zero-copy view of the tensor in its file's mapping.
    public func tensor(named name: String) throws(SafetensorsError) -> HostTensor {
        guard let fileIndex = fileOfTensor[name] else { throw .missingTensor(name: name, file: source) }
        return try files[fileIndex].tensor(named: name)
    }
}

/// The part of `model.safetensors.index.json` Kiln reads.
private struct IndexDocument: Decodable {
    let weightMap: Lenient<[String: String]>?

    private enum CodingKeys: String, CodingKey {
        case weightMap = "weight_map"
    }
}
