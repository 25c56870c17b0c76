#include "chat/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace baleen::chat {
namespace {

// Python's json encoder escapes only '"', '\\' and the C0 controls when ensure_ascii=False
// (json.encoder.ESCAPE = r'[\x00-\x1f\\"\b\f\n\r\t]'); DEL and U+2028 stay literal.
void append_python_string(std::string& out, const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Python's json.dumps gives up (RecursionError) near its recursion limit of 1000; so do we, before the
// stack would.
constexpr int kMaxDepth = 1000;

void append_value(std::string& out, const Json& value, int depth) {
  check(depth <= kMaxDepth, "python_json_dumps: JSON nested deeper than {} levels", kMaxDepth);
  switch (value.type()) {
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      out += std::to_string(value.get<int64_t>());
      return;
    case Json::value_t::number_unsigned:
      out += std::to_string(value.get<uint64_t>());
      return;
    case Json::value_t::number_float:
      out += python_float_repr(value.get<double>());
      return;
    case Json::value_t::string:
      append_python_string(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value) {
        if (!first) out += ", ";
        first = false;
        append_value(out, item, depth + 1);
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out += ", ";
        first = false;
        append_python_string(out, key);
        out += ": ";
        append_value(out, item, depth + 1);
      }
      out += '}';
      return;
    }
    default:
      fail("python_json_dumps: a {} value has no JSON text", value.type_name());
  }
}

}  // namespace

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  // Shortest round-trip digits in scientific form, e.g. "-1.5e-07", then laid out as Python's
  // float_repr_style 'short' does: fixed notation when the decimal point position decpt satisfies
  // -4 < decpt <= 16, otherwise d.ddde+XX with at least two exponent digits.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out += '-';
    i = 1;
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e_pos; ++k)
    if (sci[k] != '.') digits += sci[k];
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  const int decpt = exponent + 1;
  const int n = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(decpt - n, '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  const int e = decpt - 1;
  out += e < 0 ? "e-" : "e+";
  const int mag = std::abs(e);
  if (mag < 10) out += '0';
  out += std::to_string(mag);
  return out;
}

std::string python_json_dumps(const Json& value) {
  std::string out;
  append_value(out, value, 0);
  return out;
}

Json parse_json_text(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    fail("{}: not valid JSON ({})", what, e.what());
  }
}

}  // namespace baleen::chat
