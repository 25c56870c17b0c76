#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace baleen {

using nlohmann::json;

namespace {

// The reference implementation's bound; a larger header is a lie or an attack.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses the header JSON, refusing duplicate tensor names and nesting deeper than a valid header has.
json parse_header_json(std::string_view text, const std::string& origin) {
  std::set<std::string> names;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > 4) fail("{}: malformed safetensors header: nesting deeper than a header allows", origin);
    if (event == json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      if (!names.insert(key).second)
        fail("{}: malformed safetensors header: duplicate tensor '{}'", origin, key);
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail("{}: malformed safetensors header JSON: {}", origin, e.what());
  }
}

uint64_t json_u64(const json& v, const std::string& origin, const std::string& name, const char* field) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  fail("{}: tensor '{}': {} must hold non-negative integers, got {}", origin, name, field, v.dump());
}

SafetensorsEntry parse_entry(const std::string& name, const json& v, const std::string& origin) {
  check(v.is_object(), "{}: tensor '{}': header entry must be an object", origin, name);
  SafetensorsEntry e;
  e.name = name;
  auto dtype = v.find("dtype");
  check(dtype != v.end() && dtype->is_string(), "{}: tensor '{}': missing dtype", origin, name);
  const auto type = dtype_from_name(dtype->get<std::string>());
  check(type.has_value(), "{}: tensor '{}': unknown dtype '{}'", origin, name, dtype->get<std::string>());
  e.dtype = *type;
  auto shape = v.find("shape");
  check(shape != v.end() && shape->is_array(), "{}: tensor '{}': missing shape", origin, name);
  for (const auto& d : *shape) {
    const uint64_t dim = json_u64(d, origin, name, "shape");
    check(dim <= (uint64_t{1} << 48), "{}: tensor '{}': dimension {} is implausibly large", origin, name,
          dim);
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  auto offsets = v.find("data_offsets");
  check(offsets != v.end() && offsets->is_array() && offsets->size() == 2,
        "{}: tensor '{}': data_offsets must be [begin, end]", origin, name);
  e.begin = json_u64((*offsets)[0], origin, name, "data_offsets");
  e.end = json_u64((*offsets)[1], origin, name, "data_offsets");
  check(e.begin <= e.end, "{}: tensor '{}': data_offsets [{}, {}] run backwards", origin, name, e.begin,
        e.end);
  const uint64_t want = dtype_bytes(e.dtype, e.shape, fmt::format("{}: tensor '{}'", origin, name));
  check(e.nbytes() == want, "{}: tensor '{}': {} bytes in data_offsets but dtype {} × shape needs {}", origin,
        name, e.nbytes(), dtype_name(e.dtype), want);
  return e;
}

void check_layout(std::vector<SafetensorsEntry>& entries, uint64_t data_size, const std::string& origin) {
  for (const auto& e : entries) {
    check(e.end <= data_size,
          "{}: tensor '{}': data_offsets [{}, {}] run past the end of the data area ({} bytes)", origin,
          e.name, e.begin, e.end, data_size);
  }
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    const auto* cur = by_offset[i];
    if (cur->nbytes() == 0 || prev->nbytes() == 0) continue;
    check(prev->end <= cur->begin, "{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", origin, prev->name,
          prev->begin, prev->end, cur->name, cur->begin, cur->end);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

}  // namespace

uint64_t shape_elements(const std::vector<int64_t>& shape, const std::string& what) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    check(d >= 0, "{}: negative dimension {}", what, d);
    check(!__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count), "{}: shape overflows", what);
  }
  return count;
}

uint64_t dtype_bytes(DType dtype, const std::vector<int64_t>& shape, const std::string& what) {
  uint64_t bits = 0;
  check(!__builtin_mul_overflow(shape_elements(shape, what), static_cast<uint64_t>(dtype_bits(dtype)), &bits),
        "{}: byte size overflows", what);
  check(bits % 8 == 0, "{}: {} elements of {} do not fill whole bytes", what, bits / dtype_bits(dtype),
        dtype_name(dtype));
  return bits / 8;
}

SafetensorsHeader parse_safetensors(std::span<const uint8_t> file, const std::string& origin) {
  check(file.size() >= 8, "{}: truncated safetensors file ({} bytes, need at least 8)", origin, file.size());
  const uint64_t length = read_u64_le(file.data());
  check(length <= file.size() - 8, "{}: header length {} runs past the end of the file ({} bytes)", origin,
        length, file.size());
  check(length <= kMaxHeaderBytes, "{}: header length {} exceeds the {} byte limit", origin, length,
        kMaxHeaderBytes);
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), length);
  const json header = parse_header_json(text, origin);
  check(header.is_object(), "{}: safetensors header must be a JSON object", origin);
  SafetensorsHeader out;
  out.data_offset = 8 + length;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      check(value.is_object(), "{}: __metadata__ must be an object", origin);
      for (const auto& [k, v] : value.items()) {
        check(v.is_string(), "{}: __metadata__ value '{}' must be a string", origin, k);
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    out.entries.push_back(parse_entry(name, value, origin));
  }
  check_layout(out.entries, file.size() - out.data_offset, origin);
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string origin = path.string();
  const int fd = ::open(origin.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, "{}: cannot open: {}", origin, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", origin);
  }
  SafetensorsFile f;
  f.path_ = path;
  f.size_ = static_cast<uint64_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail("{}: mmap failed: {}", origin, std::strerror(errno));
    }
    f.base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  f.header_ = parse_safetensors({f.base_, f.size_}, origin);
  return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)), base_(o.base_), size_(o.size_), header_(std::move(o.header_)) {
  o.base_ = nullptr;
  o.size_ = 0;
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
    path_ = std::move(o.path_);
    base_ = o.base_;
    size_ = o.size_;
    header_ = std::move(o.header_);
    o.base_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(header_.entries.begin(), header_.entries.end(), name,
                             [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return it != header_.entries.end() && it->name == name ? &*it : nullptr;
}

}  // namespace baleen
