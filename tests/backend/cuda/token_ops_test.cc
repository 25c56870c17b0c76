// The token-wise CUDA ops (backend/cuda/token_ops.h) and the device KV codec (kv_codec.cuh) against the CPU
// backend's kernels and float64 truths on fresh random inputs, in V4-Flash's shapes (D 4096, n 4, 64 heads ×
// 512 with rope 64, index heads of 128) and nano's (D 256, 4 heads × 128 with rope 32, index heads of 64),
// mostly in padded row strides whose padding the in-place ops must leave alone. Tolerances:
//   bit-identical: embed, gather_rows, hadamard (to cpu::hadamard_rows), rope (to cpu::rope_rows), hc_post
//     (to cpu::hc_post_rows: the same FMAs), kv_round_trip, encode_row_block, decode_element, and the
//     moe_route picks (to cpu::moe_route_rows);
//   |got − want| ≤ atol + rtol·|want| otherwise, with the bounds at each call (sums in another order, and
//     CUDA's expf/log1pf within 2 ulp of glibc's).
// A failure names the op and shape, how many values differ, the first (row, column) with both values and
// their bits, and the largest absolute and relative errors.
#include "backend/cuda/token_ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "../cpu/random_inputs.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/hyper_connections.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"
#include "device_test_support.h"
#include "kv_codec_kernels.h"

namespace baleen::test {
namespace {

class TokenOpsTest : public CudaTest {};

// A host matrix [rows, cols] with rows `stride` floats apart; the padding holds 7.5 (an op that writes it
// shows up as a padding mismatch).
struct HostRows {
  int64_t rows = 0, cols = 0, stride = 0;
  std::vector<float> v;

