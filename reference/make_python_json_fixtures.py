#!/usr/bin/env python3
"""Writes tests/fixtures/chat/python_json.jsonl: random JSON values and Python's json.dumps(v, ensure_ascii=False)
of each, the truth baleen's python_json_dumps is tested against (the tool schemas and non-string tool
arguments of DeepSeek's prompts are written by that call).

Command: python3 reference/make_python_json_fixtures.py   (recorded with CPython 3, stdlib json only)
"""
import json
import math
import random
import struct
import sys
from pathlib import Path

CHARS = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\x00', '\x01', '\x1f', '\x7f', 'é', '東京',
         '\u2028', '\u2029', '😀', '👩‍👩‍👧', '｜', '▁', '<', '>', '&', "'", '{', '}']


def rand_string(rng):
    return ''.join(rng.choice(CHARS) for _ in range(rng.randint(0, 8)))


def rand_float(rng):
    kind = rng.randint(0, 5)
    if kind == 0:
        return struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
    if kind == 1:
        return rng.uniform(-1e3, 1e3)
    if kind == 2:
        return rng.choice([0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 1e-4, 1e-5, 1.5e-7, 123456789.0, 2.0 ** 53, 1e22, 5e-324,
                           1.7976931348623157e308, 0.30000000000000004, 100.0, 1e100])
    if kind == 3:
        return float(rng.randint(-10 ** 6, 10 ** 6))
    return rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)


def rand_value(rng, depth):
    kind = rng.randint(0, 7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-2 ** 63, 2 ** 64 - 1) if rng.random() < 0.3 else rng.randint(-1000, 1000)
    if kind == 3:
        f = rand_float(rng)
        return 0.0 if math.isnan(f) or math.isinf(f) else f
    if kind in (4, 5):
        return rand_string(rng)
    if kind == 6:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_string(rng): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def main():
    rng = random.Random(20260731)
    out = Path(__file__).resolve().parent.parent / 'tests/fixtures/chat/python_json.jsonl'
    with open(out, 'w', encoding='utf-8') as f:
        for _ in range(2000):
            value = rand_value(rng, 0)
            f.write(json.dumps({'value': value, 'dumps': json.dumps(value, ensure_ascii=False)}, ensure_ascii=True) + '\n')
    print(f'wrote {out} with python {sys.version.split()[0]}')


if __name__ == '__main__':
    main()
