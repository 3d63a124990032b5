// Fault configuration: the wrapper, each type's attributes, the command-line
// form, updates, and every kind of bad value with the place it names.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "core/host_port.hpp"
#include "core/rng.hpp"
#include "faults/byte_fault_spec.hpp"
#include "faults/byte_registry.hpp"
#include "proxy/link.hpp"
#include "proxy/proxy_config.hpp"

using namespace faultline;

namespace {
std::string error_of(const nlohmann::json& toxic) {
  try {
    parse_fault(toxic, "/toxics/0");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("every registered type parses with its Toxiproxy attribute names and defaults") {
  const std::map<std::string, nlohmann::json> samples = {
      {"latency", {{"latency", 100}, {"jitter", 10}}},
      {"bandwidth", {{"rate", 100}}},
      {"slicer", {{"average_size", 64}, {"size_variation", 32}, {"delay", 10}}},
      {"slow_close", {{"delay", 100}}},
      {"timeout", {{"timeout", 100}}},
      {"reset_peer", {{"timeout", 100}}},
      {"limit_data", {{"bytes", 100}}},
      {"down", nlohmann::json::object()},
      {"half_open", nlohmann::json::object()},
      {"slow_open", {{"delay", 100}}},
  };
  CHECK(fault_types().size() == samples.size());
  for (const auto& type : fault_types()) {
    INFO(type.name);
    const auto spec = parse_fault({{"type", type.name}, {"attributes", samples.at(std::string(type.name))}}, "");
    CHECK(spec.name == std::string(type.name) + "_downstream");
    CHECK(spec.toxicity == 1.0);
    CHECK(spec.to_json()["attributes"] == samples.at(std::string(type.name)));
  }
  const auto latency = parse_fault({{"type", "latency"}}, "");
  CHECK(latency.to_json()["attributes"] == nlohmann::json{{"latency", 0}, {"jitter", 0}});
}

TEST_CASE("bad faults name the place and the problem") {
  CHECK(error_of({{"type", "latncy"}}).find("/toxics/0/type: unknown fault type \"latncy\"") == 0);
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", -5}}}}) ==
        "/toxics/0/attributes/latency: must be from 0 to 3600000, got -5");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latenzy", 5}}}}) == "/toxics/0/attributes/latenzy: unknown attribute");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", "100ms"}}}}) ==
        "/toxics/0/attributes/latency: must be a number, got string");
  CHECK(error_of({{"type", "latency"}, {"attributes", {{"latency", 1.5}}}}) == "/toxics/0/attributes/latency: must be a whole number");
  CHECK(error_of({{"type", "latency"}, {"toxicity", 1.2}}) == "/toxics/0/toxicity: must be from 0 to 1, got 1.2");
  CHECK(error_of({{"type", "latency"}, {"stream", "sideways"}}).find("/toxics/0/stream: must be") == 0);
  CHECK(error_of({{"type", "latency"}, {"colour", "red"}}) == "/toxics/0/colour: unknown field");
  CHECK(error_of({{"attributes", {}}}).find("/toxics/0/type: a fault needs a type") == 0);
  CHECK(error_of({{"type", "slicer"}, {"attributes", {{"average_size", 10}, {"size_variation", 10}}}}) ==
        "/toxics/0/attributes/size_variation: must be smaller than average_size");
  CHECK(error_of({{"type", "down"}, {"toxicity", 0.5}}).find("/toxics/0/toxicity") == 0);
  CHECK(error_of({{"type", "bandwidth"}, {"attributes", {{"rate", 1e300}}}}).find("/toxics/0/attributes/rate") == 0);
  CHECK(error_of(nlohmann::json::array()) == "/toxics/0: a fault must be a JSON object");
}