  MatrixView<float> view() { return {v.data(), rows, cols, stride}; }
  MatrixView<const float> view() const { return {v.data(), rows, cols, stride}; }
};

HostRows random_rows(int64_t rows, int64_t cols, int64_t pad, std::mt19937& rng, float stddev = 1.0f) {
  HostRows h{rows, cols, cols + pad, std::vector<float>(static_cast<size_t>(rows * (cols + pad)), 7.5f)};
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) h.v[static_cast<size_t>(r * h.stride + c)] = dist(rng);
  return h;
}

// A device copy of a host matrix and its view.
struct DeviceRows {
  explicit DeviceRows(const HostRows& h) : shape(h), buffer(h.v) {}
  MatrixView<float> view() const { return {buffer.get(), shape.rows, shape.cols, shape.stride}; }
  HostRows download() const {
    HostRows h = shape;
    h.v = buffer.download();
    return h;
  }
  HostRows shape;
  DeviceBuffer<float> buffer;
};

template <typename T>
DeviceBuffer<T> device_copy(const T* host, int64_t n) {
  return DeviceBuffer<T>(std::vector<T>(host, host + n));
}

uint32_t bits(float v) {
  return std::bit_cast<uint32_t>(v);
}

struct Tolerance {
  double atol = 0, rtol = 0;  // both 0: bit-identical
  bool exact() const { return atol == 0 && rtol == 0; }
};
constexpr Tolerance kExact{};

struct Errors {
  int64_t bad = 0, first = -1;  // values out of tolerance, the first one's index
  double max_abs = 0, max_rel = 0;
};

// got against want over the columns (by `tol`) and, with `padding`, the padding bit for bit.
Errors errors(const HostRows& got, const HostRows& want, Tolerance tol, bool padding) {
  Errors e;
  for (int64_t r = 0; r < want.rows; ++r) {
    for (int64_t c = 0; c < (padding ? want.stride : want.cols); ++c) {
      const size_t i = static_cast<size_t>(r * want.stride + c);
      const float g = got.v[i], w = want.v[i];
      if (bits(g) == bits(w)) continue;
      const double abs = std::fabs(double(g) - w), bound = tol.atol + tol.rtol * std::fabs(double(w));
      if (c < want.cols && std::isfinite(abs)) {
        e.max_abs = std::max(e.max_abs, abs);
        e.max_rel = std::max(e.max_rel, abs / std::max(std::fabs(double(w)), 1e-30));
      }
      const bool ok = c < want.cols && !tol.exact() && abs <= bound;
      if (!ok && e.bad++ == 0) e.first = static_cast<int64_t>(i);
    }
  }
  return e;
}

std::string summary(const Errors& e, Tolerance tol, const std::string& what) {
  char s[256];
  std::snprintf(s, sizeof s, "%s: max abs err %.3g, max rel err %.3g (atol %.3g, rtol %.3g%s)", what.c_str(),
                e.max_abs, e.max_rel, tol.atol, tol.rtol, tol.exact() ? ", bit-identical" : "");
  return s;
}

::testing::AssertionResult matches(const HostRows& got, const HostRows& want, Tolerance tol,
                                   const std::string& what, bool padding = false) {
  const Errors e = errors(got, want, tol, padding);
  if (e.bad == 0) {
    std::printf("%s\n", summary(e, tol, what).c_str());
    return ::testing::AssertionSuccess();
  }
  const int64_t r = e.first / want.stride, c = e.first % want.stride;
  const float g = got.v[static_cast<size_t>(e.first)], w = want.v[static_cast<size_t>(e.first)];
  char detail[256];
  std::snprintf(detail, sizeof detail,
                "; %ld values differ, the first at row %ld col %ld%s: got %.9g (0x%08x), want %.9g (0x%08x)",
                long(e.bad), long(r), long(c), c >= want.cols ? " (padding)" : "", g, bits(g), w, bits(w));
  return ::testing::AssertionFailure() << summary(e, tol, what) << detail;
}

// For scale: the CPU's own float kernel against the same truth.
void print_cpu_error(const HostRows& cpu, const HostRows& want, const std::string& what) {
  std::printf("%s\n", summary(errors(cpu, want, {1e300, 0}, false), {1e300, 0}, what).c_str());
}

HostRows host_rows(const float* data, int64_t rows, int64_t cols) {
  return {rows, cols, cols, std::vector<float>(data, data + rows * cols)};
}

// ---- embed, gather_rows ----

TEST_F(TokenOpsTest, EmbedCopiesTheTableRowIntoEveryStreamForF32AndBf16Tables) {
  std::mt19937 rng(101);
  for (const auto& [d, streams] : {std::pair<int64_t, int64_t>{4096, 4}, {256, 4}, {256, 1}}) {
    const int64_t vocab = 1000, tokens = 9;
    const Tensor table = random_tensor({vocab, d}, rng);
    std::vector<uint16_t> table_bf16(static_cast<size_t>(vocab * d));
    for (size_t i = 0; i < table_bf16.size(); ++i) table_bf16[i] = f32_to_bf16(table.data()[i]);
    std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
    std::vector<int32_t> ids(tokens);
    for (auto& t : ids) t = pick(rng);
    ids[3] = ids[1];
    ids[0] = vocab - 1;
    const DeviceBuffer<int32_t> dids(ids);
    const DeviceBuffer<float> dtable(std::vector<float>(table.values().begin(), table.values().end()));
    const DeviceBuffer<uint16_t> dtable_bf16(table_bf16);
    for (const bool bf16 : {false, true}) {
      HostRows want = random_rows(tokens, streams * d, 3, rng);
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t j = 0; j < streams; ++j)
          for (int64_t i = 0; i < d; ++i)
            want.v[static_cast<size_t>(t * want.stride + j * d + i)] =
                bf16 ? bf16_to_f32(table_bf16[static_cast<size_t>(ids[t] * d + i)])
                     : table.data()[ids[t] * d + i];
      const DeviceRows out(random_rows(tokens, streams * d, 3, rng));
      const WeightView w{
          bf16 ? DType::kBF16 : DType::kF32,
          bf16 ? static_cast<const void*>(dtable_bf16.get()) : static_cast<const void*>(dtable.get()), vocab,
          d};
      ASSERT_TRUE(synced(cuda::embed(dids.get(), w, streams, out.view(), nullptr)));
      HostRows got = out.download();
      EXPECT_TRUE(matches(got, want, kExact,
                          "embed " + std::string(bf16 ? "bf16" : "f32") + " D " + std::to_string(d) + " n " +
                              std::to_string(streams)));
    }
  }
}

TEST_F(TokenOpsTest, GatherRowsCopiesTheNamedRowsBitForBit) {
  std::mt19937 rng(102);
  const HostRows src = random_rows(50, 4096, 5, rng);
  std::uniform_int_distribution<int32_t> pick(0, 49);
  std::vector<int32_t> rows(37);
  for (auto& r : rows) r = pick(rng);
  rows[2] = rows[7];
  HostRows want = random_rows(37, 4096, 0, rng);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(src.view().row(rows[i]), 4096, want.view().row(static_cast<int64_t>(i)));
  const DeviceRows dsrc(src), dst(random_rows(37, 4096, 0, rng));
  const DeviceBuffer<int32_t> drows(rows);
  ASSERT_TRUE(synced(cuda::gather_rows(dsrc.view(), drows.get(), dst.view(), nullptr)));
  EXPECT_TRUE(matches(dst.download(), want, kExact, "gather_rows"));
}

