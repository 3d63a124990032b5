#include "mcp/sse_codec.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace faultline::mcp {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

void append_single_line(std::string_view value, std::string& out) {
  for (const char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
}

}  // namespace

SseDecoder::SseDecoder(SseOptions options) : options_(options) {
  if (options_.max_event_bytes == 0) options_.max_event_bytes = 1;
}

void SseDecoder::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  std::size_t pos = 0;
  while (pos < chunk.size()) {
    if (skipping_) {
      feed_skipping(chunk, pos);
      continue;
    }
    if (buffer_.empty()) buffer_offset_ = stream_pos_ + pos;
    buffer_.append(chunk.data() + pos, chunk.size() - pos);
    pos = chunk.size();

    while (scan_pos_ < buffer_.size()) {
      if (skip_lf_) {  // the second half of a CRLF split across chunks
        skip_lf_ = false;
        if (buffer_[scan_pos_] == '\n') {
          line_start_ = ++scan_pos_;
          // The CR ended the previous block: its LF is passed on as a block of its own,
          // so block sizes do not depend on where the chunks were cut.
          if (block_start_ + 1 == scan_pos_) emit(scan_pos_, out);
          continue;
        }
      }
      const char* const from = buffer_.data() + scan_pos_;
      const std::size_t left = buffer_.size() - scan_pos_;
      const auto* lf = static_cast<const char*>(std::memchr(from, '\n', left));
      const auto* cr = static_cast<const char*>(std::memchr(from, '\r', lf ? static_cast<std::size_t>(lf - from) : left));
      const char* const eol_ptr = cr ? cr : lf;
      if (!eol_ptr) {
        scan_pos_ = buffer_.size();
        break;
      }
      const std::size_t eol = static_cast<std::size_t>(eol_ptr - buffer_.data());
      std::size_t next = eol + 1;
      if (buffer_[eol] == '\r') {
        if (next < buffer_.size()) {
          if (buffer_[next] == '\n') ++next;
        } else {
          skip_lf_ = true;
        }
      }
      std::string_view line(buffer_.data() + line_start_, eol - line_start_);
      if (first_line_) {
        first_line_ = false;
        if (line.starts_with(kBom)) line.remove_prefix(kBom.size());
      }
      scan_pos_ = next;
      line_start_ = next;
      if (line.empty()) {
        emit(next, out);
      } else {
        process_line(line);
      }
    }

    // Drop what was emitted, once per chunk, then enforce the block size limit.
    if (block_start_ > 0) {
      buffer_.erase(0, block_start_);
      line_start_ -= block_start_;
      scan_pos_ -= block_start_;
      buffer_offset_ += block_start_;
      block_start_ = 0;
    }
    if (buffer_.size() > options_.max_event_bytes) {
      SseEvent& event = out.emplace_back(std::move(current_));
      current_ = SseEvent{};
      event.raw.assign(buffer_, 0, options_.max_event_bytes);
      event.offset = buffer_offset_;
      if (event.has_data) event.data.pop_back();
      mark_oversized(event);
      skipped_bytes_ += buffer_.size() - options_.max_event_bytes;
      skipping_ = true;
      skipping_line_empty_ = line_start_ == buffer_.size();
      buffer_.clear();
      line_start_ = scan_pos_ = 0;
    }
  }
  stream_pos_ += chunk.size();
}

// Drops bytes of an oversized block until the blank line that ends it.
void SseDecoder::feed_skipping(std::string_view chunk, std::size_t& pos) {
  while (pos < chunk.size()) {
    const char c = chunk[pos++];
    ++skipped_bytes_;
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      if (skipping_line_empty_) {
        skipping_ = false;
        return;
      }
      skipping_line_empty_ = true;
    } else {
      skipping_line_empty_ = false;
    }
  }
}

