// The official `openai` npm SDK against `baleen serve`: Responses (/v1/responses) and Chat Completions
// — a whole answer, the same turn streamed and assembled by the SDK's own stream helpers, the event order,
// tool round trips with and without the reasoning echoed back and with the arguments re-serialized (prefix
// reuse >= 95%), stored responses, a prompt over the context, chat and responses logprobs whole and
// streamed, n = 2 choices, and errors.
"use strict";
const OpenAI = require("openai").default;
const {SYSTEM, FUNCTIONS, check, toolResult, checkReuse, main, withoutIds, baseURL} = require("./nano.cjs");

const client = new OpenAI({baseURL: baseURL + "/v1", apiKey: "local", maxRetries: 0});
const question = "How many lines are in notes.txt?";
const reformat = args => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(args)).reverse()), null, 2);

const responsesRequest = () => ({
  model: "baleen-nano", instructions: SYSTEM, input: [{role: "user", content: question}],
  tools: FUNCTIONS.map(f => ({type: "function", ...f, strict: false})), tool_choice: "auto",
  parallel_tool_calls: true, reasoning: {effort: "high", summary: "auto"}, store: false, include: [],
  max_output_tokens: 64, temperature: 0, prompt_cache_key: "e2e-session",
});

// The order rules of a Responses stream (what ResponseStream and Codex rely on).
function checkResponseEvents(events) {
  const types = events.map(e => e.type);
  check(types[0] === "response.created" && types[1] === "response.in_progress", "created, in_progress first", types.slice(0, 2));
  check(["response.completed", "response.incomplete"].includes(types[types.length - 1]), "a terminal event last", types.slice(-1));
  check(events.every((e, i) => e.sequence_number === i), "sequence_number counts every event");
  const open = new Map();
  let next = 0, ok = true;
  for (const e of events) {
    if (e.type === "response.output_item.added") { ok = ok && e.output_index === next++; open.set(e.output_index, e.item); }
    else if (e.type === "response.output_item.done") { ok = ok && open.has(e.output_index); open.delete(e.output_index); }
    else if (e.output_index !== undefined) ok = ok && open.has(e.output_index);
  }
  check(ok && open.size === 0, "items added in order, every event inside its item, every item done");
  const final = events[events.length - 1].response;
  const done = events.filter(e => e.type === "response.output_item.done").map(e => e.item);
  check(JSON.stringify(final.output) === JSON.stringify(done), "the final output is the streamed items");
}