// ---- rms_norm ----

TEST_F(TokenOpsTest, RmsNormMatchesTheFloat64ReferenceInPlaceAndOutOfPlace) {
  std::mt19937 rng(103);
  struct Case {
    int64_t rows, cols;
    bool weighted, in_place;
  };
  for (const Case c : {Case{7, 4096, true, false},
                       {33, 256, false, false},
                       {5, 7168, true, true},
                       {64, 512, true, true},
                       {3, 128, false, true}}) {
    HostRows x = random_rows(c.rows, c.cols, 4, rng, 3.0f);
    const Tensor weight = random_tensor({c.cols}, rng);
    const float eps = 1e-6f;
    HostRows want = x;
    cpu::rms_norm_reference(x.view(), c.weighted ? weight.data() : nullptr, eps, want.view());
    const DeviceRows dx(x), dy(random_rows(c.rows, c.cols, 4, rng));
    const DeviceBuffer<float> dw = device_copy(weight.data(), c.cols);
    const MatrixView<float> y = c.in_place ? dx.view() : dy.view();
    ASSERT_TRUE(synced(cuda::rms_norm(dx.view(), c.weighted ? dw.get() : nullptr, eps, y, nullptr)));
    const HostRows got = c.in_place ? dx.download() : dy.download();
    EXPECT_TRUE(matches(got, want, {1e-6, 4e-6},
                        "rms_norm " + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
                            (c.weighted ? " weighted" : " unweighted") + (c.in_place ? " in place" : ""),
                        c.in_place));
  }
}

// ---- rope ----

std::vector<float> inv_freq(int64_t rope_dim, double theta) {
  std::vector<float> f(static_cast<size_t>(rope_dim / 2));
  for (size_t i = 0; i < f.size(); ++i)
    f[i] = static_cast<float>(1.0 / std::pow(theta, double(2 * i) / double(rope_dim)));
  return f;
}

TEST_F(TokenOpsTest, RopeEqualsTheCpuKernelAndTheFloat64ReferenceForwardAndInverse) {
  std::mt19937 rng(104);
  struct Case {
    int64_t heads, head_dim, rope_dim;
    double theta;
  };
  // V4-Flash's attention and indexer heads, nano's, a compressor entry (one head).
  for (const Case c : {Case{64, 512, 64, 160000.0},
                       {64, 128, 64, 160000.0},
                       {4, 128, 32, 10000.0},
                       {4, 64, 32, 160000.0},
                       {1, 512, 64, 10000.0}}) {
    const int64_t rows = 6;
    std::vector<int64_t> positions = {0, 1, 4095, 65537, 1048575, 123456};
    const std::vector<float> freq = inv_freq(c.rope_dim, c.theta);
    const RopeFrequencies host_f{freq.data(), c.rope_dim};
    const DeviceBuffer<float> dfreq(freq);
    const DeviceBuffer<int64_t> dpos(positions);
    const RopeFrequencies dev_f{dfreq.get(), c.rope_dim};
    for (const bool inverse : {false, true}) {
      const HostRows x = random_rows(rows, c.heads * c.head_dim, 8, rng);
      HostRows cpu = x, want = x;
      cpu::rope_rows(cpu.view(), c.head_dim, positions.data(), host_f, inverse, 0, rows);
      cpu::rope_reference(want.view(), c.head_dim, positions.data(), host_f, inverse);
      const DeviceRows dx(x);
      ASSERT_TRUE(synced(cuda::rope(dx.view(), c.head_dim, dpos.get(), dev_f, inverse, nullptr)));
      const HostRows got = dx.download();
      const std::string what = "rope " + std::to_string(c.heads) + "x" + std::to_string(c.head_dim) +
                               " rope " + std::to_string(c.rope_dim) + (inverse ? " inverse" : "");
      EXPECT_TRUE(matches(got, cpu, kExact, what + " vs cpu::rope_rows", true));
      EXPECT_TRUE(matches(got, want, {1e-6, 1e-6}, what + " vs float64 reference"));
    }
  }
}

// ---- hadamard ----

