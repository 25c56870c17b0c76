#!/usr/bin/env python3
"""Build the tokenizer parity corpus (issue 3): tests/fixtures/tokenizer/corpus.jsonl.

Pure Python, no dependencies, deterministic (seeded). Run from the repo root:
    python3 reference/make_tokenizer_corpus.py
Every line is {"text": ...}; all texts are valid UTF-8 (no lone surrogates).
"""
import json
import os
import random
import sys

SEED = 20260502
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tokenizer", "corpus.jsonl")

SPECIALS = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
    "<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>", "<｜DSML｜invoke name=\"get_weather\">", "</｜DSML｜invoke>",
    "<｜DSML｜parameter name=\"city\" string=\"true\">", "</｜DSML｜parameter>", "｜DSML｜", "<｜DSML｜",
    "<｜latest_reminder｜>", "<｜action｜>", "<｜query｜>", "<｜authority｜>", "<｜domain｜>", "<｜title｜>",
    "<｜read_url｜>", "<｜▁pad▁｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<|EOT|>",
    "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", "<｜place▁holder▁no▁7｜>",
    # near misses: must NOT match a special token
    "<｜User|>", "<|User|>", "<think >", "< think>", "</think", "<｜DSML", "｜DSM｜", "<｜begin_of_sentence｜>",
    "<｜end▁of▁sentence", "<thinking>", "<｜Assistant｜", "<<｜User｜>>",
]

CODE = [
    'def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
    '#include <stdio.h>\nint main(void) {\n\tprintf("Hello, world!\\n");\n\treturn 0;\n}\n',
    'fn main() {\n    let v: Vec<u32> = (1..=10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
    'const sum = (xs) => xs.reduce((a, b) => a + b, 0);\nconsole.log(sum([1, 2, 3]));\n',
    'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("go", 42)\n}\n',
    'SELECT u.id, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100 GROUP BY u.id;\n',
    'template <typename T>\nstd::vector<T> dedup(std::vector<T> v) {\n  std::sort(v.begin(), v.end());\n  v.erase(std::unique(v.begin(), v.end()), v.end());\n  return v;\n}\n',
    'public class Main {\n    public static void main(String[] args) {\n        System.out.println(args.length);\n    }\n}\n',
    '#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l "$f" | awk \'{print $1}\'\ndone\n',
    '<html><head><title>T</title></head><body><div class="a b">x &amp; y</div></body></html>\n',
    '{"name": "baleen", "version": "0.1.0", "deps": {"a": "^1.2.3"}, "list": [1, 2.5, -3e10, null, true]}\n',
    'module Main where\nmain :: IO ()\nmain = mapM_ print [x * y | x <- [1..3], y <- [1..3]]\n',
    'local function f(t)\n  for k, v in pairs(t) do print(k, v) end\nend\n',
    '\\begin{equation}\n  E = mc^2 \\quad \\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}\n',
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: nginx\n      image: nginx:1.25\n',
    'fun main() = println((1..5).filter { it % 2 == 1 }.joinToString(","))\n',
    'import numpy as np\nx = np.linspace(0, 1, 101)\ny = np.sin(2 * np.pi * x) ** 2\nprint(f"{y.mean():.6f}")\n',
    'defmodule M do\n  def hello(name), do: "Hello, #{name}!"\nend\n',
    'my %h = (a => 1, b => 2);\nprint join(",", map { "$_=$h{$_}" } sort keys %h), "\\n";\n',
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT \'\');\n',
    '    if (x != nullptr && x->next) { x = x->next; } // advance\n',
    'diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1,3 +1,3 @@\n-int x = 1;\n+int x = 2;\n',
]

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong's first words were broadcast worldwide.",
    "Please call me at 555-0123 or e-mail john.doe@example.com before 5:30 p.m. on Friday.",
    "Don't, can't, won't, shouldn't've, y'all, rock 'n' roll, O'Neill's.",
    "She said, \"Well... I'm not sure—maybe?\" and left (quietly).",
    "URLs like https://example.org/path?q=1&r=two#frag should survive tokenization intact.",
    "Prices: $3.99, €12,50, £7, ¥1200, ₹499 — plus 7.5% tax.",
    "A decoder-only transformer predicts the next token given all previous tokens.",
    "Hyper-connections widen the residual stream into several parallel streams.",
]

