// The public face of the Jinja interpreter: parse a Hugging Face chat template once, render
// it as transformers' `apply_chat_template` does.

/// A chat template (the `chat_template` of `tokenizer_config.json`), parsed and ready to render
/// byte-identically to transformers (jinja2 with `trim_blocks`, `lstrip_blocks`, loop controls,
/// `raise_exception`, `strftime_now` and a `tojson` that does not escape HTML).
public struct ChatTemplate: Sendable {
    let nodes: [Node]

    /// Parses `source`; syntax errors name the line and column.
    public init(_ source: String) throws(ChatTemplateError) {
        nodes = try Parser.parse(source)
    }

    /// Renders with the given variables; `now` pins what `strftime_now` formats (nil: the
    /// current UTC time).
    public func render(_ variables: [String: JinjaValue], now: ChatTemplateDate? = nil) throws(ChatTemplateError) -> String {
        var interpreter = Interpreter(variables: variables, now: now ?? ChatTemplateDate.currentUTC())
        return try interpreter.render(nodes)
    }

    /// What transformers passes: `messages`, `tools`, `documents`, `add_generation_prompt`, then
    /// `variables` (`bos_token`, `eos_token`, …). Like transformers, a nil `tools` or `documents`
    /// is passed as `None` (so `tools is defined` holds and iterating it fails), not left out.
    public func render(messages: [JSONValue], tools: [JSONValue]? = nil, documents: [JSONValue]? = nil,
                       addGenerationPrompt: Bool, variables: [String: JSONValue] = [:],
                       now: ChatTemplateDate? = nil) throws(ChatTemplateError) -> String {
        var values: [String: JinjaValue] = [
            "messages": JinjaValue(.array(messages)),
            "tools": tools.map { JinjaValue(.array($0)) } ?? .none,
            "documents": documents.map { JinjaValue(.array($0)) } ?? .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        for (name, value) in variables { values[name] = JinjaValue(value) }
        return try render(values, now: now)
    }
}

/// The moment `strftime_now` formats, in UTC.
public struct ChatTemplateDate: Sendable, Hashable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }
}

/// Why a template could not be parsed or rendered.
public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// The template called `raise_exception(message)`: the conversation is one it refuses.
    case raised(String)
    /// The template source is not valid Jinja.
    case syntax(line: Int, column: Int?, message: String)
    /// Rendering failed (an undefined value used, a type error, an unknown filter, …).
    case runtime(line: Int, message: String)

    public var description: String {
        switch self {
        case .raised(let message): message
        case .syntax(let line, let column?, let message): "line \(line), column \(column): \(message)"
        case .syntax(let line, nil, let message), .runtime(let line, let message): "line \(line): \(message)"
        }
    }
}