TEST_F(TokenOpsTest, HadamardEqualsTheCpuButterfliesBitForBit) {
  std::mt19937 rng(105);
  for (const int64_t n : {1, 2, 64, 128, 512, 2048, 8192}) {
    const HostRows x = random_rows(n >= 2048 ? 3 : 19, n, 2, rng);
    HostRows cpu = x, want = x;
    cpu::hadamard_rows(cpu.view(), 0, x.rows);
    cpu::hadamard_reference(want.view());
    const DeviceRows dx(x);
    ASSERT_TRUE(synced(cuda::hadamard(dx.view(), nullptr)));
    const HostRows got = dx.download();
    EXPECT_TRUE(matches(got, cpu, kExact, "hadamard " + std::to_string(n) + " vs cpu::hadamard_rows", true));
    EXPECT_TRUE(matches(got, want, {1e-6, 1e-5}, "hadamard " + std::to_string(n) + " vs float64 reference"));
  }
}

// ---- KV codec ----

// Rows whose scale blocks (`block` values) have very different magnitudes: ordinary, below the FP8 amax
// floor, tiny (down to fp32 subnormals), huge (up to 1e38), all zero, and a grid of exact rounding ties under
// a known scale (m/16 · 2^k with an amax of 448·2^k for FP8, m/4 · 2^k with 6·2^k for FP4); one row also
// holds NaNs, an infinity, −0 and a subnormal.
HostRows codec_rows(int64_t rows, int64_t dim, KvFormat format, std::mt19937& rng) {
  HostRows h = random_rows(rows, dim, 3, rng);
  const bool fp8 = format == KvFormat::kFp8Rope;
  const int64_t block = fp8 ? kFp8ScaleBlock : kFp4ScaleBlock;
  const float gains[] = {1.0f, 1e-3f, 300.0f, 1e-6f, 1e-30f, 1e-38f, 1e-43f, 1e30f, 1e38f, 0.0f};
  std::uniform_int_distribution<int> kind(0, 10), tie(fp8 ? -7168 : -24, fp8 ? 7168 : 24), shift(-20, 20);
  for (int64_t r = 0; r < rows; ++r) {
    float* v = h.view().row(r);
    for (int64_t b = 0; b < dim; b += block) {
      const int64_t end = std::min(dim, b + block);
      const int k = kind(rng);
      if (k < 10) {
        for (int64_t i = b; i < end; ++i) v[i] *= gains[k];
        continue;
      }
      const float unit = std::ldexp(1.0f, shift(rng));
      for (int64_t i = b; i < end; ++i) v[i] = static_cast<float>(tie(rng)) / (fp8 ? 16.0f : 4.0f) * unit;
      v[b] = (fp8 ? 448.0f : 6.0f) * unit;
    }
  }
  if (rows > 1 && dim > 8) {
    float* v = h.view().row(1);
    v[0] = std::numeric_limits<float>::quiet_NaN();
    v[3] = -std::numeric_limits<float>::quiet_NaN();
    v[dim - 1] = std::numeric_limits<float>::infinity();
    v[7] = -std::numeric_limits<float>::infinity();
    v[5] = -0.0f;
    v[6] = std::numeric_limits<float>::denorm_min() * 3;
  }
  return h;
}

struct CodecCase {
  KvFormat format;
  int64_t dim, rope_dim;
  std::string name() const {
    return std::string(format == KvFormat::kFp8Rope ? "fp8rope " : "fp4 ") + std::to_string(dim) +
           (format == KvFormat::kFp8Rope ? " rope " + std::to_string(rope_dim) : "");
  }
};

// V4's window/compressor rows and indexer keys, nano's, and partial last blocks (odd FP4 dims too).
const CodecCase kCodecCases[] = {{KvFormat::kFp8Rope, 512, 64}, {KvFormat::kFp8Rope, 128, 32},
                                 {KvFormat::kFp8Rope, 200, 64}, {KvFormat::kFp8Rope, 100, 30},
                                 {KvFormat::kFp4, 128, 0},      {KvFormat::kFp4, 64, 0},
                                 {KvFormat::kFp4, 100, 0},      {KvFormat::kFp4, 99, 0}};

