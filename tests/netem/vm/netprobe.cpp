// netprobe: real traffic for the netem VM lane. Servers echo; clients measure
// round trips (TCP, UDP) and count lost UDP probes, then check the figures
// against what was asked within statistical tolerance and print PASS/FAIL lines.
//
//   netprobe tcp-echo PORT            netprobe udp-echo PORT
//   netprobe tcp-rtt HOST PORT COUNT [--expect-ms D --tolerance-ms T]
//   netprobe udp-probe HOST PORT COUNT [--interval-ms I] [--expect-ms D --jitter-ms J] [--expect-loss P]
//   netprobe wait-tcp HOST PORT SECONDS   (until a server accepts)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int fail_count = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
  if (!ok) ++fail_count;
}

sockaddr_in address(const char* host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "netprobe: '%s' is not an IPv4 address\n", host);
    std::exit(2);
  }
  return a;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Stats {
  double mean = 0, sd = 0, median = 0, p5 = 0, p95 = 0, min = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(s.sd / static_cast<double>(v.size()));
  auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))]; };
  s.median = at(0.5);
  s.p5 = at(0.05);
  s.p95 = at(0.95);
  s.min = v.front();
  s.max = v.back();
  return s;
}

double arg_value(int argc, char** argv, const char* name, double fallback) {
  for (int i = 0; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atof(argv[i + 1]);
  return fallback;
}

int tcp_echo(int port) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(ls, 16) != 0) {
    std::perror("netprobe tcp-echo");
    return 1;
  }
  for (;;) {
    int c = accept(ls, nullptr, nullptr);
    if (c < 0) continue;
    std::thread([c] {
      int on = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      char buf[4096];
      ssize_t n;
      while ((n = read(c, buf, sizeof buf)) > 0)
        if (write(c, buf, static_cast<std::size_t>(n)) != n) break;
      close(c);
    }).detach();
  }
}

int udp_echo(int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("netprobe udp-echo");
    return 1;
  }
  char buf[2048];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) sendto(s, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

int wait_tcp(const char* host, int port, double seconds) {
  const auto a = address(host, port);
  const auto start = Clock::now();
  while (ms_since(start) < seconds * 1000) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
      close(s);
      return 0;
    }
    close(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "netprobe: nothing accepts on %s:%d\n", host, port);
  return 1;
}

int tcp_rtt(const char* host, int port, int count, int argc, char** argv) {
  const auto a = address(host, port);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    std::perror("netprobe tcp-rtt connect");
    return 1;
  }
  std::vector<double> rtts;
  char byte = 'x';
  for (int i = 0; i < count; ++i) {
    const auto t = Clock::now();
    if (write(s, &byte, 1) != 1 || read(s, &byte, 1) != 1) {
      std::fprintf(stderr, "netprobe: tcp round trip %d failed\n", i);
      return 1;
    }
    rtts.push_back(ms_since(t));
  }
  close(s);
  const Stats st = stats(rtts);
  std::printf("RESULT tcp_rtt count=%d median_ms=%.2f mean_ms=%.2f sd_ms=%.2f p5_ms=%.2f p95_ms=%.2f max_ms=%.2f\n", count,
              st.median, st.mean, st.sd, st.p5, st.p95, st.max);
  const double expect = arg_value(argc, argv, "--expect-ms", -1);
  const double tol = arg_value(argc, argv, "--tolerance-ms", 10);
  if (expect >= 0) {
    char text[160];
    std::snprintf(text, sizeof text, "tcp median round trip %.2f ms within %.0f +- %.0f ms", st.median, expect, tol);
    check(std::fabs(st.median - expect) <= tol, text);
  }
  return fail_count ? 1 : 0;
}

