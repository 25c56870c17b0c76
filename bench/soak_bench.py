#!/usr/bin/env python3
"""Issue 19's load soak against a real `baleen serve` (CPU backend, baleen-nano by default): STREAMS client
threads loop for SECONDS over every generation API — chat completions, completions, messages and responses,
streaming and not — and hang up on purpose on a fraction of requests (right after sending, while waiting for
a whole answer, or mid-stream; by close or by reset). Every outcome is checked and classified: ok, a
deliberate disconnect, a 429 (allowed: Retry-After is honoured), or an error (another status, malformed JSON
or SSE, a missing final event or [DONE], a reset or close we did not cause, a timeout). The server's RSS is
sampled meanwhile; its growth is measured from the end of the warm-up to the end of the run.

    bench/soak_bench.py [--binary B] [--streams 64] [--seconds 600] [--warmup S] [--disconnect 0.1]

Exits 1 when any request errs, the server leaves generations running after the clients stop, or RSS grew
more than --max-growth percent (2) after the warm-up.
"""
import argparse
import collections
import json
import math
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASKS = ["Who are you?", "How many lines are in notes.txt?", "Tell me a long story.", "Count the lines of logs/app.log.",
        "Explain what a tool call is.", "What is in notes.md?", "Write a poem about the sea.",
        "Read b.txt and tell me its first word."]
# A system prompt of ~300 tokens shared by a third of the requests, so the prefix cache hits at 128-token
# boundaries under load as well as at conversation ends.
SYSTEM = "You are a careful assistant working in a small repository. " + " ".join(
    f"Rule {i}: answer briefly, cite the file you read, and never invent the contents of a file." for i in range(12))
APIS = ["chat", "chat_stream", "completions", "completions_stream", "messages", "messages_stream", "responses",
        "responses_stream", "count_tokens"]


class Failure(Exception):
    """A request's outcome that is an error: the server broke the protocol, closed on us, or timed out."""


class Rejected(Exception):
    """A 429: allowed under load; carries Retry-After's seconds."""

    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


class Connection:
    """One HTTP/1.1 keep-alive connection read by hand, so a test can hang up at any byte."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self, reset=False):
        if reset:  # SO_LINGER 0: the close sends RST, as a killed client's kernel would
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def fill(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Failure("timeout waiting for the server")
        except ConnectionError as e:
            raise Failure(f"connection error: {e!r}")
        if not data:
            raise Failure("server closed the connection mid-response")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self):
        status_line = self.line()
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", status_line + b" ")
        if not m:
            raise Failure(f"bad status line {status_line[:80]!r}")
        headers = {}
        while (h := self.line()) != b"":
            k, _, v = h.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        return int(m.group(1)), headers

    def chunks(self, headers):
        """The body's pieces as they arrive: chunked, by Content-Length, or to the close."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while (size := int(self.line().split(b";")[0], 16)) > 0:
                yield self.exactly(size)
                if self.exactly(2) != b"\r\n":
                    raise Failure("chunk not followed by CRLF")
            while self.line() != b"":  # trailers
                pass
        elif "content-length" in headers:
            yield self.exactly(int(headers["content-length"]))
        else:
            raise Failure(f"response without length or chunking: {headers}")