TEST_CASE("the command-line form") {
  auto spec = parse_fault_text("latency,stream=upstream,latency=100,jitter=5,toxicity=0.25,name=slow");
  CHECK(spec.name == "slow");
  CHECK(spec.direction == Direction::upstream);
  CHECK(spec.toxicity == 0.25);
  CHECK(spec.to_json()["attributes"] == nlohmann::json{{"latency", 100}, {"jitter", 5}});
  CHECK(parse_fault_text("half_open").type == "half_open");
  CHECK(parse_fault_text(R"({"type":"timeout","attributes":{"timeout":5}})").type == "timeout");
  auto error = [](const char* text) {
    try {
      parse_fault_text(text);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("latency,latency=abc") == "--fault latency,latency=abc: /attributes/latency: must be a number, got \"abc\"");
  CHECK(error("latency,toxicity=often") == "--fault latency,toxicity=often: /toxicity: must be a number from 0 to 1, got \"often\"");
  CHECK(error("latency,latency") == "--fault latency,latency: \"latency\" is not KEY=VALUE");
  CHECK(error("nosuch").find("unknown fault type \"nosuch\"") != std::string::npos);
  CHECK(error("{not json").find("not valid JSON") != std::string::npos);
  // A key given twice is an error naming it, not the last one winning.
  CHECK(error("latency,latency=5,latency=6") == "--fault latency,latency=5,latency=6: \"latency\" is given twice");
  CHECK(error("latency,stream=upstream,latency=5,stream=downstream") ==
        "--fault latency,stream=upstream,latency=5,stream=downstream: \"stream\" is given twice");
  CHECK(error("drop,method=a,method=b") == "--fault drop,method=a,method=b: \"method\" is given twice");
  // The JSON form keeps the --fault prefix in its errors, as the text form does.
  CHECK(error(R"({"type":"latency","attributes":{"latency":"x"}})") ==
        R"(--fault {"type":"latency","attributes":{"latency":"x"}}: /attributes/latency: must be a number, got string)");
}

TEST_CASE("updates merge attributes and keep the name and type") {
  const auto current = parse_fault({{"type", "latency"}, {"name", "l"}, {"attributes", {{"latency", 10}, {"jitter", 2}}}}, "");
  const auto next = update_fault_spec(current, {{"attributes", {{"latency", 50}}}, {"toxicity", 0.5}}, "");
  CHECK(next.to_json()["attributes"] == nlohmann::json{{"latency", 50}, {"jitter", 2}});
  CHECK(next.toxicity == 0.5);
  CHECK(next.name == "l");
  CHECK_THROWS_AS(update_fault_spec(current, {{"type", "timeout"}}, ""), ConfigError);
  CHECK_THROWS_AS(update_fault_spec(current, {{"attributes", {{"latency", -1}}}}, ""), ConfigError);
}

TEST_CASE("seeded random source: stable, and distinct per link, fault and connection") {
  Rng a(derive_seed(1, "link", "fault", 1)), b(derive_seed(1, "link", "fault", 1));
  for (int i = 0; i < 100; ++i) CHECK(a() == b());
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(2, "link", "fault", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link2", "fault", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link", "fault2", 1));
  CHECK(derive_seed(1, "link", "fault", 1) != derive_seed(1, "link", "fault", 2));
  CHECK(derive_seed(1, "ab", "c", 1) != derive_seed(1, "a", "bc", 1));
  Rng r(9);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += r.chance(0.3);
  CHECK(hits > 2800);
  CHECK(hits < 3200);
  for (int i = 0; i < 1000; ++i) {
    const auto v = r.integer(-3, 3);
    CHECK(v >= -3);
    CHECK(v <= 3);
  }
}

