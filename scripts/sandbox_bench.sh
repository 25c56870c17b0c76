#!/bin/sh
# Sandbox start latency against its floors, RUNS times (default 5), best run first (issue 21's bar:
# process create + exec `true` + destroy at p50 <= 1.5x and p99 <= 3x the bare 5-namespace clone measured
# in the same run). Needs root and build/release/bench/sandbox_bench; SCHED_FIFO (chrt) keeps the host's
# other load off the run queue, so no CPU cgroup (v1 refuses RT tasks). Usage: scripts/sandbox_bench.sh [RUNS]
set -eu
runs=${1:-5}
bench=${BALEEN_BENCH:-$(dirname "$0")/../build/release/bench/sandbox_bench}
filter='ProcessCreateExecDestroy/cpu_cgroup:0/userns:1/pause_ms:0|ContainerCreateExecDestroy/cpu_cgroup:0|NamespaceCloneFloor/netns:1|ExecTrueFloor'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "$(date -u '+%F %T UTC') $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$runs" ]; do
  chrt -f 10 "$bench" --benchmark_filter="$filter" --benchmark_format=json >"$out/$i.json" 2>/dev/null
  i=$((i + 1))
done
# One line per run: the medians and p99s in ms, and the process cycle's ratios to the clone floor.
jq -rs '
  def row($name): (.benchmarks[] | select(.name | startswith($name)));
  map({p: row("ProcessCreateExecDestroy"), c: row("ContainerCreateExecDestroy"),
       f: row("NamespaceCloneFloor"), e: row("ExecTrueFloor")})
  | map(. + {r50: (.p.median_ms / .f.median_ms), r99: (.p.p99_ms / .f.p99_ms)})
  | sort_by(.r50)
  | (["run", "process p50/p99 (create/exec/destroy)", "container p50/p99", "floor p50/p99",
      "exec-true p50", "p50 ratio", "p99 ratio"] | @tsv),
    (to_entries[] | .value as $v | [
      (.key + 1 | tostring),
      ("\($v.p.median_ms * 1000 | round / 1000) / \($v.p.p99_ms * 1000 | round / 1000) (\($v.p.create_ms * 1000 | round / 1000)/\($v.p.exec_ms * 1000 | round / 1000)/\($v.p.destroy_ms * 1000 | round / 1000))"),
      ("\($v.c.median_ms * 100 | round / 100) / \($v.c.p99_ms * 100 | round / 100)"),
      ("\($v.f.median_ms * 1000 | round / 1000) / \($v.f.p99_ms * 1000 | round / 1000)"),
      ("\($v.e.median_ms * 1000 | round / 1000)"),
      ("\($v.r50 * 100 | round / 100)x" + (if $v.r50 <= 1.5 then " ok" else " MISSES 1.5x" end)),
      ("\($v.r99 * 100 | round / 100)x" + (if $v.r99 <= 3 then " ok" else " MISSES 3x" end))
    ] | @tsv)' "$out"/*.json | column -t -s "$(printf '\t')"
