// down: the link is down. The link stops listening (new connections are
// refused) and every open connection is closed; removing the fault brings the
// link back up.
#include "faults/byte_registry.hpp"

namespace faultline {
namespace {

class DownStage final : public ByteStage {
 public:
  asio::awaitable<void> on_attach(StageContext& ctx) override {
    ctx.injected({{"action", "close"}});
    ctx.close_connection(CloseMode::fin, "down fault");
    co_return;
  }
  asio::awaitable<void> on_data(Chunk, StageContext&, Next) override { co_return; }  // closing: nothing crosses
};

class DownFault final : public ByteFault {
 public:
  std::unique_ptr<ByteStage> instantiate() const override { return std::make_unique<DownStage>(); }
  nlohmann::json attributes() const override { return nlohmann::json::object(); }
  bool takes_link_down() const override { return true; }
};

}  // namespace

std::shared_ptr<const ByteFault> make_down_fault(AttributeReader&) { return std::make_shared<DownFault>(); }

}  // namespace faultline
