#include "runtime/fault_api.hpp"

#include "runtime/link_registry.hpp"

namespace faultline {

namespace {

Error no_link() { return {Error::Kind::not_found, "", "proxy not found"}; }
Error no_fault() { return {Error::Kind::not_found, "", "toxic not found"}; }

}  // namespace

Result<void> FaultApi::attach(std::shared_ptr<FaultTarget> target) {
  if (this->target(target->name())) return Error{Error::Kind::conflict, "", "a link named " + target->name() + " exists"};
  attached_[target->name()] = std::move(target);
  return {};
}

void FaultApi::detach(const std::string& link) { attached_.erase(link); }

FaultTarget* FaultApi::target(const std::string& link) const {
  if (auto it = attached_.find(link); it != attached_.end()) return it->second.get();
  return links_.get(link).get();
}

Result<FaultTarget*> FaultApi::find(const std::string& link) const {
  if (auto* t = target(link)) return t;
  return no_link();
}

Result<std::vector<FaultPtr>> FaultApi::list(const std::string& link) const {
  auto t = find(link);
  if (!t) return t.error();
  return t.value()->faults();
}

Result<FaultPtr> FaultApi::get(const std::string& link, const std::string& fault) const {
  auto t = find(link);
  if (!t) return t.error();
  if (auto spec = t.value()->find_fault(fault)) return spec;
  return no_fault();
}

Result<FaultPtr> FaultApi::add(const std::string& link, const nlohmann::json& body, const std::string& pointer) {
  auto t = find(link);
  if (!t) return t.error();
  return capture_error([&]() -> FaultPtr {
    auto spec = make_fault(parse_fault(body, pointer));
    t.value()->check_fault_fits(*spec, pointer);
    if (t.value()->find_fault(spec->name))
      throw ErrorException(Error::Kind::conflict, "toxic already exists");
    t.value()->add_fault(spec);
    return spec;
  });
}

Result<FaultPtr> FaultApi::change(const std::string& link, const std::string& fault, const nlohmann::json& patch) {
  auto current = get(link, fault);
  if (!current) return current.error();
  return capture_error([&]() -> FaultPtr {
    auto spec = make_fault(update_fault_spec(*current.value(), patch, ""));
    target(link)->check_fault_fits(*spec, "");
    target(link)->replace_fault(fault, spec);
    return spec;
  });
}

Result<void> FaultApi::remove(const std::string& link, const std::string& fault) {
  auto current = get(link, fault);
  if (!current) return current.error();
  target(link)->remove_fault(fault);
  return {};
}

void FaultApi::clear() {
  for (const auto& [name, link] : links_.links()) link->remove_all_faults();
  for (const auto& [name, target] : attached_) {
    std::vector<std::string> names;
    for (const auto& f : target->faults()) names.push_back(f->name);
    for (auto& n : names) target->remove_fault(std::move(n));
  }
}

}  // namespace faultline
