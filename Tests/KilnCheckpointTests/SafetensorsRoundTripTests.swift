// Writing tensors and reading them back: bytes, shapes, metadata, layout and zero-copy views.

import FoundationEssentials
import Testing
@testable import KilnCheckpoint
import KilnTensor

@Suite final class SafetensorsRoundTripTests {
    let scratch: ScratchDirectory

    init() throws {
        scratch = try ScratchDirectory()
    }

    @Test(arguments: safetensorsDTypes)
    func everyDTypeRoundTripsBytesAndShape(dtype: DType) throws {
        let path = scratch.file("model.safetensors")
        let tensor = patterned(dtype, shape: [3, 5])
        try SafetensorsWriter.write([("weight", tensor)], to: path)

        let file = try SafetensorsFile(path: path)
        let read = try file.tensor(named: "weight")
        #expect(read.dtype == dtype)
        #expect(read.shape == [3, 5])
        #expect(contents(of: read) == contents(of: tensor))
        #expect(file.info(named: "weight")?.dtype == dtype)
        #expect(file.info(named: "weight")?.shape == [3, 5])
    }

    @Test func mixedTensorsAndMetadataRoundTrip() throws {
        let path = scratch.file("model.safetensors")
        let tensors = safetensorsDTypes.map { (name: "layer.\($0.rawValue.lowercased())", tensor: patterned($0, shape: [2, 3])) }
            + [(name: "scalar", tensor: HostTensor([42], shape: [])),
               (name: "empty", tensor: HostTensor([], shape: [0, 4]))]
        let metadata = ["format": "pt", "note": "quotes \" and \\ and\nnewlines, ünïcode"]
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)

