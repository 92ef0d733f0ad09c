// `kiln inspect`: what a model folder or GGUF file holds, and the graph Kiln records for it.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnCompiler
import KilnCPU
import KilnModels

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model and print its recorded graph.")

    @Argument(help: "An engine folder, a Hugging Face folder or a .gguf file (or give it with --model).")
    var path: String?
    @Option(name: .customLong("model"), help: "An engine folder, a Hugging Face folder or a .gguf file.")
    var modelPath: String?
    @Flag(help: "Print the graph the model records, one op per line.")
    var graph = false
    @Flag(name: .customLong("all-logits"), help: "With --graph: record logits for every token instead of the last of each sequence.")
    var allLogits = false
    @Flag(help: "Run the builder and print its report (with --graph: the built graph).")
    var build = false
    @Option(name: .customLong("no-fuse"), help: "With --build: Fusion rules to leave out, comma separated: \(fusionRules.map(\.name).joined(separator: ", ")) (default: \(cpuDisabledFusions.sorted().joined(separator: ", ")); an empty list runs them all).")
    var noFuse: String?

    func validate() throws {
        guard (path == nil) != (modelPath == nil) else { throw ValidationError("give the model or engine once: as an argument or with --model") }
    }

    func run() throws {
        let model = path ?? modelPath!
        if isEngineFolder(model) {
            // any engine can be read, whichever machine it was built for
            let engine = try Engine.load(from: model, backend: Engine.backend(of: model) ?? "cpu", architectures: nil)
            let gpuKernels = (try? FileManager.default.contentsOfDirectory(atPath: model + "/cuda"))?.filter { $0.hasSuffix(".cubin") } ?? []
            let h = engine.header
            print("""
                engine: format \(h.formatVersion), built by Kiln \(h.kilnVersion) for \(h.backend) on \(h.architecture) (\(h.device))
                source: \(h.source)
                layers: \(h.numLayers), kv heads: \(h.numKVHeads), head dim: \(h.headDim), max seq len: \(h.maxSequenceLength), tokens per block: \(h.tokensPerBlock)
                step limits: \(h.limits); weights stored as \(h.weightType.map { "\($0)" } ?? "in the checkpoint's types")
                weights: \(h.weights.count) tensors, \(h.weightsBytes) bytes; fusions left out: \(h.disabledFusions.isEmpty ? "none" : h.disabledFusions.joined(separator: ", "))
                kernels: \(h.kernels.choices.isEmpty ? "defaults (not measured)" : h.kernels.choices.sorted { $0.key < $1.key }.map { "\($0.key) → \($0.value.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" }.joined(separator: "; "))
                build: \(h.report)
                """)
            if !gpuKernels.isEmpty { print("compiled GPU kernels: \(gpuKernels.sorted().joined(separator: ", "))") }
            if graph { print(engine.generateGraph) }
            return
        }
        let spec: LlamaModelSpec, network: LlamaForCausalLM, storage: String
        if isGGUFFile(model) {
            let gguf = try GGUFModel.load(path: model)
            (spec, network) = (gguf.spec, gguf.model)
            let types = Dictionary(gguf.file.tensors.map { ($0.type.description, 1) }, uniquingKeysWith: +)
            storage = "\(gguf.file.tensors.count) GGUF tensors (" + types.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")"
        } else {
            let folder = try HuggingFaceModel.load(directory: model)
            (spec, network) = (folder.spec, folder.model)
            storage = "\(folder.checkpoint.files.count) safetensors file(s)"
        }
        let parameterCount = network.parameters().reduce(0) { $0 + $1.shape.reduce(1, *) }
        print("""
            model: \(spec.family.architecture) (\(spec.family.rawValue))
            layers: \(spec.numLayers), hidden: \(spec.hiddenSize), intermediate: \(spec.intermediateSize)
            heads: \(spec.numHeads), kv heads: \(spec.numKVHeads), head dim: \(spec.headDim)
            vocab: \(spec.vocabularySize), context: \(spec.maxPositionEmbeddings), tied embeddings: \(spec.tiedEmbeddings)
            rope: \(spec.rotary)
            parameters: \(parameterCount) in \(storage)
            """)
        var recorded = network.recordGraph(logits: allLogits ? .allTokens : .lastTokens)
        if build {
            let compiler = try Compiler(disabledRules: noFuse.map { Set($0.split(separator: ",").map(String.init)) } ?? cpuDisabledFusions,
                                        precision: CPUExecutable.precision())
            let (built, report) = try compiler.compile(recorded)
            print("build: \(report)")
            recorded = built
        }
        if graph {
            print("graph: \(recorded.nodes.count) nodes")
            print(recorded)
        }
    }
}
