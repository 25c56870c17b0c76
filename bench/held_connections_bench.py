#!/usr/bin/env python3
"""Issue 19's connection case against a real `baleen serve` (default model baleen-nano): holds idle,
slowloris (a header byte a second) and streaming connections open — the streams generate for real — and
times GET /health and POST /v1/messages/count_tokens, each on a new connection, for SECONDS.

    bench/held_connections_bench.py BALEEN_BINARY [IDLE SLOW STREAMS SECONDS]   (default 880 100 16 10)
"""
import json
import math
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time

binary = sys.argv[1]
idle_n, slow_n, stream_n, seconds = (int(a) for a in (sys.argv[2:6] if len(sys.argv) >= 6 else (880, 100, 16, 10)))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
server = subprocess.Popen([binary, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
port = None
for line in server.stdout:
    if m := re.search(r"on http://127\.0\.0\.1:(\d+) ", line):
        port = int(m.group(1))
        break
assert port, "baleen serve did not start"


def dial():
    return socket.create_connection(("127.0.0.1", port))


def post(path, body):
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path, len(body)) + body


idle = [dial() for _ in range(idle_n)]
slow = [dial() for _ in range(slow_n)]
for s in slow:
    s.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
story = json.dumps({"messages": [{"role": "user", "content": "Tell me a long story."}], "temperature": 2.0,
                    "seed": 2, "max_tokens": 2000, "stream": True}).encode()
streams = [dial() for _ in range(stream_n)]
for s in streams:
    s.sendall(post(b"/v1/chat/completions", story))
done = False
streamed = 0


def slowloris():
    while not done:
        for s in slow:
            s.send(b"a")
        time.sleep(1)


def read_streams():
    global streamed
    while not done:
        for s in select.select(streams, [], [], 0.1)[0]:
            streamed += len(s.recv(65536))


threading.Thread(target=slowloris, daemon=True).start()
threading.Thread(target=read_streams, daemon=True).start()
time.sleep(1)


def timed(request):
    start = time.perf_counter()
    s = dial()
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += s.recv(65536)
    s.close()
    assert head.split(b" ")[1] == b"200", head
    return (time.perf_counter() - start) * 1000


count = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
health, tokens = [], []
start = time.time()
while time.time() - start < seconds:
    health.append(timed(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
    tokens.append(timed(post(b"/v1/messages/count_tokens", count)))
    time.sleep(0.02)
done = True
threads = open(f"/proc/{server.pid}/status").read().split("Threads:")[1].split()[0]


def pct(v, q):
    return sorted(v)[max(0, math.ceil(len(v) * q) - 1)]


print(f"held {idle_n + slow_n + stream_n} (idle {idle_n}, slowloris {slow_n}, streaming {stream_n}; "
      f"{streamed} bytes streamed); server threads {threads}")
for name, v in (("GET /health", health), ("POST count_tokens", tokens)):
    print(f"{name}: n={len(v)} p50 {pct(v, .5):.2f} ms p99 {pct(v, .99):.2f} ms max {max(v):.2f} ms")
server.terminate()
server.wait()
