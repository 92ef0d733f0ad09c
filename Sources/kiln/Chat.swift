// `kiln chat`: talk to a model in the terminal, or ask it one question.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnRuntime
import KilnTokenizers
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model (streaming; /reset clears the history, /exit or Ctrl-D quits, Ctrl-C stops an answer).")

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Ask one question, print the answer and exit.")
    var question: String?
    @Option(help: "A system message to start every conversation with.")
    var system: String?
    @Option(name: .customLong("max-tokens"), help: "Tokens per answer at most.")
    var maxTokens = 512
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func run() throws {
        let params = try sampling.params(maxTokens: maxTokens)
        let llm = try LLM(model: modelOptions.model, options: build.options, progress: buildProgressBar(offTerminal: false))
        let tokenizer = try llm.requireTokenizer()
        var conversation = Conversation(system: system)
        if let question {
            conversation.add(role: "user", question)
            _ = try answer(conversation, llm: llm, tokenizer: tokenizer, params: params)
            return
        }
        Interrupt.install()
        printError("Chatting with \(modelOptions.model). /reset clears the history, /exit quits, Ctrl-C stops an answer.")
        while true {
            writeStandardOutput("> ")
            guard let line = readLine() else { break }
            switch line.trimmingWhitespace() {
            case "": continue
            case "/exit", "/quit": return
            case "/reset":
                conversation = Conversation(system: system)
                printError("(history cleared)")
                continue
            default: break
            }
            conversation.add(role: "user", line)
            do {
                conversation.add(role: "assistant", try answer(conversation, llm: llm, tokenizer: tokenizer, params: params))
            } catch {
                conversation.removeLast()
                printError("error: \(error)")
            }
        }
        writeStandardOutput("\n")
    }

    /// Streams the model's answer to `conversation` and returns its text.
    private func answer(_ conversation: Conversation, llm: LLM, tokenizer: Tokenizer, params: SamplingParams) throws -> String {
        let prompt = try tokenizer.applyChatTemplate(messages: conversation.messages, addGenerationPrompt: true)
        var shown = ""
        Interrupt.begin()
        defer { Interrupt.end() }
        let result = try llm.generate(prompt: tokenizer.encode(prompt, addSpecialTokens: false), params) { token in
            shown += token.text
            writeStandardOutput(token.text)
            return !Interrupt.requested
        }
        // a stopped answer ends with what was held back as a possible stop string
        let text = result.completions[0].text ?? shown
        writeStandardOutput(String(text.unicodeScalars.dropFirst(shown.unicodeScalars.count))
                            + (result.finishReason == .cancelled ? " [stopped]\n" : "\n"))
        return text
    }
}

/// The messages so far, in the shape chat templates take.
struct Conversation {
    private(set) var messages: [JSONValue] = []

    init(system: String?) {
        if let system { add(role: "system", system) }
    }

    mutating func add(role: String, _ content: String) {
        messages.append(.object(JSONObject([("role", .string(role)), ("content", .string(content))])))
    }

    mutating func removeLast() { messages.removeLast() }
}

/// Ctrl-C stops the answer being generated; at the prompt it quits as usual.
enum Interrupt {
    private static let generating = Atomic<Bool>(false)
    private static let stopRequested = Atomic<Bool>(false)

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.generating.load(ordering: .relaxed) {
                Interrupt.stopRequested.store(true, ordering: .relaxed)
            } else {
                _exit(130)
            }
        }
    }

    static func begin() {
        stopRequested.store(false, ordering: .relaxed)
        generating.store(true, ordering: .relaxed)
    }

    static func end() { generating.store(false, ordering: .relaxed) }

    static var requested: Bool { stopRequested.load(ordering: .relaxed) }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
