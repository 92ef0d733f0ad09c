#!/usr/bin/env python3
"""Gives a tokenizer-less model folder (such as the random Llama-3.2-1B-shaped one that
hf_baseline.py --save writes) a word-level tokenizer covering its whole vocabulary, so that
`kiln serve` can take chat requests for it on a machine without network access (the GPU
machine's load test). Token i is the word "w<i>"; the words of a prompt that are not in the
vocabulary map to w0. The chat template joins the messages' contents.

Usage: python3 wordlevel_tokenizer.py MODEL_DIR
"""
import json
import os
import sys


def main():
    folder = sys.argv[1]
    config = json.load(open(os.path.join(folder, "config.json")))
    vocab_size = config["vocab_size"]
    eos = config.get("eos_token_id", vocab_size - 1)
    eos = eos[0] if isinstance(eos, list) else eos
    vocab = {f"w{i}": i for i in range(vocab_size)}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)
    tokenizer_config = {
        "eos_token": f"w{eos}",
        "chat_template": "{% for message in messages %}{{ message['content'] }} {% endfor %}",
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f)
    print(f"{folder}: word-level tokenizer of {vocab_size} tokens")


if __name__ == "__main__":
    main()
