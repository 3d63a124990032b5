#include "proxy/fault_book.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace faultline {

namespace asio = boost::asio;

FaultBook::~FaultBook() {
  for (auto& e : entries_)
    if (e->timer) e->timer->cancel();
}

std::vector<FaultPtr> FaultBook::acting() const {
  std::vector<FaultPtr> out;
  for (const auto& e : entries_)
    if (e->acting) out.push_back(e->spec);
  return out;
}

FaultPtr FaultBook::find(const std::string& name) const {
  auto e = entry(name);
  return e ? e->spec : nullptr;
}

FaultBook::EntryPtr FaultBook::entry(const std::string& name) const {
  for (const auto& e : entries_)
    if (e->spec->name == name) return e;
  return nullptr;
}

nlohmann::json FaultBook::describe(const Entry& e) const {
  auto fields = e.spec->to_json();
  if (e.spec->budget) fields["injections"] = e.spec->budget->used();
  return fields;
}

void FaultBook::add(FaultPtr spec) {
  auto e = std::make_shared<Entry>();
  e->spec = std::move(spec);
  e->added = Clock::now();
  entries_.push_back(e);
  all_.push_back(e->spec);
  watch_budget(e, /*again=*/true);
  if (e->spec->schedule.after && e->spec->schedule.after->count() > 0) {
    auto fields = describe(*e);
    fields["starts_in_ms"] = e->spec->schedule.after->count();
    hooks_.emit("fault.scheduled", std::move(fields));
    arm(e);
    return;
  }
  start(e);
}

// The timer for what comes next: the start (after), or the end (for).
void FaultBook::arm(const EntryPtr& e) {
  const auto& s = e->spec->schedule;
  Clock::time_point when;
  if (!e->acting && s.after) {
    when = e->added + *s.after;
  } else if (e->acting && s.for_) {
    when = e->started + *s.for_;
  } else {
    if (e->timer) e->timer->cancel();
    return;
  }
  if (!e->timer) e->timer = std::make_unique<asio::steady_timer>(ex_);
  e->timer->expires_at(when);
  e->timer->async_wait([this, weak = std::weak_ptr<Entry>(e)](boost::system::error_code ec) {
    auto alive = weak.lock();  // gone: the fault was removed, or this book with its link
    if (ec || !alive || alive->ended) return;
    if (!alive->acting) start(alive);
    else end(alive, "for_elapsed", /*take_off=*/true);
  });
}

void FaultBook::start(const EntryPtr& e) {
  e->acting = true;
  e->started = Clock::now();
  hooks_.emit("fault.start", describe(*e));
  hooks_.start(e->spec);
  arm(e);
}

void FaultBook::watch_budget(const EntryPtr& e, bool again) {
  auto& budget = e->spec->budget;
  if (!budget || (!again && budget->watched())) return;  // kept across an update: already watched
  // Called on whichever session took the last injection: the end is posted here.
  budget->on_spent([this, ex = ex_, weak = std::weak_ptr<Entry>(e)] {
    asio::post(ex, [this, weak] {
      if (auto alive = weak.lock(); alive && !alive->ended) end(alive, "count_reached", /*take_off=*/false);
    });
  });
}

void FaultBook::end(const EntryPtr& e, const char* reason, bool take_off) {
  e->ended = true;
  if (e->timer) e->timer->cancel();
  auto fields = nlohmann::json{{"name", e->spec->name}, {"type", e->spec->type}, {"reason", reason}};
  if (!e->acting) fields["started"] = false;
  if (e->spec->budget) fields["injections"] = e->spec->budget->used();
  hooks_.emit("fault.end", std::move(fields));
  const bool was_acting = std::exchange(e->acting, false);
  if (std::string_view(reason) == "link_gone") {
    // The timer goes now, while its context is alive: a session on a worker
    // thread may hold the link (and this book) past the main context's end.
    e->timer.reset();
    return;
  }
  entries_.erase(std::find(entries_.begin(), entries_.end(), e));
  all_.erase(std::find(all_.begin(), all_.end(), e->spec));
  if (was_acting && take_off) hooks_.stop(e->spec);
}

void FaultBook::replace(const std::string& name, FaultPtr spec) {
  auto e = entry(name);
  if (!e) return;
  const auto before = e->spec;
  e->spec = std::move(spec);
  std::replace(all_.begin(), all_.end(), before, e->spec);
  watch_budget(e);
  hooks_.emit("fault.change", describe(*e));
  if (e->acting) hooks_.change(before, e->spec);
  arm(e);  // the new after or for, measured from the same moment
  if (e->acting && e->spec->budget && e->spec->budget->spent()) end(e, "count_reached", false);
}

void FaultBook::remove(const std::string& name) {
  if (auto e = entry(name)) end(e, "removed", /*take_off=*/true);
}

void FaultBook::end_all() {
  for (auto& e : entries_)
    if (!e->ended) end(e, "link_gone", false);
}

}  // namespace faultline
