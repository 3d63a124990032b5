// JSON-RPC 2.0 classification, ids, batches and hostile bytes for mcp::Frame.
#include <doctest/doctest.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "mcp/frame.hpp"

using faultline::mcp::decode_json_text;
using faultline::mcp::Frame;
using faultline::mcp::FrameKind;
using faultline::mcp::MessageId;

namespace {

Frame decode_one(std::string_view text) {
  std::vector<Frame> frames;
  decode_json_text(text, 100, frames);
  REQUIRE(frames.size() == 1);
  return frames.front();
}

FrameKind kind_of(std::string_view text) { return decode_one(text).kind; }

// A problem reason must be storable in an event (nlohmann refuses invalid UTF-8 on dump).
void check_reportable(const Frame& frame) {
  if (frame.problem) CHECK_NOTHROW((void)nlohmann::json(frame.problem->reason).dump());
}

}  // namespace

TEST_CASE("valid messages are classified by JSON-RPC 2.0 rules") {
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})") == FrameKind::request);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}})") == FrameKind::request);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1,2]})") == FrameKind::request);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":null,"method":"m"})") == FrameKind::request);
  CHECK(kind_of(R"({"jsonrpc":"2.0","method":"notifications/initialized"})") == FrameKind::notification);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":1,"result":{}})") == FrameKind::response);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":1,"result":null})") == FrameKind::response);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}})") == FrameKind::error);
  CHECK(kind_of(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse","data":1}})") ==
        FrameKind::error);
  CHECK(kind_of(" \t{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\r\n ") == FrameKind::notification);
}

TEST_CASE("broken messages are invalid with a reason") {
  const char* invalid[] = {
      R"({"id":1,"method":"m"})",                                   // no jsonrpc
      R"({"jsonrpc":"1.0","id":1,"method":"m"})",                   // wrong version
      R"({"jsonrpc":2.0,"id":1,"method":"m"})",                     // version not a string
      R"({"jsonrpc":"2.0","id":1,"method":5})",                     // method not a string
      R"({"jsonrpc":"2.0","id":1,"method":"m","params":5})",        // params scalar
      R"({"jsonrpc":"2.0","id":1,"method":"m","params":"x"})",      // params string
      R"({"jsonrpc":"2.0","id":1,"method":"m","result":1})",        // request with result
      R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})",  // both
      R"({"jsonrpc":"2.0","id":1})",                                // neither
      R"({"jsonrpc":"2.0","result":1})",                            // response without id
      R"({"jsonrpc":"2.0","id":null,"result":1})",                  // result with null id
      R"({"jsonrpc":"2.0","id":1.5,"method":"m"})",                 // fractional id
      R"({"jsonrpc":"2.0","id":true,"method":"m"})",                // boolean id
      R"({"jsonrpc":"2.0","id":{},"method":"m"})",                  // object id
      R"({"jsonrpc":"2.0","id":[1],"result":1})",                   // array id
      R"({"jsonrpc":"2.0","id":1,"error":"bad"})",                  // error not an object
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":2}})",
      R"(42)", R"("text")", R"(null)", R"(true)", R"({})",
  };
  for (const char* text : invalid) {
    CAPTURE(text);
    const Frame frame = decode_one(text);
    CHECK(frame.kind == FrameKind::invalid);
    REQUIRE(frame.problem.has_value());
    CHECK_FALSE(frame.problem->reason.empty());
    CHECK(frame.problem->offset <= frame.raw.size());
    check_reportable(frame);
  }
}

TEST_CASE("problems point at the offending member") {
  const std::string text = R"({"id":1, "jsonrpc":"1.0","method":"m"})";
  const Frame frame = decode_one(text);
  REQUIRE(frame.problem);
  CHECK(frame.problem->offset == text.find("\"jsonrpc\""));
  CHECK(frame.id == MessageId::integer(1));  // kept even though invalid: still matchable
  CHECK(frame.method == "m");

  const std::string both = R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})";
  CHECK(decode_one(both).problem->offset == both.find("\"error\""));
}

