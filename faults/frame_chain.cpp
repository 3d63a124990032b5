#include "faults/frame_chain.hpp"

namespace faultline {

asio::awaitable<void> FrameNext::frame(WireFrame frame) const { return chain_->frame(index_, std::move(frame)); }
asio::awaitable<void> FrameNext::end() const { return chain_->end(index_); }

std::size_t FrameChain::first_active(std::size_t index) const {
  while (index < stages_.size() && !stages_[index]->active()) ++index;
  return index;
}

asio::awaitable<void> FrameChain::frame(std::size_t index, WireFrame frame) {
  index = first_active(index);
  if (index == stages_.size()) {
    co_await sink_.write(std::move(frame));
    co_return;
  }
  auto keep = stages_[index];  // the stage outlives its own removal while it holds a frame
  FrameNext next(shared_from_this(), index + 1);
  if (keep->select(frame)) {
    co_await keep->stage().on_frame(std::move(frame), keep->context(), next);
  } else {
    co_await keep->stage().on_other(std::move(frame), keep->context(), next);
  }
}

asio::awaitable<void> FrameChain::end(std::size_t index) {
  index = first_active(index);
  if (index == stages_.size()) {
    co_await sink_.end();
    co_return;
  }
  auto keep = stages_[index];
  co_await keep->stage().on_end(keep->context(), FrameNext(shared_from_this(), index + 1));
}

}  // namespace faultline
