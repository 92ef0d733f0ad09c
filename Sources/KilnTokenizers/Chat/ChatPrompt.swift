// A model's conversation prompt: its tokenizer's chat template rendered with its special
// tokens, the way transformers' `apply_chat_template` picks and fills it.

extension Tokenizer {
    /// Renders `messages` with the model's chat template: the one named `tool_use` when
    /// `tools` are given and the model has one, else the default. `bos_token` and
    /// `eos_token` come from the tokenizer's config; `variables` add to or override them.
    public func applyChatTemplate(messages: [JSONValue], tools: [JSONValue]? = nil, documents: [JSONValue]? = nil,
                                  addGenerationPrompt: Bool, variables: [String: JSONValue] = [:],
                                  now: ChatTemplateDate? = nil) throws(ChatPromptError) -> String {
        let name = tools != nil && chatTemplates["tool_use"] != nil ? "tool_use" : "default"
        guard let source = chatTemplates[name] ?? chatTemplates.values.first else { throw .noTemplate }
        var all: [String: JSONValue] = [:]
        if let bosToken { all["bos_token"] = .string(bosToken) }
        if let eosToken { all["eos_token"] = .string(eosToken) }
        all.merge(variables) { _, given in given }
        do {
            return try ChatTemplate(source).render(messages: messages, tools: tools, documents: documents,
                                                   addGenerationPrompt: addGenerationPrompt, variables: all, now: now)
        } catch {
            throw .template(name: name, error)
        }
    }
}

/// Why a conversation could not be turned into a prompt.
public enum ChatPromptError: Error, CustomStringConvertible, Equatable {
    /// The model ships no chat template (tokenizer_config.json has no `chat_template`).
    case noTemplate
    /// The template failed; for `raise_exception` the message is the template's own.
    case template(name: String, ChatTemplateError)

    public var description: String {
        switch self {
        case .noTemplate:
            "the model has no chat template (no 'chat_template' in tokenizer_config.json); use --prompt without --chat, or kiln template --template FILE"
        case .template(_, .raised(let message)):
            message
        case .template(let name, let error):
            "chat template '\(name)': \(error)"
        }
    }
}
