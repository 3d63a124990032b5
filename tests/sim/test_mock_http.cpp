// The mock server's Streamable HTTP transport and its control endpoint, over
// real sockets on loopback: sessions, the status codes the SDK's server gives,
// SSE resumption, and the misbehaviours that act on sessions or the process.

#include <doctest/doctest.h>

#include "tests/sim/mock_net_client.hpp"

using namespace mocktest;
using faultline::sim::MockBehaviour;

TEST_CASE("http: initialize issues a session id; the SDK's status codes for what is missing or wrong") {
  InProcessMock mock("http");
  Client c(mock.port);
  const auto init = c.request(http::verb::post, "/mcp", initialize_body(), mcp_headers());
  REQUIRE(init.status == 200);
  CHECK(init.header("content-type") == "application/json");
  CHECK(init.parsed()["result"]["serverInfo"]["name"] == "faultline-mock");
  const auto sid = init.header("mcp-session-id");
  REQUIRE(sid.size() == 32);

  const auto initialized = c.request(http::verb::post, "/mcp", R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                                     mcp_headers(sid));
  CHECK(initialized.status == 202);
  CHECK(initialized.body.empty());
  const auto ping = c.request(http::verb::post, "/mcp", rpc(2, "ping"), mcp_headers(sid));
  CHECK(ping.status == 200);
  CHECK(ping.parsed()["result"] == json::object());

  CHECK(c.request(http::verb::post, "/mcp", rpc(3, "ping"), mcp_headers()).status == 400);  // no session id
  const auto unknown = c.request(http::verb::post, "/mcp", rpc(3, "ping"), mcp_headers("0123"));
  CHECK(unknown.status == 404);
  CHECK(unknown.parsed()["error"]["code"] == -32001);
  auto bad_version = mcp_headers(sid);
  bad_version["MCP-Protocol-Version"] = "1999-01-01";
  CHECK(c.request(http::verb::post, "/mcp", rpc(4, "ping"), bad_version).status == 400);
  CHECK(c.request(http::verb::post, "/mcp", rpc(5, "ping"), {{"Content-Type", "application/json"},
                                                             {"Accept", "application/json"},
                                                             {"Mcp-Session-Id", sid}}).status == 406);
  CHECK(c.request(http::verb::post, "/mcp", "{nope", mcp_headers(sid)).status == 400);
  CHECK(c.request(http::verb::put, "/mcp", "", mcp_headers(sid)).status == 405);
  CHECK(c.request(http::verb::get, "/elsewhere").status == 404);
  CHECK(c.request(http::verb::post, "/mcp", initialize_body(), {{"Content-Type", "application/json"},
                                                                {"Accept", "application/json, text/event-stream"},
                                                                {"Host", "evil.example.com"}}).status == 403);

  // A tools/call is answered as an SSE stream with ids and a retry field.
  const auto echo = c.request(http::verb::post, "/mcp", call_body(6, "echo", {{"message", "hi"}}), mcp_headers(sid));
  CHECK(echo.status == 200);
  CHECK(echo.header("content-type") == "text/event-stream");
  CHECK(echo.body.find("retry: 1000\n") != std::string::npos);
  CHECK(echo.body.find("id: 1-1\n") != std::string::npos);
  CHECK(echo.body.find(R"("text":"Echo: hi")") != std::string::npos);

  // A batch (2025-03-26) gets an array of answers.
  const auto batch = c.request(http::verb::post, "/mcp", "[" + rpc(7, "ping") + "," + rpc(8, "tools/list") + "]",
                               mcp_headers(sid));
  REQUIRE(batch.parsed().is_array());
  CHECK(batch.parsed().size() == 2);

  CHECK(c.request(http::verb::delete_, "/mcp", "", mcp_headers(sid)).status == 200);
  CHECK(c.request(http::verb::post, "/mcp", rpc(9, "ping"), mcp_headers(sid)).status == 404);
  CHECK(mock.of("server.session.created").size() == 1);
  REQUIRE(mock.of("server.session.closed").size() == 1);
  CHECK(mock.of("server.session.closed")[0].fields["reason"] == "deleted");
  const auto requests = mock.of("server.request");
  REQUIRE(requests.size() >= 4);
  CHECK(requests[0].fields["method"] == "initialize");
  CHECK(requests[0].fields["session"] == sid);
}

