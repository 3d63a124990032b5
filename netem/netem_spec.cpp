#include "netem/netem_spec.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/errors.hpp"

namespace faultline::netem {

namespace {

constexpr std::int64_t kMaxDelayUs = 3600LL * 1000 * 1000;  // one hour

// Splits "100ms" into 100 and "ms"; false when there is no leading number.
bool split_number(const std::string& text, double& value, std::string& unit) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  value = std::strtod(begin, &end);
  if (end == begin || errno == ERANGE || !std::isfinite(value)) return false;
  // strtod accepts hex, inf and nan; a unit must be letters or '%' only.
  unit.assign(end);
  for (char c : unit)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%')) return false;
  for (char c : std::string(begin, static_cast<std::size_t>(end - begin)))
    if (c == 'x' || c == 'X' || c == 'p' || c == 'P') return false;
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

std::string fmt_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string fmt_time(std::int64_t us) {
  if (us % 1000000 == 0 && us != 0) return std::to_string(us / 1000000) + "s";
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

std::string fmt_pct(double p) { return fmt_number(p) + "%"; }

std::string fmt_rate(std::uint64_t bytes_per_s) {
  const std::uint64_t bits = bytes_per_s * 8;
  if (bits % 1000000000 == 0) return std::to_string(bits / 1000000000) + "gbit";
  if (bits % 1000000 == 0) return std::to_string(bits / 1000000) + "mbit";
  if (bits % 1000 == 0) return std::to_string(bits / 1000) + "kbit";
  return std::to_string(bytes_per_s) + "bps";
}

bool is_number_word(const std::vector<std::string>& words, std::size_t i) {
  if (i >= words.size()) return false;
  double v;
  std::string unit;
  return split_number(words[i], v, unit);
}

// Reads words[i] as a number with no unit, an integer within [lo, hi].
std::int64_t parse_integer(const std::string& text, const std::string& what, std::int64_t lo, std::int64_t hi) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit) || !unit.empty() || v != std::floor(v))
    throw ConfigError(what, "'" + text + "' is not a whole number");
  if (v < static_cast<double>(lo) || v > static_cast<double>(hi))
    throw ConfigError(what, "'" + text + "' is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<std::int64_t>(v);
}

class Words {
 public:
  explicit Words(const std::vector<std::string>& words) : words_(words) {}
  bool done() const { return i_ >= words_.size(); }
  const std::string& peek() const { return words_[i_]; }
  std::string next(const std::string& what) {
    if (done()) throw ConfigError(what, "a value is missing after '" + what + "'");
    return words_[i_++];
  }
  bool number_next() const { return is_number_word(words_, i_); }
  bool word_next(const char* w) const { return !done() && lower(words_[i_]) == w; }

 private:
  const std::vector<std::string>& words_;
  std::size_t i_ = 0;
};

Chance read_chance(Words& w, const std::string& what) {
  Chance c;
  c.percent = parse_percent(w.next(what), what);
  if (w.number_next()) c.correlation = parse_percent(w.next(what), what + " correlation");
  return c;
}

}  // namespace

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

const char* distribution_name(Distribution d) {
  switch (d) {
    case Distribution::kUniform: return "uniform";
    case Distribution::kNormal: return "normal";
    case Distribution::kPareto: return "pareto";
    case Distribution::kParetoNormal: return "paretonormal";
  }
  return "uniform";
}

std::int64_t parse_time_us(const std::string& text, const std::string& what) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit))
    throw ConfigError(what, "'" + text + "' is not a time (write e.g. 100ms, 500us or 1.5s)");
  unit = lower(unit);
  double scale;
  if (unit == "us" || unit == "usec") scale = 1;
  else if (unit == "ms" || unit == "msec") scale = 1e3;
  else if (unit == "s" || unit == "sec") scale = 1e6;
  else if (unit.empty()) throw ConfigError(what, "'" + text + "' has no unit (write e.g. 100ms, 500us or 1.5s)");
  else throw ConfigError(what, "'" + text + "' has an unknown time unit '" + unit + "' (us, ms or s)");
  if (v < 0) throw ConfigError(what, "'" + text + "' is negative; a time is 0 or more");
  const double us = v * scale;
  if (us > static_cast<double>(kMaxDelayUs)) throw ConfigError(what, "'" + text + "' is more than one hour");
  return static_cast<std::int64_t>(std::llround(us));
}

