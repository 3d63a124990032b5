// The admin API over real HTTP: Toxiproxy's endpoints, status codes and error
// bodies; faultline's own fault types through the same endpoints; /metrics;
// the token.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tests/proxy/harness.hpp"

using namespace faultline;
using namespace faultline::test;
namespace http = boost::beast::http;

namespace {

struct Reply {
  int status;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

Reply request(std::uint16_t port, http::verb verb, const std::string& target, const std::string& body = "",
              const std::string& token = "") {
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.expires_after(std::chrono::seconds(5));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace

TEST_CASE("Toxiproxy endpoints: create, list, get, update, delete, with their status codes") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const std::string upstream = "127.0.0.1:" + std::to_string(up.port());

  auto created = request(api, http::verb::post, "/proxies",
                         nlohmann::json{{"name", "db"}, {"listen", "127.0.0.1:0"}, {"upstream", upstream}}.dump());
  CHECK(created.status == 201);
  CHECK(created.json()["name"] == "db");
  CHECK(created.json()["enabled"] == true);
  CHECK(created.json()["toxics"] == nlohmann::json::array());
  const auto listen = created.json()["listen"].get<std::string>();
  CHECK(parse_host_port(listen)->port != 0);  // the bound port is reported

  auto dup = request(api, http::verb::post, "/proxies", nlohmann::json{{"name", "db"}, {"upstream", upstream}}.dump());
  CHECK(dup.status == 409);
  CHECK(dup.json() == nlohmann::json{{"error", "proxy already exists"}, {"status", 409}});

  CHECK(request(api, http::verb::get, "/proxies").json().contains("db"));
  CHECK(request(api, http::verb::get, "/proxies/db").json()["upstream"] == upstream);
  auto missing = request(api, http::verb::get, "/proxies/nope");
  CHECK(missing.status == 404);
  CHECK(missing.json() == nlohmann::json{{"error", "proxy not found"}, {"status", 404}});

  auto disabled = request(api, http::verb::post, "/proxies/db", R"({"enabled":false})");
  CHECK(disabled.status == 200);
  CHECK(disabled.json()["enabled"] == false);
  CHECK(request(api, http::verb::post, "/proxies/db", R"({"enabled":true})").json()["enabled"] == true);
  Client c(parse_host_port(listen)->port);
  c.send("ok");
  CHECK(c.read_exactly(2) == "ok");

  CHECK(request(api, http::verb::delete_, "/proxies/db").status == 204);
  CHECK(request(api, http::verb::get, "/proxies/db").status == 404);
  CHECK(request(api, http::verb::get, "/version").json()["version"] == FAULTLINE_VERSION);
}

TEST_CASE("toxics: add, get, update, remove, every type, and the errors") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  request(api, http::verb::post, "/proxies",
          nlohmann::json{{"name", "svc"}, {"upstream", "127.0.0.1:" + std::to_string(up.port())}}.dump());

  auto added = request(api, http::verb::post, "/proxies/svc/toxics",
                       R"({"type":"latency","stream":"upstream","attributes":{"latency":10}})");
  CHECK(added.status == 200);
  CHECK(added.json() == nlohmann::json::parse(
                            R"({"name":"latency_upstream","type":"latency","stream":"upstream","toxicity":1.0,
                                "attributes":{"latency":10,"jitter":0}})"));
  CHECK(request(api, http::verb::post, "/proxies/svc/toxics", R"({"type":"latency","stream":"upstream"})").status == 409);
  CHECK(request(api, http::verb::get, "/proxies/svc/toxics/latency_upstream").json()["attributes"]["latency"] == 10);
  auto updated = request(api, http::verb::post, "/proxies/svc/toxics/latency_upstream", R"({"attributes":{"jitter":3}})");
  CHECK(updated.status == 200);
  CHECK(updated.json()["attributes"] == nlohmann::json{{"latency", 10}, {"jitter", 3}});
  CHECK(request(api, http::verb::get, "/proxies/svc/toxics").json().size() == 1);
  CHECK(request(api, http::verb::delete_, "/proxies/svc/toxics/latency_upstream").status == 204);
  auto gone = request(api, http::verb::delete_, "/proxies/svc/toxics/latency_upstream");
  CHECK(gone.status == 404);
  CHECK(gone.json()["error"] == "toxic not found");

  // faultline's own types go through the same endpoint.
  for (const char* type : {"half_open", "slow_open", "down", "timeout", "reset_peer", "limit_data", "slicer",
                           "bandwidth", "slow_close"}) {
    INFO(type);
    nlohmann::json body = {{"type", type}};
    if (std::string(type) == "slicer") body["attributes"] = {{"average_size", 10}};
    const auto r = request(api, http::verb::post, "/proxies/svc/toxics", body.dump());
    CHECK(r.status == 200);
    CHECK(request(api, http::verb::delete_, "/proxies/svc/toxics/" + r.json()["name"].get<std::string>()).status == 204);
  }

