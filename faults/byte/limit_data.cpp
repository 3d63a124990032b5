// limit_data: lets `bytes` bytes through in this direction, then closes the
// connection (the peer gets exactly that many bytes and a FIN).
#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class LimitDataStage final : public ByteStage {
 public:
  explicit LimitDataStage(std::int64_t limit) : limit_(static_cast<std::uint64_t>(limit)) {}

  asio::awaitable<void> on_attach(StageContext& ctx) override {
    if (limit_ == 0) {
      ctx.injected({{"action", "close"}, {"passed_bytes", 0}});
      ctx.close_connection(CloseMode::fin, "limit_data fault");
    }
    co_return;
  }

  asio::awaitable<void> on_data(Chunk chunk, StageContext& ctx, Next next) override {
    const std::uint64_t room = limit_ - passed_;
    const bool cut = chunk.bytes.size() >= room;
    if (chunk.bytes.size() > room) chunk.bytes.resize(static_cast<std::size_t>(room));
    passed_ += chunk.bytes.size();
    if (!chunk.bytes.empty()) co_await next.data(std::move(chunk));
    if (cut && !ctx.removed()) {
      ctx.injected({{"action", "close"}, {"passed_bytes", passed_}});
      ctx.close_connection(CloseMode::fin, "limit_data fault");
    }
  }

 private:
  std::uint64_t limit_;
  std::uint64_t passed_ = 0;
};

class LimitDataFault final : public ByteFault {
 public:
  explicit LimitDataFault(std::int64_t bytes) : bytes_(bytes) {}
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<LimitDataStage>(bytes_); }
  nlohmann::json attributes() const override { return {{"bytes", bytes_}}; }

 private:
  std::int64_t bytes_;
};

}  // namespace

std::shared_ptr<const ByteFault> make_limit_data_fault(AttributeReader& a) {
  return std::make_shared<LimitDataFault>(a.integer("bytes", 0, 0, std::int64_t{1} << 50));
}

}  // namespace faultline
