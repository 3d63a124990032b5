// The admin API over real HTTP: Toxiproxy's endpoints, status codes and error
// bodies; faultline's own fault types through the same endpoints; /metrics;
// the token.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include "proxy/accept_backoff.hpp"
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

using Headers = std::vector<std::pair<std::string, std::string>>;

Reply request(std::uint16_t port, http::verb verb, const std::string& target, const std::string& body = "",
              const std::string& token = "", const Headers& headers = {}) {
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.expires_after(std::chrono::seconds(5));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
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

TEST_CASE("a populate that fails to start a link puts back the links it replaced, faults included") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const std::string upstream = "127.0.0.1:" + std::to_string(up.port());
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string busy = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());

  REQUIRE(request(api, http::verb::post, "/proxies", nlohmann::json{{"name", "a"}, {"upstream", upstream}}.dump())
              .status == 201);
  REQUIRE(request(api, http::verb::post, "/proxies/a/toxics", R"({"type":"latency","name":"slow"})").status == 200);
  const auto listen = request(api, http::verb::get, "/proxies/a").json()["listen"];

  // "a" is replaced first, then "b" cannot listen: the whole populate fails.
  auto failed = request(api, http::verb::post, "/populate",
                        nlohmann::json::array({{{"name", "a"}, {"upstream", upstream}},
                                               {{"name", "b"}, {"listen", busy}, {"upstream", upstream}}})
                            .dump());
  CHECK(failed.status == 500);
  const auto all = request(api, http::verb::get, "/proxies").json();
  REQUIRE(all.contains("a"));
  CHECK_FALSE(all.contains("b"));
  CHECK(all["a"]["listen"] == listen);
  REQUIRE(all["a"]["toxics"].size() == 1);
  CHECK(all["a"]["toxics"][0]["name"] == "slow");
  // And it carries bytes again.
  Client c(parse_host_port(listen.get<std::string>())->port);
  c.send("back");
  CHECK(c.read_exactly(4) == "back");
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

TEST_CASE("web pages are refused: a foreign Origin always, a foreign Host while the API is on loopback") {
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const auto port = std::to_string(api);
  auto get = [&](const Headers& headers) { return request(api, http::verb::get, "/proxies", "", "", headers); };
  // What Toxiproxy's clients and curl send.
  for (const auto& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "localhost", "[::1]:" + port, "127.0.0.1"}) {
    INFO(host);
    CHECK(get({{"Host", host}}).status == 200);
  }
  for (const auto& origin : std::vector<std::string>{"http://localhost:" + port, "http://127.0.0.1:" + port, "http://[::1]:" + port}) {
    INFO(origin);
    CHECK(get({{"Origin", origin}}).status == 200);
  }
  // DNS rebinding: the page's own name in Host.
  auto rebound = get({{"Host", "evil.example:" + port}});
  CHECK(rebound.status == 403);
  CHECK(rebound.json()["status"] == 403);
  CHECK(rebound.json()["error"] ==
        "forbidden: Host evil.example:" + port + " is not a loopback name or address (the admin API listens on loopback)");
  CHECK(get({{"Host", "127.evil.example:" + port}}).status == 403);
  CHECK(get({{"Host", "localhost.evil.example"}}).status == 403);
  // Cross-site requests.
  auto foreign = get({{"Origin", "http://evil.example"}});
  CHECK(foreign.status == 403);
  CHECK(foreign.json() ==
        nlohmann::json{{"error", "forbidden: requests from web pages are refused (Origin http://evil.example)"},
                       {"status", 403}});
  CHECK(get({{"Origin", "null"}}).status == 403);
  CHECK(get({{"Origin", "http://localhost.evil.example:" + port}}).status == 403);
  // A refused request changes nothing.
  const auto created = request(api, http::verb::post, "/proxies", R"({"name":"pwn","upstream":"127.0.0.1:9"})", "",
                               {{"Host", "evil.example"}});
  CHECK(created.status == 403);
  CHECK(request(api, http::verb::post, "/proxies", R"({"name":"pwn","upstream":"127.0.0.1:9"})", "",
                {{"Origin", "http://evil.example"}})
            .status == 403);
  CHECK(get({}).json().empty());
}

TEST_CASE("off loopback, with a token: any Host, but a foreign Origin is still refused") {
  ProxyHarness proxy;
  const auto api = proxy.start_api("s3cret", "0.0.0.0:0");
  CHECK(request(api, http::verb::get, "/proxies", "", "s3cret", {{"Host", "faultline.example:8474"}}).status == 200);
  CHECK(request(api, http::verb::get, "/proxies", "", "", {{"Host", "faultline.example:8474"}}).status == 401);
  CHECK(request(api, http::verb::get, "/proxies", "", "s3cret", {{"Origin", "http://evil.example"}}).status == 403);
}

namespace {
// Sends `head` then `filler` until `total` bytes have gone (or the API closed),
// reading the answer meanwhile; returns the answer.
std::string send_head(std::uint16_t port, const std::string& head, const std::string& filler, std::size_t total) {
  Client c(port);
  std::string answer;
  std::thread reader([&] {
    boost::system::error_code ec;
    while (!ec) answer += c.read_some(ec);
  });
  boost::system::error_code ec;
  asio::write(c.socket(), asio::buffer(head), ec);
  for (std::size_t sent = 0; !ec && sent < total; sent += filler.size()) asio::write(c.socket(), asio::buffer(filler), ec);
  c.socket().shutdown(tcp::socket::shutdown_send, ec);
  reader.join();
  return answer;
}
}  // namespace

