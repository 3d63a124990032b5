// libFuzzer target: Streamable HTTP bodies, decoded whole and collected in
// chunks (the two must agree), plus Content-Type sniffing on the same bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "mcp/http_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faultline;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)mcp::body_type(body);

  mcp::HttpBodyOptions options;
  options.max_body_bytes = 2048;
  std::vector<mcp::Frame> whole;
  mcp::decode_http_body(body, whole, options);
  FUZZ_CHECK(!whole.empty());
  for (const auto& frame : whole) fuzz::check_frame(frame);

  mcp::HttpBodyDecoder decoder(options);
  for (std::size_t at = 0; at < body.size(); at += 7) decoder.feed(body.substr(at, 7));
  std::vector<mcp::Frame> collected;
  decoder.finish(collected);
  FUZZ_CHECK(collected.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(collected[i].raw == whole[i].raw);
    FUZZ_CHECK(collected[i].kind == whole[i].kind);
  }
  return 0;
}
