// The fixed texts of DeepSeek's prompt encoders, byte for byte. These are data, not code: every other
// file builds prompts from them. Nothing here may be edited without re-reading the sources below.
#pragma once

#include <string_view>

// Sources (read line by line; the texts are the Python string constants after `.format`):
//  v4      : DeepSeek-V4 April encoder `encoding/encoding_dsv4.py` (REASONING_EFFORT_MAX, TOOLS_TEMPLATE,
//            response_format_template), as shipped with DeepSeek-V4-Flash/Pro and ported unchanged by vLLM:
//            vllm-project/vllm vllm/tokenizers/deepseek_v4_encoding.py @
//            591f7b5eab1ab5be7e9a893926ebaa486974fea6 and supermy/ds4rs encoding/encoding_dsv4.py @
//            2ecc534c2423f589fd2c3f04b76b46dc41f6f162.
//  v4-0731 : the July encoder (REASONING_EFFORT_PROMPTS {"low": "", "high": ..., "max": ...}, default "low"):
//            sfxnz/DeepSeek-V4-Flash-Vision-Exp-vLLM-2x-DGX-Spark encoding/encoding_dsv4.py
//            @ e901c06d1fd33eb9f7ce5c4d4710f32dc8d42224 (the same dictionary is quoted by the 0731 vLLM
//            patches in public repositories).
//  v4.1    : DeepSeek-V4.1 `encoding/encoding.py` as adapted by SGLang:
//            sgl-project/sglang python/sglang/srt/entrypoints/openai/encoding_dsv41.py
//            @ 0e43c22447dcb0c53eee3832c8acba26e491bc94 (REASONING_EFFORT_TEMPLATE, TOOLS_TEMPLATE with the
//            spaced tag names " calls", " invoke", " parameter").
namespace baleen::chat::text {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kSystem = "<｜System｜>";  // v4.1 only
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
inline constexpr std::string_view kDsml = "｜DSML｜";
inline constexpr std::string_view kToolResultOpen = "<tool_result>";
inline constexpr std::string_view kToolResultClose = "</tool_result>";

// v4 "max" and v4-0731 "high" (the April REASONING_EFFORT_MAX).
inline constexpr std::string_view kEffortAbsoluteMaximum =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the "
    "root "
    "cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial "
    "scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

// v4-0731 "max".
inline constexpr std::string_view kEffortBeyondMaximum =
    "Reasoning Effort: Beyond maximum — exhaustive, relentless, and uncompromising.\n"
    "You MUST reason with the utmost depth and rigor, leaving absolutely nothing to chance: exhaustively "
    "decompose the problem into its most fundamental components, trace every causal chain to its root, and "
    "resolve the underlying cause rather than any surface symptom.\n"
    "Do not stop reasoning until you have independently verified the solution from multiple angles and are "
    "certain that no assumption remains unchecked and no error remains undiscovered.\n\n";

// v4.1: "Reasoning Effort: {budget} (range 1-100, ...)\n\n" split around the budget.
inline constexpr std::string_view kEffortBudgetPrefix = "Reasoning Effort: ";
inline constexpr std::string_view kEffortBudgetSuffix =
    " (range 1-100, the higher the value, the more thorough the reasoning)\n\n";

inline constexpr std::string_view kResponseFormatHeader =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

// TOOLS_TEMPLATE up to `{tool_schemas}`, with dsml_token / thinking tokens substituted.
inline constexpr std::string_view kToolsHeaderV4 = R"DS(## Tools

You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<｜DSML｜tool_calls>" block like the following:

<｜DSML｜tool_calls>
<｜DSML｜invoke name="$TOOL_NAME">
<｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
...
</｜DSML｜invoke>
<｜DSML｜invoke name="$TOOL_NAME2">
...
</｜DSML｜invoke>
</｜DSML｜tool_calls>

String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> BEFORE any tool calls or final response.

Otherwise, output directly after </think> with tool calls or final response.

### Available Tool Schemas

)DS";

inline constexpr std::string_view kToolsHeaderV41 = R"DS(## Tools

You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<｜DSML｜ calls>" block like the following:

<｜DSML｜ calls>
<｜DSML｜ invoke name="$TOOL_NAME">
<｜DSML｜ parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜ parameter>
...
</｜DSML｜ invoke>
<｜DSML｜ invoke name="$TOOL_NAME2">
...
</｜DSML｜ invoke>
</｜DSML｜ calls>

String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> BEFORE any tool calls or final response.

Otherwise, output directly after </think> with tool calls or final response.

### Available Tool Schemas

)DS";

// TOOLS_TEMPLATE after `{tool_schemas}` (the closing instruction line; same in every dialect).
inline constexpr std::string_view kToolsFooter =
    "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n";

}  // namespace baleen::chat::text