CJK = [
    "今天天气很好，我们去公园散步吧。", "深度学习模型需要大量的训练数据。", "人工智能正在改变世界。",
    "毕老师！1 + 1 = 2", "我爱北京天安门，天安门上太阳升。", "這是繁體中文的句子，包含「引號」與『書名號』。",
    "日本語の文章です。ひらがな、カタカナ、漢字が混ざっています。", "東京タワーは１９５８年に完成しました。",
    "すもももももももものうち", "ｶﾀｶﾅ半角とカタカナ全角", "한국어 문장입니다. 안녕하세요, 만나서 반갑습니다!",
    "대한민국의 수도는 서울입니다.", "中文English混合mixed文本text测试test。", "①②③ ⅠⅡⅢ ㈱ ㊙",
]

OTHER_SCRIPTS = [
    "مرحبا بالعالم! هذه جملة باللغة العربية.", "اللغة العربية تُكتب من اليمين إلى اليسار، ١٢٣ ٤٥٦.",
    "नमस्ते दुनिया! यह हिंदी में एक वाक्य है।", "भारत की राजधानी नई दिल्ली है। १२३४५",
    "Привет, мир! Это предложение на русском языке.", "Γειά σου Κόσμε! Αυτή είναι μια πρόταση.",
    "שלום עולם! זה משפט בעברית.", "สวัสดีชาวโลก นี่คือประโยคภาษาไทย", "Xin chào thế giới! Tiếng Việt có dấu.",
    "Ça va? Où est la bibliothèque? Élève, naïve, façade.", "Grüß Gott! Straße, Äpfel, Öl, Übermut.",
    "ĠÑĤÐ²ÑĬÑĢ", "Ñandú, pingüino, ¿qué tal? ¡Olé!", "Zażółć gęślą jaźń.", "Ελληνικά: αβγδεζηθ ΑΒΓΔ",
    "ქართული ენა", "Հայերեն լեզու", "አማርኛ ቋንቋ", "தமிழ் மொழி", "ಕನ್ನಡ ಭಾಷೆ", "বাংলা ভাষা",
]

EMOJI = [
    "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇺🇸🇫🇷", "❤️", "✊🏿", "🧑🏻‍🤝‍🧑🏾", "😀😃😄😁",
    "🤖 says hi", "👋🏼 hello", "🫶", "🐳 baleen whale", "1️⃣2️⃣3️⃣", "©️®️™️", "☕️", "🧔‍♀️", "👁️‍🗨️",
]

WS = [" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\t\t", "\u00a0", "\u3000", "\u2009", "\u200b", "   \n\t "]

WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rand_unicode_char(rng):
    # Random code point from assorted blocks, never a surrogate.
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x22FF),
              (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF),
              (0x10000, 0x1007F), (0x20000, 0x2A6DF)]
    lo, hi = rng.choice(blocks)
    cp = rng.randint(lo, hi)
    assert not (0xD800 <= cp <= 0xDFFF)
    return chr(cp)