TEST_CASE("parse errors carry the byte offset") {
  const Frame frame = decode_one(R"({"a":})");
  CHECK(frame.kind == FrameKind::invalid);
  CHECK_FALSE(frame.parsed);
  CHECK(frame.message.is_null());
  REQUIRE(frame.problem);
  CHECK(frame.problem->offset == 5);
  CHECK(frame.problem->reason.starts_with("not JSON"));
  CHECK(frame.offset == 100);
  CHECK(frame.raw == R"({"a":})");

  CHECK(decode_one("Server started on stdio").problem->offset == 0);
  CHECK(decode_one("").kind == FrameKind::invalid);
  CHECK(decode_one("{\"jsonrpc\":\"2.0\"").kind == FrameKind::invalid);  // truncated
  CHECK(decode_one("{} {}").kind == FrameKind::invalid);                 // two values
  CHECK(decode_one("[1e400]").kind == FrameKind::invalid);               // number overflow
}

TEST_CASE("ids keep their type and value") {
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":"1","method":"m"})").id == MessageId::string("1"));
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":1,"method":"m"})").id == MessageId::integer(1));
  CHECK(MessageId::string("1") != MessageId::integer(1));
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":-7,"method":"m"})").id == MessageId::integer(-7));
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":null,"method":"m"})").id == MessageId::null());
  CHECK(decode_one(R"({"jsonrpc":"2.0","method":"m"})").id == MessageId{});
  CHECK_FALSE(decode_one(R"({"jsonrpc":"2.0","method":"m"})").id.present());
  CHECK(MessageId::null() != MessageId{});

  const Frame big = decode_one(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})");
  CHECK(big.kind == FrameKind::request);
  CHECK(big.id.is_integer());
  CHECK(big.id.to_string() == "18446744073709551615");
  CHECK(big.id.to_json().dump() == "18446744073709551615");
  CHECK(MessageId::unsigned_integer(5) == MessageId::integer(5));
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"})").id.as_integer() == INT64_MIN);
  CHECK(decode_one(R"({"jsonrpc":"2.0","id":1e2,"method":"m"})").kind == FrameKind::invalid);

  CHECK(MessageId::string("a\"b").to_string() == R"("a\"b")");
  CHECK(MessageId::integer(3).to_json() == nlohmann::json(3));

  std::unordered_map<MessageId, int> pending;
  pending[MessageId::integer(1)] = 1;
  pending[MessageId::string("1")] = 2;
  pending[MessageId::null()] = 3;
  CHECK(pending.size() == 3);
  CHECK(pending.at(decode_one(R"({"jsonrpc":"2.0","id":1,"result":{}})").id) == 1);
  CHECK(pending.at(decode_one(R"({"jsonrpc":"2.0","id":"1","result":{}})").id) == 2);
  CHECK(MessageId::integer(1).hash() == decode_one(R"({"jsonrpc":"2.0","id":1,"result":{}})").id.hash());
}

TEST_CASE("a batch decodes into its members with exact bytes") {
  const std::string text =
      " [ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"} ,\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{\"s\":\"],[}\\\"\"}},"
      "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":[1,[2]]}, 7 ] ";
  std::vector<Frame> frames;
  decode_json_text(text, 1000, frames);
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].kind == FrameKind::request);
  CHECK(frames[1].kind == FrameKind::notification);
  CHECK(frames[2].kind == FrameKind::response);
  CHECK(frames[3].kind == FrameKind::invalid);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    CAPTURE(i);
    const Frame& member = frames[i];
    REQUIRE(member.batch);
    CHECK(member.batch->index == i);
    CHECK(member.batch->size == 4);
    CHECK(member.batch->text == frames[0].batch->text);
    CHECK(*member.batch->text == text);
    CHECK(member.offset == 1000 + member.batch->offset_in_batch);
    CHECK(text.substr(member.batch->offset_in_batch, member.raw.size()) == member.raw);
    CHECK(nlohmann::json::parse(member.raw) == member.message);
  }
  CHECK(frames[0].raw == R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  CHECK(frames[3].raw == "7");
  CHECK(frames[2].id == MessageId::string("x"));
}