def body_for(api, rng, last_response_id):
    """The request (path, JSON) one loop iteration sends: a random ask, 32-64 tokens, thinking or not, greedy
    or sampled, with the shared system prompt a third of the time."""
    ask = rng.choice(ASKS)
    n = rng.randint(32, 64)
    think = rng.random() < 0.5
    system = rng.random() < 1 / 3
    sampling = {"temperature": rng.choice([0, 0, 0.8])}
    stream = api.endswith("_stream")
    if api.startswith("chat"):
        messages = ([{"role": "system", "content": SYSTEM}] if system else []) + [{"role": "user", "content": ask}]
        body = {"messages": messages, "max_tokens": n, "chat_template_kwargs": {"thinking": think}, **sampling}
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return "/v1/chat/completions", body
    if api.startswith("completions"):
        prompt = (SYSTEM if system else "") + "<｜User｜>" + ask + "<｜Assistant｜>" + ("<think>" if think else "</think>")
        body = {"prompt": prompt, "max_tokens": n, **sampling}
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return "/v1/completions", body
    if api.startswith("messages") or api == "count_tokens":
        body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": ask}]}
        if system:
            body["system"] = SYSTEM
        if api == "count_tokens":
            return "/v1/messages/count_tokens", body
        body |= {"max_tokens": n, "thinking": {"type": "enabled", "budget_tokens": 1024} if think else {"type": "disabled"},
                 "stream": stream, **sampling}
        return "/v1/messages", body
    body = {"input": ask, "max_output_tokens": n, "reasoning": {"effort": "high" if think else "none"}, "stream": stream,
            **sampling}
    if system:
        body["instructions"] = SYSTEM
    if last_response_id and rng.random() < 0.3:  # a second turn on the thread's last stored response
        body["previous_response_id"] = last_response_id
    return "/v1/responses", body


def sse_events(conn, headers):
    """(event name or None, data text) for each SSE event of the body, as it arrives."""
    pending = b""
    for piece in conn.chunks(headers):
        pending += piece
        while b"\n\n" in pending:
            block, pending = pending.split(b"\n\n", 1)
            event, data = None, []
            for line in block.decode().split("\n"):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line and not line.startswith(":"):
                    raise Failure(f"malformed SSE line {line[:80]!r}")
            yield event, "\n".join(data)
    if pending.strip():
        raise Failure(f"SSE body ends mid-event: {pending[:80]!r}")


def parse(text, what):
    try:
        return json.loads(text)
    except ValueError:
        raise Failure(f"malformed JSON in {what}: {text[:120]!r}")


def check_whole(api, doc):
    """Tokens generated, from a non-streaming answer that has the shape its API promises."""
    try:
        if api == "chat":
            assert doc["object"] == "chat.completion" and doc["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls")
            return doc["usage"]["completion_tokens"]
        if api == "completions":
            assert doc["object"] == "text_completion" and isinstance(doc["choices"][0]["text"], str)
            return doc["usage"]["completion_tokens"]
        if api == "messages":
            assert doc["type"] == "message" and doc["stop_reason"] in ("end_turn", "max_tokens", "tool_use", "stop_sequence")
            return doc["usage"]["output_tokens"]
        if api == "responses":
            assert doc["object"] == "response" and doc["status"] in ("completed", "incomplete")
            return doc["usage"]["output_tokens"]
        assert isinstance(doc["input_tokens"], int)
        return 0
    except (AssertionError, KeyError, IndexError, TypeError):
        raise Failure(f"{api}: answer not of its API's shape: {json.dumps(doc)[:200]}")


def read_stream(api, conn, headers, hang_up_after):
    """Tokens generated, from a stream checked event by event; None if we hung up after hang_up_after events
    (a stream that ends before then is read and checked whole)."""
    seen, tokens, last, seq = 0, None, None, -1
    for event, data in sse_events(conn, headers):
        if last in ("[DONE]", "message_stop", "response.completed", "response.incomplete"):
            raise Failure(f"{api}: event after the final one: {data[:120]!r}")
        seen += 1
        if hang_up_after is not None and seen >= hang_up_after:
            return None
        if api in ("chat_stream", "completions_stream"):
            if data == "[DONE]":
                last = "[DONE]"
                continue
            doc = parse(data, api)
            if "error" in doc:
                raise Failure(f"{api}: error event {data[:200]}")
            if doc.get("usage"):
                tokens = doc["usage"]["completion_tokens"]
            last = "chunk"
            continue
        doc = parse(data, api)
        if event != doc.get("type"):
            raise Failure(f"{api}: event {event!r} carries type {doc.get('type')!r}")
        if event in ("error", "response.failed"):
            raise Failure(f"{api}: {event} {data[:200]}")
        if api == "responses_stream":
            if doc.get("sequence_number") != seq + 1:
                raise Failure(f"{api}: sequence_number {doc.get('sequence_number')} after {seq}")
            seq = doc["sequence_number"]
            if event in ("response.completed", "response.incomplete"):
                tokens = doc["response"]["usage"]["output_tokens"]
        elif event == "message_delta":
            tokens = doc["usage"]["output_tokens"]
        elif seen == 1 and event != "message_start":
            raise Failure(f"{api}: first event {event!r}")
        last = event
    final = "[DONE]" if api in ("chat_stream", "completions_stream") else (
        "message_stop" if api == "messages_stream" else ("response.completed", "response.incomplete"))
    if last not in (final if isinstance(final, tuple) else (final,)) or tokens is None:
        raise Failure(f"{api}: stream ended at {last!r} without its final event or usage")
    return tokens


