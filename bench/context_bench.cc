// Prefill and decode of a real checkpoint at several context lengths, one long run each (not Google
// Benchmark's repeated loops: a 1M-token prefill takes minutes): prefill tokens/s beside its FLOP floor,
// decode ms/step at batch B beside its byte floor ((weights read + state read) / read bandwidth, both
// measured in this run), the state bytes held. Best of --repeat runs for the decode steps.
//   context_bench --model DIR [--storage paper|fp32] [--contexts 1024,32768] [--decode 16] [--batch 1,8]
//                 [--repeat 2] [--threads 0 (all cores)] [--backend cpu|cuda] [--bandwidth GB/s]
// --bandwidth gives the floor's read bandwidth when it is not this host's memory (a GPU's, measured in the
// same run by bench/cuda); without it the host's is measured here.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend_registry.h"
#include "core/error.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "model/checkpoint.h"
#include "read_bandwidth.h"

namespace baleen {
namespace {

struct Args {
  std::string model, storage = "paper", backend = "cpu";
  double bandwidth = 0;  // bytes/s; 0: measure the host's
  std::vector<int64_t> contexts = {1024, 32768}, batches = {1, 8};
  int64_t decode = 16, repeat = 2, chunk = kPrefillChunk, threads = 0;
};

std::vector<int64_t> numbers(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) out.push_back(std::stoll(item));
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") a.model = v;
    else if (k == "--storage") a.storage = v;
    else if (k == "--contexts") a.contexts = numbers(v);
    else if (k == "--batch") a.batches = numbers(v);
    else if (k == "--decode") a.decode = std::stoll(v);
    else if (k == "--repeat") a.repeat = std::stoll(v);
    else if (k == "--chunk") a.chunk = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoll(v);
    else if (k == "--backend") a.backend = v;
    else if (k == "--bandwidth") a.bandwidth = std::stod(v) * 1e9;
    else fail("unknown option {}", k);
  }
  check(!a.model.empty(), "--model DIR is required");
  return a;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t weight_bytes(const WeightView& w) {
  return w.data ? w.bytes() + w.scale_bytes() : 0;
}

// Bytes of weights one decode token reads: every linear layer of attention, the gate, the K routed experts a
// token uses (one expert's size × K) and the shared expert, the mHC matrices, the head rows multiplied.
int64_t decode_weight_bytes(const Config& c, const BackendWeights& w) {
  int64_t total = 0;
  auto hc = [&](const BackendWeights::HyperConnection&) { total += (2 + c.hc_mult) * c.hc_mult * c.hc_mult * c.hidden_size * 4; };
  for (const BackendWeights::Layer& l : w.layers) {
    hc(l.hc_attn);
    hc(l.hc_ffn);
    const BackendWeights::Attention& a = l.attn;
    for (const WeightView* v : {&a.wq_a, &a.wq_b, &a.wkv, &a.wo_a, &a.wo_b}) total += weight_bytes(*v);
    if (a.compressor) total += weight_bytes(a.compressor->wkv) + weight_bytes(a.compressor->wgate);
    if (a.indexer) {
      total += weight_bytes(a.indexer->wq_b) + weight_bytes(a.indexer->weights_proj) +
               weight_bytes(a.indexer->compressor.wkv) + weight_bytes(a.indexer->compressor.wgate);
    }
    const ExpertWeights& e = l.ffn.experts.front();
    total += weight_bytes(l.ffn.gate) + c.n_activated_experts * (weight_bytes(e.w1) + weight_bytes(e.w2) + weight_bytes(e.w3)) +
             weight_bytes(l.ffn.shared.w1) + weight_bytes(l.ffn.shared.w2) + weight_bytes(l.ffn.shared.w3);
  }
  total += w.head_rows ? weight_bytes(w.head_rows->packed) : weight_bytes(w.head);
  return total;
}

// Bytes of stored state one decode token at `context` reads: every window row, every HCA entry, CSA's indexer
// keys and its top-k entries.
int64_t decode_state_bytes(const Config& c, const StateSpec& spec, int64_t context) {
  int64_t total = 0;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerStateSpec& l = spec.layers[i];
    total += std::min(context, spec.window) * l.window.row_bytes();
    if (l.compressor.ratio == 0) continue;
    const int64_t entries = context / l.compressor.ratio;
    if (l.indexer.ratio > 0) {
      total += entries * l.indexer.entries.row_bytes() + std::min(entries, c.index_topk) * l.compressor.entries.row_bytes();
    } else {
      total += entries * l.compressor.entries.row_bytes();
    }
  }
  return total;
}

// Multiply-adds one prefill token costs in the linear layers (2 FLOPs each).
double prefill_linear_flops(const Config& c, const BackendWeights& w) {
  int64_t params = 0;
  auto add = [&](const WeightView& v) { params += v.rows * v.cols; };
  for (const BackendWeights::Layer& l : w.layers) {
    for (const WeightView* v : {&l.attn.wq_a, &l.attn.wq_b, &l.attn.wkv, &l.attn.wo_b}) add(*v);
    params += l.attn.wo_a.rows * l.attn.wo_a.cols;  // grouped: each output reads one group's columns
    if (l.attn.compressor) add(l.attn.compressor->wkv), add(l.attn.compressor->wgate);
    if (l.attn.indexer) add(l.attn.indexer->wq_b), add(l.attn.indexer->weights_proj), add(l.attn.indexer->compressor.wkv), add(l.attn.indexer->compressor.wgate);
    add(l.ffn.gate);
    const ExpertWeights& e = l.ffn.experts.front();
    params += c.n_activated_experts * (e.w1.rows * e.w1.cols * 3) + 3 * l.ffn.shared.w1.rows * l.ffn.shared.w1.cols;
  }
  params += w.head_rows ? w.head_rows->packed.rows * c.hidden_size : c.vocab_size * c.hidden_size;
  return 2.0 * double(params);
}

