// The official @anthropic-ai/sdk against `baleen serve` /v1/messages: a whole answer, the same turn
// streamed (assembled by the SDK's own MessageStream), the raw event order, a tool round trip with and
// without the thinking block echoed back (prefix reuse >= 95%), count_tokens and errors.
"use strict";
const Anthropic = require("@anthropic-ai/sdk").default;
const {SYSTEM, FUNCTIONS, check, toolResult, checkReuse, main, withoutIds, baseURL} = require("./nano.cjs");

const client = new Anthropic({baseURL, apiKey: "local", maxRetries: 0});
const tools = FUNCTIONS.map(f => ({name: f.name, description: f.description, input_schema: f.parameters}));
const request = question => ({
  model: "claude-opus-5-5", max_tokens: 64, temperature: 0, tools,
  thinking: {type: "adaptive"}, output_config: {effort: "medium"},
  system: [{type: "text", text: "x-anthropic-billing-header: cc_version=2.1.0; cch=" + Math.random().toString(16).slice(2) + ";"},
           {type: "text", text: SYSTEM, cache_control: {type: "ephemeral"}}],
  messages: [{role: "user", content: question}],
  metadata: {user_id: "user_test_session_1"},
});

// The order rules of a Messages stream (what MessageStream and Claude Code enforce).
function checkEventOrder(events) {
  const names = events.map(e => e.type);
  check(names[0] === "message_start" && names.filter(n => n === "message_start").length === 1,
        "one message_start, first", names);
  check(names[names.length - 1] === "message_stop" && names[names.length - 2] === "message_delta",
        "message_delta then message_stop last", names.slice(-3));
  let open = null, next = 0, ok = true;
  for (const e of events) {
    if (e.type === "content_block_start") {
      ok = ok && open === null && e.index === next;
      open = {index: e.index, type: e.content_block.type};
      next++;
    } else if (e.type === "content_block_delta") {
      const want = {text_delta: "text", thinking_delta: "thinking", signature_delta: "thinking",
                    input_json_delta: "tool_use"}[e.delta.type];
      ok = ok && open !== null && open.index === e.index && open.type === want;
    } else if (e.type === "content_block_stop") {
      ok = ok && open !== null && open.index === e.index;
      open = null;
    }
  }
  check(ok && open === null, "blocks sequential, each delta matching its block, every block closed");
  const start = events[0].message.usage, delta = events[events.length - 2];
  check(start.input_tokens > 0 && start.output_tokens === 0, "message_start usage", start);
  check(delta.usage.output_tokens > 0 && delta.delta.stop_reason, "message_delta stop_reason and usage", delta);
}

main(async () => {
  const question = "How many lines are in notes.txt?";
  const whole = await client.messages.create(request(question));
  check(whole.type === "message" && whole.role === "assistant", "a message");
  check(whole.stop_reason === "tool_use", "stop_reason tool_use", whole);
  check(whole.content[0].type === "thinking" && whole.content[0].thinking.length > 0, "thinking block first", whole.content);
  const call = whole.content.find(b => b.type === "tool_use");
  check(call && typeof call.input === "object" && call.id.startsWith("toolu_"), "a tool_use block", whole.content);

  // The same prompt again: the prefix cache holds its 128-token boundaries, so only the split of the prompt
  // between input_tokens and cache_read_input_tokens may differ.
  const streamed = await client.messages.stream(request(question)).finalMessage();
  const comparable = m => withoutIds({...m, usage: {prompt: m.usage.input_tokens + m.usage.cache_read_input_tokens,
                                                    output_tokens: m.usage.output_tokens}});
  check(JSON.stringify(comparable(streamed)) === JSON.stringify(comparable(whole)),
        "the streamed message equals the whole one", {streamed: withoutIds(streamed), whole: withoutIds(whole)});
  check(streamed.usage.cache_read_input_tokens > 0, "the repeated prompt is read from the prefix cache",
        streamed.usage);

  const raw = await client.messages.create({...request(question), stream: true});
  const events = [];
  for await (const e of raw) events.push(e);
  checkEventOrder(events);

  // Tool round trips: the turn sent back as the SDK returned it, then with its thinking dropped and the
  // input's keys reordered.
  for (const variant of ["echoed", "thinking dropped"]) {
    const first = await client.messages.create(request(question));
    const use = first.content.find(b => b.type === "tool_use");
    if (!use) { check(false, `${variant}: a tool call`, first); continue; }
    let content = first.content;
    if (variant !== "echoed") content = content.filter(b => b.type !== "thinking");
    const next = request(question);
    next.messages.push({role: "assistant", content});
    next.messages.push({role: "user", content: [
      {type: "tool_result", tool_use_id: use.id, content: [{type: "text", text: toolResult(use.name, use.input)}]}]});
    const second = await client.messages.create(next);
    check(second.stop_reason === "end_turn" || second.stop_reason === "max_tokens" || second.stop_reason === "tool_use",
          `${variant}: the turn after the tool result ends`, second.stop_reason);
    const u1 = first.usage, u2 = second.usage;
    checkReuse(`${variant}: cache_read_input_tokens`, u2.cache_read_input_tokens,
               u1.input_tokens + u1.cache_read_input_tokens + u1.output_tokens);
  }

  const counted = await client.messages.countTokens({model: "claude-opus-5-5", messages: [{role: "user", content: question}], tools});
  check(counted.input_tokens > 0, "count_tokens", counted);

  const stopped = await client.messages.create({model: "baleen-nano", max_tokens: 64, temperature: 0,
    messages: [{role: "user", content: "Say hello."}], stop_sequences: ["l"], thinking: {type: "disabled"}});
  check(stopped.stop_reason === "stop_sequence" ? stopped.stop_sequence === "l" && !stopped.content.some(b => b.type === "text" && b.text.includes("l"))
                                                : stopped.stop_reason === "end_turn",
        "stop_sequences end the turn before the sequence", stopped);

  for (const stream of [false, true]) {
    try {
      await client.messages.create({...request(question), messages: [{role: "user", content: [{type: "image", source: {type: "base64", media_type: "image/png", data: "iVBORw0KGgo="}}]}], stream});
      check(false, `image refused (stream ${stream})`);
    } catch (e) {
      check(e instanceof Anthropic.BadRequestError && /image/.test(e.message), `image refused with a 400 (stream ${stream})`, e.message);
    }
  }
  try {
    await client.messages.create({...request(question), model: "gpt-9"});
    check(false, "unknown model refused");
  } catch (e) {
    check(e instanceof Anthropic.NotFoundError && e.error.error.type === "not_found_error", "unknown model is a 404 not_found_error", e.message);
  }
});
