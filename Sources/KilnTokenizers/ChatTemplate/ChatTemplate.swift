// The public face of the Jinja interpreter: parse a Hugging Face chat template once, render it
// as transformers' `apply_chat_template` does.

import FoundationEssentials

/// A chat template (the `chat_template` of `tokenizer_config.json`), rendered the way
/// transformers does: jinja2 with `trim_blocks`, `lstrip_blocks`, loop controls, the immutable
/// sandbox, `raise_exception`, `strftime_now` and a `tojson` that does not escape HTML.
public struct ChatTemplate: Sendable {
    private let nodes: [Node]

    /// Parses `source`; syntax errors (and unknown filters or tests) name their line.
    public init(_ source: String) throws(ChatTemplateError) {
        nodes = try Parser.parse(source)
    }

    /// Renders with exactly these variables. `now` pins `strftime_now` (nil: the current UTC time).
    public func render(_ variables: [String: JinjaValue], now: ChatTemplateDate? = nil) throws(ChatTemplateError) -> String {
        try Interpreter(now: now ?? .current).render(nodes, variables: variables)
    }

    /// What transformers passes: messages, tools and documents (`None` when nil: transformers
    /// passes them even then, so `tools is defined` holds and `for t in tools` fails),
    /// add_generation_prompt, then `variables` (bos_token, eos_token, …, overriding nothing else).
    public func render(messages: [JSONValue], tools: [JSONValue]? = nil, documents: [JSONValue]? = nil,
                       addGenerationPrompt: Bool, variables: [String: JSONValue] = [:],
                       now: ChatTemplateDate? = nil) throws(ChatTemplateError) -> String {
        var all: [String: JinjaValue] = [:]
        for (name, value) in variables { all[name] = JinjaValue(value) }
        all["messages"] = JinjaValue(.array(messages))
        all["tools"] = tools.map { JinjaValue(.array($0)) } ?? JinjaValue.none
        all["documents"] = documents.map { JinjaValue(.array($0)) } ?? JinjaValue.none
        all["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try render(all, now: now)
    }
}

/// Why a template could not be parsed or rendered.
public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// The template called `raise_exception(message)`: it refuses this conversation.
    case raised(String)
    /// The template is malformed.
    case syntax(line: Int, column: Int?, message: String)
    /// Rendering failed (an undefined value misused, a type error, …).
    case runtime(line: Int, message: String)

    /// `raise_exception`'s message exactly; otherwise the message after its location.
    public var description: String {
        switch self {
        case .raised(let message): message
        case .syntax(let line, let column?, let message): "line \(line), column \(column): \(message)"
        case .syntax(let line, nil, let message), .runtime(let line, let message): "line \(line): \(message)"
        }
    }
}

/// The date and time `strftime_now` formats (naive, like Python's `datetime.now()`).
public struct ChatTemplateDate: Sendable, Hashable {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = min(max(month, 1), 12)
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The current time in UTC.
    static var current: ChatTemplateDate {
        let seconds = Int(Date().timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return ChatTemplateDate(year: year, month: month, day: day, hour: time / 3600, minute: time / 60 % 60, second: time % 60)
    }

    private var isLeapYear: Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// Day of the year, 1-based.
    var dayOfYear: Int {
        let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        return cumulative[month - 1] + day + (month > 2 && isLeapYear ? 1 : 0)
    }

    /// 0 for Monday through 6 for Sunday (Python's `weekday()`).
    var weekday: Int {
        // Sakamoto's method gives 0 for Sunday.
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        let sundayBased = (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
        return (sundayBased + 6) % 7
    }
}
