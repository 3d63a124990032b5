// Each fault's stage run against a fake clock: no sockets, no sleeping. The
// fake context jumps its clock to each deadline a stage waits for, and the
// sink records when each byte would have left.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include "faults/byte_chain.hpp"
#include "faults/byte_fault_spec.hpp"

using namespace faultline;
using namespace std::chrono_literals;

namespace {

class FakeContext final : public StageContext, public AttachedStage {
 public:
  explicit FakeContext(const std::string& toxic_json) : spec_(parse_fault(nlohmann::json::parse(toxic_json), "")),
                                                         stage_(spec_.fault->instantiate()) {}
  Clock::time_point now() const override { return now_; }
  asio::awaitable<bool> wait_until(Clock::time_point deadline) override {
    waits.push_back(deadline);
    if (deadline == Clock::time_point::max()) co_return false;  // "held forever": treat as removed
    if (deadline > now_) now_ = deadline;
    co_return true;
  }
  bool removed() const override { return removed_; }
  Rng& rng() override { return rng_; }
  Direction direction() const override { return spec_.direction; }
  void injected(nlohmann::json detail) override {
    ++injections;
    if (!detail.is_null()) details.push_back(detail);
  }
  void close_connection(CloseMode mode, std::string_view) override { closed = mode; }

  ByteStage& stage() override { return *stage_; }
  StageContext& context() override { return *this; }
  bool active() const override { return true; }

  void remove() { removed_ = true; }
  Clock::time_point epoch() const { return Clock::time_point{} + 1000s; }

  std::vector<Clock::time_point> waits;
  int injections = 0;
  std::vector<nlohmann::json> details;
  std::optional<CloseMode> closed;

 private:
  FaultSpec spec_;
  std::unique_ptr<ByteStage> stage_;
  Clock::time_point now_ = Clock::time_point{} + 1000s;
  Rng rng_{5};
  bool removed_ = false;
};

struct RecordingSink final : ChainSink {
  explicit RecordingSink(FakeContext& c) : ctx(c) {}
  asio::awaitable<void> write(Chunk chunk) override {
    pieces.push_back({ctx.now(), std::string(chunk.bytes.begin(), chunk.bytes.end())});
    co_return;
  }
  asio::awaitable<void> end(StreamEnd e) override {
    ended = e.kind;
    ended_at = ctx.now();
    co_return;
  }
  FakeContext& ctx;
  std::vector<std::pair<Clock::time_point, std::string>> pieces;
  std::optional<StreamEnd::Kind> ended;
  Clock::time_point ended_at;
};

// Runs chunks (each "arriving" at the fake clock's time plus an offset) and an end through one fault.
struct Run {
  explicit Run(const std::string& toxic) : ctx(std::make_shared<FakeContext>(toxic)), sink(*ctx) {}
  void go(std::vector<std::pair<std::chrono::milliseconds, std::string>> chunks, bool fin = true) {
    asio::io_context io;
    auto keep = ctx;
    FaultChain chain({keep}, sink);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await ctx->stage().on_attach(*ctx);
      for (auto& [offset, text] : chunks) {
        Chunk c{Bytes(text.begin(), text.end()), ctx->epoch() + offset};
        co_await chain.data(0, std::move(c));
      }
      if (fin) co_await chain.end(0, StreamEnd{StreamEnd::fin, {}});
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.run();
  }
  double at_ms(std::size_t piece) const {
    return std::chrono::duration<double, std::milli>(sink.pieces.at(piece).first - ctx->epoch()).count();
  }
  std::shared_ptr<FakeContext> ctx;
  RecordingSink sink;
};

}  // namespace

TEST_CASE("latency: each chunk leaves at its arrival plus the latency, not after the previous one's wait") {
  Run r(R"({"type":"latency","attributes":{"latency":100}})");
  r.go({{0ms, "a"}, {10ms, "b"}, {20ms, "c"}});
  REQUIRE(r.sink.pieces.size() == 3);
  CHECK(r.at_ms(0) == doctest::Approx(100));
  CHECK(r.at_ms(1) == doctest::Approx(110));
  CHECK(r.at_ms(2) == doctest::Approx(120));
  CHECK(r.ctx->details.size() == 1);  // one event, every chunk counted
  CHECK(r.ctx->injections == 3);
}

