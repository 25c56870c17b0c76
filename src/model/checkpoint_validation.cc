// Checkpoint::validate: every tensor the config implies against what the files hold (checkpoint.md
// "Validation baleen owes its users"). Split from checkpoint.cc to keep each file about one thing.
#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "model/problems.h"

namespace baleen {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

bool is_float(DType t) {
  return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16;
}
bool is_scale_dtype(DType t) {
  return t == DType::kF32 || t == DType::kUE8M0 || t == DType::kBF16;
}

// Checks one expected tensor; appends problems; returns the names it accounts for (the tensor and its scale).
class TensorCheck {
 public:
  TensorCheck(const Config& c, std::unordered_map<std::string, TensorInfo>& tensors,
              std::unordered_map<std::string, std::pair<int64_t, int64_t>>& blocks)
      : c_(c), tensors_(tensors), blocks_(blocks) {}

  void run(const ExpectedTensor& x, std::vector<std::string>& problems, std::set<std::string>& accounted) {
    auto it = tensors_.find(x.name);
    if (it == tensors_.end()) {
      problems.push_back(fmt::format("missing tensor '{}' {}", x.name, shape_text(x.shape)));
      return;
    }
    accounted.insert(x.name);
    TensorInfo& t = it->second;
    if (x.role == TensorRole::kIndex) {
      expect(t.dtype == DType::kI64 || t.dtype == DType::kI32, t, "I64 or I32", problems);
      if (shape(x, t, problems)) index_range(t, problems);
    } else if (x.role == TensorRole::kFloat) {
      expect(is_float(t.dtype), t, "F32, BF16 or F16", problems);
      shape(x, t, problems);
    } else {
      quantized(x, t, problems, accounted);
    }
  }

 private:
  void expect(bool ok, const TensorInfo& t, const char* allowed, std::vector<std::string>& problems) {
    if (!ok)
      problems.push_back(
          fmt::format("tensor '{}' has dtype {}; expected {}", t.name, dtype_name(t.dtype), allowed));
  }
  bool shape(const ExpectedTensor& x, const TensorInfo& t, std::vector<std::string>& problems) {
    if (t.shape == x.shape) return true;
    problems.push_back(fmt::format("tensor '{}' has shape {}; expected {}", t.name, shape_text(t.shape),
                                   shape_text(x.shape)));
    return false;
  }
  // Hash-routing table: every expert id must exist, or the engine would index out of bounds.
  void index_range(const TensorInfo& t, std::vector<std::string>& problems) {
    const size_t count = t.nbytes / (t.dtype == DType::kI64 ? 8 : 4);
    for (size_t i = 0; i < count; ++i) {
      int64_t v = 0;
      if (t.dtype == DType::kI64) {
        std::memcpy(&v, t.data + 8 * i, 8);
      } else {
        int32_t w;
        std::memcpy(&w, t.data + 4 * i, 4);
        v = w;
      }
      if (v < 0 || v >= c_.n_routed_experts) {
        problems.push_back(
            fmt::format("tensor '{}' holds expert id {} at element {}; expected ids in [0, {})", t.name, v, i,
                        c_.n_routed_experts));
        return;
      }
    }
  }

