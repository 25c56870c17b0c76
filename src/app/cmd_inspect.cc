// `baleen inspect`: what a model directory (or a config.json alone) holds — the layer schedule, parameter
// counts and bytes by dtype, the checkpoint's validation result, and the session state's size at 128K and
// 1M tokens in fp32 and paper storage. --json prints the same as one JSON object.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/command.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/checkpoint.h"
#include "model/parameters.h"
#include "model/state_layout.h"

namespace baleen::app {
namespace {

using nlohmann::json;

constexpr int64_t kStateTokens[] = {131072, 1048576};

struct Options {
  std::string model;
  std::string config_only;
  bool json = false;
  bool scan = false;
};

const char* spelling_name(ConfigSpelling s) {
  switch (s) {
    case ConfigSpelling::kOfficial:
      return "official config.json";
    case ConfigSpelling::kReference:
      return "reference inference/config.json";
    case ConfigSpelling::kTransformers:
      return "transformers";
  }
  return "?";
}

json schedule(const std::vector<LayerSpec>& layers) {
  json out = json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    out.push_back({{"layer", i},
                   {"attention", attention_name(layers[i].attention())},
                   {"compress_ratio", layers[i].compress_ratio},
                   {"moe", layers[i].routing == MoeRouting::kHash ? "hash" : "learned"}});
  }
  return out;
}

json sizes(const Config& c) {
  return {{"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"num_layers", c.num_layers},
          {"num_heads", c.num_heads},
          {"head_dim", c.head_dim},
          {"rope_head_dim", c.rope_head_dim},
          {"q_lora_rank", c.q_lora_rank},
          {"o_groups", c.o_groups},
          {"o_lora_rank", c.o_lora_rank},
          {"sliding_window", c.sliding_window},
          {"index_n_heads", c.index_n_heads},
          {"index_head_dim", c.index_head_dim},
          {"index_topk", c.index_topk},
          {"n_routed_experts", c.n_routed_experts},
          {"n_activated_experts", c.n_activated_experts},
          {"moe_inter_dim", c.moe_inter_dim},
          {"hc_mult", c.hc_mult},
          {"num_nextn_predict_layers", c.num_nextn_predict_layers}};
}

json parameters(const ParameterCount& p) {
  json bytes = json::object(), tensors = json::object();
  for (const auto& [dtype, n] : p.bytes) bytes[std::string(dtype_name(dtype))] = n;
  for (const auto& [dtype, n] : p.tensor_count) tensors[std::string(dtype_name(dtype))] = n;
  return {{"total", p.total},     {"active", p.active},      {"mtp", p.mtp},
          {"tensors", p.tensors}, {"bytes_by_dtype", bytes}, {"tensors_by_dtype", tensors}};
}

json kv_bytes(const Config& c) {
  json out = json::object();
  for (auto [name, storage] :
       {std::pair{"paper", StateStorage::kPaper}, std::pair{"fp32", StateStorage::kFp32}}) {
    for (int64_t t : kStateTokens) out[name][std::to_string(t)] = session_bytes(c, t, storage);
  }
  return out;
}

// Reads every stored byte looking for NaN / infinity (the one check that has to touch all weights).
json scan(const Checkpoint& ck, const std::string& dir) {
  uint64_t total = 0;
  for (const auto& name : ck.names()) total += ck.info(name).nbytes;
  Progress progress(fmt::format("scanning {}", dir), total);
  json bad = json::object();
  for (const auto& name : ck.names()) {
    const TensorInfo& t = ck.info(name);
    if (const uint64_t n = count_non_finite(t)) bad[name] = n;
    progress.advance(t.nbytes);
  }
  progress.finish();
  return {{"bytes", total}, {"non_finite", bad}};
}

// Everything inspect reports, as one JSON document (the text form is printed from it).
json report(const Options& o) {
  const std::string path = o.model.empty() ? o.config_only : o.model;
  const Config config = load_config(path);
  json r = {{"source", config.source},           {"spelling", spelling_name(config.spelling)},
            {"model_type", config.model_type},   {"sizes", sizes(config)},
            {"layers", schedule(config.layers)}, {"mtp_layers", schedule(config.mtp_layers)},
            {"kv_bytes", kv_bytes(config)}};
  if (o.model.empty()) {
    r["parameters"] = parameters(count_parameters(config));
    r["parameters"]["from"] = "config (official dtypes)";
    r["validation"] = {{"checked", false}, {"ok", true}, {"message", "config only: no tensors checked"}};
    return r;
  }
  std::optional<Checkpoint> ck;
  try {
    ck.emplace(Checkpoint::open(o.model));
  } catch (const Error& e) {
    r["parameters"] = parameters(count_parameters(config));
    r["parameters"]["from"] = "config (official dtypes)";
    r["validation"] = {{"checked", true}, {"ok", false}, {"message", e.what()}};
    return r;
  }
  const CheckpointSummary& s = ck->summary();
  r["parameters"] = parameters(count_parameters(*ck));
  r["parameters"]["from"] = "checkpoint";
  json files = json::array();
  for (const auto& f : s.files) files.push_back(f.filename().string());
  r["validation"] = {{"checked", true},
                     {"ok", true},
                     {"files", files},
                     {"unexpected", s.unexpected},
                     {"mtp_available", s.mtp_available},
                     {"mtp_note", s.mtp_note},
                     {"message", fmt::format("{} tensors in {} file(s) match the config", ck->names().size(),
                                             s.files.size())}};
  if (o.scan) {
    r["validation"]["scan"] = scan(*ck, o.model);
    const json& bad = r["validation"]["scan"]["non_finite"];
    if (!bad.empty()) {
      r["validation"]["ok"] = false;
      r["validation"]["message"] =
          fmt::format("{} tensor(s) hold NaN or infinite values, first: {} ({} values)", bad.size(),
                      bad.begin().key(), bad.begin().value().dump());
    }
  }
  return r;
}

std::string human(double v, const char* const* units, double step) {
  int i = 0;
  while (v >= step && units[i + 1] != nullptr) {
    v /= step;
    ++i;
  }
  return units[i][0] == '\0' ? fmt::format("{:.2f}", v) : fmt::format("{:.2f} {}", v, units[i]);
}
std::string gib(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", nullptr};
  return human(bytes, kUnits, 1024.0);
}
std::string count(double n) {
  static const char* const kUnits[] = {"", "K", "M", "B", "T", nullptr};
  return human(n, kUnits, 1000.0);
}

void print_text(const json& r) {
  std::printf("model       %s (%s spelling)\n", r["source"].get<std::string>().c_str(),
              r["spelling"].get<std::string>().c_str());
  std::string sizes;
  for (const auto& [k, v] : r["sizes"].items()) sizes += fmt::format(" {}={}", k, v.dump());
  std::printf("sizes      %s\n", sizes.c_str());
  std::printf("schedule    layer  attention  ratio  moe\n");
  for (const char* group : {"layers", "mtp_layers"}) {
    for (const auto& l : r[group]) {
      std::printf("            %-5s  %-9s  %5lld  %s\n",
                  fmt::format("{}{}", group[0] == 'm' ? "mtp." : "", l["layer"].get<int>()).c_str(),
                  l["attention"].get<std::string>().c_str(),
                  static_cast<long long>(l["compress_ratio"].get<int64_t>()),
                  l["moe"].get<std::string>().c_str());
    }
  }
  const json& p = r["parameters"];
  std::printf("parameters  %s total, %s active per token, %s in MTP (from %s)\n",
              count(p["total"].get<double>()).c_str(), count(p["active"].get<double>()).c_str(),
              count(p["mtp"].get<double>()).c_str(), p["from"].get<std::string>().c_str());
  for (const auto& [dtype, bytes] : p["bytes_by_dtype"].items()) {
    std::printf("  %-9s %12s in %lld tensors\n", dtype.c_str(), gib(bytes.get<double>()).c_str(),
                static_cast<long long>(p["tensors_by_dtype"][dtype].get<int64_t>()));
  }
  const json& v = r["validation"];
  std::printf("validation  %s: %s\n",
              !v["checked"].get<bool>() ? "skipped"
              : v["ok"].get<bool>()     ? "OK"
                                        : "FAILED",
              v["message"].get<std::string>().c_str());
  if (v.contains("scan")) {
    std::printf("            scanned %s: %zu tensor(s) with NaN / infinite values\n",
                gib(v["scan"]["bytes"].get<double>()).c_str(), v["scan"]["non_finite"].size());
  }
  if (v.contains("unexpected") && !v["unexpected"].empty()) {
    std::printf("            %zu unexpected tensor(s) ignored, first: %s\n", v["unexpected"].size(),
                v["unexpected"][0].get<std::string>().c_str());
  }
  if (v.contains("mtp_note") && !v["mtp_note"].get<std::string>().empty()) {
    std::printf("            mtp.* skipped: %s\n", v["mtp_note"].get<std::string>().c_str());
  }
  std::printf("session     tokens     paper storage     fp32 storage\n");
  for (int64_t t : kStateTokens) {
    const std::string key = std::to_string(t);
    std::printf("            %-9s  %14s  %15s\n", key.c_str(),
                gib(r["kv_bytes"]["paper"][key].get<double>()).c_str(),
                gib(r["kv_bytes"]["fp32"][key].get<double>()).c_str());
  }
}

void run(const Options& o) {
  if (o.model.empty() == o.config_only.empty())
    throw CLI::ValidationError("give exactly one of --model DIR or --config-only FILE|DIR");
  const json r = report(o);
  if (o.json) {
    std::printf("%s\n", r.dump(2).c_str());
  } else {
    print_text(r);
  }
  std::fflush(stdout);
  const json& v = r["validation"];
  check(v["ok"].get<bool>(), "{}: checkpoint validation failed:\n{}", o.model,
        v["message"].get<std::string>());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("inspect", "Show a model's layer schedule, parameters, validation and session size");
  cmd->add_option("--model", options->model,
                  "Checkpoint directory (config.json + .safetensors) to open and validate");
  cmd->add_option("--config-only", options->config_only,
                  "config.json (or its directory): report from the config alone");
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->add_flag("--scan", options->scan, "Also read every stored byte and report NaN / infinite values");
  cmd->callback([options] { run(*options); });
}

}  // namespace baleen::app