async function responses() {
  const whole = await client.responses.create(responsesRequest());
  check(whole.object === "response" && whole.status === "completed", "a completed response", whole.status);
  const call = whole.output.find(i => i.type === "function_call");
  check(call && call.call_id && typeof call.arguments === "string", "a function_call item", whole.output);
  check(whole.output[0].type === "reasoning" && whole.output[0].content[0].text.length > 0, "reasoning first", whole.output[0]);
  check(whole.output[0].summary.length === 1 && whole.output[0].summary[0].text === whole.output[0].content[0].text,
        "reasoning.summary asked: the summary is the reasoning", whole.output[0]);

  const streamed = await client.responses.stream(responsesRequest()).finalResponse();
  check(JSON.stringify(withoutIds(streamed.output)) === JSON.stringify(withoutIds(whole.output)),
        "responses: the streamed output equals the whole one", {streamed: streamed.output, whole: whole.output});
  const events = [];
  for await (const e of await client.responses.create({...responsesRequest(), stream: true})) events.push(e);
  checkResponseEvents(events);

  for (const variant of ["echoed", "reasoning dropped, arguments re-serialized"]) {
    const first = await client.responses.create(responsesRequest());
    const fc = first.output.find(i => i.type === "function_call");
    if (!fc) { check(false, `responses ${variant}: a call`, first.output); continue; }
    let replay = first.output.map(({id, status, ...rest}) => rest.type === "reasoning" ? {id, ...rest} : rest);
    if (variant !== "echoed")
      replay = replay.filter(i => i.type !== "reasoning").map(i => i.type === "function_call" ? {...i, arguments: reformat(i.arguments)} : i);
    const next = responsesRequest();
    next.input.push(...replay, {type: "function_call_output", call_id: fc.call_id, output: toolResult(fc.name, JSON.parse(fc.arguments))});
    const second = await client.responses.create(next);
    check(["completed", "incomplete"].includes(second.status), `responses ${variant}: the turn after the result`, second.status);
    checkReuse(`responses ${variant}: cached_tokens`, second.usage.input_tokens_details.cached_tokens,
               first.usage.input_tokens + first.usage.output_tokens);
  }

  const kept = await client.responses.create({...responsesRequest(), store: true});
  const got = await client.responses.retrieve(kept.id);
  check(got.id === kept.id && JSON.stringify(got.output) === JSON.stringify(kept.output), "GET /v1/responses/{id}");
  const fc = kept.output.find(i => i.type === "function_call");
  if (fc) {
    const follow = await client.responses.create({model: "baleen-nano", instructions: SYSTEM, previous_response_id: kept.id,
      input: [{type: "function_call_output", call_id: fc.call_id, output: toolResult(fc.name, JSON.parse(fc.arguments))}],
      tools: responsesRequest().tools, max_output_tokens: 64, temperature: 0});
    check(follow.status === "completed" || follow.status === "incomplete", "previous_response_id continues the stored conversation", follow.status);
    checkReuse("previous_response_id: cached_tokens", follow.usage.input_tokens_details.cached_tokens,
               kept.usage.input_tokens + kept.usage.output_tokens);
  }

  // Over the context: Codex reads response.failed with code context_length_exceeded.
  const long = "word ".repeat(6000);
  const over = [];
  for await (const e of await client.responses.create({...responsesRequest(), input: long, stream: true})) over.push(e);
  const failed = over[over.length - 1];
  check(failed.type === "response.failed" && failed.response.error.code === "context_length_exceeded", "overflow streams response.failed", failed);
  try {
    await client.responses.create({...responsesRequest(), input: long});
    check(false, "overflow refused");
  } catch (e) {
    check(e.status === 400 && e.code === "context_length_exceeded", "overflow is a 400 context_length_exceeded", e.message);
  }
  // Codex's WebSocket probe (fetch cannot send Upgrade): a clean 405 it falls back to HTTP from.
  const ws = await new Promise((resolve, reject) => {
    const req = require("http").get(baseURL + "/v1/responses", {headers: {Connection: "Upgrade", Upgrade: "websocket"}}, res => {
      let body = "";
      res.on("data", d => body += d).on("end", () => resolve({status: res.statusCode, body}));
    });
    req.on("upgrade", () => resolve({status: 101, body: ""})).on("error", reject);
  });
  check(ws.status === 405 && /WebSocket/.test(ws.body), "a WebSocket upgrade is refused with 405", ws);
  // Logprobs of the output text, whole and assembled by the SDK's stream helper.
  const lpRequest = {model: "baleen-nano", input: "Say hello.", max_output_tokens: 24, temperature: 0, store: false,
    reasoning: {effort: "none"}, include: ["message.output_text.logprobs"], top_logprobs: 2};
  const textPart = r => r.output.find(i => i.type === "message").content[0];
  const lpWhole = textPart(await client.responses.create(lpRequest));
  check(lpWhole.logprobs.length > 0 && lpWhole.logprobs.every(t => t.top_logprobs.length === 2) &&
        Buffer.from(lpWhole.logprobs.flatMap(t => t.bytes)).toString() === lpWhole.text,
        "responses: output_text logprobs whose bytes make the text", lpWhole);
  const lpStreamed = textPart(await client.responses.stream(lpRequest).finalResponse());
  check(JSON.stringify(lpStreamed.logprobs) === JSON.stringify(lpWhole.logprobs),
        "responses: streamed logprobs equal the whole ones", {streamed: lpStreamed, whole: lpWhole});
}