TEST_F(TokenOpsTest, KvRoundTripIsBitIdenticalToTheCodecsForBothPaperFormats) {
  std::mt19937 rng(106);
  for (const CodecCase& c : kCodecCases) {
    const KvCodec codec(c.format, c.dim, c.rope_dim);
    const HostRows x = codec_rows(40, c.dim, c.format, rng);
    HostRows want = x;
    for (int64_t r = 0; r < x.rows; ++r) codec.round_trip(want.view().row(r));
    const DeviceRows dx(x);
    ASSERT_TRUE(synced(cuda::kv_round_trip(codec, dx.view(), nullptr)));
    EXPECT_TRUE(matches(dx.download(), want, kExact, "kv_round_trip " + c.name(), true));
  }
}

TEST_F(TokenOpsTest, KvRoundTripInF32IsANoOp) {
  std::mt19937 rng(107);
  const HostRows x = random_rows(5, 512, 3, rng);
  const DeviceRows dx(x);
  ASSERT_TRUE(synced(cuda::kv_round_trip(KvCodec(KvFormat::kF32, 512, 64), dx.view(), nullptr)));
  EXPECT_TRUE(matches(dx.download(), x, kExact, "kv_round_trip f32", true));
}

// The first differing byte of two stored arrays of `count` parts of `part` bytes, or "".
std::string first_byte_difference(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                                  int64_t part, const char* what) {
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = static_cast<int64_t>(i);
  if (bad == 0) return "";
  char s[200];
  std::snprintf(s, sizeof s, "%ld %s bytes differ, the first in row %ld at byte %ld: got 0x%02x, want 0x%02x",
                long(bad), what, long(first / part), long(first % part), got[static_cast<size_t>(first)],
                want[static_cast<size_t>(first)]);
  return s;
}

TEST_F(TokenOpsTest, EncodeRowBlockWritesKvCodecEncodesBytesForAnyBlockSize) {
  std::mt19937 rng(108);
  for (const CodecCase& c : kCodecCases) {
    const KvCodec codec(c.format, c.dim, c.rope_dim);
    const int64_t rows = 24;
    const HostRows x = codec_rows(rows, c.dim, c.format, rng);
    std::vector<float> dense(static_cast<size_t>(rows * c.dim));
    std::vector<uint8_t> want_data(static_cast<size_t>(rows * codec.data_bytes())),
        want_scales(static_cast<size_t>(rows * codec.scale_bytes()));
    for (int64_t r = 0; r < rows; ++r) {
      std::copy_n(x.view().row(r), c.dim, dense.begin() + r * c.dim);
      codec.encode(x.view().row(r), want_data.data() + r * codec.data_bytes(),
                   want_scales.data() + r * codec.scale_bytes());
    }
    const DeviceBuffer<float> drows(dense);
    DeviceBuffer<uint8_t> data(want_data.size()), scales(want_scales.size());
    for (const int threads : {32, 64, 256, 1024}) {
      data.poison();
      scales.poison();
      ASSERT_TRUE(synced(encode_rows(codec, drows.get(), rows, threads, data.get(), scales.get(), nullptr)));
      const std::string what =
          "encode_row_block " + c.name() + " with " + std::to_string(threads) + " threads";
      const std::string d = first_byte_difference(data.download(), want_data, codec.data_bytes(), "data");
      const std::string s =
          first_byte_difference(scales.download(), want_scales, codec.scale_bytes(), "scale");
      EXPECT_TRUE(d.empty()) << what << ": " << d;
      EXPECT_TRUE(s.empty()) << what << ": " << s;
    }
  }
}

TEST_F(TokenOpsTest, DecodeElementEqualsKvCodecDecodeOnArbitraryStoredBytes) {
  std::mt19937 rng(109);
  std::uniform_int_distribution<int> byte(0, 255),
      scale(0, 254);  // every code, NaN codes too; 0xFF never a scale
  for (const CodecCase& c : kCodecCases) {
    const KvCodec codec(c.format, c.dim, c.rope_dim);
    const int64_t rows = 32;
    std::vector<uint8_t> data(static_cast<size_t>(rows * codec.data_bytes())),
        scales(static_cast<size_t>(rows * codec.scale_bytes()));
    for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
    for (auto& s : scales) s = static_cast<uint8_t>(scale(rng));
    HostRows want{rows, c.dim, c.dim, std::vector<float>(static_cast<size_t>(rows * c.dim))};
    for (int64_t r = 0; r < rows; ++r)
      codec.decode(data.data() + r * codec.data_bytes(), scales.data() + r * codec.scale_bytes(),
                   want.view().row(r));
    const DeviceBuffer<uint8_t> ddata(data), dscales(scales);
    DeviceBuffer<float> out(want.v.size());
    out.poison();
    ASSERT_TRUE(synced(decode_rows(codec, ddata.get(), dscales.get(), rows, out.get(), nullptr)));
    EXPECT_TRUE(
        matches(host_rows(out.download().data(), rows, c.dim), want, kExact, "decode_element " + c.name()));
  }
}

