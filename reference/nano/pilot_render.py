"""TEMPORARY pilot-only renderer: V4 prompts from spec/chat.md, in Python, until `baleen render` exists.

Never use it for the final model: training must see the bytes baleen's own encoder produces. It exists so the
pilot run could check the model, the loss mask and the export before the C++ encoder landed. It reads the
same JSONL lines as `baleen render` and writes {"prompt": ...} lines. Checked: on the 24,000 training
conversations its output is byte-identical to `baleen render` (chat branch 4d8e399); it stays only as the
renderer of the GPU-side pilot eval (pilot_eval.py), where the C++ binary is not available.
"""
import json
import sys

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
THINK, END_THINK, DSML = "<think>", "</think>", "｜DSML｜"

# The tools block of DeepSeek's V4 encoder (encoding_dsv4.py), as spec/chat.md asks.
TOOLS_BLOCK = """## Tools

You have access to a set of tools to help answer the user's question. You can invoke tools by writing a \
"<{d}tool_calls>" block like the following:

<{d}tool_calls>
<{d}invoke name="$TOOL_NAME">
<{d}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</{d}parameter>
...
</{d}invoke>
<{d}invoke name="$TOOL_NAME2">
...
</{d}invoke>
</{d}tool_calls>

String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, \
arrays, objects), pass the value in JSON format and set `string="false"`.

If thinking_mode is enabled (triggered by {t}), you MUST output your complete reasoning inside {t}...{e} BEFORE \
any tool calls or final response.

Otherwise, output directly after {e} with tool calls or final response.

### Available Tool Schemas

{schemas}

You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.
"""


def tools_block(tools):
    schemas = "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in tools)
    return TOOLS_BLOCK.format(d=DSML, t=THINK, e=END_THINK, schemas=schemas)


def dsml_calls(tool_calls):
    invokes = []
    for call in tool_calls:
        args = json.loads(call["function"]["arguments"])
        params = [f'<{DSML}parameter name="{k}" string="{"true" if isinstance(v, str) else "false"}">'
                  f'{v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}</{DSML}parameter>'
                  for k, v in args.items()]
        invokes.append(f'<{DSML}invoke name="{call["function"]["name"]}">\n' + "\n".join(params) + f"\n</{DSML}invoke>")
    return f"\n\n<{DSML}tool_calls>\n" + "\n".join(invokes) + f"\n</{DSML}tool_calls>"


def fold_tool_results(messages):
    """tool messages (and a following user text) become one user turn of <tool_result> blocks."""
    out = []
    for m in messages:
        if m["role"] in ("tool", "user") and out and out[-1].get("_blocks") is not None:
            block = f"<tool_result>{m['content']}</tool_result>" if m["role"] == "tool" else m["content"]
            out[-1]["_blocks"].append(block)
        elif m["role"] == "tool":
            out.append({"role": "user", "_blocks": [f"<tool_result>{m['content']}</tool_result>"]})
        else:
            out.append(dict(m))
    for m in out:
        if m.get("_blocks") is not None:
            m["content"] = "\n\n".join(m.pop("_blocks"))
    return out


def render(conv):
    messages, tools, thinking = fold_tool_results(conv["messages"]), conv.get("tools") or [], conv["thinking"]
    if tools and (not messages or messages[0]["role"] != "system"):
        messages.insert(0, {"role": "system", "content": ""})
    keep_reasoning = bool(tools)
    last_user = max((i for i, m in enumerate(messages) if m["role"] in ("user", "developer")), default=-1)
    prompt = BOS
    for i, m in enumerate(messages):
        if m["role"] == "system":
            prompt += m["content"] + ("\n\n" + tools_block(tools) if tools and i == 0 else "")
        elif m["role"] == "user":
            prompt += USER + m["content"]
        elif m["role"] == "assistant":
            if thinking and (keep_reasoning or i > last_user):
                prompt += (m.get("reasoning_content") or "") + END_THINK
            prompt += (m.get("content") or "") + (dsml_calls(m["tool_calls"]) if m.get("tool_calls") else "") + EOS
        else:
            raise ValueError(f"pilot_render: unsupported role {m['role']!r}")
        following = messages[i + 1]["role"] if i + 1 < len(messages) else None
        if m["role"] == "user" and following in (None, "assistant"):
            prompt += ASSISTANT + (THINK if thinking and (keep_reasoning or i >= last_user) else END_THINK)
    return prompt


if __name__ == "__main__":
    for line in sys.stdin:
        print(json.dumps({"prompt": render(json.loads(line))}, ensure_ascii=False))
