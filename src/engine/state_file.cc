#include "engine/state_file.h"

#include <cstring>

#include "core/crc32c.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace baleen {
namespace {

constexpr char kMagic[8] = {'B', 'A', 'L', 'E', 'E', 'N', 'S', 'T'};
constexpr int64_t kMaxLength = int64_t{1} << 40;  // keeps every derived size far from overflow
constexpr uint32_t kMaxName = 4096;

class Writer {
 public:
  template <typename T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  template <typename T>
  void vec(const std::vector<T>& v) {
    bytes(v.data(), v.size() * sizeof(T));
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view in, const std::string& what) : in_(in), what_(what) {}

  template <typename T>
  T get(const char* field) {
    T v;
    std::memcpy(&v, take(sizeof v, field), sizeof v);
    return v;
  }
  template <typename T>
  void vec(std::vector<T>& v, int64_t n, const char* field) {
    v.resize(static_cast<size_t>(n));
    const char* from = take(static_cast<size_t>(n) * sizeof(T), field);
    if (n > 0) std::memcpy(v.data(), from, static_cast<size_t>(n) * sizeof(T));  // an empty v has no data()
  }
  std::string_view take_view(size_t n, const char* field) { return {take(n, field), n}; }
  size_t offset() const { return at_; }
  [[noreturn]] void bad(const std::string& why) const { fail("state file {}: {}", what_, why); }

 private:
  const char* take(size_t n, const char* field) {
    if (n > in_.size() - at_) bad(fmt::format("truncated: {} needs {} bytes at byte {}, {} left", field, n, at_, in_.size() - at_));
    const char* p = in_.data() + at_;
    at_ += n;
    return p;
  }
  std::string_view in_;
  std::string what_;
  size_t at_ = 0;
};

void put_codec(Writer& w, const KvCodec& c) {
  w.put(static_cast<uint8_t>(c.format()));
  w.put(c.dim());
  w.put(c.rope_dim());
}

void put_compressor(Writer& w, const CompressorSpec& c) {
  w.put(c.ratio);
  w.put(c.dim);
  w.put(static_cast<uint8_t>(c.overlap));
  put_codec(w, c.entries);
}

void put_spec(Writer& w, const StateSpec& spec) {
  w.put(static_cast<uint32_t>(spec.layers.size()));
  w.put(spec.window);
  for (const LayerStateSpec& l : spec.layers) {
    put_codec(w, l.window);
    put_compressor(w, l.compressor);
    put_compressor(w, l.indexer);
  }
}

int64_t width(const CompressorSpec& c) {
  return (c.overlap ? 2 : 1) * c.dim;
}

void put_compressor_image(Writer& w, const CompressorSpec& spec, const CompressorImage& c) {
  if (spec.ratio == 0) return;
  w.put(c.tail_rows);
  w.vec(c.tail_kv);
  w.vec(c.tail_gate);
  w.put(static_cast<int64_t>(c.overlap_kv.size()));
  w.vec(c.overlap_kv);
  w.vec(c.overlap_gate);
  w.put(c.entries);
  w.vec(c.rows);
}

// The bytes a compressor's part of the body takes after `length` tokens.
int64_t compressor_body_bytes(const CompressorSpec& c, int64_t length) {
  if (c.ratio == 0) return 0;
  const int64_t overlap = c.overlap && length >= c.ratio ? c.ratio * c.dim : 0;
  return 8 + (length % c.ratio) * width(c) * 8 + 8 + overlap * 8 + 8 + (length / c.ratio) * c.entries.row_bytes();
}

void read_compressor_image(Reader& r, const CompressorSpec& spec, int64_t length, CompressorImage& c) {
  if (spec.ratio == 0) return;
  c.tail_rows = r.get<int64_t>("tail rows");
  if (c.tail_rows != length % spec.ratio) r.bad(fmt::format("{} tail rows after {} tokens at ratio {}", c.tail_rows, length, spec.ratio));
  r.vec(c.tail_kv, c.tail_rows * width(spec), "tail kv");
  r.vec(c.tail_gate, c.tail_rows * width(spec), "tail gate");
  const int64_t overlap = r.get<int64_t>("overlap size");
  const int64_t want = spec.overlap && length >= spec.ratio ? spec.ratio * spec.dim : 0;
  if (overlap != want) r.bad(fmt::format("overlap of {} values, expected {}", overlap, want));
  r.vec(c.overlap_kv, overlap, "overlap kv");
  r.vec(c.overlap_gate, overlap, "overlap gate");
  c.entries = r.get<int64_t>("entry count");
  if (c.entries != length / spec.ratio) r.bad(fmt::format("{} entries after {} tokens at ratio {}", c.entries, length, spec.ratio));
  r.vec(c.rows, c.entries * spec.entries.row_bytes(), "entry rows");
}

}  // namespace