// ---- mHC ----

// One mHC site's parameters on the host (fn ~ N(0, 1/len) so the mixes are O(1), scales near 1) and on the
// device.
struct HcSite {
  HcSite(int64_t n, int64_t d, std::mt19937& rng)
      : fn(random_tensor({(2 + n) * n, n * d}, rng, 1.0f / std::sqrt(float(n * d)))),
        base(random_tensor({(2 + n) * n}, rng, 0.5f)),
        scale(near_one(random_tensor({3}, rng, 0.3f))) {
    host = {fn.data(), base.data(), scale.data(), n, d, 20, 1e-6f, 1e-6f};
    device = {dfn.get(), dbase.get(), dscale.get(), n, d, 20, 1e-6f, 1e-6f};
  }
  Tensor fn, base, scale;
  DeviceBuffer<float> dfn{device_values(fn)}, dbase{device_values(base)}, dscale{device_values(scale)};
  HyperConnectionParams host, device;

  static std::vector<float> device_values(const Tensor& t) { return {t.values().begin(), t.values().end()}; }
  static Tensor near_one(Tensor t) {
    for (float& s : t.values()) s += 1.0f;
    return t;
  }
};

struct HcCase {
  int64_t n, d, tokens;
  std::string name() const {
    return "n " + std::to_string(n) + " D " + std::to_string(d) + " T " + std::to_string(tokens);
  }
};

// Decode-sized (one fn row a block) and prefill-sized (four) launches, V4-Flash's and nano's D, n up to 8.
const HcCase kHcCases[] = {{4, 4096, 1}, {4, 4096, 37}, {4, 256, 3},
                           {4, 256, 64}, {8, 256, 5},   {2, 1024, 18}};

TEST_F(TokenOpsTest, HcPreMatchesTheFloat64Reference) {
  std::mt19937 rng(110);
  for (const HcCase& c : kHcCases) {
    const HcSite site(c.n, c.d, rng);
    const HostRows streams = random_rows(c.tokens, c.n * c.d, 6, rng);
    HostRows want_x = random_rows(c.tokens, c.d, 2, rng), want_post = random_rows(c.tokens, c.n, 1, rng),
             want_comb = random_rows(c.tokens, c.n * c.n, 3, rng);
    HostRows cpu_x = want_x, cpu_post = want_post, cpu_comb = want_comb;
    cpu::hc_pre_reference(streams.view(), site.host, want_x.view(), want_post.view(), want_comb.view());
    cpu::hc_pre_rows(streams.view(), site.host, cpu_x.view(), cpu_post.view(), cpu_comb.view(), 0, c.tokens);
    const DeviceRows ds(streams), dx(want_x), dpost(want_post), dcomb(want_comb);
    ASSERT_TRUE(synced(cuda::hc_pre(ds.view(), site.device, dx.view(), dpost.view(), dcomb.view(), nullptr)));
    print_cpu_error(cpu_x, want_x, "(cpu::hc_pre_rows x " + c.name() + ")");
    print_cpu_error(cpu_comb, want_comb, "(cpu::hc_pre_rows comb " + c.name() + ")");
    EXPECT_TRUE(matches(dx.download(), want_x, {2e-5, 1e-5}, "hc_pre x " + c.name(), true));
    EXPECT_TRUE(matches(dpost.download(), want_post, {1e-5, 1e-5}, "hc_pre post " + c.name(), true));
    EXPECT_TRUE(matches(dcomb.download(), want_comb, {1e-5, 1e-5}, "hc_pre comb " + c.name(), true));
  }
}

TEST_F(TokenOpsTest, HcHeadMatchesTheFloat64Reference) {
  std::mt19937 rng(111);
  for (const HcCase& c : kHcCases) {
    const HcSite site(c.n, c.d, rng);
    const HostRows streams = random_rows(c.tokens, c.n * c.d, 6, rng);
    HostRows want = random_rows(c.tokens, c.d, 2, rng);
    cpu::hc_head_reference(streams.view(), site.host, want.view());
    const DeviceRows ds(streams), dy(want);
    ASSERT_TRUE(synced(cuda::hc_head(ds.view(), site.device, dy.view(), nullptr)));
    EXPECT_TRUE(matches(dy.download(), want, {2e-5, 1e-5}, "hc_head " + c.name(), true));
  }
}

