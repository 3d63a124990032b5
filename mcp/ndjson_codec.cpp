#include "mcp/ndjson_codec.hpp"

#include <cstring>

namespace faultline::mcp {
namespace {

bool is_blank(std::string_view line) {
  for (const char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

NdjsonDecoder::NdjsonDecoder(NdjsonOptions options) : options_(options) {
  if (options_.max_frame_bytes == 0) options_.max_frame_bytes = 1;
}

void NdjsonDecoder::feed(std::string_view chunk, std::vector<Frame>& out) {
  const char* const base = chunk.data();
  std::size_t pos = 0;
  while (pos < chunk.size()) {
    const void* found = std::memchr(base + pos, '\n', chunk.size() - pos);
    if (!found) {
      // No newline: keep the tail, up to the frame limit.
      const std::size_t tail = chunk.size() - pos;
      if (!discarding_) {
        if (pending_.empty()) pending_offset_ = stream_pos_ + pos;
        const std::size_t room = options_.max_frame_bytes - pending_.size();
        if (tail > room) {
          pending_.append(base + pos, room);
          report_oversized(out);
        } else {
          pending_.append(base + pos, tail);
        }
      }
      break;
    }
    const std::size_t newline = static_cast<std::size_t>(static_cast<const char*>(found) - base);
    const std::size_t piece = newline - pos;
    if (discarding_) {
      discarding_ = false;  // resynchronized
    } else if (pending_.empty()) {
      // The common case: a whole line inside this chunk, decoded without buffering.
      if (piece > options_.max_frame_bytes) {
        pending_offset_ = stream_pos_ + pos;
        pending_.assign(base + pos, options_.max_frame_bytes);
        report_oversized(out);
        discarding_ = false;
      } else {
        decode_line(std::string_view(base + pos, piece), stream_pos_ + pos, true, out);
      }
    } else if (pending_.size() + piece > options_.max_frame_bytes) {
      pending_.append(base + pos, options_.max_frame_bytes - pending_.size());
      report_oversized(out);
      discarding_ = false;
    } else {
      pending_.append(base + pos, piece);
      decode_line(pending_, pending_offset_, true, out);
      pending_.clear();
    }
    pos = newline + 1;
  }
  stream_pos_ += chunk.size();
}

void NdjsonDecoder::finish(std::vector<Frame>& out) {
  if (!pending_.empty() && !discarding_) {
    const std::size_t first = out.size();
    decode_line(pending_, pending_offset_, false, out);
    for (std::size_t i = first; i < out.size(); ++i) {
      if (out[i].problem && !out[i].parsed) {
        out[i].problem->reason = "stream ended inside this line; " + out[i].problem->reason;
      }
    }
  }
  pending_.clear();
  discarding_ = false;
}

void NdjsonDecoder::report_oversized(std::vector<Frame>& out) {
  Frame& frame = out.emplace_back();
  frame.raw = std::move(pending_);  // the first max_frame_bytes bytes, for the record
  frame.offset = pending_offset_;
  frame.problem = FrameProblem{"line longer than " + std::to_string(options_.max_frame_bytes) +
                                   " bytes; skipped up to the next newline",
                               options_.max_frame_bytes};
  pending_.clear();
  discarding_ = true;
  ++oversized_lines_;
}

void NdjsonDecoder::decode_line(std::string_view line, std::uint64_t line_offset, bool terminated,
                                std::vector<Frame>& out) {
  LineEnd end = terminated ? LineEnd::lf : LineEnd::none;
  if (terminated && !line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
    end = LineEnd::crlf;
  }
  if (is_blank(line)) {
    if (!options_.report_blank_lines) return;
    Frame& frame = out.emplace_back();
    frame.raw.assign(line);
    frame.offset = line_offset;
    frame.line_end = end;
    frame.problem = FrameProblem{"blank line", 0};
    return;
  }
  const std::size_t first = out.size();
  decode_json_text(line, line_offset, out, options_.limits);
  for (std::size_t i = first; i < out.size(); ++i) out[i].line_end = end;
}

void append_batch_text(std::span<const Frame> members, std::string& out) {
  bool complete = !members.empty() && members.front().batch && members.front().batch->text &&
                  members.size() == members.front().batch->size;
  if (complete) {
    const auto& text = members.front().batch->text;
    for (std::size_t i = 0; i < members.size() && complete; ++i) {
      const Frame& member = members[i];
      complete = member.batch && member.batch->text == text && member.batch->index == i &&
                 member.batch->offset_in_batch + member.raw.size() <= text->size() &&
                 text->compare(member.batch->offset_in_batch, member.raw.size(), member.raw) == 0;
    }
    if (complete) {
      out += *text;
      return;
    }
  }
  out.push_back('[');
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i) out.push_back(',');
    out += members[i].raw;
  }
  out.push_back(']');
}

void append_ndjson_line(const Frame& frame, std::string& out) {
  out += frame.raw;
  out += frame.line_end == LineEnd::crlf ? "\r\n" : "\n";
}

void append_ndjson_batch(std::span<const Frame> members, std::string& out) {
  append_batch_text(members, out);
  const LineEnd end = members.empty() ? LineEnd::lf : members.front().line_end;
  out += end == LineEnd::crlf ? "\r\n" : "\n";
}

}  // namespace faultline::mcp