class Client:
    """One client thread's loop and its tallies."""

    def __init__(self, index, args, port, stop_at):
        self.rng = random.Random(args.seed * 1000 + index)
        self.args, self.port, self.stop_at = args, port, stop_at
        self.conn = None
        self.last_response_id, self.last_response_at = None, 0.0
        self.outcomes = collections.Counter()  # (api, outcome)
        self.latency = collections.defaultdict(list)  # api -> seconds, ok requests
        self.tokens = 0
        self.errors = []

    def run(self):
        while time.time() < self.stop_at:
            api = self.rng.choices(APIS, weights=[1, 1, 1, 1, 1, 1, 1, 1, 0.3])[0]
            # The store keeps the last 256 responses, ~2 minutes of this load: an older id is a correct 404.
            fresh = self.last_response_id if time.time() - self.last_response_at < 30 else None
            path, body = body_for(api, self.rng, fresh)
            started = time.time()
            try:
                outcome = self.one(api, path, body)
            except Rejected as r:
                outcome = "429"
                time.sleep(min(r.retry_after, 1.0) * self.rng.uniform(0.2, 1.0))
            except Failure as e:
                outcome = "error"
                self.errors.append((round(started - self.stop_at + self.args.seconds, 1), api, str(e)))
                self.drop()
            except (OSError, KeyError, TypeError, ValueError) as e:  # refused or reset; a field missing
                outcome = "error"
                self.errors.append((round(started - self.stop_at + self.args.seconds, 1), api, f"{e!r}"))
                self.drop()
            self.outcomes[api, outcome] += 1
            if outcome == "ok":
                self.latency[api].append(time.time() - started)
        self.drop()

    def drop(self, reset=False):
        if self.conn:
            self.conn.close(reset)
            self.conn = None

    def one(self, api, path, body):
        if not self.conn:
            self.conn = Connection(self.port, self.args.timeout)
        data = json.dumps(body).encode()
        self.conn.sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\n\r\n" % (path.encode(), len(data)) + data)
        hang_up = self.rng.random() < self.args.disconnect and api != "count_tokens"
        reset = self.rng.random() < 0.5
        if hang_up and (not api.endswith("_stream") or self.rng.random() < 0.3):
            time.sleep(self.rng.choice([0, 0, self.rng.uniform(0, 1.5)]))  # at once, or while it waits or runs
            self.drop(reset)
            return "disconnect"
        status, headers = self.conn.head()
        if status == 429:
            if "retry-after" not in headers:
                raise Failure(f"429 without Retry-After: {headers}")
            b"".join(self.conn.chunks(headers))
            if headers.get("connection", "").lower() == "close":
                self.drop()
            raise Rejected(float(headers["retry-after"]))
        if status != 200:
            text = b"".join(self.conn.chunks(headers))[:300]
            raise Failure(f"status {status}: {text!r}")
        if api.endswith("_stream"):
            if not headers.get("content-type", "").startswith("text/event-stream"):
                raise Failure(f"{api}: content-type {headers.get('content-type')!r}")
            tokens = read_stream(api, self.conn, headers, self.rng.randint(1, 30) if hang_up else None)
            if tokens is None:
                self.drop(reset)
                return "disconnect"
        else:
            doc = parse(b"".join(self.conn.chunks(headers)).decode(), api)
            tokens = check_whole(api, doc)
            if api == "responses":
                self.last_response_id = doc["id"] if self.rng.random() < 0.7 else None
                self.last_response_at = time.time()
        self.tokens += tokens
        if headers.get("connection", "").lower() == "close":
            self.drop()
        return "ok"