async function chat() {
  const request = () => ({model: "baleen-nano", max_tokens: 64, temperature: 0,
    messages: [{role: "system", content: SYSTEM}, {role: "user", content: question}],
    tools: FUNCTIONS.map(f => ({type: "function", function: f})), chat_template_kwargs: {thinking: true}});
  const whole = await client.chat.completions.create(request());
  check(whole.choices[0].finish_reason === "tool_calls", "chat: finish_reason tool_calls", whole.choices[0]);
  const streamed = await client.chat.completions.stream({...request(), stream_options: {include_usage: true}}).finalChatCompletion();
  // The SDK's accumulator knows no reasoning_content (it keeps only the last delta of an unknown field):
  // that is compared on the raw chunks.
  const strip = m => withoutIds({content: m.content || "", tool_calls: m.tool_calls});
  check(JSON.stringify(strip(streamed.choices[0].message)) === JSON.stringify(strip(whole.choices[0].message)),
        "chat: the streamed message equals the whole one", {streamed: streamed.choices[0].message, whole: whole.choices[0].message});
  let reasoning = "";
  for await (const chunk of await client.chat.completions.create({...request(), stream: true}))
    reasoning += (chunk.choices[0] && chunk.choices[0].delta.reasoning_content) || "";
  check(reasoning === whole.choices[0].message.reasoning_content, "chat: the streamed reasoning equals the whole one",
        {streamed: reasoning, whole: whole.choices[0].message.reasoning_content});
  for (const variant of ["echoed", "reasoning dropped, arguments re-serialized"]) {
    const first = await client.chat.completions.create(request());
    const message = first.choices[0].message;
    const call = (message.tool_calls || [])[0];
    if (!call) { check(false, `chat ${variant}: a call`, message); continue; }
    let sent = {role: "assistant", content: message.content, tool_calls: message.tool_calls, reasoning_content: message.reasoning_content};
    if (variant !== "echoed")
      sent = {role: "assistant", content: message.content,
              tool_calls: message.tool_calls.map(c => ({...c, function: {...c.function, arguments: reformat(c.function.arguments)}}))};
    const next = request();
    next.messages.push(sent, {role: "tool", tool_call_id: call.id, content: toolResult(call.function.name, JSON.parse(call.function.arguments))});
    const second = await client.chat.completions.create(next);
    checkReuse(`chat ${variant}: cached_tokens`, second.usage.prompt_tokens_details.cached_tokens,
               first.usage.prompt_tokens + first.usage.completion_tokens);
  }
  // logprobs: the SDK's stream helper assembles the same logprobs.content as the whole answer; bytes make the content.
  const lpRequest = {model: "baleen-nano", max_tokens: 24, temperature: 0, logprobs: true, top_logprobs: 2,
    messages: [{role: "user", content: "Say hello."}], chat_template_kwargs: {thinking: false}};
  const lpWhole = await client.chat.completions.create(lpRequest);
  const lp = lpWhole.choices[0].logprobs;
  check(lp && lp.content.length > 0 && lp.content.every(t => t.top_logprobs.length === 2 && t.logprob <= 0),
        "chat: logprobs with 2 alternatives each", lp);
  check(Buffer.from(lp.content.flatMap(t => t.bytes)).toString() === lpWhole.choices[0].message.content,
        "chat: the logprobs' bytes make the content", {lp, message: lpWhole.choices[0].message});
  const lpStreamed = await client.chat.completions.stream(lpRequest).finalChatCompletion();
  check(JSON.stringify(lpStreamed.choices[0].logprobs.content) === JSON.stringify(lp.content),
        "chat: streamed logprobs equal the whole ones", {streamed: lpStreamed.choices[0].logprobs, whole: lp});
  // n: two choices, and the stream helper assembles each by its index.
  const nRequest = {model: "baleen-nano", max_tokens: 16, temperature: 1, seed: 3, n: 2,
    messages: [{role: "user", content: "Write a list of fruits."}], chat_template_kwargs: {thinking: false}};
  const nWhole = await client.chat.completions.create(nRequest);
  check(nWhole.choices.length === 2 && nWhole.choices.every((c, i) => c.index === i), "chat: n = 2 gives two choices", nWhole);
  const nStreamed = await client.chat.completions.stream(nRequest).finalChatCompletion();
  check(JSON.stringify(nStreamed.choices.map(c => [c.message.content, c.finish_reason])) ===
        JSON.stringify(nWhole.choices.map(c => [c.message.content, c.finish_reason])),
        "chat: streamed choices equal the whole ones", {streamed: nStreamed.choices, whole: nWhole.choices});
  try {
    await client.chat.completions.create({...request(), messages: []});
    check(false, "chat: empty messages refused");
  } catch (e) {
    check(e.status === 400, "chat: empty messages is a 400", e.message);
  }
}

main(async () => {
  await responses();
  await chat();
});