TEST_CASE("a request head over the limit gets 431 with a JSON error, and the API keeps answering") {
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const auto huge = send_head(api, "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", std::string(65536, 'a'), 3 << 20);
  CHECK(huge.starts_with("HTTP/1.1 431 "));
  CHECK(huge.find(R"("status":431)") != std::string::npos);
  std::string short_headers;
  for (int i = 0; i < 512; ++i) short_headers += "X-H: 12\r\n";
  const auto many = send_head(api, "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n", short_headers, 1 << 20);
  CHECK(many.starts_with("HTTP/1.1 431 "));
  // A head just under the limit is read.
  const auto fits = send_head(api, "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fits: " + std::string(12000, 'a') + "\r\nConnection: close\r\n\r\n", "", 0);
  CHECK(fits.starts_with("HTTP/1.1 200 "));
  CHECK(request(api, http::verb::get, "/version").status == 200);
}

TEST_CASE("a link into itself is refused by create, update and populate") {
  Upstream up(Upstream::echo());
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  // A port nothing listens on, for a link's listen address and its own upstream.
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  const auto self = "127.0.0.1:" + std::to_string(port);
  auto created = request(api, http::verb::post, "/proxies",
                         nlohmann::json{{"name", "loop"}, {"listen", self}, {"upstream", "localhost:" + std::to_string(port)}}.dump());
  CHECK(created.status == 400);
  CHECK(created.json()["error"].get<std::string>().starts_with("/upstream: localhost:" + std::to_string(port) +
                                                               " (127.0.0.1) is the link's own listen address " + self));
  auto populated = request(api, http::verb::post, "/populate",
                           nlohmann::json::array({{{"name", "a"}, {"upstream", "127.0.0.1:" + std::to_string(up.port())}},
                                                  {{"name", "loop"}, {"listen", "0.0.0.0:" + std::to_string(port)}, {"upstream", self}}})
                               .dump());
  CHECK(populated.status == 400);
  CHECK(populated.json()["error"].get<std::string>().starts_with("/1/upstream: " + self + " is the link's own listen address"));
  CHECK(request(api, http::verb::get, "/proxies").json().empty());
  // An update that points a link at the port it was given (listen port 0 cannot loop; its bound port can).
  auto ok = request(api, http::verb::post, "/proxies", nlohmann::json{{"name", "a"}, {"upstream", "127.0.0.1:" + std::to_string(up.port())}}.dump());
  REQUIRE(ok.status == 201);
  const auto bound = ok.json()["listen"].get<std::string>();
  auto updated = request(api, http::verb::post, "/proxies/a", nlohmann::json{{"upstream", bound}}.dump());
  CHECK(updated.status == 400);
  CHECK(updated.json()["error"].get<std::string>().starts_with("/upstream: " + bound + " is the link's own listen address"));
  CHECK(request(api, http::verb::get, "/proxies/a").json()["upstream"] == "127.0.0.1:" + std::to_string(up.port()));
  // A listen host name is refused by its pointer (the API does not look names up).
  auto named = request(api, http::verb::post, "/proxies", R"({"name":"n","listen":"nosuch.invalid:0","upstream":"127.0.0.1:9"})");
  CHECK(named.status == 400);
  CHECK(named.json()["error"] == R"(/listen: "nosuch.invalid:0": the host must be an IP address or localhost)");
}

TEST_CASE("a request body nested too deeply is refused with 400") {
  ProxyHarness proxy;
  const auto api = proxy.start_api();
  const auto deep = R"({"name":"d","upstream":"127.0.0.1:9","max_message":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = request(api, http::verb::post, "/proxies", deep);
  CHECK(r.status == 400);
  CHECK(r.json()["error"].get<std::string>().starts_with("bad request body: nests deeper than"));
}

TEST_CASE("accept backoff: out of descriptors it pauses longer each time up to 250 ms, and logs once per episode") {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  AcceptBackoff backoff("admin API");
  const boost::system::error_code emfile(EMFILE, boost::system::system_category());
  std::vector<long> pauses;
  for (int i = 0; i < 10; ++i) pauses.push_back(static_cast<long>(backoff.failed(emfile).count()));
  CHECK(pauses == std::vector<long>{20, 40, 80, 160, 250, 250, 250, 250, 250, 250});
  CHECK(backoff.failed(boost::system::error_code(ENFILE, boost::system::system_category())).count() == 250);
  backoff.accepted();
  backoff.accepted();
  CHECK(backoff.failed(boost::system::error_code(ENOBUFS, boost::system::system_category())).count() == 20);  // a new episode
  backoff.accepted();
  CHECK(backoff.failed(asio::error::connection_aborted).count() == 5);  // not exhaustion: a short pause
  backoff.accepted();
  spdlog::set_default_logger(previous);
  const auto text = log.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);  // three episodes: a line when each starts and ends
  CHECK(text.find("admin API: accept: Too many open files; pausing accepts until descriptors are freed") != std::string::npos);
  CHECK(text.find("admin API: accepting again (11 accepts failed over") != std::string::npos);
  CHECK(is_resource_exhaustion(boost::system::error_code(ENOMEM, boost::system::generic_category())));
  CHECK(!is_resource_exhaustion(asio::error::connection_aborted));
}