std::string encode_state_file(const StateImage& image, const StateSpec& spec, StateStorage storage,
                              const ModelIdentity& model) {
  check(image.layers.size() == spec.layers.size(), "state image has {} layers, the spec {}", image.layers.size(),
        spec.layers.size());
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.put(kStateFileVersion);
  w.put(static_cast<uint32_t>(storage == StateStorage::kPaper));
  w.put(model.fingerprint);
  w.put(static_cast<uint32_t>(model.name.size()));
  w.bytes(model.name.data(), model.name.size());
  put_spec(w, spec);
  w.put(image.length);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerImage& l = image.layers[i];
    w.put(l.window_rows);
    w.vec(l.window);
    put_compressor_image(w, spec.layers[i].compressor, l.compressor);
    put_compressor_image(w, spec.layers[i].indexer, l.indexer);
  }
  w.put(crc32c(w.str()));
  return std::move(w.str());
}

StateImage decode_state_file(std::string_view bytes, const StateSpec& spec, StateStorage storage,
                             const ModelIdentity& model, const std::string& what) {
  Reader r(bytes, what);
  if (r.take_view(sizeof kMagic, "magic") != std::string_view(kMagic, sizeof kMagic)) r.bad("not a baleen state file");
  if (const auto v = r.get<uint32_t>("version"); v != kStateFileVersion)
    r.bad(fmt::format("version {}, this build reads version {}", v, kStateFileVersion));
  if (bytes.size() < r.offset() + 4) r.bad("truncated");
  const uint32_t stored_crc = [&] {
    uint32_t c;
    std::memcpy(&c, bytes.data() + bytes.size() - 4, 4);
    return c;
  }();
  if (crc32c(bytes.substr(0, bytes.size() - 4)) != stored_crc) r.bad("checksum mismatch (truncated or corrupted)");
  if (const bool paper = r.get<uint32_t>("storage") == 1; paper != (storage == StateStorage::kPaper))
    r.bad(fmt::format("holds {} storage, the session wants {}", paper ? "paper" : "fp32",
                      storage == StateStorage::kPaper ? "paper" : "fp32"));
  const auto fingerprint = r.get<uint64_t>("fingerprint");
  const auto name_bytes = r.get<uint32_t>("name size");
  if (name_bytes > kMaxName) r.bad(fmt::format("model name of {} bytes", name_bytes));
  const std::string_view name = r.take_view(name_bytes, "model name");
  if (fingerprint != model.fingerprint || name != model.name)
    r.bad(fmt::format("was made by model '{}' ({:016x}), not '{}' ({:016x})", name, fingerprint, model.name,
                      model.fingerprint));
  Writer want;
  put_spec(want, spec);
  if (r.take_view(want.str().size(), "state spec") != want.str()) r.bad("its layer formats do not match the model's");
  StateImage image;
  image.length = r.get<int64_t>("length");
  if (image.length < 0 || image.length > kMaxLength) r.bad(fmt::format("length {}", image.length));
  // Every size follows from the length: check the file's size before allocating anything.
  int64_t body = 4;
  for (const LayerStateSpec& l : spec.layers) {
    body += 8 + std::min(image.length, spec.window) * l.window.row_bytes() +
            compressor_body_bytes(l.compressor, image.length) + compressor_body_bytes(l.indexer, image.length);
  }
  if (static_cast<int64_t>(bytes.size() - r.offset()) != body)
    r.bad(fmt::format("{} bytes after the header, {} expected for {} tokens", bytes.size() - r.offset(), body,
                      image.length));
  for (const LayerStateSpec& l : spec.layers) {
    LayerImage li;
    li.window_rows = r.get<int64_t>("window rows");
    if (li.window_rows != std::min(image.length, spec.window)) r.bad(fmt::format("{} window rows", li.window_rows));
    r.vec(li.window, li.window_rows * l.window.row_bytes(), "window");
    read_compressor_image(r, l.compressor, image.length, li.compressor);
    read_compressor_image(r, l.indexer, image.length, li.indexer);
    image.layers.push_back(std::move(li));
  }
  return image;
}

void save_state(const std::filesystem::path& file, const SessionState& state, const Model& model,
                const ModelIdentity& identity) {
  const StateSpec spec = state_spec(model.config(), state.storage());
  write_file_durably(file, encode_state_file(state.backend().export_state(state.id()), spec, state.storage(), identity));
}

SessionState load_state(const std::filesystem::path& file, Model& model, StateStorage storage,
                        const ModelIdentity& identity) {
  const std::string bytes = read_file(file);
  const StateSpec spec = state_spec(model.config(), storage);
  const StateImage image = decode_state_file(bytes, spec, storage, identity, file.string());
  Backend& backend = model.backend();
  return SessionState(backend, backend.import_state(spec, image), storage, image.length);
}

}  // namespace baleen
