#!/usr/bin/env python3
"""Checks a running `kiln serve` with the official openai Python client, unchanged.

    python3 Scripts/server/openai_client_check.py --base-url http://127.0.0.1:8000/v1 --model NAME [--api-key KEY]

Runs chat and text completions, whole and streamed, plus /v1/models and an error, and
asserts on the shapes of the replies. Exits 0 when every check passes.
"""
import argparse
import sys

import openai


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default="none")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=120)

    models = client.models.list()
    check(any(m.id == args.model for m in models.data), f"/v1/models lists {args.model}: {models}")

    # chat, whole
    chat = client.chat.completions.create(
        model=args.model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a kiln?"}],
        max_tokens=8, temperature=0, seed=1)
    check(chat.object == "chat.completion" and chat.id, f"chat object: {chat}")
    check(len(chat.choices) == 1 and chat.choices[0].message.role == "assistant", f"chat choice: {chat.choices}")
    check(isinstance(chat.choices[0].message.content, str), "chat content is a string")
    check(chat.choices[0].finish_reason in ("stop", "length"), f"chat finish_reason: {chat.choices[0].finish_reason}")
    check(chat.usage.prompt_tokens > 0 and 1 <= chat.usage.completion_tokens <= 8, f"chat usage: {chat.usage}")
    check(chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens, f"chat usage: {chat.usage}")

    # chat, streamed, with usage
    pieces, finish, usage, roles = [], None, None, []
    for chunk in client.chat.completions.create(
            model=args.model, messages=[{"role": "user", "content": "What is a kiln?"}], max_tokens=8, temperature=0,
            stream=True, stream_options={"include_usage": True}):
        check(chunk.object == "chat.completion.chunk", f"chunk object: {chunk}")
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    check(roles == ["assistant"], f"one role delta: {roles}")
    check(finish in ("stop", "length"), f"streamed finish_reason: {finish}")
    check(usage is not None and usage.completion_tokens >= 1, f"streamed usage: {usage}")
    whole = client.chat.completions.create(model=args.model, messages=[{"role": "user", "content": "What is a kiln?"}],
                                           max_tokens=8, temperature=0)
    check("".join(pieces) == whole.choices[0].message.content, f"stream {''.join(pieces)!r} vs whole {whole.choices[0].message.content!r}")

    # text completion, whole (two prompts, logprobs)
    completion = client.completions.create(model=args.model, prompt=["The kiln", "Clay is"], max_tokens=5, temperature=0, logprobs=2)
    check(completion.object == "text_completion", f"completion object: {completion}")
    check([c.index for c in completion.choices] == [0, 1], f"completion indexes: {completion.choices}")
    check(all(isinstance(c.text, str) for c in completion.choices), "completion texts are strings")
    check(len(completion.choices[0].logprobs.tokens) == len(completion.choices[0].logprobs.token_logprobs), "completion logprobs")
    check(completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens, f"usage: {completion.usage}")

    # text completion, streamed
    texts, finish = [], None
    for chunk in client.completions.create(model=args.model, prompt="The kiln", max_tokens=5, temperature=0, stream=True):
        for choice in chunk.choices:
            texts.append(choice.text)
            finish = choice.finish_reason or finish
    whole = client.completions.create(model=args.model, prompt="The kiln", max_tokens=5, temperature=0)
    check("".join(texts) == whole.choices[0].text, f"streamed completion {''.join(texts)!r} vs {whole.choices[0].text!r}")
    check(finish in ("stop", "length"), f"streamed completion finish_reason: {finish}")

    # errors come back as the client's exceptions, with OpenAI's body
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        check(False, "an unknown model is refused")
    except openai.NotFoundError as error:
        check(error.status_code == 404 and error.body["code"] == "model_not_found", f"404 body: {error.body}")
    try:
        client.chat.completions.create(model=args.model, messages=[{"role": "user", "content": "Hi"}], temperature=7)
        check(False, "temperature 7 is refused")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and error.body["param"] == "temperature", f"400 body: {error.body}")

    print("openai client check: all passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"openai client check failed: {failure}", file=sys.stderr)
        sys.exit(1)