  void quantized(const ExpectedTensor& x, TensorInfo& t, std::vector<std::string>& problems,
                 std::set<std::string>& accounted) {
    const bool expert = x.role == TensorRole::kExpert;
    // DeepSeek stores FP4 experts as I8/U8 [out, in/2]; present them as packed e2m1 [out, in].
    if (expert && (t.dtype == DType::kI8 || t.dtype == DType::kU8) && x.shape.size() == 2 &&
        x.shape[1] % 2 == 0 && t.shape == std::vector<int64_t>{x.shape[0], x.shape[1] / 2}) {
      t.dtype = DType::kF4E2M1x2;
      t.shape = x.shape;
    }
    if (is_float(t.dtype)) {
      shape(x, t, problems);
      return;
    }
    const bool fp4 = expert && t.dtype == DType::kF4E2M1x2;
    if (t.dtype != DType::kF8E4M3 && !fp4) {
      expect(false, t,
             expert ? "F32, BF16, F16, F8_E4M3 (+ scale) or FP4 as I8/U8/F4 (+ scale)"
                    : "F32, BF16, F16 or F8_E4M3 (+ scale)",
             problems);
      return;
    }
    if (!shape(x, t, problems)) return;
    if (fp4 && x.shape[1] % 2 != 0) {
      problems.push_back(fmt::format("tensor '{}': FP4 rows need an even number of columns", t.name));
      return;
    }
    const std::string sname = scale_name(x.name);
    auto s = tensors_.find(sname);
    if (s == tensors_.end()) {
      problems.push_back(
          fmt::format("missing scale '{}' for {} weight '{}'", sname, dtype_name(t.dtype), t.name));
      return;
    }
    accounted.insert(sname);
    if (!is_scale_dtype(s->second.dtype)) {
      expect(false, s->second, "F32, F8_E8M0 or BF16", problems);
      return;
    }
    // The block comes from the config (weight_block_size; FP4's 32 inputs); when the config states no
    // quantization, the reference's defaults are tried first and then the smallest blocks the shapes allow.
    const std::pair<int64_t, int64_t> preferred = fp4 ? std::pair<int64_t, int64_t>{1, c_.quant.fp4_block}
                                                      : std::pair{c_.quant.block_out, c_.quant.block_in};
    const bool stated = fp4 ? c_.quant.fp4_experts : c_.quant.fp8_linears;
    const std::string what = fmt::format("scale '{}'", sname);
    try {
      std::pair<int64_t, int64_t> block;
      try {
        block = scale_block(t.shape, s->second.shape, preferred, what);
      } catch (const Error&) {
        if (stated) throw;
        block = scale_block(t.shape, s->second.shape, {0, 0}, what);
      }
      if (fp4 && block.first != 1)
        fail("{}: FP4 scales must be per row, got {} rows per scale", what, block.first);
      blocks_[x.name] = block;
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }

  const Config& c_;
  std::unordered_map<std::string, TensorInfo>& tensors_;
  std::unordered_map<std::string, std::pair<int64_t, int64_t>>& blocks_;
};

}  // namespace

void Checkpoint::validate() {
  std::vector<std::string> problems, mtp_problems;
  std::set<std::string> accounted;
  TensorCheck check_one(config_, tensors_, blocks_);
  bool any_mtp = false;
  for (const auto& x : expected_tensors(config_)) {
    any_mtp = any_mtp || x.mtp;
    check_one.run(x, x.mtp ? mtp_problems : problems, accounted);
  }
  check(problems.empty(), "{}: checkpoint does not match its config ({} problem(s)):{}", dir_.string(),
        problems.size(), problem_listing(problems));
  std::vector<std::string> unexpected, unexpected_mtp;
  for (const auto& [name, info] : tensors_) {
    if (accounted.count(name) > 0) continue;
    (name.rfind("mtp.", 0) == 0 ? unexpected_mtp : unexpected).push_back(name);
  }
  std::sort(unexpected.begin(), unexpected.end());
  summary_.unexpected = unexpected;
  if (!unexpected.empty()) {
    log::warn("{}: {} tensor(s) that the config does not imply are ignored:{}", dir_.string(),
              unexpected.size(), problem_listing(unexpected));
  }
  summary_.mtp_available = any_mtp && mtp_problems.empty();
  if (config_.dspark) {
    summary_.mtp_note = "the config names a DSpark draft module, not the V4 MTP block";
  } else if (!mtp_problems.empty()) {
    summary_.mtp_note = fmt::format("{} problem(s), first: {}", mtp_problems.size(), mtp_problems.front());
  } else if (!any_mtp && !unexpected_mtp.empty()) {
    summary_.mtp_note = "num_nextn_predict_layers = 0";
  }
  if (!summary_.mtp_note.empty()) {
    const auto stored = std::count_if(tensors_.begin(), tensors_.end(),
                                      [](const auto& t) { return t.first.rfind("mtp.", 0) == 0; });
    log::info("{}: mtp.* skipped ({} stored tensor(s)): {}", dir_.string(), stored, summary_.mtp_note);
  }
}

}  // namespace baleen
