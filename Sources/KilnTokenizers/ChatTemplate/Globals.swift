// The global functions a chat template can call: transformers' `raise_exception` and
// `strftime_now`, and jinja2's `namespace`, `range`, `dict`.

import FoundationEssentials

extension Interpreter {
    static let globalFunctions: Set<String> = ["raise_exception", "strftime_now", "namespace", "range", "dict"]

    func callGlobal(_ name: String, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "raise_exception":
            throw .raised(args.value(0, "message")?.pythonString ?? "")
        case "strftime_now":
            return .string(now.formatted(args.value(0, "format")?.pythonString ?? ""))
        case "namespace", "dict":
            var attributes = JinjaObject()
            for positional in args.positional {
                guard case .object(let object) = positional else {
                    throw .runtime(line: line, message: "TypeError: \(name)() takes a mapping, not \(positional.typeName)")
                }
                for (key, value) in object.members { attributes[key] = value }
            }
            for (key, value) in args.keyword { attributes[key] = value }
            return name == "dict" ? .object(attributes) : .namespace(JinjaNamespace(attributes))
        default:
            let bounds = args.positional.map(\.integer)
            guard !bounds.isEmpty, bounds.count <= 3, !bounds.contains(nil) else {
                throw .runtime(line: line, message: "TypeError: range() takes 1 to 3 integers")
            }
            let numbers = bounds.map { $0! }
            let (start, stop) = numbers.count == 1 ? (0, numbers[0]) : (numbers[0], numbers[1])
            let step = numbers.count == 3 ? numbers[2] : 1
            guard step != 0 else { throw .runtime(line: line, message: "ValueError: range() arg 3 must not be zero") }
            // jinja2's sandbox caps ranges at 100000 items.
            let values = stride(from: start, to: stop, by: step).prefix(100_000)
            return .array(values.map(JinjaValue.int))
        }
    }
}

extension ChatTemplateDate {
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// The current time in UTC.
    static func currentUTC() -> ChatTemplateDate {
        let seconds = Int(Date().timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return ChatTemplateDate(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day,
                                hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60)
    }

    /// Days since 1970-01-01 (Hinnant's days_from_civil).
    var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    var isLeapYear: Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// C `strftime` in the C locale for the directives chat templates use; `%-d` style
    /// drops the zero padding, as glibc does.
    func formatted(_ format: String) -> String {
        func padded(_ value: Int, _ width: Int, _ pad: Bool) -> String {
            let digits = String(value)
            return pad ? String(repeating: "0", count: max(0, width - digits.count)) + digits : digits
        }
        let weekday = ((daysSinceEpoch % 7) + 7 + 3) % 7  // 1970-01-01 was a Thursday (index 3)
        let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        let dayOfYear = cumulative[month - 1] + day + (month > 2 && isLeapYear ? 1 : 0)
        var result = ""
        var characters = format.makeIterator()
        while let character = characters.next() {
            guard character == "%" else { result.append(character); continue }
            guard var directive = characters.next() else { result.append("%"); break }
            var pad = true
            if directive == "-", let next = characters.next() { pad = false; directive = next }
            switch directive {
            case "Y": result += String(year)
            case "y": result += padded(year % 100, 2, pad)
            case "m": result += padded(month, 2, pad)
            case "d": result += padded(day, 2, pad)
            case "e": result += pad ? (day < 10 ? " " : "") + String(day) : String(day)
            case "j": result += padded(dayOfYear, 3, pad)
            case "H": result += padded(hour, 2, pad)
            case "I": result += padded(hour % 12 == 0 ? 12 : hour % 12, 2, pad)
            case "M": result += padded(minute, 2, pad)
            case "S": result += padded(second, 2, pad)
            case "p": result += hour < 12 ? "AM" : "PM"
            case "B": result += Self.monthNames[month - 1]
            case "b", "h": result += String(Self.monthNames[month - 1].prefix(3))
            case "A": result += Self.weekdayNames[weekday]
            case "a": result += String(Self.weekdayNames[weekday].prefix(3))
            case "u": result += String(weekday + 1)
            case "w": result += String((weekday + 1) % 7)
            case "F": result += "\(year)-\(padded(month, 2, true))-\(padded(day, 2, true))"
            case "T": result += "\(padded(hour, 2, true)):\(padded(minute, 2, true)):\(padded(second, 2, true))"
            case "%": result += "%"
            default: result += "%" + (pad ? "" : "-") + String(directive)
            }
        }
        return result
    }
}