TEST_CASE("http: sessions expire session_ttl after initialize; unknown_session_status 400 answers 400") {
  MockBehaviour b;
  b.session_ttl = 150ms;
  b.unknown_session_status = 400;
  InProcessMock mock("http", b);
  const auto sid = open_session(mock.port);
  Client c(mock.port);
  CHECK(c.request(http::verb::post, "/mcp", rpc(2, "ping"), mcp_headers(sid)).status == 200);
  std::this_thread::sleep_for(300ms);
  const auto expired = c.request(http::verb::post, "/mcp", rpc(3, "ping"), mcp_headers(sid));
  CHECK(expired.status == 400);
  CHECK(expired.parsed()["error"]["message"] == "Session not found");
  REQUIRE(mock.of("server.session.expired").size() == 1);
  CHECK(mock.of("server.session.expired")[0].fields["session"] == sid);
  // Expired by the sweep, before the request came: within the sweep's tick.
  CHECK(mock.of("server.session.expired")[0].t < mock.of("server.session.created")[0].t + 0.150 + 0.100);
}

TEST_CASE("http: a restart forgets every session and ends their streams") {
  InProcessMock mock("http");
  const auto a = open_session(mock.port);
  const auto b = open_session(mock.port);
  Client stream(mock.port);
  auto accept_sse = mcp_headers(a);
  stream.send(http::verb::get, "/mcp", "", accept_sse);
  CHECK(stream.read_until("retry: 1000").find("200 OK") != std::string::npos);

  Client control(mock.control_port);
  const auto restarted = control.request(http::verb::post, "/restart");
  CHECK(restarted.status == 200);
  CHECK(restarted.parsed() == json{{"sessions", 2}});
  CHECK(stream.read_until("0\r\n\r\n").ends_with("0\r\n\r\n"));  // the standalone stream ended
  Client c(mock.port);
  CHECK(c.request(http::verb::post, "/mcp", rpc(2, "ping"), mcp_headers(a)).status == 404);
  CHECK(c.request(http::verb::post, "/mcp", rpc(2, "ping"), mcp_headers(b)).status == 404);
  REQUIRE(mock.of("server.restart").size() == 1);
  CHECK(mock.of("server.restart")[0].fields["sessions"] == 2);
  const auto closed = mock.of("server.session.closed");
  REQUIRE(closed.size() == 2);
  CHECK(closed[0].fields["reason"] == "restart");
  CHECK(open_session(mock.port).size() == 32);  // new sessions are welcome
}

TEST_CASE("http: a client that lost a request's stream resumes it with Last-Event-ID") {
  InProcessMock mock("http");
  const auto sid = open_session(mock.port);
  {
    Client c(mock.port);
    c.send(http::verb::post, "/mcp", call_body(2, "progress", {{"steps", 3}, {"interval", 80}}, {{"progressToken", "p"}}),
           mcp_headers(sid));
    const auto first = c.read_until("\"progress\":1");
    CHECK(first.find("id: 1-1\n") != std::string::npos);
    c.close();  // gone before steps 2 and 3 and the answer
  }
  std::this_thread::sleep_for(300ms);
  Client again(mock.port);
  auto h = mcp_headers(sid);
  h["Last-Event-ID"] = "1-1";
  const auto resumed = again.request(http::verb::get, "/mcp", "", h);
  CHECK(resumed.status == 200);
  CHECK(resumed.body.find("\"progress\":1") == std::string::npos);  // not sent twice
  CHECK(resumed.body.find("id: 1-2\n") != std::string::npos);
  CHECK(resumed.body.find("\"progress\":3") != std::string::npos);
  CHECK(resumed.body.find("done 3 steps") != std::string::npos);

  h["Last-Event-ID"] = "nonsense";
  CHECK(again.request(http::verb::get, "/mcp", "", h).status == 400);
  h["Last-Event-ID"] = "7-1";
  CHECK(again.request(http::verb::get, "/mcp", "", h).status == 400);
}

TEST_CASE("http: a dropped notification is recorded but never written") {
  MockBehaviour b;
  b.drop_notifications = {"notifications/tools/list_changed"};
  InProcessMock mock("http", b);
  const auto sid = open_session(mock.port);
  Client c(mock.port);
  const auto r = c.request(http::verb::post, "/mcp", call_body(2, "notify"), mcp_headers(sid));
  CHECK(r.body.find("added extra_1") != std::string::npos);
  CHECK(r.body.find("list_changed") == std::string::npos);
  const auto progress = c.request(http::verb::post, "/mcp",
                                  call_body(3, "progress", {{"steps", 1}, {"interval", 0}}, {{"progressToken", 1}}),
                                  mcp_headers(sid));
  CHECK(progress.body.find("notifications/progress") != std::string::npos);  // only the one named is dropped
  const auto n = mock.of("server.notification");
  REQUIRE(n.size() == 2);
  CHECK(n[0].fields["method"] == "notifications/tools/list_changed");
  CHECK(n[0].fields["dropped"] == true);
  CHECK(!n[0].fields.contains("event_id"));
  CHECK(n[1].fields["dropped"] == false);
  CHECK(n[1].fields["event_id"] == "2-1");
}

