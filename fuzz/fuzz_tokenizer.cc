// Fuzzes the tokenizer with the installed DeepSeek file (+ V4 tokens), path from $BALEEN_TOKENIZER or
// the cache scripts/setup.sh fills. First input byte picks the property:
//   even: the rest as text; when valid UTF-8, decode(encode(text)) must equal text.
//   odd:  the rest as little-endian 3-byte ids (modulo the vocab); the streaming detokenizer must emit
//         only valid UTF-8 and, flushed, exactly decode(ids).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/deepseek_v4_tokens.h"
#include "tokenizer/stream_detokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using baleen::tokenizer::Tokenizer;

std::unique_ptr<Tokenizer> tokenizer;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: property violated: %s\n", what);
  std::abort();
}

void check_round_trip(std::string_view text) {
  if (!baleen::tokenizer::is_valid_utf8(text)) return;
  const std::vector<uint32_t> ids = tokenizer->encode(text);
  if (tokenizer->decode(ids) != text) violated("decode(encode(text)) != text");
}

void check_stream(const uint8_t* data, size_t size) {
  std::vector<uint32_t> ids;
  for (size_t i = 0; i + 3 <= size; i += 3) {
    const uint32_t id = (data[i] | data[i + 1] << 8 | data[i + 2] << 16) % tokenizer->size();
    if (tokenizer->is_defined(id)) ids.push_back(id);
  }
  baleen::tokenizer::StreamDetokenizer stream(*tokenizer);
  std::string joined;
  for (const uint32_t id : ids) {
    const std::string chunk = stream.push(id);
    if (!baleen::tokenizer::is_valid_utf8(chunk)) violated("stream emitted invalid UTF-8");
    joined += chunk;
  }
  joined += stream.flush();
  if (joined != tokenizer->decode(ids)) violated("stream output != decode(ids)");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  try {
    tokenizer = std::make_unique<Tokenizer>(baleen::tokenizer::load_deepseek_v4(baleen::tokenizer::default_tokenizer_path()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", e.what());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    check_round_trip(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    check_stream(data + 1, size - 1);
  }
  return 0;
}
