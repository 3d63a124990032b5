#include "faults/byte_chain.hpp"

namespace faultline {

std::string_view to_string(StreamEnd::Kind k) {
  switch (k) {
    case StreamEnd::fin: return "fin";
    case StreamEnd::rst: return "rst";
    case StreamEnd::error: return "error";
  }
  return "error";
}

asio::awaitable<void> Next::data(Chunk chunk) { return chain_->data(index_, std::move(chunk)); }
asio::awaitable<void> Next::end(StreamEnd end) { return chain_->end(index_, end); }

std::size_t FaultChain::first_active(std::size_t index) const {
  while (index < stages_.size() && !stages_[index]->active()) ++index;
  return index;
}

asio::awaitable<void> FaultChain::data(std::size_t index, Chunk chunk) {
  index = first_active(index);
  if (index == stages_.size()) {
    co_await sink_.write(std::move(chunk));
    co_return;
  }
  auto keep = stages_[index];  // the stage outlives its own removal while it holds data
  co_await keep->stage().on_data(std::move(chunk), keep->context(), Next(*this, index + 1));
}

asio::awaitable<void> FaultChain::end(std::size_t index, StreamEnd end) {
  index = first_active(index);
  if (index == stages_.size()) {
    co_await sink_.end(end);
    co_return;
  }
  auto keep = stages_[index];
  co_await keep->stage().on_end(end, keep->context(), Next(*this, index + 1));
}

}  // namespace faultline
