"""TEMPORARY pilot-only parser of one V4 completion (reasoning / content / DSML tool calls), in Python.

Used only by eval.py's in-training pilot backend on the GPU machine, where `baleen parse` is not available.
The real eval goes through `baleen parse`. Output shape is the same: {"reasoning", "content", "tool_calls":
[{"name", "arguments"}], "errors"}.
"""
import json
import re

EOS, END_THINK, DSML = "<｜end▁of▁sentence｜>", "</think>", "｜DSML｜"
BLOCK_OPEN, BLOCK_CLOSE = f"\n\n<{DSML}tool_calls>", f"</{DSML}tool_calls>"
INVOKE = re.compile(rf'<{DSML}invoke name="([^"]*)">\n(.*?)</{DSML}invoke>', re.S)
PARAM = re.compile(rf'<{DSML}parameter name="([^"]*)" string="(true|false)">(.*?)</{DSML}parameter>', re.S)


def parse(text, starts_in_reasoning):
    errors, reasoning = [], ""
    text = text.split(EOS)[0]
    if starts_in_reasoning:
        cut = [i for i in (text.find(END_THINK), text.find(BLOCK_OPEN)) if i >= 0]
        end = min(cut) if cut else len(text)
        reasoning = text[:end]
        text = text[end + len(END_THINK):] if text.startswith(END_THINK, end) else text[end:]
        if not cut:
            errors.append("missing </think>")
    content, _, block = text.partition(BLOCK_OPEN)
    calls = []
    if block:
        if BLOCK_CLOSE not in block:
            errors.append("unclosed tool_calls block")
        for name, body in INVOKE.findall(block):
            args = {}
            for key, is_str, value in PARAM.findall(body):
                try:
                    args[key] = value if is_str == "true" else json.loads(value)
                except json.JSONDecodeError:
                    errors.append(f"{name}.{key}: bad JSON {value!r}")
                    args[key] = value
            calls.append({"name": name, "arguments": args})
        if block.count(f"<{DSML}invoke") != len(calls):
            errors.append("malformed invoke")
    return {"reasoning": reasoning, "content": content, "tool_calls": calls, "errors": errors,
            "invokes": block.count(f"<{DSML}invoke")}
