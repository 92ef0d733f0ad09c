// The `kiln` command line.

import ArgumentParser

@main
struct KilnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Kiln: build, run and serve LLMs.",
        subcommands: [Generate.self, Chat.self, Build.self, Refit.self, Tokenize.self, Detokenize.self, Template.self, Logits.self, Inspect.self, RandomModel.self, Bench.self, Serve.self, Doctor.self]
    )
}