TEST_CASE("control: GET and PATCH /behaviour, refused changes apply nothing, GET /sessions") {
  InProcessMock mock("http");
  Client control(mock.control_port);
  const auto before = control.request(http::verb::get, "/behaviour");
  CHECK(before.status == 200);
  CHECK(before.parsed()["stall"] == false);

  const auto typo = control.request(http::verb::patch, "/behaviour", R"({"stall":true,"stal":true})");
  CHECK(typo.status == 400);
  CHECK(typo.parsed()["error"] == "/stal: unknown key; did you mean \"stall\"?");
  const auto far = control.request(http::verb::patch, "/behaviour", R"({"xyzzy":1})").parsed()["error"].get<std::string>();
  CHECK(far.starts_with("/xyzzy: unknown key; the keys are banner, slow_start_ms,"));
  const auto range = control.request(http::verb::patch, "/behaviour", R"({"stall":true,"idle_exit_ms":-1})");
  CHECK(range.status == 400);
  CHECK(range.parsed()["pointer"] == "/idle_exit_ms");
  CHECK(control.request(http::verb::patch, "/behaviour", R"({"unknown_session_status":403})").parsed()["pointer"] ==
        "/unknown_session_status");
  CHECK(control.request(http::verb::patch, "/behaviour", "[1,").status == 400);
  CHECK(control.request(http::verb::get, "/behaviour").parsed() == before.parsed());  // nothing half-applied
  CHECK(mock.of("server.behaviour").empty());

  const auto sid = open_session(mock.port);
  const auto changed = control.request(http::verb::patch, "/behaviour", R"({"stall":true})");
  CHECK(changed.status == 200);
  CHECK(changed.parsed()["stall"] == true);
  REQUIRE(mock.of("server.behaviour").size() == 1);
  CHECK(mock.of("server.behaviour")[0].fields["changes"] == json{{"stall", true}});
  {
    Client c(mock.port, 300ms);
    CHECK(c.request(http::verb::post, "/mcp", rpc(2, "ping"), mcp_headers(sid)).status == 0);  // no answer: stalled
  }
  control.request(http::verb::patch, "/behaviour", R"({"stall":false})");
  Client c(mock.port);
  CHECK(c.request(http::verb::post, "/mcp", rpc(3, "ping"), mcp_headers(sid)).status == 200);

  const auto sessions = control.request(http::verb::get, "/sessions").parsed()["sessions"];
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0]["id"] == sid);
  CHECK(sessions[0]["requests"] == 3);
  CHECK(sessions[0]["age_ms"].get<int>() >= sessions[0]["idle_ms"].get<int>());
  CHECK(control.request(http::verb::get, "/nothing").status == 404);
  CHECK(control.request(http::verb::delete_, "/behaviour").status == 405);
  CHECK(control.request(http::verb::get, "/behaviour", "", {{"Host", "evil.example.com"}}).status == 403);
}

TEST_CASE("idle_exit: requests keep it alive; after that long without one it exits with code 4") {
  MockBehaviour b;
  b.idle_exit = 250ms;
  InProcessMock mock("http", b);
  const auto t0 = std::chrono::steady_clock::now();
  const auto sid = open_session(mock.port);
  Client c(mock.port);
  for (int i = 0; i < 8; ++i) {  // 8 x 80 ms: well past 250 ms in all, never 250 ms idle
    CHECK(c.request(http::verb::post, "/mcp", rpc(10 + i, "ping"), mcp_headers(sid)).status == 200);
    std::this_thread::sleep_for(80ms);
  }
  CHECK(mock.exit_code == -1);
  const auto last = std::chrono::steady_clock::now();
  while (mock.exit_code == -1 && std::chrono::steady_clock::now() - last < 3s) std::this_thread::sleep_for(5ms);
  const auto idle = std::chrono::steady_clock::now() - last;
  CHECK(mock.exit_code == faultline::sim::kMockIdleExitCode);
  CHECK(idle >= 150ms);  // the last ping came up to 80 ms before `last`
  CHECK(idle < 1500ms);
  CHECK(std::chrono::steady_clock::now() - t0 > 600ms);
  REQUIRE(mock.of("server.exit").size() == 1);
  CHECK(mock.of("server.exit")[0].fields["reason"] == "idle_exit");
}
