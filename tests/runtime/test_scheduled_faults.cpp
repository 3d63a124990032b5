// Scheduled faults: `after`, `for` and `count` on a byte fault and a frame
// fault, on a link of each transport (tcp, websocket, http, stdio), added
// through the fault API while a client is connected. Real peers on loopback
// (and a real child process for stdio); every wait has a limit.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <optional>

#include "proxy/stdio_link.hpp"
#include "runtime/fault_api.hpp"
#include "tests/proxy/harness.hpp"
#include "tests/ws/ws_peers.hpp"

using namespace faultline;
using namespace faultline::test;
using json = nlohmann::json;

namespace {

constexpr auto kDelay = 150;  // the latency fault's, in ms

std::string call_text(int id) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", "echo"}}}}.dump();
}

// One client of one link: call() sends a tools/call and returns what came
// back (empty when nothing came within the limit).
class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string call(int id) = 0;
  virtual bool decodes_frames() const { return true; }
  // A second client (a new connection), for what a fault does per connection.
  virtual std::unique_ptr<Peer> another() = 0;
};

// tcp: an echo server; the "call" comes back as it was sent.
class TcpPeer final : public Peer {
 public:
  explicit TcpPeer(std::uint16_t port) : port_(port), c_(port) {}
  std::string call(int id) override {
    const auto text = call_text(id) + "\n";
    c_.send(text);
    boost::system::error_code ec;
    return c_.read_exactly(text.size(), ec);
  }
  bool decodes_frames() const override { return false; }
  std::unique_ptr<Peer> another() override { return std::make_unique<TcpPeer>(port_); }

 private:
  std::uint16_t port_;
  Client c_;
};

class WsPeer final : public Peer {
 public:
  explicit WsPeer(std::uint16_t port) : port_(port), c_(port) {}
  std::string call(int id) override {
    c_.send(call_text(id));
    return c_.next(2000ms).value_or("");
  }
  std::unique_ptr<Peer> another() override { return std::make_unique<WsPeer>(port_); }

 private:
  std::uint16_t port_;
  WsClient c_;
};

// An http upstream that answers every POST with {"result":{"echo":true}} as JSON.
Upstream::Script json_rpc_http() {
  return [](tcp::socket& s) {
    std::string pending;
    std::array<char, 65536> buf;
    boost::system::error_code ec;
    for (;;) {
      std::size_t end;
      while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) return;
        pending.append(buf.data(), n);
      }
      const auto head = pending.substr(0, end);
      const auto at = head.find("Content-Length: ");
      const auto length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
      while (pending.size() < end + 4 + length) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) return;
        pending.append(buf.data(), n);
      }
      const auto msg = json::parse(pending.substr(end + 4, length), nullptr, false);
      pending.erase(0, end + 4 + length);
      const auto body = json{{"jsonrpc", "2.0"}, {"id", msg.value("id", json())}, {"result", {{"echo", true}}}}.dump();
      asio::write(s, asio::buffer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body), ec);
      if (ec) return;
    }
  };
}

class HttpPeer final : public Peer {
 public:
  explicit HttpPeer(std::uint16_t port) : port_(port), c_(port, 2000ms) {}
  std::string call(int id) override {
    const auto body = call_text(id);
    c_.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n"
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    boost::system::error_code ec;
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      pending_ += c_.read_some(ec);
      if (ec) return "";
    }
    const auto head = pending_.substr(0, end);
    const auto at = head.find("ontent-Length: ");
    const auto length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 15));
    while (pending_.size() < end + 4 + length) {
      pending_ += c_.read_some(ec);
      if (ec) return "";
    }
    auto out = pending_.substr(end + 4, length);
    pending_.erase(0, end + 4 + length);
    return out;
  }
  std::unique_ptr<Peer> another() override { return std::make_unique<HttpPeer>(port_); }

 private:
  std::uint16_t port_;
  Client c_;
  std::string pending_;
};

