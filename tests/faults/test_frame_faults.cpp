// Each frame fault, and the chain's match and probability, against a fake
// context: no pipes, no sleeping.

#include "tests/faults/frame_harness.hpp"

using namespace faultline;
using namespace faultline::test;

namespace {
json parsed(const std::string& raw) { return json::parse(raw); }
}  // namespace

TEST_CASE("the chain applies match: method, method prefix, id and kind") {
  FrameHarness h({"drop,method=tools/call,stream=upstream"});
  h.add(request(1, "tools/call"));
  h.add(request(2, "tools/list"));
  h.add(notification("notifications/initialized"));
  h.run();
  CHECK(h.raws() == std::vector<std::string>{request(2, "tools/list"), notification("notifications/initialized")});
  CHECK(h.fault().injections == 1);
  CHECK(h.ended);

  FrameHarness p({"drop,method=tools/*"});
  p.add(request(1, "tools/call"));
  p.add(request(2, "resources/list"));
  p.add(response(1), 0, "tools/call");  // a reply matches by the method it answers
  p.run();
  CHECK(p.raws() == std::vector<std::string>{request(2, "resources/list")});

  FrameHarness i({"drop,id=2"});
  i.add(request(1, "a"));
  i.add(request(2, "a"));
  i.add(R"({"jsonrpc":"2.0","id":"2","method":"a"})");  // string "2" is not integer 2
  i.run();
  CHECK(i.out.size() == 2);

  FrameHarness s({"drop,id=\"2\""});
  s.add(request(2, "a"));
  s.add(R"({"jsonrpc":"2.0","id":"2","method":"a"})");
  s.run();
  CHECK(s.raws() == std::vector<std::string>{request(2, "a")});

  FrameHarness k({"drop,kind=notification|invalid"});
  k.add(request(1, "a"));
  k.add(notification("n"));
  k.add("not json");
  k.add(response(1));
  k.run();
  CHECK(k.raws() == std::vector<std::string>{request(1, "a"), response(1)});
}

TEST_CASE("probability is rolled per matched frame from the fault's seeded generator") {
  auto run = [](std::uint64_t seed) {
    FrameHarness h({"drop,probability=0.5"}, seed);
    for (int i = 0; i < 200; ++i) h.add(request(i, "x"));
    h.run();
    return h.raws();
  };
  const auto a = run(11);
  CHECK(a == run(11));  // replayable
  CHECK(a != run(12));
  CHECK(a.size() > 60);
  CHECK(a.size() < 140);

  FrameHarness never({"drop,probability=0"});
  never.add(request(1, "x"));
  never.run();
  CHECK(never.out.size() == 1);
  CHECK(never.fault().injections == 0);
}

TEST_CASE("drop, delay and duplicate") {
  FrameHarness d({"delay,delay=300"});
  d.add(request(1, "a"), 0);
  d.add(request(2, "a"), 100);
  d.run();
  REQUIRE(d.out.size() == 2);
  CHECK(d.out[0].at == d.epoch + 300ms);
  CHECK(d.out[1].at == d.epoch + 400ms);  // in order, each measured from its own arrival
  CHECK(d.fault().details[0]["delay_ms"] == 300);

  FrameHarness dup({"duplicate,count=2,kind=response"});
  dup.add(request(1, "a"));
  dup.add(response(1));
  dup.run();
  CHECK(dup.raws() == std::vector<std::string>{request(1, "a"), response(1), response(1), response(1)});
}

TEST_CASE("reorder holds a message until the next N have passed; the end releases it") {
  FrameHarness h({"reorder,after=2,id=1"});
  h.add(response(1));
  h.add(response(2));
  h.add(response(3));
  h.add(response(4));
  h.run();
  CHECK(h.raws() == std::vector<std::string>{response(2), response(3), response(1), response(4)});

  FrameHarness tail({"reorder,after=5,id=1"});
  tail.add(response(1));
  tail.add(response(2));
  tail.run();
  CHECK(tail.raws() == std::vector<std::string>{response(2), response(1)});
  CHECK(tail.ended);
}

TEST_CASE("error answers a request in the server's place and does not forward it") {
  FrameHarness h({"error,method=tools/call,code=-32001,message=boom"});
  h.add(request(7, "tools/call"));
  h.add(request(8, "tools/list"));
  h.add(R"({"jsonrpc":"2.0","method":"tools/call"})");  // a notification: nothing to answer
  h.run();
  REQUIRE(h.replies.size() == 1);
  const auto& m = h.replies[0].frame.message;
  CHECK(m["id"] == 7);
  CHECK(m["error"]["code"] == -32001);
  CHECK(m["error"]["message"] == "boom");
  CHECK(h.replies[0].frame.kind == mcp::FrameKind::error);
  CHECK(h.out.size() == 2);
  CHECK(h.fault().injections == 1);
}

TEST_CASE("late_response holds a reply while later messages pass") {
  FrameHarness h({"late_response,delay=5000,id=1"});
  h.add(response(1), 0, "tools/call");
  h.add(response(2), 10);
  h.add(notification("n"), 20);
  h.run(false);
  REQUIRE(h.out.size() == 3);
  CHECK(h.raws() == std::vector<std::string>{response(2), notification("n"), response(1)});
  CHECK(h.out[2].at == h.epoch + 5000ms);
  CHECK(h.fault().details[0]["method"] == "tools/call");
}

