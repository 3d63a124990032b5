#include "mcp/session.hpp"

namespace faultline::mcp {
namespace {

using json = nlohmann::json;

double ms_between(Session::TimePoint a, Session::TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

const json* find(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

std::string_view to_string(Peer peer) { return peer == Peer::client ? "client" : "server"; }

Observation Session::observe(Peer from, const Frame& frame, TimePoint at, bool injected, bool record) {
  Observation obs;
  auto base = [&] {
    json f = {{"from", to_string(from)}};
    if (injected) f["injected"] = true;
    return f;
  };
  switch (frame.kind) {
    case FrameKind::invalid: {
      if (!record) break;
      json f = base();
      f["reason"] = frame.problem ? frame.problem->reason : "invalid";
      f["offset"] = frame.offset + (frame.problem ? frame.problem->offset : 0);
      f["bytes"] = frame.raw.size();
      f["sample"] = printable(frame.raw, 80);
      obs.events.push_back({"rpc.invalid", std::move(f)});
      break;
    }
    case FrameKind::notification: {
      obs.method = frame.method;
      if (!record) break;
      json f = base();
      f["method"] = frame.method;
      obs.events.push_back({"rpc.notification", std::move(f)});
      break;
    }
    case FrameKind::request: {
      obs.method = frame.method;
      Key key{from, frame.id};
      if (!record) {
        pending_.insert_or_assign(std::move(key), Pending{frame.method, at});
        if (frame.method != "initialize") break;
      } else {
        json f = base();
        f["method"] = frame.method;
        f["id"] = frame.id.to_json();
        if (pending_.contains(key)) obs.events.push_back({"rpc.duplicate_id", f});
        pending_[key] = Pending{frame.method, at};
        obs.events.push_back({"rpc.request", std::move(f)});
      }
      if (frame.method == "initialize") {
        json scratch;
        const json* params = find(message_of(frame, scratch), "params");
        json init = base();
        init["id"] = frame.id.to_json();
        if (params) {
          if (const json* v = find(*params, "protocolVersion")) {
            init["protocolVersion"] = *v;
            if (v->is_string()) protocol_version_ = v->get<std::string>();
          }
          if (const json* v = find(*params, "clientInfo")) {
            init["clientInfo"] = *v;
            client_info_ = *v;
          }
          if (const json* v = find(*params, "capabilities"); v && v->is_object()) {
            json caps = json::array();
            for (auto it = v->begin(); it != v->end(); ++it) caps.push_back(it.key());
            init["capabilities"] = caps;
          }
        }
        if (record) obs.events.push_back({"session.initialize", std::move(init)});
      }
      break;
    }
    case FrameKind::response:
    case FrameKind::error: {
      auto it = pending_.find(Key{other(from), frame.id});
      if (!record) {
        if (it == pending_.end()) break;
        obs.method = std::move(it->second.method);
        pending_.erase(it);
        if (frame.kind == FrameKind::response) {
          std::vector<SessionEvent> unused;
          on_result(obs.method, frame, unused);  // the handshake and tool list are state too
        }
        break;
      }
      json f = base();
      f["id"] = frame.id.to_json();
      if (it == pending_.end()) {
        f["frame_kind"] = std::string(to_string(frame.kind));
        obs.events.push_back({"rpc.orphan_response", std::move(f)});
        break;
      }
      obs.method = it->second.method;
      f["method"] = it->second.method;
      f["latency_ms"] = ms_between(it->second.sent, at);
      f["ok"] = frame.kind == FrameKind::response;
      if (frame.kind == FrameKind::error) {
        json scratch;
        const json* error = find(message_of(frame, scratch), "error");
        if (error) {
          if (const json* c = find(*error, "code")) f["error_code"] = *c;
          if (const json* m = find(*error, "message")) f["error_message"] = *m;
        }
      }
      pending_.erase(it);
      obs.events.push_back({"rpc.response", std::move(f)});
      if (frame.kind == FrameKind::response) on_result(obs.method, frame, obs.events);
      break;
    }
  }
  return obs;
}

void Session::on_result(const std::string& method, const Frame& frame, std::vector<SessionEvent>& out) {
  if (method != "initialize" && method != "tools/list") return;  // most results: no need for the message
  json scratch;
  const json* result = find(message_of(frame, scratch), "result");
  if (!result) return;
  if (method == "initialize") {
    json f = {{"id", frame.id.to_json()}};
    if (const json* v = find(*result, "protocolVersion")) {
      f["protocolVersion"] = *v;
      if (v->is_string()) protocol_version_ = v->get<std::string>();
    }
    if (const json* v = find(*result, "serverInfo")) {
      f["serverInfo"] = *v;
      server_info_ = *v;
    }
    if (const json* v = find(*result, "capabilities"); v && v->is_object()) {
      json caps = json::array();
      for (auto it = v->begin(); it != v->end(); ++it) caps.push_back(it.key());
      f["capabilities"] = caps;
    }
    out.push_back({"session.initialized", std::move(f)});
  } else if (method == "tools/list") {
    const json* tools = find(*result, "tools");
    json f = {{"id", frame.id.to_json()}};
    if (tools && tools->is_array()) {
      tool_count_ = tools->size();
      f["count"] = tools->size();
      json names = json::array();
      for (const auto& t : *tools)
        if (const json* n = find(t, "name")) names.push_back(*n);
      f["names"] = names;
    } else {
      f["count"] = 0;
      f["problem"] = "result has no tools array";
    }
    if (const json* c = find(*result, "nextCursor")) f["nextCursor"] = *c;
    out.push_back({"tools.listed", std::move(f)});
  }
}

std::vector<SessionEvent> Session::unanswered(TimePoint now) const {
  std::vector<SessionEvent> out;
  for (const auto& [key, p] : pending_)
    out.push_back({"rpc.unanswered",
                   {{"from", to_string(key.requester)},
                    {"id", key.id.to_json()},
                    {"method", p.method},
                    {"waited_ms", ms_between(p.sent, now)}}});
  return out;
}

}  // namespace faultline::mcp