TEST_F(TokenOpsTest, HcPostEqualsTheCpuKernelAndMatchesTheFloat64Reference) {
  std::mt19937 rng(112);
  for (const HcCase& c : kHcCases) {
    const HostRows y = random_rows(c.tokens, c.d, 1, rng), post = random_rows(c.tokens, c.n, 2, rng),
                   comb = random_rows(c.tokens, c.n * c.n, 1, rng, 0.5f),
                   streams = random_rows(c.tokens, c.n * c.d, 4, rng);
    HostRows want = random_rows(c.tokens, c.n * c.d, 3, rng), cpu = want;
    cpu::hc_post_reference(y.view(), post.view(), comb.view(), streams.view(), want.view());
    cpu::hc_post_rows(y.view(), post.view(), comb.view(), streams.view(), cpu.view(), 0, c.tokens);
    const DeviceRows dy(y), dpost(post), dcomb(comb), ds(streams), dout(want);
    ASSERT_TRUE(
        synced(cuda::hc_post(dy.view(), dpost.view(), dcomb.view(), ds.view(), dout.view(), nullptr)));
    const HostRows got = dout.download();
    // D a multiple of 8: the CPU's axpy is all FMA lanes, the same operations as the kernel's.
    EXPECT_TRUE(matches(got, cpu, kExact, "hc_post " + c.name() + " vs cpu::hc_post_rows", true));
    EXPECT_TRUE(matches(got, want, {1e-5, 1e-5}, "hc_post " + c.name() + " vs float64 reference"));
  }
}

// ---- moe_route, swiglu ----

struct RouteCase {
  int64_t experts, k, tokens;
  bool bias, hash, ties;
};

void check_route(const RouteCase& c, std::mt19937& rng) {
  const int64_t vocab = 500;
  HostRows logits = random_rows(c.tokens, c.experts, 3, rng, 2.0f);
  if (c.ties) {  // logits on a coarse grid: many exactly equal scores, ordered by expert index
    for (float& v : logits.v) v = std::round(v * 2.0f) / 2.0f;
  }
  const Tensor bias = random_tensor({c.experts}, rng, 0.1f);
  std::vector<int32_t> tid2eid(static_cast<size_t>(vocab * c.k)), tokens(static_cast<size_t>(c.tokens));
  std::uniform_int_distribution<int32_t> expert(0, static_cast<int32_t>(c.experts - 1)),
      token(0, static_cast<int32_t>(vocab - 1));
  for (auto& e : tid2eid) e = expert(rng);
  for (auto& t : tokens) t = token(rng);
  const float scaling = 1.5f;
  std::vector<int32_t> want_e(static_cast<size_t>(c.tokens * c.k)), ref_e(want_e.size());
  HostRows want_w{c.tokens, c.k, c.k, std::vector<float>(want_e.size())}, ref_w = want_w;
  const MatrixView<int32_t> we(want_e.data(), c.tokens, c.k), re(ref_e.data(), c.tokens, c.k);
  const float* b = c.bias ? bias.data() : nullptr;
  const int32_t* h = c.hash ? tid2eid.data() : nullptr;
  cpu::moe_route_rows(logits.view(), b, h, tokens.data(), scaling, we, want_w.view(), 0, c.tokens);
  cpu::moe_route_reference(logits.view(), b, h, tokens.data(), scaling, re, ref_w.view());

  const DeviceRows dlogits(logits);
  const DeviceBuffer<float> dbias = device_copy(bias.data(), c.experts);
  const DeviceBuffer<int32_t> dtid2eid(tid2eid), dtokens(tokens);
  DeviceBuffer<int32_t> de(want_e.size());
  DeviceBuffer<float> dw(want_e.size());
  de.poison();
  dw.poison();
  ASSERT_TRUE(synced(cuda::moe_route(dlogits.view(), c.bias ? dbias.get() : nullptr,
                                     c.hash ? dtid2eid.get() : nullptr, dtokens.get(), scaling,
                                     MatrixView<int32_t>(de.get(), c.tokens, c.k),
                                     MatrixView<float>(dw.get(), c.tokens, c.k), nullptr)));
  const std::string what = "moe_route E " + std::to_string(c.experts) + " K " + std::to_string(c.k) +
                           (c.bias ? " bias" : "") + (c.hash ? " hash" : "") + (c.ties ? " ties" : "");
  const std::vector<int32_t> got_e = de.download();
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < got_e.size(); ++i)
    if (got_e[i] != want_e[i] && bad++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(bad, 0) << what << ": " << bad << " picks differ from cpu::moe_route_rows, the first at token "
                    << first / c.k << " slot " << first % c.k << ": got " << got_e[static_cast<size_t>(first)]
                    << ", want " << want_e[static_cast<size_t>(first)];
  const HostRows got_w = host_rows(dw.download().data(), c.tokens, c.k);
  EXPECT_TRUE(matches(got_w, want_w, {1e-7, 2e-6}, what + " weights vs cpu::moe_route_rows"));
  if (ref_e == want_e) {  // float64 may break a near-tie the other way
    EXPECT_TRUE(matches(got_w, ref_w, {1e-7, 4e-6}, what + " weights vs float64 reference"));
  }
}