def start_server(args):
    command = [args.binary, "serve", "--model", args.model, "--port", "0", "--max-running", str(args.max_running),
               "--max-queue", str(args.max_queue), "--cache-memory", str(args.cache_memory)] + args.serve_arg
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in server.stdout:
        if m := re.search(r"listening at 127\.0\.0\.1:(\d+)", line):
            port = int(m.group(1))
            break
    if not port:
        sys.exit(f"baleen serve did not start: {' '.join(command)}")
    log = collections.deque(maxlen=200)
    threading.Thread(target=lambda: log.extend(server.stdout), daemon=True).start()  # a full pipe would stall it
    deadline = time.time() + 120
    while get(port, "/health")[0] != 200:
        if time.time() > deadline:
            sys.exit("GET /health did not say ready within 120 s")
        time.sleep(0.2)
    return server, port, log, " ".join(command)


def get(port, path):
    try:
        conn = Connection(port, 10)
        conn.sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        status, headers = conn.head()
        body = b"".join(conn.chunks(headers)).decode()
        conn.close()
        return status, body
    except (OSError, Failure):
        return 0, ""


def proc_status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    return float(m.group(1)) if m else float("nan")


def sample_rss(pid, port, every, start, samples, done):
    """(seconds, RSS KiB, session state MiB, prefix cache entries) every `every` seconds: the state and the
    cache grow until their bounds, so RSS is flat only once they have reached them."""
    while not done.is_set():
        text = get(port, "/metrics")[1]
        samples.append((time.time() - start, proc_status(pid, "VmRSS"),
                        metric(text, "baleen_state_memory_bytes") / 2**20, metric(text, "baleen_prefix_cache_entries")))
        done.wait(every)


def pct(values, q):
    v = sorted(values)
    return v[max(0, math.ceil(len(v) * q) - 1)] if v else float("nan")


def metric_lines(text):
    keep = ("baleen_requests_total", "baleen_generations_total", "baleen_rejected_total", "baleen_generated_tokens_total",
            "baleen_prompt_tokens_total", "baleen_cached_prompt_tokens_total", "baleen_preemptions_total",
            "baleen_running_sequences", "baleen_waiting_sequences", "baleen_state_memory_bytes",
            "baleen_prefix_cache_entries", "baleen_prefix_cache_evictions_total", "baleen_batch_size_sum",
            "baleen_batch_size_count", "baleen_steps_total")
    return [line for line in text.splitlines() if line.startswith(keep)]


