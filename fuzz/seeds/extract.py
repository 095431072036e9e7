#!/usr/bin/env python3
"""Seeds the fuzz corpora from the JSON the repository already holds: the READMEs'
examples and the `json!(…)` / raw-string literals of the Rust tests. Each document is
filed under the target that reads its kind (by its keys) and written with the target's
input prefix. Run from the repository root: fuzz/seeds/extract.py"""
import hashlib, json, os, re, sys

ROOT = os.getcwd()
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SOURCES = ["src", "server/src", "server/tests", "tests", "server/README.md"]


def balanced(text, start):
    """The text from text[start] (an opening bracket) to its matching close."""
    depth, i, in_str = 0, start, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    return None


def documents(text):
    for m in re.finditer(r"json!\(\s*([\[{])", text):
        body = balanced(text, m.start(1))
        if body:
            yield re.sub(r",(\s*[}\]])", r"\1", body)
    for m in re.finditer(r'r#"(.*?)"#', text, re.S):
        yield m.group(1)
    for m in re.finditer(r"```json\n(.*?)```", text, re.S):
        yield m.group(1)


def kind(doc):
    if not isinstance(doc, dict):
        return None
    keys = set(doc)
    if {"rule", "id"} <= keys:
        return "segment"
    if {"variants", "trigger"} <= keys:
        return "campaign"
    if "schema_version" in keys and "audience" in keys:
        return "send"
    if {"batch", "sent_at"} <= keys:
        return "batch"
    if {"v", "message_id"} <= keys:
        return "payload"
    if "schema" in keys and ({"segments", "campaigns", "settings"} & keys):
        return "sync"
    if {"user_key", "permissions"} <= keys:
        return "permissions"
    if "beckon" in keys or "aps" in keys or "data" in keys or "message" in keys:
        return "push"
    return None


def write(target, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    found = {}
    for source in SOURCES:
        paths = [source] if os.path.isfile(source) else [
            os.path.join(d, f) for d, _, fs in os.walk(source) for f in fs
            if f.endswith((".rs", ".md"))]
        for path in paths:
            for text in documents(open(path, encoding="utf-8").read()):
                try:
                    doc = json.loads(text)
                except ValueError:
                    continue
                k = kind(doc)
                if k:
                    found.setdefault(k, {})[json.dumps(doc, ensure_ascii=False)] = doc
    compact = lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()
    for k, docs in found.items():
        for doc in docs.values():
            data = compact(doc)
            if k == "segment":
                write("segment", data)
                write("server_admin", b"\x00" + data)
            elif k == "campaign":
                write("campaign", data)
                write("server_admin", b"\x01" + data)
            elif k == "send":
                write("server_send", data)
            elif k == "batch":
                write("server_batch", data)
            elif k == "payload":
                write("push_payload", b"\x02" + data)
                write("push_payload", b"\x01beckon\x00" + data + b"\x00other_sdk\x00x")
            elif k == "push":
                write("push_payload", b"\x00" + data)
            elif k == "sync":
                write("sync_document", data)
            elif k == "permissions":
                write("consent", b"\x05" + data)
        print(f"{k}: {len(docs)}", file=sys.stderr)


main()