void SseDecoder::mark_oversized(SseEvent& event) {
  // Fields of a block that is dropped do not count, however the chunks were cut.
  last_event_id_ = id_before_block_;
  retry_ = retry_before_block_;
  event.complete = false;
  event.problem =
      "event longer than " + std::to_string(options_.max_event_bytes) + " bytes; skipped up to the next blank line";
}

void SseDecoder::emit(std::size_t end, std::vector<SseEvent>& out) {
  SseEvent& event = out.emplace_back(std::move(current_));
  current_ = SseEvent{};
  const std::size_t size = end - block_start_;
  // The size limit ignores the LF of a final CRLF: when the chunks are cut between
  // that CR and LF, the LF goes to the next block, and the verdict must not change.
  const bool final_crlf = size >= 2 && buffer_[end - 1] == '\n' && buffer_[end - 2] == '\r';
  const bool oversized = size - (final_crlf ? 1 : 0) > options_.max_event_bytes;
  event.raw.assign(buffer_, block_start_, oversized ? options_.max_event_bytes : size);
  event.offset = buffer_offset_ + block_start_;
  if (event.has_data) event.data.pop_back();  // the LF after the last data line
  if (oversized) {  // arrived whole in one chunk; same verdict as when split
    mark_oversized(event);
    skipped_bytes_ += size - options_.max_event_bytes;
  }
  id_before_block_ = last_event_id_;
  retry_before_block_ = retry_;
  block_start_ = end;
}

void SseDecoder::process_line(std::string_view line) {
  if (line.front() == ':') {
    current_.comments.emplace_back(line.substr(1));
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    current_.data.append(value);
    current_.data.push_back('\n');
    current_.has_data = true;
  } else if (field == "event") {
    current_.type.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      current_.id.emplace(value);
      last_event_id_.assign(value);
    }
  } else if (field == "retry") {
    std::uint64_t millis = 0;
    const auto* const end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, millis);
    if (!value.empty() && ec == std::errc() && ptr == end && value.front() != '-' && value.front() != '+') {
      current_.retry = millis;
      retry_ = millis;
    }
  }
  // Any other field is ignored, as a browser does.
}

void SseDecoder::finish(std::vector<SseEvent>& out) {
  if (!skipping_ && !buffer_.empty()) {
    SseEvent& event = out.emplace_back(std::move(current_));
    event.raw = std::move(buffer_);
    event.offset = buffer_offset_;
    if (event.has_data) event.data.pop_back();
    event.complete = false;
    event.problem = "stream ended inside this event";
  }
  current_ = SseEvent{};
  buffer_.clear();
  block_start_ = line_start_ = scan_pos_ = 0;
  skipping_ = false;
  skip_lf_ = false;
}

void append_sse_event(const SseEvent& event, std::string& out) {
  for (const auto& comment : event.comments) {
    out.push_back(':');
    append_single_line(comment, out);
    out.push_back('\n');
  }
  if (!event.type.empty()) {
    out += "event: ";
    append_single_line(event.type, out);
    out.push_back('\n');
  }
  if (event.id) {
    out += event.id->empty() ? "id" : "id: ";
    append_single_line(*event.id, out);
    out.push_back('\n');
  }
  if (event.retry) {
    out += "retry: ";
    out += std::to_string(*event.retry);
    out.push_back('\n');
  }
  if (event.has_data) {
    std::string_view rest = event.data;
    while (true) {
      const auto eol = rest.find_first_of("\r\n");
      out += "data: ";
      out.append(rest.substr(0, eol));
      out.push_back('\n');
      if (eol == std::string_view::npos) break;
      const std::size_t skip = rest[eol] == '\r' && eol + 1 < rest.size() && rest[eol + 1] == '\n' ? 2 : 1;
      rest.remove_prefix(eol + skip);
    }
  }
  out.push_back('\n');
}

void decode_sse_frames(const SseEvent& event, std::vector<Frame>& out, const DecodeLimits& limits) {
  if (!event.complete || !event.has_data || event.data.empty() || event.event_type() != "message") return;
  decode_json_text(event.data, event.offset, out, limits);
}

}  // namespace faultline::mcp
