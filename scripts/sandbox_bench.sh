#!/bin/sh
# Sandbox start latency against its floors, RUNS times (default 5), best run first (issue 21's bar:
# process create + exec `true` + destroy at p50 <= 1.5x and p99 <= 3x the bare 5-namespace clone measured
# in the same run). Two modes, each against the floor measured the same way: back to back (a throughput
# figure: on 2 CPUs the pools' building competes with the cycle) and paced (20 ms idle between cycles, as
# a caller that does anything between sandboxes leaves: the latency a create sees). Needs root and
# build/release/bench/sandbox_bench; SCHED_FIFO (chrt) keeps the host's other load off the run queue, so
# no CPU cgroup (v1 refuses RT tasks). Usage: scripts/sandbox_bench.sh [RUNS]
set -eu
runs=${1:-5}
bench=${BALEEN_BENCH:-$(dirname "$0")/../build/release/bench/sandbox_bench}
filter='ProcessCreateExecDestroy/cpu_cgroup:0/userns:1/|ContainerCreateExecDestroy/cpu_cgroup:0|NamespaceCloneFloor/netns:1/|ExecTrueFloor'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "$(date -u '+%F %T UTC') $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$runs" ]; do
  chrt -f 10 "$bench" --benchmark_filter="$filter" --benchmark_format=json >"$out/$i.json" 2>/dev/null
  i=$((i + 1))
done
# One line per run and mode: the medians and p99s in ms, and the process cycle's ratios to the floor.
jq -rs '
  def row($name): (.benchmarks[] | select(.name | startswith($name)));
  def ms: . * 1000 | round / 1000;
  [to_entries[] | .key as $run | .value as $v | ("0", "20") | . as $pause | {
     run: ($run + 1), mode: (if $pause == "0" then "back to back" else "paced" end),
     p: ($v | row("ProcessCreateExecDestroy/cpu_cgroup:0/userns:1/pause_ms:\($pause)/")),
     f: ($v | row("NamespaceCloneFloor/netns:1/pause_ms:\($pause)/")),
     c: (if $pause == "0" then ($v | row("ContainerCreateExecDestroy")) else null end),
     e: ($v | row("ExecTrueFloor"))}]
  | map(. + {r50: (.p.median_ms / .f.median_ms), r99: (.p.p99_ms / .f.p99_ms)})
  | sort_by(.mode, .r50)
  | (["run", "mode", "process p50/p99 (create/exec/destroy; command)", "container p50/p99", "floor p50/p99",
      "exec-true p50", "p50 ratio", "p99 ratio"] | @tsv),
    (.[] | [
      (.run | tostring), .mode,
      ("\(.p.median_ms | ms) / \(.p.p99_ms | ms) (\(.p.create_ms | ms)/\(.p.exec_ms | ms)/\(.p.destroy_ms | ms); \(.p.cmd_ms | ms))"),
      (if .c then "\(.c.median_ms * 100 | round / 100) / \(.c.p99_ms * 100 | round / 100)" else "-" end),
      ("\(.f.median_ms | ms) / \(.f.p99_ms | ms)"),
      ("\(.e.median_ms | ms)"),
      ("\(.r50 * 100 | round / 100)x" + (if .r50 <= 1.5 then " ok" else " MISSES 1.5x" end)),
      ("\(.r99 * 100 | round / 100)x" + (if .r99 <= 3 then " ok" else " MISSES 3x" end))
    ] | @tsv)' "$out"/*.json | column -t -s "$(printf '\t')"
