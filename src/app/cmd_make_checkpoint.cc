// `baleen make-checkpoint`: a random checkpoint in DeepSeek's official layout and dtypes at a named shape
// (model/random_checkpoint.h), for measuring memory and speed at real sizes without the real weights.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/command.h"
#include "core/error.h"
#include "model/random_checkpoint.h"

namespace baleen::app {
namespace {

struct Options {
  std::string shape = "flash";
  int64_t layers = 2;
  std::string out;
  uint64_t seed = 1;
  std::vector<int64_t> ratios;  // empty: the shape's own schedule
  int64_t hash_layers = -1;     // -1: the shape's own
};

void run(const Options& o) {
  nlohmann::json config = random_checkpoint_config(o.shape, o.layers);
  if (!o.ratios.empty()) {
    check(static_cast<int64_t>(o.ratios.size()) == o.layers, "--compress-ratios has {} entries for {} layers",
          o.ratios.size(), o.layers);
    config["compress_ratios"] = o.ratios;
  }
  if (o.hash_layers >= 0) config["num_hash_layers"] = o.hash_layers;
  const CheckpointPlan plan = plan_random_checkpoint(parse_config(config, o.shape));
  std::printf("%s, %lld layers: %zu shards, %llu tensor bytes, %llu file bytes -> %s\n", o.shape.c_str(),
              static_cast<long long>(o.layers), plan.shards.size(),
              static_cast<unsigned long long>(plan.tensor_bytes),
              static_cast<unsigned long long>(plan.file_bytes), o.out.c_str());
  std::fflush(stdout);
  write_random_checkpoint(config, o.out, o.seed);
  std::printf("wrote %s\n", o.out.c_str());
}

}  // namespace

void add_make_checkpoint_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "make-checkpoint",
      "Write a random checkpoint in the official layout and dtypes (memory and speed tests)");
  cmd->add_option("--shape", options->shape, "flash (DeepSeek-V4-Flash sizes) or tiny")
      ->check(CLI::IsMember({"flash", "tiny"}))
      ->capture_default_str();
  cmd->add_option("--layers", options->layers, "Layers, keeping the real model's first compress ratios")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Directory to create (must not hold a checkpoint)")->required();
  cmd->add_option("--seed", options->seed, "Random seed; the bytes depend on it alone")
      ->capture_default_str();
  cmd->add_option("--compress-ratios", options->ratios,
                  "each layer's ratio (0 sliding, 4 CSA, 128 HCA) instead of the shape's schedule")
      ->delimiter(',');
  cmd->add_option("--hash-layers", options->hash_layers, "hash-routed layers (default: the shape's)");
  cmd->callback([options] { run(*options); });
}

}  // namespace baleen::app