TEST_F(TokenOpsTest, MoeRoutePicksTheCpusExpertsInItsOrderWithMatchingWeights) {
  std::mt19937 rng(113);
  // V4-Flash (256 experts, 6 a token), nano (8, 2), the largest the kernel takes; learned, biased, hashed.
  for (const RouteCase c : {RouteCase{256, 6, 40, true, false, false},
                            {256, 6, 40, false, false, false},
                            {256, 6, 40, true, false, true},
                            {256, 6, 40, false, false, true},
                            {256, 6, 40, false, true, false},
                            {8, 2, 17, true, false, false},
                            {8, 2, 17, false, true, false},
                            {1024, 16, 9, true, false, false},
                            {1024, 16, 9, false, false, true}})
    check_route(c, rng);
}

TEST_F(TokenOpsTest, SwigluMatchesTheCpuKernelWithAndWithoutTheClamp) {
  std::mt19937 rng(114);
  for (const float limit : {0.0f, 10.0f, 2.0f}) {
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{9, 2048}, {33, 256}}) {
      const HostRows gate = random_rows(rows, cols, 3, rng, 8.0f), up = random_rows(rows, cols, 5, rng, 8.0f);
      HostRows want = gate;
      for (int64_t r = 0; r < rows; ++r) cpu::swiglu(want.view().row(r), up.view().row(r), cols, limit);
      const DeviceRows dg(gate), du(up);
      ASSERT_TRUE(synced(cuda::swiglu(dg.view(), du.view(), limit, nullptr)));
      EXPECT_TRUE(matches(
          dg.download(), want, {1e-30, 4e-6},
          "swiglu " + std::to_string(rows) + "x" + std::to_string(cols) + " limit " + std::to_string(limit),
          true));
    }
  }
}

// ---- shapes the kernels do not take ----

TEST_F(TokenOpsTest, RejectsShapesTheKernelsDoNotTake) {
  DeviceBuffer<float> buf(4096);
  const MatrixView<float> m(buf.get(), 2, 100);
  EXPECT_EQ(cuda::hadamard(m, nullptr), cudaErrorInvalidValue);  // 100 is not a power of two
  EXPECT_EQ(cuda::hadamard(MatrixView<float>(buf.get(), 1, 16384), nullptr), cudaErrorInvalidValue);
  const MatrixView<float> logits(buf.get(), 1, 2048);
  DeviceBuffer<int32_t> experts(32);
  EXPECT_EQ(cuda::moe_route(logits, nullptr, nullptr, nullptr, 1.0f, MatrixView<int32_t>(experts.get(), 1, 8),
                            MatrixView<float>(buf.get(), 1, 8), nullptr),
            cudaErrorInvalidValue);  // more than 1024 experts
  HyperConnectionParams p{buf.get(), buf.get(), buf.get(), 9, 100, 20, 1e-6f, 1e-6f};
  EXPECT_EQ(cuda::hc_head(MatrixView<const float>(buf.get(), 1, 900), p, MatrixView<float>(buf.get(), 1, 100),
                          nullptr),
            cudaErrorInvalidValue);  // more than 8 streams
  EXPECT_EQ(cuda::rope(m, 30, nullptr, RopeFrequencies{buf.get(), 8}, false, nullptr),
            cudaErrorInvalidValue);  // 100 columns are not whole heads of 30
  EXPECT_EQ(cuda::kv_round_trip(KvCodec(KvFormat::kFp4, 64, 0), m, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace baleen::test