TEST_CASE("batch edge cases") {
  const Frame empty = decode_one("[ ]");
  CHECK(empty.kind == FrameKind::invalid);
  CHECK(empty.problem->reason == "empty batch");
  CHECK(empty.batch.has_value());

  std::vector<Frame> frames;
  decode_json_text(R"([[{"jsonrpc":"2.0","method":"m"}]])", 0, frames);
  REQUIRE(frames.size() == 1);  // nested arrays are not batches of batches
  CHECK(frames[0].kind == FrameKind::invalid);

  std::string many = "[";
  for (int i = 0; i < 5; ++i) many += (i ? "," : "") + std::string(R"({"jsonrpc":"2.0","method":"m"})");
  many += "]";
  frames.clear();
  decode_json_text(many, 0, frames, faultline::mcp::DecodeLimits{4});
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == FrameKind::invalid);
  frames.clear();
  decode_json_text(many, 0, frames, faultline::mcp::DecodeLimits{5});
  CHECK(frames.size() == 5);

  frames.clear();
  decode_json_text("\xEF\xBB\xBF[1, \"\\u00e9\" ,{}]", 0, frames);  // BOM before a batch
  REQUIRE(frames.size() == 3);
  CHECK(frames[1].raw == "\"\\u00e9\"");
}

TEST_CASE("hostile UTF-8 and deep nesting never crash") {
  const std::string cases[] = {
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"\xff\xfe\"}"),
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"\xc0\xaf\"}"),       // overlong '/'
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"\xed\xa0\x80\"}"),   // encoded surrogate
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"\xe2\x82\"}"),       // truncated sequence
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"\\ud800\"}"),         // lone surrogate escape
      std::string("\xff{\"jsonrpc\":\"2.0\"}"),
      std::string("{\"jsonrpc\":\"2.0\",\"method\":\"m\0\"}", 29),
      std::string(100000, '['),
      std::string(50000, '[') + std::string(50000, ']'),
  };
  for (const auto& text : cases) {
    std::vector<Frame> frames;
    CHECK_NOTHROW(decode_json_text(text, 0, frames));
    for (const auto& frame : frames) {
      CHECK(frame.kind == FrameKind::invalid);
      check_reportable(frame);
    }
  }
  const Frame ok = decode_one("{\"jsonrpc\":\"2.0\",\"method\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
  CHECK(ok.kind == FrameKind::notification);
  CHECK(ok.method == "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE("frames built or edited in code") {
  Frame frame = faultline::mcp::make_frame({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "ping"}});
  CHECK(frame.kind == FrameKind::request);
  CHECK(frame.raw == R"({"id":3,"jsonrpc":"2.0","method":"ping"})");
  frame.offset = 77;
  nlohmann::json reply = {{"jsonrpc", "2.0"}, {"id", 3}, {"result", nlohmann::json::object()}};
  faultline::mcp::set_message(frame, reply);
  CHECK(frame.kind == FrameKind::response);
  CHECK(frame.offset == 77);
  CHECK(frame.method.empty());
  CHECK(faultline::mcp::printable("a\nb\xff", 64) == "a\\x0Ab\\xFF");
  CHECK(faultline::mcp::to_string(FrameKind::notification) == "notification");
}