def report(args, clients, samples, wall, server, port, command):
    outcomes, latency, errors = collections.Counter(), collections.defaultdict(list), []
    for c in clients:
        outcomes.update(c.outcomes)
        errors += c.errors
        for api, v in c.latency.items():
            latency[api] += v
    print(f"command: {command}")
    print(f"{args.streams} streams for {wall:.0f} s, disconnect probability {args.disconnect}")
    print(f"{'api':20} {'ok':>6} {'disc':>6} {'429':>6} {'error':>6} {'p50 s':>7} {'p99 s':>7}")
    for api in APIS:
        row = [outcomes[api, o] for o in ("ok", "disconnect", "429", "error")]
        print(f"{api:20} {row[0]:6} {row[1]:6} {row[2]:6} {row[3]:6} {pct(latency[api], .5):7.3f} {pct(latency[api], .99):7.3f}")
    total = {o: sum(n for (_, k), n in outcomes.items() if k == o) for o in ("ok", "disconnect", "429", "error")}
    every = [s for v in latency.values() for s in v]
    tokens = sum(c.tokens for c in clients)
    print(f"total: {total}; latency p50 {pct(every, .5):.2f} s p99 {pct(every, .99):.2f} s; "
          f"{tokens} tokens in ok answers = {tokens / wall:.0f} tokens/s, {total['ok'] / wall:.1f} answers/s "
          f"(the server generated {metric(get(port, '/metrics')[1], 'baleen_generated_tokens_total') / wall:.0f} "
          f"tokens/s, the interrupted generations' included)")
    for t, api, e in sorted(errors)[:10]:
        print(f"  error at {t} s, {api}: {e}")
    kinds = collections.Counter(re.sub(r"'[^']*'|\d+", "_", e)[:100] for _, _, e in errors)
    for kind, n in kinds.most_common(5):
        print(f"  {n} errors: {kind}")
    warm = next((rss for t, rss, *_ in samples if t >= args.warmup), samples[-1][1])
    after = [rss for t, rss, *_ in samples if t >= args.warmup]
    end = samples[-1][1]
    growth = (end - warm) / warm * 100
    print(f"RSS (KiB): start {samples[0][1]}, after warm-up ({args.warmup:.0f} s) {warm}, end {end}, "
          f"max after warm-up {max(after)}; growth {growth:+.2f}%; VmHWM {proc_status(server.pid, 'VmHWM')}")
    step = max(1, int(args.report_every / args.sample))
    print("time: RSS MiB / session state MiB / prefix cache entries")
    print("  " + ", ".join(f"{t:.0f} s: {rss / 1024:.1f} / {state:.0f} / {n:.0f}"
                           for t, rss, state, n in samples[::step] + samples[-1:]))
    return errors, growth


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, "build/release/src/app/baleen"))
    p.add_argument("--model", default=os.path.join(ROOT, "models/baleen-nano"))
    p.add_argument("--streams", type=int, default=64)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--warmup", type=float, help="seconds before the RSS baseline (default: 10%% of --seconds)")
    p.add_argument("--disconnect", type=float, default=0.1, help="probability a request is hung up on purpose")
    p.add_argument("--timeout", type=float, default=60, help="seconds a read may wait before it is an error")
    p.add_argument("--sample", type=float, default=2, help="seconds between RSS samples")
    p.add_argument("--report-every", type=float, default=60, help="seconds between the samples printed")
    p.add_argument("--max-growth", type=float, default=2, help="percent of RSS growth after the warm-up allowed")
    p.add_argument("--max-running", type=int, default=64)
    p.add_argument("--max-queue", type=int, default=64)
    p.add_argument("--cache-memory", type=int, default=128,
                   help="MiB of session state for `serve --cache-memory`: small, so the prefix cache reaches its "
                        "bound within the warm-up and RSS can be flat after it (the server's default, 2048, fills "
                        "for ~15 minutes at nano's CPU throughput)")
    p.add_argument("--serve-arg", action="append", default=[], help="one more `baleen serve` argument (repeatable)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    args.warmup = args.seconds * 0.1 if args.warmup is None else args.warmup
    server, port, log, command = start_server(args)
    start = time.time()
    samples, done = [], threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(server.pid, port, args.sample, start, samples, done))
    sampler.start()
    clients = [Client(i, args, port, start + args.seconds) for i in range(args.streams)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    done.set()  # the end sample is the last one inside the run, before the in-flight requests drain
    sampler.join()
    for t in threads:
        t.join(args.timeout + 5)
    wall = time.time() - start
    errors, growth = report(args, clients, samples, wall, server, port, command)
    drained = False
    for _ in range(50):  # every generation ends once its client is gone or answered
        health = parse(get(port, "/health")[1] or "{}", "/health")
        if health.get("running") == 0 and health.get("waiting") == 0:
            drained = True
            break
        time.sleep(0.2)
    print(f"after the clients: /health {json.dumps(health)}; server threads {proc_status(server.pid, 'Threads')}, "
          f"open fds {len(os.listdir(f'/proc/{server.pid}/fd'))}")
    print("\n".join("  " + line for line in metric_lines(get(port, "/metrics")[1])))
    server.terminate()
    server.wait()
    failed = bool(errors) or not drained or growth > args.max_growth
    if errors or not drained:
        print("server log tail:\n" + "".join("  " + line for line in list(log)[-15:]))
    print(("FAIL: " if failed else "PASS: ") + f"{len(errors)} errors, generations drained {drained}, "
          f"RSS growth {growth:+.2f}% (limit {args.max_growth}%)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