        let file = try SafetensorsFile(path: path)
        #expect(file.path == path)
        #expect(file.metadata == metadata)
        #expect(file.tensorNames == tensors.map(\.name).sorted())
        for (name, tensor) in tensors {
            let read = try file.tensor(named: name)
            #expect(read.dtype == tensor.dtype)
            #expect(read.shape == tensor.shape)
            #expect(contents(of: read) == contents(of: tensor))
        }
        #expect(try file.tensor(named: "scalar").floats() == [42])
        #expect(try file.tensor(named: "empty").elementCount == 0)
    }

    @Test func unusualTensorNamesRoundTrip() throws {
        let path = scratch.file("model.safetensors")
        let names = ["with \"quotes\"", "back\\slash", "new\nline", "tab\tand\u{1}control", "ünïcödé.权重", "a/b"]
        try SafetensorsWriter.write(names.enumerated().map { ($1, ramp([2], from: Float($0))) }, to: path)

        let file = try SafetensorsFile(path: path)
        #expect(file.tensorNames == names.sorted())
        for (index, name) in names.enumerated() {
            #expect(try file.tensor(named: name).floats() == [Float(index), Float(index) + 1])
        }
    }

    @Test func tensorsAreViewsIntoTheMappingNotCopies() throws {
        let path = scratch.file("model.safetensors")
        try SafetensorsWriter.write([("a", ramp([4])), ("b", ramp([2, 2], from: 10))], to: path)

        let file = try SafetensorsFile(path: path)
        let mapped = file.mapping.bytes
        for name in file.tensorNames {
            let tensor = try file.tensor(named: name)
            let info = try #require(file.info(named: name))
            #expect(tensor.withUnsafeBytes { $0.baseAddress } == mapped.baseAddress! + info.byteRange.lowerBound)
            #expect(tensor.byteCount == info.byteRange.count)
        }
        withExtendedLifetime(file) {}
    }

    @Test func tensorKeepsItsMappingAliveAfterTheFileIsReleased() throws {
        let path = scratch.file("model.safetensors")
        try SafetensorsWriter.write([("a", ramp([3], from: 7))], to: path)

        var file: SafetensorsFile? = try SafetensorsFile(path: path)
        let tensor = try #require(file).tensor(named: "a")
        file = nil
        #expect(tensor.floats() == [7, 8, 9])
    }

    @Test func dataSectionIsEightByteAlignedAndTensorsAreContiguous() throws {
        let path = scratch.file("model.safetensors")
        // Odd name lengths and odd byte counts force both header padding and mixed widths.
        let tensors: [(name: String, tensor: HostTensor)] = [
            ("b", patterned(.u8, shape: [3])),
            ("abc", patterned(.f16, shape: [5])),
            ("x.y.z", patterned(.i64, shape: [1])),
            ("q", patterned(.f32, shape: [3])),
            ("mask", patterned(.bool, shape: [7])),
        ]
        try SafetensorsWriter.write(tensors, metadata: ["k": "v"], to: path)

        let raw = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = raw[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect((8 + headerLength) % 8 == 0)
        let header = String(decoding: raw[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{\"__metadata__\":{\"k\":\"v\"},\"abc\":"))
        #expect(header.last { $0 != " " } == "}")

        let file = try SafetensorsFile(path: path)
        let ranges = file.tensorNames.compactMap { file.info(named: $0) }
            .sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        #expect(ranges.first?.byteRange.lowerBound == 8 + headerLength)
        #expect(ranges.last?.byteRange.upperBound == raw.count)
        for (first, second) in zip(ranges, ranges.dropFirst()) {
            #expect(first.byteRange.upperBound == second.byteRange.lowerBound)
        }
        for info in ranges {
            #expect(info.byteRange.lowerBound % info.dtype.byteSize == 0, "\(info.name) is misaligned")
        }
    }

    @Test func headerKeysAreSorted() throws {
        let path = scratch.file("model.safetensors")
        let names = ["z", "layers.10.w", "layers.2.w", "A", "m"]
        try SafetensorsWriter.write(names.map { ($0, ramp([1])) }, to: path)

        let raw = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let header = String(decoding: raw[8...], as: UTF8.self)
        let positions = names.sorted().map { header.firstRange(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test func writerReplacesAnExistingFileAndLeavesNoTemporaryFile() throws {
        let path = scratch.file("model.safetensors")
        try SafetensorsWriter.write([("old", ramp([100]))], to: path)
        try SafetensorsWriter.write([("new", ramp([2], from: 5))], to: path)

        #expect(try scratch.entries() == ["model.safetensors"])
        let file = try SafetensorsFile(path: path)
        #expect(file.tensorNames == ["new"])
        #expect(try file.tensor(named: "new").floats() == [5, 6])
    }

    @Test func writerRejectsDuplicateNamesAndWritesNothing() throws {
        let path = scratch.file("model.safetensors")
        expectError(.duplicateTensor(name: "w", files: [path]), naming: "model.safetensors") {
            try SafetensorsWriter.write([("w", ramp([1])), ("v", ramp([1])), ("w", ramp([2]))], to: path)
        }
        #expect(try scratch.entries().isEmpty)
    }

    @Test func writerRejectsTheReservedMetadataName() throws {
        let path = scratch.file("model.safetensors")
        expectError(naming: "model.safetensors", { try SafetensorsWriter.write([("__metadata__", ramp([1]))], to: path) }) { error in
            guard case .cannotWrite(let file, _) = error else { Issue.record("got \(error)"); return }
            #expect(file == path)
        }
    }

    @Test func writerReportsAnUnwritableDestination() throws {
        let path = scratch.file("no-such-folder/model.safetensors")
        expectError(.cannotWrite(file: path, reason: "No such file or directory"), naming: "model.safetensors") {
            try SafetensorsWriter.write([("w", ramp([1]))], to: path)
        }
    }
}

/// The element types safetensors holds (GGUF's block formats are not among them).
let safetensorsDTypes = DType.allCases.filter { !$0.isBlockQuantized }

@Suite struct BlockFormatsStayOutOfSafetensors {
    @Test func writerRefusesBlockQuantizedTensors() {
        let tensor = [UInt8](repeating: 0, count: 18).withUnsafeBytes { HostTensor(dtype: .q4_0, shape: [32], copying: $0) }
        #expect(throws: SafetensorsError.self) {
            try SafetensorsWriter.write([(name: "w", tensor: tensor)], to: "/tmp/kiln-q4-\(UInt64.random(in: 0 ... .max)).safetensors")
        }
    }
}