// The backend's own fp32 matmul at a prefill-like shape, on its memory: the compute roof prefill is held
// against. A one-float download after each call waits for it.
double matmul_flops_per_second(Backend& backend) {
  const int64_t t = 256, in = 1024, out = 1024;
  std::vector<float> x(t * in), w(out * in);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(rng);
  for (float& v : w) v = dist(rng);
  const auto* dx = static_cast<const float*>(backend.upload(x.data(), t * in * 4));
  const WeightView wv =
      backend.upload_weight(WeightView{DType::kF32, w.data(), out, in}, HostMemory::kTransient);
  auto* dy = static_cast<float*>(backend.allocate(t * out * 4));
  float sink = 0;
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    backend.matmul({dx, t, in}, wv, {dy, t, out});
    backend.download(dy, &sink, 4);
    best = std::min(best, now() - t0);
  }
  backend.release(dy);
  return 2.0 * t * in * out / best;
}

// Resident memory now (the peak would count the bandwidth probe's buffer).
long rss_now_kib() {
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

void run(const Args& a) {
  const Checkpoint checkpoint = Checkpoint::open(a.model);
  auto backend = make_backend(a.backend, {.threads = static_cast<unsigned>(a.threads)});
  Model model(checkpoint.config(), load_weights(checkpoint, *backend, WeightFormat::kStored), *backend);
  const long loaded_kib = rss_now_kib();
  const double bandwidth = a.bandwidth > 0 ? a.bandwidth : read_bandwidth();
  const Config& c = model.config();
  const StateStorage storage = parse_state_storage(a.storage);
  const StateSpec spec = state_spec(c, storage);
  const double roof = matmul_flops_per_second(*backend);
  const int64_t wbytes = decode_weight_bytes(c, model.weights());
  std::printf("backend %s, model %s, %s storage; read bandwidth %.2f GB/s, fp32 matmul %.1f GFLOP/s; decode reads %.2f MB "
              "of weights a token; resident after load %ld MiB\n",
              a.backend.c_str(), a.model.c_str(), a.storage.c_str(), bandwidth / 1e9, roof / 1e9, wbytes / 1e6, loaded_kib / 1024);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(std::min<int64_t>(c.vocab_size, 2230) - 1));
  for (const int64_t context : a.contexts) {
    std::vector<int32_t> ids(static_cast<size_t>(context));
    for (int32_t& id : ids) id = token(rng);
    SessionState root = model.new_session(storage);
    const double t0 = now();
    model.prefill(ids, root, a.chunk, LogitRows::kLast);
    const double prefill = now() - t0;
    const double flops = prefill_linear_flops(c, model.weights()) * double(context);
    std::printf("context %8ld: prefill %8.1f tokens/s (%.1f s; linear-layer FLOP floor %.1f s, %.0f%% of it); "
                "state %.2f MiB\n",
                static_cast<long>(context), double(context) / prefill, prefill, flops / roof,
                100.0 * flops / roof / prefill, double(root.bytes()) / (1 << 20));
    for (const int64_t batch : a.batches) {
      double best = 1e30;
      for (int64_t r = 0; r < a.repeat; ++r) {
        std::vector<SessionState> states;
        for (int64_t b = 0; b < batch; ++b) states.push_back(root.fork());
        std::vector<std::vector<int32_t>> next(static_cast<size_t>(batch), std::vector<int32_t>{token(rng)});
        std::vector<BatchSequence> step;
        for (int64_t b = 0; b < batch; ++b) step.push_back({&states[static_cast<size_t>(b)], next[static_cast<size_t>(b)], LogitRows::kLast});
        model.forward(step);  // warm
        const double d0 = now();
        for (int64_t i = 0; i < a.decode; ++i) model.forward(step);
        best = std::min(best, (now() - d0) / double(a.decode));
      }
      const double floor = double(wbytes + batch * decode_state_bytes(c, spec, context)) / bandwidth;
      std::printf("context %8ld batch %3ld: decode %8.2f ms/step, %8.1f tokens/s; floor %.2f ms (weights %.2f MB + "
                  "state %.2f MB a sequence), %.2f× the floor\n",
                  static_cast<long>(context), static_cast<long>(batch), best * 1e3, double(batch) / best, floor * 1e3,
                  wbytes / 1e6, decode_state_bytes(c, spec, context) / 1e6, best / floor);
    }
  }
  std::printf("resident at the end %ld MiB\n", rss_now_kib() / 1024);
}

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  try {
    baleen::run(baleen::parse(argc, argv));
  } catch (const baleen::Error& e) {
    std::fprintf(stderr, "context_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