// stdio: `cat` as the server, behind a StdioLink on the harness's runtime,
// reached through pipes; what it echoes is the request itself.
class StdioPeer final : public Peer {
 public:
  explicit StdioPeer(ProxyHarness& h) : h_(h) {
    REQUIRE(::pipe2(to_link_, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from_link_, O_CLOEXEC) == 0);
    StdioLinkOptions o;
    o.name = "stdio";
    o.command = {"cat"};
    o.client_in = to_link_[0];
    o.client_out = from_link_[1];
    o.shutdown_step = 300ms;
    h_.call([&] {
      link_ = std::make_shared<StdioLink>(h_.runtime().executor(), h_.runtime().events(), std::move(o));
      link_->on_exit([this](int) { exited_ = true; });
      link_->start();
      h_.runtime().faults().attach(link_).expect();
      return 0;
    });
  }
  ~StdioPeer() override {
    ::close(to_link_[1]);  // cat sees the end of its input and exits
    eventually([&] { return exited_.load(); }, 3000ms);
    h_.call([&] {
      h_.runtime().faults().detach("stdio");
      link_->end_server();
      link_.reset();
      return 0;
    });
    ::close(from_link_[0]);
  }
  std::string call(int id) override {
    const auto line = call_text(id) + "\n";
    REQUIRE(::write(to_link_[1], line.data(), line.size()) == static_cast<ssize_t>(line.size()));
    while (pending_.find('\n') == std::string::npos) {
      pollfd p{from_link_[0], POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return "";
      char buf[4096];
      const auto n = ::read(from_link_[0], buf, sizeof buf);
      if (n <= 0) return "";
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    const auto nl = pending_.find('\n');
    auto out = pending_.substr(0, nl);
    pending_.erase(0, nl + 1);
    return out;
  }
  std::unique_ptr<Peer> another() override { return nullptr; }  // one run, one "connection"

 private:
  ProxyHarness& h_;
  int to_link_[2];
  int from_link_[2];
  std::shared_ptr<StdioLink> link_;
  std::atomic<bool> exited_{false};
  std::string pending_;
};

// A link of `transport` and its upstream, and a connected client.
struct Setup {
  explicit Setup(const std::string& transport) : name(transport == "stdio" ? "stdio" : "l") {
    if (transport == "tcp") {
      upstream = std::make_unique<Upstream>(Upstream::echo());
      peer = std::make_unique<TcpPeer>(h.link(name, upstream->port()));
    } else if (transport == "websocket") {
      ws = std::make_unique<WsServer>();
      peer = std::make_unique<WsPeer>(h.link(name, ws->port(), {}, "websocket"));
    } else if (transport == "http") {
      upstream = std::make_unique<Upstream>(json_rpc_http());
      peer = std::make_unique<HttpPeer>(h.link(name, upstream->port(), {}, "http"));
    } else {
      peer = std::make_unique<StdioPeer>(h);
    }
    REQUIRE(!peer->call(1).empty());  // connected and relaying
  }
  ~Setup() { peer.reset(); }

  void add(json fault) { h.add_fault(name, std::move(fault)); }
  bool listed(const std::string& fault) {
    return h.call([&] { return static_cast<bool>(h.runtime().faults().get(name, fault)); });
  }
  std::optional<Event> ended(const std::string& fault, std::chrono::milliseconds limit = 3000ms) {
    std::optional<Event> found;
    h.wait_for_event("fault.end", [&](const Event& e) {
      if (e.fields.value("name", "") != fault) return false;
      found = e;
      return true;
    }, limit);
    return found;
  }

  ProxyHarness h;
  std::string name;
  std::unique_ptr<Upstream> upstream;
  std::unique_ptr<WsServer> ws;
  std::unique_ptr<Peer> peer;
};

json latency(const std::string& name) {
  return {{"name", name}, {"type", "latency"}, {"stream", "downstream"}, {"attributes", {{"latency", kDelay}}}};
}
// Answers tools/call in the server's place with an error.
json error_fault(const std::string& name) {
  return {{"name", name}, {"type", "error"}, {"match", {{"method", "tools/call"}}},
          {"attributes", {{"code", -32042}, {"message", "scheduled"}}}};
}
bool answered_by_fault(const std::string& reply) { return reply.find("-32042") != std::string::npos; }
bool answered(const std::string& reply) { return !reply.empty() && !answered_by_fault(reply); }

// The time one call takes, in ms.
double timed_call(Peer& p, int id) {
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(!p.call(id).empty());
  return ms_since(t0);
}

const char* const kTransports[] = {"tcp", "websocket", "http", "stdio"};

}  // namespace

TEST_CASE("after: a byte fault starts that long after it was added, on every transport") {
  for (const char* transport : kTransports) {
    CAPTURE(transport);
    Setup s(transport);
    auto fault = latency("late");
    fault["after"] = "400ms";
    const auto added = std::chrono::steady_clock::now();
    s.add(fault);
    CHECK(timed_call(*s.peer, 2) < kDelay - 50);  // not yet
    CHECK(s.listed("late"));                       // listed while it waits
    REQUIRE(s.h.wait_for_event("fault.start", [](const Event& e) { return e.fields["name"] == "late"; }));
    CHECK(ms_since(added) >= 390);
    CHECK(timed_call(*s.peer, 3) >= kDelay - 5);  // on the open connection, at once
    CHECK(s.h.history("fault.scheduled").size() == 1);
  }
}

TEST_CASE("after: a frame fault starts that long after it was added") {
  for (const char* transport : kTransports) {
    Setup s(transport);
    if (!s.peer->decodes_frames()) continue;
    CAPTURE(transport);
    auto fault = error_fault("late");
    fault["after"] = 400;
    s.add(fault);
    CHECK(answered(s.peer->call(2)));
    REQUIRE(s.h.wait_for_event("fault.start", [](const Event& e) { return e.fields["name"] == "late"; }));
    CHECK(answered_by_fault(s.peer->call(3)));
  }
}

TEST_CASE("for: a fault ends itself that long after it started; what it held moves on") {
  for (const char* transport : kTransports) {
    CAPTURE(transport);
    Setup s(transport);
    auto slow = latency("slow");
    slow["for"] = "300ms";
    s.add(slow);
    CHECK(timed_call(*s.peer, 2) >= kDelay - 5);
    auto end = s.ended("slow");
    REQUIRE(end);
    CHECK(end->fields["reason"] == "for_elapsed");
    CHECK(!s.listed("slow"));
    CHECK(timed_call(*s.peer, 3) < kDelay - 50);
    if (!s.peer->decodes_frames()) continue;
    auto err = error_fault("err");
    err["for"] = 300;
    s.add(err);
    CHECK(answered_by_fault(s.peer->call(4)));
    end = s.ended("err");
    REQUIRE(end);
    CHECK(end->fields["reason"] == "for_elapsed");
    CHECK(answered(s.peer->call(5)));
  }
}

TEST_CASE("count: a frame fault acts on that many messages, then ends itself") {
  for (const char* transport : kTransports) {
    Setup s(transport);
    if (!s.peer->decodes_frames()) continue;
    CAPTURE(transport);
    auto fault = error_fault("twice");
    fault["count"] = 2;
    s.add(fault);
    CHECK(answered_by_fault(s.peer->call(2)));
    CHECK(answered_by_fault(s.peer->call(3)));
    CHECK(answered(s.peer->call(4)));
    CHECK(answered(s.peer->call(5)));
    const auto end = s.ended("twice");
    REQUIRE(end);
    CHECK(end->fields["reason"] == "count_reached");
    CHECK(end->fields["injections"] == 2);
    CHECK(!s.listed("twice"));
    // A new fault of the same name is another fault: it acts, and goes when removed.
    s.add(error_fault("twice"));
    CHECK(answered_by_fault(s.peer->call(6)));
    s.h.remove_fault(s.name, "twice");
    CHECK(answered(s.peer->call(7)));
  }
}

TEST_CASE("count: a byte fault is chosen for that many connections and stays on them to their end") {
  for (const char* transport : kTransports) {
    CAPTURE(transport);
    Setup s(transport);
    auto fault = latency("once");
    fault["count"] = 1;
    s.add(fault);  // the open connection is chosen: the count is spent
    const auto end = s.ended("once");
    REQUIRE(end);
    CHECK(end->fields["reason"] == "count_reached");
    CHECK(timed_call(*s.peer, 2) >= kDelay - 5);  // it keeps acting where it was chosen
    CHECK(timed_call(*s.peer, 3) >= kDelay - 5);
    if (auto other = s.peer->another()) CHECK(timed_call(*other, 4) < kDelay - 50);  // a new connection: no fault
  }
}

TEST_CASE("a probability roll of a frame fault is recorded as fault.decision, and the count refuses the rest") {
  Setup s("websocket");
  auto fault = error_fault("some");
  fault["toxicity"] = 0.5;
  fault["count"] = 3;
  s.add(fault);
  int by_fault = 0;
  for (int i = 0; i < 40; ++i) by_fault += answered_by_fault(s.peer->call(10 + i)) ? 1 : 0;
  CHECK(by_fault == 3);
  int applied = 0, rolled = 0;
  for (const auto& d : s.h.history("fault.decision")) {
    if (d.fields.value("fault", "") != "some") continue;
    CHECK(d.fields.contains("roll"));
    ++rolled;
    if (d.fields.value("applied", false)) ++applied;
    CHECK(d.fields.value("method", "") == "tools/call");
    CHECK(d.fields.value("probability", 0.0) == 0.5);
  }
  CHECK(applied == 3);
  CHECK(rolled >= 3);  // every matched call until the third injection
  CHECK(rolled < 40);  // a spent fault rolls no more
}

TEST_CASE("an update keeps the count used so far; a bad schedule is refused with its pointer") {
  Setup s("websocket");
  auto fault = error_fault("e");
  fault["count"] = 3;
  s.add(fault);
  CHECK(answered_by_fault(s.peer->call(2)));
  s.h.call([&] { return s.h.runtime().faults().change(s.name, "e", {{"attributes", {{"code", -32042}}}}).expect(); });
  CHECK(answered_by_fault(s.peer->call(3)));
  CHECK(answered_by_fault(s.peer->call(4)));
  CHECK(answered(s.peer->call(5)));  // 3 in all, across the update

  const auto refused = [&](json bad) {
    return s.h.call([&] {
      auto r = s.h.runtime().faults().add(s.name, bad);
      return r ? std::string() : r.error().pointer + ": " + r.error().message;
    });
  };
  auto bad = error_fault("x");
  bad["after"] = "soon";
  CHECK(refused(bad).starts_with("/after: must be a duration"));
  bad = error_fault("x");
  bad["for"] = 0;
  CHECK(refused(bad).starts_with("/for: must be from 1 ms"));
  bad = error_fault("x");
  bad["count"] = -1;
  CHECK(refused(bad).starts_with("/count: must be a whole number"));
  bad = error_fault("x");
  bad["count"] = 1.5;
  CHECK(refused(bad).starts_with("/count:"));
  bad = error_fault("x");
  bad["after"] = "8d";
  CHECK(refused(bad).starts_with("/after:"));
}

TEST_CASE("a waiting fault removed before it starts never acts; a link that goes ends its faults") {
  Setup s("tcp");
  auto fault = latency("never");
  fault["after"] = 200;
  s.add(fault);
  s.h.remove_fault(s.name, "never");
  auto end = s.ended("never");
  REQUIRE(end);
  CHECK(end->fields["reason"] == "removed");
  CHECK(end->fields["started"] == false);
  std::this_thread::sleep_for(300ms);
  CHECK(timed_call(*s.peer, 2) < kDelay - 50);
  CHECK(s.h.history("fault.start").empty());

  s.add(latency("stays"));
  s.h.call([&] {
    s.h.registry().remove(s.name);
    return 0;
  });
  end = s.ended("stays");
  REQUIRE(end);
  CHECK(end->fields["reason"] == "link_gone");
}