TEST_CASE("deferred decoding classifies exactly like the full parse") {
  using faultline::mcp::DecodeLimits;
  const char* corpus[] = {
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})",
      R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{"id":9}}})",
      R"({"jsonrpc":"2.0","id":18446744073709551615,"result":{"id":"inner"}})",
      R"({"jsonrpc":"2.0","id":-3,"error":{"code":-32601,"message":"no","data":{"code":"x"}}})",
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
      R"({"jsonrpc":"2.0","id":null,"result":1})",
      R"({"jsonrpc":"2.0","id":1.5,"method":"m"})",
      R"({"jsonrpc":"2.0","id":{},"method":"m"})",
      R"({"jsonrpc":"2.0","id":1,"method":5,"params":3})",
      R"({"jsonrpc":"2.0","id":1,"method":"m","params":"x"})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":{"a":1},"message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":2}})",
      R"({"jsonrpc":"2.0","id":1,"error":"bad"})",
      R"({"jsonrpc":2.0,"id":1,"method":"m"})",
      R"({"id":1, "jsonrpc":"1.0","method":"m"})",
      R"({"jsonrpc":"2.0","id":1,"id":"two","method":"m"})",          // duplicate keys: the last wins
      R"({"jsonrpc":"2.0","id":"x","id":[1],"method":"m"})",
      R"({"jsonrpc":"2.0","method":5,"method":"m"})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1},"error":{"code":2,"message":"y"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","code":"s"}})",
      "\xEF\xBB\xBF {\"jsonrpc\":\"2.0\",\"method\":\"m\"}\r\n",
      R"({"a":})", "Server started", "", "{} {}", "{\"jsonrpc\":\"2.0\"", "[1e400]", R"({"n":1e400})",
      "{\"jsonrpc\":\"2.0\",\"method\":\"\xFF\"}", "42", "\"text\"", "null", "{}",
      R"([{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","method":"n"}])",
  };
  for (const char* text : corpus) {
    CAPTURE(text);
    std::vector<Frame> full, deferred, owned;
    decode_json_text(text, 7, full);
    decode_json_text(text, 7, deferred, DecodeLimits{.defer_message = true});
    faultline::mcp::decode_owned_json_text(std::string(text), 7, owned, DecodeLimits{.defer_message = true});
    REQUIRE(full.size() == deferred.size());
    REQUIRE(owned.size() == deferred.size());
    for (std::size_t i = 0; i < full.size(); ++i) {
      // Giving the text away changes nothing but who owns the buffer.
      CHECK(owned[i].kind == deferred[i].kind);
      CHECK(owned[i].raw == deferred[i].raw);
      CHECK(owned[i].offset == deferred[i].offset);
      CHECK(owned[i].id == deferred[i].id);
      CHECK(owned[i].method == deferred[i].method);
      CHECK(owned[i].message_deferred == deferred[i].message_deferred);
      CHECK(owned[i].problem.has_value() == deferred[i].problem.has_value());
      CHECK(deferred[i].kind == full[i].kind);
      CHECK(deferred[i].parsed == full[i].parsed);
      CHECK(deferred[i].id == full[i].id);
      CHECK(deferred[i].method == full[i].method);
      CHECK(deferred[i].raw == full[i].raw);
      CHECK(deferred[i].offset == full[i].offset);
      REQUIRE(deferred[i].problem.has_value() == full[i].problem.has_value());
      if (full[i].problem) {
        CHECK(deferred[i].problem->reason == full[i].problem->reason);
        CHECK(deferred[i].problem->offset == full[i].problem->offset);
      }
      // The message is built on demand and is the one the full parse built.
      nlohmann::json scratch;
      CHECK(faultline::mcp::message_of(deferred[i], scratch) == full[i].message);
      CHECK(faultline::mcp::ensure_message(deferred[i]) == full[i].message);
      CHECK_FALSE(deferred[i].message_deferred);
    }
  }
  // A single valid message really is deferred (no DOM until asked for).
  std::vector<Frame> one;
  decode_json_text(R"({"jsonrpc":"2.0","id":1,"method":"m"})", 0, one, DecodeLimits{.defer_message = true});
  CHECK(one.front().message_deferred);
  CHECK(one.front().message.is_null());
}