def gen(rng):
    out = []
    # 1. fixed samples, verbatim
    for group in (CODE, ENGLISH, CJK, OTHER_SCRIPTS, EMOJI, SPECIALS):
        out.extend(group)
    # 2. specials embedded in text, with assorted neighbours
    for _ in range(500):
        parts = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.4:
                parts.append(rng.choice(SPECIALS))
            elif kind < 0.6:
                parts.append(rng.choice(ENGLISH + CJK))
            elif kind < 0.7:
                parts.append(rng.choice(EMOJI))
            elif kind < 0.8:
                parts.append(rng.choice(WS))
            else:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        out.append(rng.choice(["", " ", "\n"]).join(parts))
    # 3. a realistic V4 prompt shape
    for i in range(100):
        q = rng.choice(ENGLISH + CJK + OTHER_SCRIPTS)
        think = rng.choice(["Let me think step by step.", "用户想知道答案。", "", "1+1=2\n2+2=4"])
        call = ('\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name="search">\n<｜DSML｜parameter name="query" string="true">'
                + q + '</｜DSML｜parameter>\n<｜DSML｜parameter name="top_k" string="false">' + str(i)
                + '</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>')
        out.append("<｜begin▁of▁sentence｜>You are helpful.<｜User｜>" + q + "<｜Assistant｜><think>" + think
                   + "</think>" + rng.choice(["Sure.", "好的。", ""]) + (call if i % 2 else "") + "<｜end▁of▁sentence｜>")
    # 4. digit runs of many lengths, with separators
    for n in range(1, 80):
        out.append("".join(rng.choice("0123456789") for _ in range(n)))
    for _ in range(150):
        sep = rng.choice([",", ".", " ", "", "-", "/", ":", "_", "e", "x"])
        out.append(sep.join(str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(rng.randint(2, 8))))
    out.append("١٢٣٤٥٦٧٨٩٠ ۱۲۳ १२३ ０１２３ ½ ¾ ² ³ ⁴")
    # 5. whitespace mixtures and line endings
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(2, 10)):
            parts.append(rng.choice(WS) * rng.randint(1, 4) if rng.random() < 0.5 else rng.choice(
                ["word", "x", "Hello", "中文", "end.", "(", ")", "==", "->", "    indented", "🙂"]))
        out.append("".join(parts))
    out.append(" " * 100)
    out.append("\n" * 50)
    out.append("\r\n" * 30 + "x")
    out.append("\t" * 40 + "y")
    # 6. very long words and repeats
    for n in (50, 100, 200, 500, 1000, 3000):
        out.append("".join(rng.choice(WORD_CHARS) for _ in range(n)))
        out.append("a" * n)
        out.append("ab" * (n // 2))
    out.append("Pneumonoultramicroscopicsilicovolcanoconiosis " * 5)
    out.append("supercalifragilisticexpialidocious" * 20)
    out.append("=" * 300)
    out.append("-_" * 200)
    out.append("中" * 500)
    out.append("😀" * 200)
    out.append("👨‍👩‍👧‍👦" * 50)
    # 7. code snippets mutated (indentation, joins)
    for _ in range(300):
        s = rng.choice(CODE)
        if rng.random() < 0.3:
            s = s.replace("    ", "\t")
        if rng.random() < 0.3:
            s = s.replace("\n", "\r\n")
        if rng.random() < 0.3:
            s = s + rng.choice(CODE)
        out.append(s)
    # 8. random prose-ish sentences from word pools
    pools = [w for s in ENGLISH for w in s.split()] + [w for s in OTHER_SCRIPTS for w in s.split()]
    for _ in range(700):
        words = [rng.choice(pools) for _ in range(rng.randint(1, 40))]
        out.append(" ".join(words))
    # 9. random Unicode strings (valid code points only)
    for _ in range(500):
        out.append("".join(rand_unicode_char(rng) for _ in range(rng.randint(1, 60))))
    # 10. combining marks, variation selectors, RTL/LTR marks, BOM
    out.extend(["e\u0301 vs é", "n\u0303", "a\u0300\u0301\u0302\u0303", "\u202eRTL override\u202c", "\u200e\u200f",
                "\ufeffBOM at start", "x\ufe0fy\ufe0e", "Z\u0351\u0352\u0353algo", "\u0000nul char", "\x7f\x01\x1b[31mred\x1b[0m"])
    # 11. mixed everything
    for _ in range(300):
        parts = [rng.choice(CODE + ENGLISH + CJK + OTHER_SCRIPTS + EMOJI + SPECIALS + WS) for _ in range(rng.randint(2, 6))]
        out.append("".join(parts))
    return out


def main():
    rng = random.Random(SEED)
    texts = gen(rng)
    for t in texts:
        t.encode("utf-8")  # raises on lone surrogates
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} strings to {os.path.normpath(OUT)}", file=sys.stderr)
    assert len(texts) >= 3000, len(texts)


if __name__ == "__main__":
    main()