TEST_CASE("HOST:PORT parsing") {
  CHECK(parse_host_port("127.0.0.1:8474")->port == 8474);
  CHECK(parse_host_port("[::1]:80")->host == "::1");
  CHECK(parse_host_port(":9000")->host == "0.0.0.0");
  std::string why;
  CHECK(!parse_host_port("localhost", &why));
  CHECK(why.find("missing ':PORT'") != std::string::npos);
  CHECK(!parse_host_port("localhost:99999", &why));
  CHECK(!parse_host_port("::1:80", &why));
  CHECK(is_loopback_host("127.0.0.2"));
  CHECK(!is_loopback_host("0.0.0.0"));
  CHECK(is_loopback_host("LocalHost"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("::ffff:127.0.0.1"));
  CHECK(!is_loopback_host("127.evil.example"));  // a name that starts like an address is a name
  CHECK(!is_loopback_host("localhost.evil.example"));
  CHECK(!is_loopback_host("127.0.0.1.nip.io"));
  CHECK(!is_loopback_host(""));
}

TEST_CASE("loopback Host header values (the admin API's DNS-rebinding check)") {
  for (const char* ok : {"localhost", "localhost:8474", "127.0.0.1", "127.0.0.1:8474", "127.9.9.9:1", "[::1]",
                         "[::1]:8474", "LOCALHOST:80"})
    CHECK_MESSAGE(is_loopback_authority(ok), ok);
  for (const char* bad : {"", "evil.example", "evil.example:8474", "127.evil.example:8474", "localhost.:80",
                          "localhost:", "localhost:99999", "localhost:80x", "::1", "::1:8474", "[::1", "[127.0.0.1]:80",
                          "[::1]x", "10.0.0.1:8474", "0.0.0.0:8474", "localhost@evil.example"})
    CHECK_MESSAGE(!is_loopback_authority(bad), bad);
}

namespace {
std::string link_error(const std::string& listen, const std::string& upstream) {
  LinkConfig config;
  config.name = "l";
  config.listen = listen;
  config.upstream = upstream;
  try {
    validate_link_config(config, "/0");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a link whose upstream is its own listen address is refused") {
  CHECK(link_error("127.0.0.1:7001", "127.0.0.1:7001") ==
        "/0/upstream: 127.0.0.1:7001 is the link's own listen address 127.0.0.1:7001: every connection would loop "
        "back into the link");
  CHECK(link_error("127.0.0.1:7001", "localhost:7001").starts_with(
      "/0/upstream: localhost:7001 (127.0.0.1) is the link's own listen address"));
  CHECK(link_error("0.0.0.0:7001", "127.0.0.1:7001").starts_with("/0/upstream: 127.0.0.1:7001 is the link's own"));
  CHECK(link_error(":7001", "127.0.0.5:7001").starts_with("/0/upstream:"));  // 0.0.0.0 takes all of 127/8
  CHECK(link_error("[::]:7001", "127.0.0.1:7001").starts_with("/0/upstream:"));  // dual stack
  CHECK(link_error("127.0.0.1:7001", "0.0.0.0:7001").starts_with("/0/upstream:"));  // connecting to 0.0.0.0 is local
  CHECK(link_error("127.0.0.1:7001", "[::ffff:127.0.0.1]:7001").starts_with("/0/upstream:"));
  CHECK(link_error("localhost:7001", "127.0.0.1:7001").starts_with("/0/upstream:"));
  // Not loops: another port, another loopback address, port 0 (picked by the kernel), IPv6 to an IPv4 listener.
  CHECK(link_error("127.0.0.1:7001", "127.0.0.1:7002") == "");
  CHECK(link_error("127.0.0.1:7001", "127.0.0.2:7001") == "");
  CHECK(link_error("127.0.0.1:0", "127.0.0.1:7001") == "");
  CHECK(link_error("0.0.0.0:7001", "[::1]:7001") == "");
  CHECK(link_error("127.0.0.1:7001", "nosuch.invalid:7001") == "");  // does not resolve: connections say so
}

TEST_CASE("a listen host must be an IP address or localhost, named by its pointer") {
  CHECK(link_error("nosuch.invalid:7001", "127.0.0.1:9") ==
        "/0/listen: \"nosuch.invalid:7001\": the host must be an IP address or localhost");
  CHECK(link_error("LOCALHOST:0", "127.0.0.1:9") == "");
  CHECK(listen_address("LocalHost")->to_string() == "127.0.0.1");
  CHECK(listen_address("::1")->to_string() == "::1");
  CHECK(!listen_address("example.com"));
}

namespace {
std::string config_error(const std::string& path) {
  try {
    read_json_file(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "faultline-test.XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("config files: only a regular file of at most 16 MiB, each refusal saying what the file is") {
  ScratchDir dir;
  const auto d = dir.path.string();
  CHECK(config_error(d) == d + ": is a directory, not a JSON file");
  CHECK(config_error("/dev/zero") == "/dev/zero: is a character device, not a regular file");
  CHECK(config_error(d + "/nope.json") == d + "/nope.json: cannot open file: No such file or directory");
  REQUIRE(::mkfifo((d + "/pipe").c_str(), 0600) == 0);
  CHECK(config_error(d + "/pipe") == d + "/pipe: is a pipe, not a regular file");  // and does not wait for a writer

  const auto big = d + "/big.json";
  { std::ofstream create(big); }
  std::filesystem::resize_file(big, kMaxJsonFileBytes + 1);
  CHECK(config_error(big) == big + ": is 16777217 bytes; a config file may hold at most 16 MiB (16777216 bytes)");

  const auto fine = d + "/fine.json";
  std::ofstream(fine) << R"([{"name":"a","upstream":"127.0.0.1:9"}])";
  CHECK(read_json_file(fine)[0]["name"] == "a");

  const auto deep = d + "/deep.json";
  std::ofstream(deep) << R"([{"name":"a","upstream":"127.0.0.1:9","max_message":)" << std::string(100000, '[')
                      << std::string(100000, ']') << "}]";
  CHECK(config_error(deep).starts_with(deep + ": nests deeper than 512 levels"));
}