TEST_CASE("latency jitter draws stay within +/- jitter") {
  Run r(R"({"type":"latency","attributes":{"latency":50,"jitter":20}})");
  std::vector<std::pair<std::chrono::milliseconds, std::string>> chunks;
  for (int i = 0; i < 50; ++i) chunks.emplace_back(std::chrono::milliseconds(i * 1000), "x");
  r.go(chunks);
  for (std::size_t i = 0; i < 50; ++i) {
    const double delay = r.at_ms(i) - static_cast<double>(i) * 1000;
    CHECK(delay >= 30.0);
    CHECK(delay <= 70.0);
  }
}

TEST_CASE("bandwidth: bytes leave at the configured rate") {
  Run r(R"({"type":"bandwidth","attributes":{"rate":10}})");  // 10 KB/s = 10 bytes/ms
  r.go({{0ms, std::string(2500, 'x')}});
  // 100 ms pieces of 1000 bytes: at 100, 200 and 250 ms.
  REQUIRE(r.sink.pieces.size() == 3);
  CHECK(r.at_ms(0) == doctest::Approx(100));
  CHECK(r.at_ms(1) == doctest::Approx(200));
  CHECK(r.at_ms(2) == doctest::Approx(250));
  CHECK(r.sink.pieces[2].second.size() == 500);
}

TEST_CASE("slicer: pieces of average_size +/- variation, delay apart, nothing lost") {
  Run r(R"({"type":"slicer","attributes":{"average_size":10,"size_variation":4,"delay":500}})");
  std::string data;
  for (int i = 0; i < 200; ++i) data += static_cast<char>('a' + i % 26);
  r.go({{0ms, data}});
  std::string joined;
  for (const auto& [t, piece] : r.sink.pieces) {
    joined += piece;
    CHECK(piece.size() <= 14);
  }
  CHECK(joined == data);
  CHECK(r.sink.pieces.size() >= 15);
  CHECK(r.at_ms(1) - r.at_ms(0) == doctest::Approx(0.5));
}

TEST_CASE("limit_data: passes exactly `bytes`, then closes the connection with a FIN") {
  Run r(R"({"type":"limit_data","attributes":{"bytes":7}})");
  r.go({{0ms, "abcd"}, {1ms, "efgh"}, {2ms, "ijkl"}}, false);
  std::string joined;
  for (const auto& [t, piece] : r.sink.pieces) joined += piece;
  CHECK(joined == "abcdefg");
  REQUIRE(r.ctx->closed);
  CHECK(*r.ctx->closed == CloseMode::fin);
}

TEST_CASE("slow_close: the end leaves `delay` ms after it came") {
  Run r(R"({"type":"slow_close","attributes":{"delay":250}})");
  r.go({{0ms, "data"}});
  CHECK(r.sink.pieces.size() == 1);
  REQUIRE(r.sink.ended);
  CHECK(std::chrono::duration<double, std::milli>(r.sink.ended_at - r.ctx->epoch()).count() == doctest::Approx(250));
}

TEST_CASE("half_open: bytes vanish and the close is held") {
  Run r(R"({"type":"half_open"})");
  r.go({{0ms, "lost"}, {1ms, "also lost"}});
  CHECK(r.sink.pieces.empty());
  CHECK(!r.sink.ended);  // the fake ends the forever-wait as if the connection closed, not removed
  CHECK(r.ctx->waits.back() == Clock::time_point::max());
}

TEST_CASE("reset_peer: waits timeout ms after data, then resets") {
  Run r(R"({"type":"reset_peer","attributes":{"timeout":40}})");
  r.go({{0ms, "trigger"}}, false);
  CHECK(r.sink.pieces.empty());
  REQUIRE(r.ctx->closed);
  CHECK(*r.ctx->closed == CloseMode::rst);
  CHECK(r.ctx->waits.front() == r.ctx->epoch() + 40ms);
}

TEST_CASE("timeout: closes after `timeout` ms from attach") {
  Run r(R"({"type":"timeout","attributes":{"timeout":300}})");
  r.go({}, false);
  REQUIRE(r.ctx->closed);
  CHECK(*r.ctx->closed == CloseMode::fin);
  CHECK(r.ctx->waits.front() == r.ctx->epoch() + 300ms);
}
