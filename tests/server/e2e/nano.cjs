// What the end-to-end client scripts share: baleen-nano's trained tools and system prompt, a made-up
// tool executor, and checks that fail the script with a message saying what differed.
"use strict";

const SYSTEM = "You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace.";

// reference/nano/tools.py, the tools nano was trained to call (key order is the rendered order).
const FUNCTIONS = [
  {name: "run_command", description: "Run a shell command in the workspace and return its output.",
   parameters: {type: "object", properties: {command: {type: "string", description: "The shell command to run."}},
                required: ["command"]}},
  {name: "read_file", description: "Read a text file from the workspace.",
   parameters: {type: "object", properties: {path: {type: "string", description: "Path relative to the workspace."}},
                required: ["path"]}},
  {name: "list_dir", description: "List the entries of a directory in the workspace (directories end with /).",
   parameters: {type: "object", properties: {
     path: {type: "string", description: "Directory relative to the workspace; . for the root."}}, required: ["path"]}},
];

let failures = 0;
function check(ok, what, detail) {
  if (ok) {
    console.log(`ok: ${what}`);
  } else {
    failures++;
    console.log(`FAIL: ${what}${detail === undefined ? "" : ": " + (typeof detail === "string" ? detail : JSON.stringify(detail))}`);
  }
}

// A plausible result for any call nano makes (the test checks the protocol, not the workspace).
function toolResult(name, args) {
  const lines = 3 + Math.floor(Math.random() * 20);
  if (name === "run_command") return `${lines} ${String(args.command || "").split(" ").pop()}`;
  if (name === "list_dir") return "notes.txt\nlogs/";
  return `line one\nline two\n(${lines} lines)`;
}

// The prompt tokens reused on a turn after the first must cover >= 95% of the previous prompt + completion.
function checkReuse(what, reused, previousTotal) {
  check(reused >= 0.95 * previousTotal, `${what}: reused ${reused} of the previous ${previousTotal} tokens`);
}

async function main(body) {
  try {
    await body();
  } catch (e) {
    failures++;
    console.log(`FAIL: ${e.stack || e}`);
  }
  console.log(failures ? `${failures} check(s) failed` : "all checks passed");
  process.exit(failures ? 1 : 0);
}

// Deep copy without the fields that differ between two generations of the same turn (ids, signatures).
function withoutIds(value) {
  return JSON.parse(JSON.stringify(value, (k, v) =>
    ["id", "call_id", "signature", "created_at", "created", "item_id", "sequence_number", "parsed_output", "parsed_arguments"].includes(k) ? undefined : v));
}

module.exports = {SYSTEM, FUNCTIONS, check, toolResult, checkReuse, main, withoutIds,
                  baseURL: process.env.BALEEN_URL};