  auto bad = request(api, http::verb::post, "/proxies/svc/toxics", R"({"type":"latency","attributes":{"latency":-1}})");
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"] == "/attributes/latency: must be from 0 to 3600000, got -1");
  CHECK(bad.json()["status"] == 400);
  CHECK(request(api, http::verb::post, "/proxies/svc/toxics", R"({"type":"nope"})").status == 400);
  CHECK(request(api, http::verb::post, "/proxies/svc/toxics", "{garbage").status == 400);
  CHECK(request(api, http::verb::post, "/proxies/nope/toxics", R"({"type":"latency"})").status == 404);
  CHECK(request(api, http::verb::put, "/proxies/svc/toxics").status == 405);
  CHECK(request(api, http::verb::get, "/no/such/path").status == 404);
}

TEST_CASE("populate validates everything before applying anything; reset clears faults and re-enables") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const std::string upstream = "127.0.0.1:" + std::to_string(up.port());
  auto bad = request(api, http::verb::post, "/populate",
                     nlohmann::json::array({{{"name", "a"}, {"upstream", upstream}},
                                            {{"name", "b"}, {"upstream", "nowhere"}}})
                         .dump());
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"].get<std::string>().find("/1/upstream") == 0);
  CHECK(request(api, http::verb::get, "/proxies").json().empty());

  auto ok = request(api, http::verb::post, "/populate",
                    nlohmann::json::array({{{"name", "a"}, {"upstream", upstream}},
                                           {{"name", "b"}, {"upstream", upstream}, {"enabled", false}}})
                        .dump());
  CHECK(ok.status == 201);
  CHECK(ok.json()["proxies"].size() == 2);
  request(api, http::verb::post, "/proxies/a/toxics", R"({"type":"timeout"})");
  CHECK(request(api, http::verb::post, "/reset").status == 204);
  const auto all = request(api, http::verb::get, "/proxies").json();
  CHECK(all["a"]["toxics"].empty());
  CHECK(all["b"]["enabled"] == true);
}

TEST_CASE("max_message: set when a link is created, shown, checked, and not changed by an update") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const std::string upstream = "127.0.0.1:" + std::to_string(up.port());
  auto create = [&](const std::string& name, const std::string& protocol, const nlohmann::json& max_message) {
    nlohmann::json body = {{"name", name}, {"upstream", upstream}, {"protocol", protocol}};
    if (!max_message.is_null()) body["max_message"] = max_message;
    return request(api, http::verb::post, "/proxies", body.dump());
  };
  auto made = create("ws", "websocket", 4096);
  CHECK(made.status == 201);
  CHECK(made.json()["max_message"] == 4096);
  CHECK(request(api, http::verb::get, "/proxies/ws").json()["max_message"] == 4096);
  CHECK(create("http", "http", 1073741824).status == 201);
  CHECK_FALSE(create("plain", "tcp", nullptr).json().contains("max_message"));  // not given: not shown

  const std::string range = "must be a whole number of bytes from 1024 to 1073741824 (1 GiB)";
  // (Not a structured binding: INFO captures the value in a lambda, which clang 14 refuses for bindings.)
  for (const auto& value_and_text : std::vector<std::pair<nlohmann::json, std::string>>{
           {10, "10"}, {1073741825, "1073741825"}, {-4096, "-4096"}, {"big", "\"big\""}, {4096.5, "4096.5"}}) {
    const nlohmann::json& value = value_and_text.first;
    INFO(value.dump());
    auto bad = create("bad", "websocket", value);
    CHECK(bad.status == 400);
    CHECK(bad.json()["error"] == "/max_message: " + range + ", got " + value_and_text.second);
  }
  auto tcp = create("bad", "tcp", 4096);
  CHECK(tcp.status == 400);
  CHECK(tcp.json()["error"] == "/max_message: only websocket and http links decode messages; a tcp link relays bytes");
  CHECK(request(api, http::verb::get, "/proxies/bad").status == 404);

  // An update may repeat the limit (as a client posting back what GET returned does); another one is refused.
  CHECK(request(api, http::verb::post, "/proxies/ws", R"({"enabled":true,"max_message":4096})").status == 200);
  auto changed = request(api, http::verb::post, "/proxies/ws", R"({"max_message":8192})");
  CHECK(changed.status == 400);
  CHECK(changed.json()["error"].get<std::string>().starts_with("/max_message: a link's max_message cannot be changed"));
}

TEST_CASE("/metrics counts connections, bytes and injections") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const auto port = proxy.link("m", up.port(), {{{"type", "latency"}, {"name", "slow"}, {"attributes", {{"latency", 1}}}}});
  {
    Client c(port);
    c.send("12345");
    c.read_exactly(5);
  }
  proxy.wait_for_event("conn.close", [](const Event&) { return true; });
  const auto text = request(api, http::verb::get, "/metrics").body;
  CHECK(text.find("faultline_connections_total{link=\"m\"} 1") != std::string::npos);
  CHECK(text.find("faultline_connections_open{link=\"m\"} 0") != std::string::npos);
  CHECK(text.find("faultline_bytes_total{link=\"m\",direction=\"upstream\"} 5") != std::string::npos);
  CHECK(text.find("faultline_bytes_total{link=\"m\",direction=\"downstream\"} 5") != std::string::npos);
  CHECK(text.find("faultline_fault_injections_total{link=\"m\",fault=\"slow\",type=\"latency\"} 1") != std::string::npos);
  CHECK(text.find("faultline_faults_active{link=\"m\"} 1") != std::string::npos);
}

TEST_CASE("a token, when set, is required") {
  ProxyHarness proxy;
  const auto api = proxy.start_api("s3cret");
  CHECK(request(api, http::verb::get, "/proxies").status == 401);
  CHECK(request(api, http::verb::get, "/proxies", "", "wrong").status == 401);
  CHECK(request(api, http::verb::get, "/proxies", "", "s3cret").status == 200);
}
