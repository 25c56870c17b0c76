# Codex CLI (npm @openai/codex) `codex exec` against `baleen serve` through a model_providers entry with
# wire_api = "responses", as docs/SERVER.md configures it. Short base instructions and fewer built-in tools
# keep the prompt small enough for nano on a CPU; the turn must complete (turn.completed with an answer).
set -euo pipefail
home="$BALEEN_WORK/codex"
mkdir -p "$home"
echo "You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace." >"$home/instructions.md"
cat >"$home/config.toml" <<TOML
model = "baleen-nano"
model_provider = "baleen"
model_instructions_file = "$home/instructions.md"
web_search = "disabled"
[features]
goals = false
[agents]
enabled = false
[model_providers.baleen]
name = "baleen"
base_url = "$BALEEN_URL/v1"
env_key = "BALEEN_API_KEY"
wire_api = "responses"
supports_websockets = false
request_max_retries = 0
stream_max_retries = 0
TOML
out="$BALEEN_WORK/codex.jsonl"
cd "$BALEEN_WORK"
CODEX_HOME="$home" BALEEN_API_KEY=local timeout 120 codex exec --skip-git-repo-check --json \
  "What is the capital of Sweden?" >"$out" 2>"$BALEEN_WORK/codex.err" || { cat "$out" "$BALEEN_WORK/codex.err"; exit 1; }
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l));
const done = lines.find(e => e.type === "turn.completed");
const answer = lines.find(e => e.type === "item.completed" && e.item.type === "agent_message");
const ok = done && done.usage.output_tokens > 0 && answer && answer.item.text.length > 0;
console.log(ok ? "ok: codex exec completed: " + JSON.stringify(answer.item.text) + " " + JSON.stringify(done.usage)
              : "FAIL: " + lines.map(l => JSON.stringify(l)).join("\n"));
process.exit(ok ? 0 : 1);' "$out"
