#pragma once
// Packet capture with libpcap on one interface in one namespace, written to a
// pcap file (with a filter, a snap length and a size cap) so a report can link
// the capture of an outage. The summary (packets, TCP retransmissions seen,
// resets) goes into the event log when the capture stops.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace faultline {
class EventLog;
}

namespace faultline::netem {

struct CaptureOptions {
  std::string netns;            // "" = the namespace faultline runs in
  std::string dev;
  std::string file;             // the pcap file to write
  std::string filter;           // a pcap filter expression ("" = everything)
  int snaplen = 262144;
  std::uint64_t max_bytes = 100ull * 1024 * 1024;  // stop writing (not counting) past this size
  std::string label;            // event source "net:LABEL"
};

struct CaptureSummary {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t written = 0;           // packets written to the file
  std::uint64_t tcp_retransmissions = 0;
  std::uint64_t tcp_resets = 0;
  bool truncated = false;              // the size cap was reached
  nlohmann::json to_json() const;
};

class Capture {
 public:
  // Opens the interface and starts capturing; throws on a bad filter, interface or file.
  explicit Capture(CaptureOptions options, EventLog* events = nullptr);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Stops, flushes the file, emits "netem.capture" and returns the summary.
  CaptureSummary stop();

  struct State;

 private:
  CaptureOptions options_;
  EventLog* events_;
  std::unique_ptr<State> state_;
  std::thread worker_;
  bool stopped_ = false;
};

}  // namespace faultline::netem
