// The functions a chat template can call by name: jinja2's `range`, `namespace` and `dict`,
// and transformers' `raise_exception` and `strftime_now`.

extension Interpreter {
    func callGlobal(_ name: String, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "range":
            guard arguments.keyword.isEmpty, (1...3).contains(arguments.positional.count) else {
                throw failure("range expected 1 to 3 integer arguments")
            }
            var bounds: [Int] = []
            for value in arguments.positional {
                guard let i = value.integer else { throw failure("'\(value.typeName)' object cannot be interpreted as an integer") }
                bounds.append(i)
            }
            let (start, stop) = bounds.count == 1 ? (0, bounds[0]) : (bounds[0], bounds[1])
            let step = bounds.count == 3 ? bounds[2] : 1
            guard step != 0 else { throw failure("range() arg 3 must not be zero") }
            let values = stride(from: start, to: stop, by: step)
            guard values.underestimatedCount <= 100_000 else { throw failure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).") }
            return .list(values.map(JinjaValue.int))
        case "namespace":
            var attributes = JinjaDict()
            for value in arguments.positional {
                guard case .dict(let dict) = value else { throw failure("namespace() takes mappings or keyword arguments") }
                for (key, member) in dict.members { attributes[key] = member }
            }
            for (key, value) in arguments.keyword { attributes[key] = value }
            namespaces.append(attributes)
            return .namespace(JinjaNamespace(id: namespaces.count - 1))
        case "dict":
            var dict = JinjaDict()
            for value in arguments.positional {
                guard case .dict(let other) = value else { throw failure("dict() takes a mapping or keyword arguments") }
                for (key, member) in other.members { dict[key] = member }
            }
            for (key, value) in arguments.keyword { dict[key] = value }
            return .dict(dict)
        case "raise_exception":
            let message = arguments.positional.first ?? arguments.keyword.first?.value ?? .string("")
            throw .raised(string(of: message))
        case "strftime_now":
            guard case .string(let format)? = arguments.positional.first else { throw failure("strftime_now() takes a format string") }
            return .string(strftime(format, now))
        default:
            throw failure("'\(name)' is undefined")
        }
    }
}

private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
private let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

/// C `strftime` (glibc, C locale) for a naive date: `%Y %m %d %e %j %y %H %I %M %S %p %b %B
/// %a %A %w %u %F %T %D %R %c %x %X %%`, and glibc's `%-d` (no padding) for numeric fields.
func strftime(_ format: String, _ date: ChatTemplateDate) -> String {
    var out = ""
    var characters = Array(format)[...]
    while let character = characters.popFirst() {
        guard character == "%", var directive = characters.popFirst() else { out.append(character); continue }
        var unpadded = false
        if directive == "-", let next = characters.popFirst() {
            unpadded = true
            directive = next
        }
        func number(_ value: Int, _ width: Int, pad: Character = "0") -> String {
            let digits = String(value)
            if unpadded || digits.count >= width { return digits }
            return String(repeating: pad, count: width - digits.count) + digits
        }
        let hour12 = date.hour % 12 == 0 ? 12 : date.hour % 12
        switch directive {
        case "Y": out += String(date.year)
        case "y": out += number(date.year % 100, 2)
        case "m": out += number(date.month, 2)
        case "d": out += number(date.day, 2)
        case "e": out += number(date.day, 2, pad: " ")
        case "j": out += number(date.dayOfYear, 3)
        case "H": out += number(date.hour, 2)
        case "I": out += number(hour12, 2)
        case "M": out += number(date.minute, 2)
        case "S": out += number(date.second, 2)
        case "p": out += date.hour < 12 ? "AM" : "PM"
        case "b", "h": out += String(monthNames[date.month - 1].prefix(3))
        case "B": out += monthNames[date.month - 1]
        case "a": out += String(dayNames[date.weekday].prefix(3))
        case "A": out += dayNames[date.weekday]
        case "w": out += String((date.weekday + 1) % 7)
        case "u": out += String(date.weekday + 1)
        case "F": out += strftime("%Y-%m-%d", date)
        case "T": out += strftime("%H:%M:%S", date)
        case "D", "x": out += strftime("%m/%d/%y", date)
        case "R": out += strftime("%H:%M", date)
        case "X": out += strftime("%H:%M:%S", date)
        case "c": out += strftime("%a %b %e %H:%M:%S %Y", date)
        case "Z", "z": break  // naive datetime: no zone
        case "%": out += "%"
        default: out += "%" + (unpadded ? "-" : "") + String(directive)
        }
    }
    return out
}