TEST_CASE("malformed breaks a message the way mode says") {
  auto one = [](const std::string& fault, const std::string& line) {
    FrameHarness h({fault});
    h.add(line);
    h.run();
    REQUIRE(h.out.size() == 1);
    return std::make_pair(h.out[0].raw, h.fault().injections);
  };
  const auto req = request(5, "tools/call");
  const auto res = response(5);
  std::vector<mcp::Frame> frames;
  auto decode = [&](const std::string& raw) {
    frames.clear();
    mcp::decode_json_text(raw, 0, frames);
    return frames.at(0);
  };

  auto [t, tn] = one("malformed,mode=truncate", req);
  CHECK(t == req.substr(0, req.size() / 2));
  CHECK(tn == 1);
  CHECK_FALSE(decode(one("malformed,mode=invalid_json", req).first).parsed);
  CHECK(one("malformed,mode=invalid_utf8", req).first.find("\xFF\xFE") != std::string::npos);
  const auto nl = one("malformed,mode=embedded_newline", req).first;
  CHECK(nl.find('\n') != std::string::npos);
  const auto big = one("malformed,mode=oversized,size=100000", req).first;
  CHECK(big.size() >= 99'990);
  CHECK(big.size() <= 100'000);
  CHECK(parsed(big)["method"] == "tools/call");
  CHECK_FALSE(parsed(one("malformed,mode=missing_jsonrpc", req).first).contains("jsonrpc"));
  CHECK(parsed(one("malformed,mode=wrong_jsonrpc", req).first)["jsonrpc"] == "1.0");
  CHECK(parsed(one("malformed,mode=wrong_id", res).first)["id"] == "5");
  CHECK(parsed(one("malformed,mode=wrong_id", R"({"jsonrpc":"2.0","id":"5","result":{}})").first)["id"] == 5);
  CHECK(parsed(one("malformed,mode=unknown_id", res).first)["id"] == 1'000'000'012);
  const auto both = parsed(one("malformed,mode=result_and_error", res).first);
  CHECK(both.contains("result"));
  CHECK(both.contains("error"));
  CHECK_FALSE(parsed(one("malformed,mode=strip_field", res).first).contains("result"));
  const auto tools = R"({"jsonrpc":"2.0","id":1,"result":{"tools":[],"x":1}})";
  CHECK(parsed(one("malformed,mode=strip_field,field=/result/tools", tools).first) ==
        json::parse(R"({"jsonrpc":"2.0","id":1,"result":{"x":1}})"));
  // A mode that does not apply passes the message untouched, uncounted.
  auto [same, n] = one("malformed,mode=unknown_id", notification("n"));
  CHECK(same == notification("n"));
  CHECK(n == 0);
}

TEST_CASE("banner writes a non-JSON line: at after_ms, or before each matched message") {
  FrameHarness timed({"banner,text=hello there,after_ms=250"});
  timed.attach();
  REQUIRE(timed.out.size() == 1);
  CHECK(timed.out[0].raw == "hello there");
  CHECK(timed.out[0].emitted);
  CHECK(timed.out[0].at == timed.epoch + 250ms);

  FrameHarness each({"banner,text=LOG,kind=response"});
  each.add(response(1));
  each.add(request(2, "a"));
  each.add(response(3));
  each.run();
  CHECK(each.raws() == std::vector<std::string>{"LOG", response(1), request(2, "a"), "LOG", response(3)});

  FrameHarness frame_ignored({"banner,after_ms=10"});
  frame_ignored.add(response(1));
  frame_ignored.run();
  CHECK(frame_ignored.raws() == std::vector<std::string>{response(1)});
}

TEST_CASE("close_stdout closes the output at the first matched message, which is lost") {
  FrameHarness h({"close_stdout,id=2"});
  h.add(response(1));
  h.add(response(2));
  h.run();
  CHECK(h.raws() == std::vector<std::string>{response(1)});
  CHECK(h.closed.size() == 1);
}

TEST_CASE("kill, stop and continue signal the server once") {
  FrameHarness k({"kill,method=tools/call,stream=upstream"});
  k.add(request(1, "tools/call"));
  k.add(request(2, "tools/call"));
  k.run();
  CHECK(k.signals == std::vector<int>{SIGKILL});
  CHECK(k.out.size() == 2);  // the messages still go on
  CHECK(k.fault().details[0]["signal"] == "SIGKILL");

  FrameHarness term({"kill,signal=TERM,after_ms=100"});
  term.attach();
  CHECK(term.signals == std::vector<int>{SIGTERM});
  CHECK(term.clock == term.epoch + 100ms);

  FrameHarness stop({"stop,duration=500,after_ms=100"});
  stop.attach();
  CHECK(stop.signals == std::vector<int>{SIGSTOP, SIGCONT});
  CHECK(stop.clock == stop.epoch + 600ms);

  FrameHarness cont({"continue,id=3"});
  cont.add(request(3, "x"));
  cont.run();
  CHECK(cont.signals == std::vector<int>{SIGCONT});
}

TEST_CASE("faults compose in chain order") {
  FrameHarness h({"duplicate,kind=response", "malformed,mode=wrong_jsonrpc,kind=response"});
  h.add(response(1));
  h.run();
  REQUIRE(h.out.size() == 2);
  CHECK(parsed(h.out[0].raw)["jsonrpc"] == "1.0");
  CHECK(parsed(h.out[1].raw)["jsonrpc"] == "1.0");
  CHECK(h.fault(1).injections == 2);
}