double parse_percent(const std::string& text, const std::string& what) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit) || !(unit.empty() || unit == "%"))
    throw ConfigError(what, "'" + text + "' is not a percentage (write e.g. 10%)");
  if (v < 0 || v > 100) throw ConfigError(what, "'" + text + "' is out of range 0..100%");
  return v;
}

std::uint64_t parse_rate_bytes(const std::string& text, const std::string& what) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit))
    throw ConfigError(what, "'" + text + "' is not a rate (write e.g. 1mbit, 100kbit or 125kbps)");
  unit = lower(unit);
  double bytes;
  if (unit == "bit") bytes = v / 8;
  else if (unit == "kbit") bytes = v * 1e3 / 8;
  else if (unit == "mbit") bytes = v * 1e6 / 8;
  else if (unit == "gbit") bytes = v * 1e9 / 8;
  else if (unit == "bps") bytes = v;
  else if (unit == "kbps") bytes = v * 1e3;
  else if (unit == "mbps") bytes = v * 1e6;
  else if (unit == "gbps") bytes = v * 1e9;
  else if (unit.empty()) throw ConfigError(what, "'" + text + "' has no unit (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps are bytes)");
  else throw ConfigError(what, "'" + text + "' has an unknown rate unit '" + unit + "'");
  if (v <= 0) throw ConfigError(what, "'" + text + "' must be more than 0");
  if (bytes < 1) throw ConfigError(what, "'" + text + "' is less than 8bit (one byte per second)");
  if (bytes > 1e13) throw ConfigError(what, "'" + text + "' is more than 80tbit");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::uint64_t parse_size_bytes(const std::string& text, const std::string& what) {
  double v;
  std::string unit;
  if (!split_number(text, v, unit)) throw ConfigError(what, "'" + text + "' is not a size (write e.g. 1500, 32k or 1mb)");
  unit = lower(unit);
  double scale;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb") scale = 1024;
  else if (unit == "m" || unit == "mb") scale = 1024.0 * 1024;
  else throw ConfigError(what, "'" + text + "' has an unknown size unit '" + unit + "' (b, k, m)");
  if (v < 0) throw ConfigError(what, "'" + text + "' is negative");
  const double bytes = v * scale;
  if (bytes > 4294967295.0) throw ConfigError(what, "'" + text + "' is more than 4 GiB");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

bool NetemSpec::needs_netem() const {
  return delay_us > 0 || jitter_us > 0 || loss || loss_ge || loss_4state || duplicate || corrupt || reorder ||
         rate_bytes_per_s > 0 || limit_set || partition;
}

NetemSpec parse_netem_spec(const std::vector<std::string>& input) {
  NetemSpec s;
  Words w(input);
  bool delay_seen = false;
  while (!w.done()) {
    const std::string word = lower(w.next("netem"));
    if (word == "delay") {
      if (delay_seen) throw ConfigError("delay", "given twice");
      delay_seen = true;
      s.delay_us = parse_time_us(w.next("delay"), "delay");
      if (w.number_next()) s.jitter_us = parse_time_us(w.next("jitter"), "jitter");
      if (w.number_next()) s.delay_correlation = parse_percent(w.next("delay correlation"), "delay correlation");
    } else if (word == "distribution") {
      const std::string d = lower(w.next("distribution"));
      if (d == "uniform") s.distribution = Distribution::kUniform;
      else if (d == "normal") s.distribution = Distribution::kNormal;
      else if (d == "pareto") s.distribution = Distribution::kPareto;
      else if (d == "paretonormal") s.distribution = Distribution::kParetoNormal;
      else throw ConfigError("distribution", "'" + d + "' is not one of uniform, normal, pareto, paretonormal");
      s.distribution_set = true;
    } else if (word == "loss" || word == "drop") {
      if (s.loss || s.loss_ge || s.loss_4state) throw ConfigError("loss", "given twice");
      if (w.word_next("random")) w.next("loss");
      if (w.word_next("gemodel")) {
        w.next("loss");
        GilbertElliott ge;
        ge.p = parse_percent(w.next("loss gemodel"), "loss gemodel p");
        ge.r = 100 - ge.p;
        if (w.number_next()) ge.r = parse_percent(w.next("loss gemodel r"), "loss gemodel r");
        if (w.number_next()) ge.bad_loss = parse_percent(w.next("loss gemodel bad-state loss"), "loss gemodel bad-state loss");
        if (w.number_next()) ge.good_loss = parse_percent(w.next("loss gemodel good-state loss"), "loss gemodel good-state loss");
        s.loss_ge = ge;
      } else if (w.word_next("state")) {
        w.next("loss");
        FourState fs;
        fs.p13 = parse_percent(w.next("loss state p13"), "loss state p13");
        fs.p31 = 100 - fs.p13;
        if (w.number_next()) fs.p31 = parse_percent(w.next("loss state p31"), "loss state p31");
        if (w.number_next()) fs.p32 = parse_percent(w.next("loss state p32"), "loss state p32");
        if (w.number_next()) fs.p23 = parse_percent(w.next("loss state p23"), "loss state p23");
        if (w.number_next()) fs.p14 = parse_percent(w.next("loss state p14"), "loss state p14");
        s.loss_4state = fs;
      } else {
        s.loss = read_chance(w, "loss");
      }
    } else if (word == "duplicate") {
      s.duplicate = read_chance(w, "duplicate");
    } else if (word == "corrupt") {
      s.corrupt = read_chance(w, "corrupt");
    } else if (word == "reorder") {
      s.reorder = read_chance(w, "reorder");
    } else if (word == "gap") {
      s.gap = static_cast<std::uint32_t>(parse_integer(w.next("gap"), "gap", 1, 0xffffffffLL));
    } else if (word == "rate") {
      s.rate_bytes_per_s = parse_rate_bytes(w.next("rate"), "rate");
      if (w.number_next()) s.packet_overhead = static_cast<std::int32_t>(parse_integer(w.next("rate packet overhead"), "rate packet overhead", -65535, 65535));
      if (w.number_next()) s.cell_size = static_cast<std::uint32_t>(parse_integer(w.next("rate cell size"), "rate cell size", 0, 65535));
      if (w.number_next()) s.cell_overhead = static_cast<std::int32_t>(parse_integer(w.next("rate cell overhead"), "rate cell overhead", -65535, 65535));
    } else if (word == "limit") {
      s.limit = static_cast<std::uint32_t>(parse_integer(w.next("limit"), "limit", 1, 0xffffffffLL));
      s.limit_set = true;
    } else if (word == "bandwidth") {
      s.bandwidth_bytes_per_s = parse_rate_bytes(w.next("bandwidth"), "bandwidth");
      while (w.word_next("burst") || w.word_next("latency")) {
        const std::string key = lower(w.next("bandwidth"));
        if (key == "burst") {
          s.burst_bytes = static_cast<std::uint32_t>(parse_size_bytes(w.next("bandwidth burst"), "bandwidth burst"));
          if (s.burst_bytes < 1600) throw ConfigError("bandwidth burst", "must be at least 1600 bytes (one full-size packet)");
        } else {
          s.bandwidth_latency_us = parse_time_us(w.next("bandwidth latency"), "bandwidth latency");
          if (s.bandwidth_latency_us == 0) throw ConfigError("bandwidth latency", "must be more than 0");
        }
      }
    } else if (word == "partition") {
      s.partition = true;
    } else {
      throw ConfigError("netem", "unknown parameter '" + word +
                                     "' (delay, distribution, loss, duplicate, corrupt, reorder, gap, rate, limit, "
                                     "bandwidth, partition)");
    }
  }
  if (s.distribution_set && s.distribution != Distribution::kUniform && s.jitter_us == 0)
    throw ConfigError("distribution", "needs a jitter: write delay TIME JITTER");
  if (s.jitter_us > 0 && s.delay_us == 0) throw ConfigError("jitter", "needs a delay to vary around");
  if (s.reorder && s.delay_us == 0)
    throw ConfigError("reorder", "needs a delay: reordered packets are the ones sent without it");
  if (s.gap > 0 && !s.reorder) throw ConfigError("gap", "only means something with reorder");
  if (s.reorder && s.gap == 0) s.gap = 1;
  if (s.partition && (s.loss || s.loss_ge || s.loss_4state)) throw ConfigError("partition", "drops every packet already; leave out loss");
  if (input.empty()) throw ConfigError("netem", "no parameters given (e.g. delay 100ms loss 10%)");
  if (s.needs_tbf() && s.burst_bytes == 0) {
    // A bucket of at least 10 ms at the given rate, and never under two full packets.
    const std::uint64_t ten_ms = s.bandwidth_bytes_per_s / 100;
    s.burst_bytes = static_cast<std::uint32_t>(std::max<std::uint64_t>(3200, std::min<std::uint64_t>(ten_ms, 0xffffffu)));
  }
  return s;
}

std::string NetemSpec::describe() const {
  std::vector<std::string> out;
  auto add = [&](std::string v) { out.push_back(std::move(v)); };
  if (delay_us > 0 || jitter_us > 0) {
    add("delay");
    add(fmt_time(delay_us));
    if (jitter_us > 0) add(fmt_time(jitter_us));
    if (delay_correlation > 0) add(fmt_pct(delay_correlation));
  }
  if (distribution_set) {
    add("distribution");
    add(distribution_name(distribution));
  }
  if (partition) add("partition");
  if (loss) {
    add("loss");
    add(fmt_pct(loss->percent));
    if (loss->correlation > 0) add(fmt_pct(loss->correlation));
  }
  if (loss_ge) {
    for (auto v : {std::string("loss"), std::string("gemodel"), fmt_pct(loss_ge->p), fmt_pct(loss_ge->r),
                   fmt_pct(loss_ge->bad_loss), fmt_pct(loss_ge->good_loss)})
      add(v);
  }
  if (loss_4state) {
    for (auto v : {std::string("loss"), std::string("state"), fmt_pct(loss_4state->p13), fmt_pct(loss_4state->p31),
                   fmt_pct(loss_4state->p32), fmt_pct(loss_4state->p23), fmt_pct(loss_4state->p14)})
      add(v);
  }
  auto chance = [&](const char* name, const std::optional<Chance>& c) {
    if (!c) return;
    add(name);
    add(fmt_pct(c->percent));
    if (c->correlation > 0) add(fmt_pct(c->correlation));
  };
  chance("duplicate", duplicate);
  chance("corrupt", corrupt);
  chance("reorder", reorder);
  if (reorder && gap > 0) {
    add("gap");
    add(std::to_string(gap));
  }
  if (rate_bytes_per_s > 0) {
    add("rate");
    add(fmt_rate(rate_bytes_per_s));
    if (packet_overhead != 0 || cell_size != 0 || cell_overhead != 0) {
      add(std::to_string(packet_overhead));
      add(std::to_string(cell_size));
      add(std::to_string(cell_overhead));
    }
  }
  if (limit_set) {
    add("limit");
    add(std::to_string(limit));
  }
  if (bandwidth_bytes_per_s > 0) {
    add("bandwidth");
    add(fmt_rate(bandwidth_bytes_per_s));
    add("burst");
    add(std::to_string(burst_bytes));
    add("latency");
    add(fmt_time(bandwidth_latency_us));
  }
  std::string text;
  for (const auto& word : out) text += (text.empty() ? "" : " ") + word;
  return text;
}

nlohmann::json NetemSpec::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["spec"] = describe();
  if (delay_us > 0) j["delay_ms"] = static_cast<double>(delay_us) / 1000.0;
  if (jitter_us > 0) j["jitter_ms"] = static_cast<double>(jitter_us) / 1000.0;
  if (distribution_set) j["distribution"] = distribution_name(distribution);
  if (loss) j["loss_percent"] = loss->percent;
  if (partition) j["partition"] = true;
  if (duplicate) j["duplicate_percent"] = duplicate->percent;
  if (corrupt) j["corrupt_percent"] = corrupt->percent;
  if (reorder) j["reorder_percent"] = reorder->percent;
  if (rate_bytes_per_s > 0) j["rate_bytes_per_s"] = rate_bytes_per_s;
  if (bandwidth_bytes_per_s > 0) j["bandwidth_bytes_per_s"] = bandwidth_bytes_per_s;
  return j;
}

}  // namespace faultline::netem
