#include "core/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "core/error.h"

namespace baleen {
namespace {

struct Header {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  std::string data;  // the payload bytes
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "{}: cannot open", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Header parse(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string name = path.string();
  check(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "{}: not a .npy file (bad magic)", name);
  const int major = static_cast<uint8_t>(bytes[6]);
  check(major >= 1 && major <= 3, "{}: unsupported .npy version {}", name, major);
  const size_t len_size = major == 1 ? 2 : 4;
  check(bytes.size() >= 8 + len_size, "{}: truncated header", name);
  size_t header_len = 0;
  for (size_t i = 0; i < len_size; ++i) header_len |= size_t{static_cast<uint8_t>(bytes[8 + i])} << (8 * i);
  const size_t start = 8 + len_size;
  check(bytes.size() >= start + header_len, "{}: header length {} runs past the end of the file", name,
        header_len);
  const std::string dict = bytes.substr(start, header_len);
  Header h;
  std::smatch m;
  check(std::regex_search(dict, m, std::regex(R"('descr'\s*:\s*'([^']*)')")), "{}: header has no descr",
        name);
  h.descr = m[1];
  check(std::regex_search(dict, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")),
        "{}: header has no fortran_order", name);
  h.fortran = m[1] == "True";
  check(std::regex_search(dict, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")), "{}: header has no shape",
        name);
  const std::string dims = m[1];
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    h.shape.push_back(std::stoll(it->str()));
  }
  h.data = bytes.substr(start + header_len);
  return h;
}

template <typename T>
std::vector<T> payload(const Header& h, const std::filesystem::path& path, const char* descr, size_t rank) {
  check(h.descr == descr, "{}: expected dtype {} but the file holds {}", path.string(), descr, h.descr);
  check(!h.fortran, "{}: Fortran-ordered arrays are not supported (expected C order)", path.string());
  check(h.shape.size() == rank, "{}: expected a {}-D array, got {}-D", path.string(), rank, h.shape.size());
  size_t count = 1;
  for (int64_t d : h.shape) count *= static_cast<size_t>(d);
  check(h.data.size() == count * sizeof(T), "{}: payload is {} bytes, the shape needs {}", path.string(),
        h.data.size(), count * sizeof(T));
  std::vector<T> out(count);
  std::memcpy(out.data(), h.data.data(), h.data.size());
  return out;
}

void write(const std::filesystem::path& path, const char* descr, const std::string& shape, const void* data,
           size_t nbytes) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  check(out.good(), "{}: cannot create", path.string());
  const uint16_t len = static_cast<uint16_t>(dict.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(nbytes));
  check(out.good(), "{}: write failed", path.string());
}

}  // namespace

std::vector<int32_t> read_npy_int32(const std::filesystem::path& path) {
  return payload<int32_t>(parse(path), path, "<i4", 1);
}

Tensor read_npy_float32(const std::filesystem::path& path) {
  const Header h = parse(path);
  const std::vector<float> values = payload<float>(h, path, "<f4", 2);
  Tensor t({h.shape[0], h.shape[1]});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

void write_npy_int32(const std::filesystem::path& path, std::span<const int32_t> values) {
  write(path, "<i4", fmt::format("({},)", values.size()), values.data(), values.size() * 4);
}

void write_npy_float32(const std::filesystem::path& path, const Tensor& matrix) {
  check(matrix.rank() == 2, "{}: only 2-D float32 arrays are written, got rank {}", path.string(),
        matrix.rank());
  write(path, "<f4", fmt::format("({}, {})", matrix.dim(0), matrix.dim(1)), matrix.data(),
        static_cast<size_t>(matrix.size()) * 4);
}

}  // namespace baleen