int udp_probe(const char* host, int port, int count, int argc, char** argv) {
  const auto a = address(host, port);
  const double interval = arg_value(argc, argv, "--interval-ms", 3);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    std::perror("netprobe udp-probe connect");
    return 1;
  }
  std::vector<Clock::time_point> sent(static_cast<std::size_t>(count));
  std::vector<double> rtt(static_cast<std::size_t>(count), -1);
  std::atomic<bool> done{false};
  std::thread receiver([&] {
    char buf[64];
    while (!done) {
      pollfd p{s, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = recv(s, buf, sizeof buf, 0);
      if (n < static_cast<ssize_t>(sizeof(std::uint32_t))) continue;
      std::uint32_t seq;
      std::memcpy(&seq, buf, sizeof seq);
      if (seq < static_cast<std::uint32_t>(count) && rtt[seq] < 0) rtt[seq] = ms_since(sent[seq]);
    }
  });
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    const auto due = start + std::chrono::microseconds(static_cast<long>(i * interval * 1000));
    std::this_thread::sleep_until(due);
    char buf[32] = {};
    const auto seq = static_cast<std::uint32_t>(i);
    std::memcpy(buf, &seq, sizeof seq);
    sent[static_cast<std::size_t>(i)] = Clock::now();
    send(s, buf, sizeof buf, 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  done = true;
  receiver.join();
  std::vector<double> got;
  for (double r : rtt)
    if (r >= 0) got.push_back(r);
  const int lost = count - static_cast<int>(got.size());
  const double loss = 100.0 * lost / count;
  const Stats st = stats(got);
  std::printf("RESULT udp count=%d lost=%d loss_pct=%.2f median_ms=%.2f mean_ms=%.2f sd_ms=%.2f p5_ms=%.2f p95_ms=%.2f min_ms=%.2f max_ms=%.2f\n",
              count, lost, loss, st.median, st.mean, st.sd, st.p5, st.p95, st.min, st.max);

  char text[240];
  const double expect_loss = arg_value(argc, argv, "--expect-loss", -1);
  if (expect_loss >= 0) {
    // Wilson score interval at z = 3.29 (99.9 %) around the observed loss rate.
    const double z = 3.29, n = count, p = static_cast<double>(lost) / count;
    const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
    const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
    const double lo = 100 * (centre - half), hi = 100 * (centre + half);
    std::snprintf(text, sizeof text, "udp loss %.2f%% (%d of %d): asked %.1f%% lies in the 99.9%% interval [%.2f%%, %.2f%%]",
                  loss, lost, count, expect_loss, lo, hi);
    check(expect_loss >= lo && expect_loss <= hi, text);
  }
  const double expect = arg_value(argc, argv, "--expect-ms", -1);
  const double jitter = arg_value(argc, argv, "--jitter-ms", 0);
  const double slack = arg_value(argc, argv, "--slack-ms", 8);  // the emulated VM's own latency
  if (expect >= 0 && !got.empty()) {
    // Uniform jitter: every sample in [D - J, D + J + slack]; mean near D; sd near J / sqrt(3).
    std::snprintf(text, sizeof text, "udp round trips %.2f..%.2f ms (p5..p95 %.2f..%.2f) within [%.0f, %.0f] ms",
                  st.min, st.max, st.p5, st.p95, expect - jitter - 1, expect + jitter + slack);
    check(st.p5 >= expect - jitter - 1 && st.p95 <= expect + jitter + slack, text);
    std::snprintf(text, sizeof text, "udp mean round trip %.2f ms within %.0f +- %.1f ms", st.mean, expect, 2 + slack / 2);
    check(std::fabs(st.mean - expect) <= 2 + slack / 2, text);
    if (jitter > 0) {
      const double want_sd = jitter / std::sqrt(3.0);
      std::snprintf(text, sizeof text, "udp round-trip sd %.2f ms near %.2f ms (jitter %.0f ms uniform): within [%.2f, %.2f]",
                    st.sd, want_sd, jitter, want_sd * 0.6, want_sd * 1.4 + 1);
      check(st.sd >= want_sd * 0.6 && st.sd <= want_sd * 1.4 + 1, text);
    }
  }
  return fail_count ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 3) {
    std::fprintf(stderr, "usage: netprobe tcp-echo|udp-echo PORT | tcp-rtt|udp-probe HOST PORT COUNT [...] | wait-tcp HOST PORT SECONDS\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "tcp-echo") return tcp_echo(std::atoi(argv[2]));
  if (mode == "udp-echo") return udp_echo(std::atoi(argv[2]));
  if (argc < 5) return 2;
  if (mode == "wait-tcp") return wait_tcp(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
  if (mode == "tcp-rtt") return tcp_rtt(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argc, argv);
  if (mode == "udp-probe") return udp_probe(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argc, argv);
  std::fprintf(stderr, "netprobe: unknown mode '%s'\n", mode.c_str());
  return 2;
}
