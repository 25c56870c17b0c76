// RoPE frequency tables (spec "Attention"): θ_i = base^(−2i/r) for sliding-only layers (rope_theta), and
// for CSA/HCA layers, their compressors and indexer base compress_rope_theta with YaRN frequency
// interpolation (no mscale), formed in fp32 exactly as transformers and the reference code form them.
#pragma once

#include <vector>

#include "model/config.h"

namespace baleen {

std::vector<float> rope_inv_freq(int64_t rope_dim, double base, const YarnScaling& yarn);
std::vector<float> main_inv_freq(const Config& config);
std::vector<float> compress_inv_freq(const Config& config);

}  // namespace baleen
