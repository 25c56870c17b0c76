#include "core/npy.h"

#include <cstring>
#include <fstream>
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

// The raw text of key's value in the header's Python dict literal ('key': value, ...); values here
// never contain a comma outside parentheses.
std::string dict_value(const std::string& dict, const std::string& key, const std::string& name) {
  const size_t at = dict.find("'" + key + "'");
  check(at != std::string::npos, "{}: header has no '{}'", name, key);
  size_t pos = dict.find(':', at);
  check(pos != std::string::npos, "{}: malformed header near '{}'", name, key);
  ++pos;
  while (pos < dict.size() && dict[pos] == ' ') ++pos;
  size_t end = pos;
  int depth = 0;
  for (; end < dict.size(); ++end) {
    const char ch = dict[end];
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if ((ch == ',' && depth == 0) || ch == '}') break;
  }
  std::string value = dict.substr(pos, end - pos);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
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
  h.descr = dict_value(dict, "descr", name);
  check(h.descr.size() >= 2 && h.descr.front() == '\'' && h.descr.back() == '\'', "{}: descr is not a string",
        name);
  h.descr = h.descr.substr(1, h.descr.size() - 2);
  const std::string fortran = dict_value(dict, "fortran_order", name);
  check(fortran == "True" || fortran == "False", "{}: fortran_order is '{}'", name, fortran);
  h.fortran = fortran == "True";
  const std::string shape = dict_value(dict, "shape", name);
  check(shape.size() >= 2 && shape.front() == '(' && shape.back() == ')', "{}: shape is not a tuple", name);
  std::string number;
  for (char ch : shape.substr(1) + ",") {
    if (ch >= '0' && ch <= '9') {
      number.push_back(ch);
    } else if (ch == ',' || ch == ')') {
      if (!number.empty()) h.shape.push_back(std::stoll(number));
      number.clear();
    } else {
      check(ch == ' ', "{}: unexpected '{}' in shape {}", name, ch, shape);
    }
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
