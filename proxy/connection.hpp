#pragma once
// One client connection through a link: the client socket, the upstream
// socket, and a Pipe per direction. A Pipe's reader stamps chunks as they
// arrive and queues them; its pump, started when there is something to send
// and gone when the queue is empty, takes them through the direction's fault
// chain to the other socket. Faults attach and detach on a live connection;
// a chunk a fault holds when it goes is passed on, not dropped. An idle
// connection holds no buffer and runs only its two readers.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "faults/byte_chain.hpp"
#include "faults/byte_fault_spec.hpp"
#include "proxy/attached_fault.hpp"
#include "proxy/link_session.hpp"
#include "proxy/wake_signal.hpp"

namespace faultline {

class Link;
class Connection;

class Pipe final : public ChainSink {
 public:
  Pipe(Connection& conn, Direction dir, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to);

  asio::awaitable<void> read_loop();
  void attach(std::shared_ptr<const FaultSpec> spec, std::optional<std::size_t> position = std::nullopt);
  // Returns the position the fault had, if it was attached here.
  std::optional<std::size_t> detach(const FaultSpec& spec);
  void wake();  // on close: let waiting loops see it
  const std::vector<std::shared_ptr<AttachedByteFault>>& attached() const { return attached_; }

  asio::awaitable<void> write(Chunk chunk) override;
  asio::awaitable<void> end(StreamEnd end) override;

  Direction direction() const { return dir_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct Item {
    Chunk chunk;
    std::optional<StreamEnd> end;
  };
  void rebuild_chain();
  void enqueue(Item item);
  // Writes the chunk at once if the socket takes it all; else keeps the rest in `chunk`.
  bool write_now(Chunk& chunk);
  void count_written(std::size_t n);
  // Reads what is there and writes it on at once, queueing what the peer does
  // not take. The bytes read, or nothing when there were none (or on `ec`).
  std::optional<std::size_t> relay_now(boost::system::error_code& ec);
  std::size_t queue_limit() const;
  asio::awaitable<void> pump_loop();

  Connection& conn_;
  Direction dir_;
  asio::ip::tcp::socket& from_;
  asio::ip::tcp::socket& to_;
  std::vector<Item> queue_;  // taken from queue_[head_]; allocates nothing while idle
  std::size_t head_ = 0;
  std::size_t queued_bytes_ = 0;
  bool pump_running_ = false;
  WakeSignal space_ready_;
  std::vector<std::shared_ptr<AttachedByteFault>> attached_;
  std::shared_ptr<FaultChain> chain_;
  std::uint64_t bytes_ = 0;
};

class Connection final : public LinkSession, public LinkFaultHost, public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(SessionStart start);
  ~Connection() override;

  // LinkSession. start() attaches the link's faults, opens the upstream and
  // starts both pipes. Frame faults are not attached here (a tcp link refuses them).
  asio::any_io_executor executor() override { return client_.get_executor(); }
  void start(std::vector<std::shared_ptr<const FaultSpec>> faults) override;
  void attach(const FaultPtr& spec) override;
  void detach(const FaultPtr& spec) override;
  void replace(const FaultPtr& before, const FaultPtr& after) override;
  void shut_down(const std::string& reason) override;
  // Detaches every fault (what they hold is passed on), stops reading both
  // sockets (SHUT_RD: the readers see end-of-stream), lets both pipes deliver
  // what is queued and pass the FIN on, and closes when both are done or
  // `grace` has passed.
  void drain(std::chrono::milliseconds grace, const std::string& reason) override;

  // Who ended the connection first and how, for conn.close.
  enum class By { client, server, proxy };
  void close(CloseMode mode, By by, std::string how, std::string reason);

  // A pipe delivered its end (FIN) to the far side.
  void pipe_finished(Direction dir);
  // A pipe's reader saw the stream end.
  void note_end(Direction dir, const StreamEnd& end);

  // FaultHost
  Link& link() override { return *link_; }
  std::uint64_t number() const override { return number_; }
  bool closing() const override { return closing_; }
  void close_for_fault(CloseMode mode, std::string reason) override {
    close(mode, By::proxy, "fault", std::move(reason));
  }
  // Runs a coroutine of this connection; an exception in it closes the connection.
  void spawn(asio::awaitable<void> work);

 private:
  asio::awaitable<void> run();
  Pipe& pipe(Direction d) { return d == Direction::upstream ? up_ : down_; }
  void emit_close();

  std::shared_ptr<Link> link_;
  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket server_;
  std::uint64_t number_;
  HostPort upstream_;
  Pipe up_;
  Pipe down_;
  std::vector<std::shared_ptr<const FaultSpec>> initial_faults_;
  Clock::time_point opened_at_;
  std::string client_address_;
  bool closing_ = false;
  bool draining_ = false;
  bool upstream_connected_ = false;
  std::unique_ptr<asio::steady_timer> drain_timer_;
  bool close_emitted_ = false;
  int pipes_finished_ = 0;
  // First end seen, for the close record.
  std::optional<By> first_by_;
  std::string first_how_;
  std::string close_reason_;
};

}  // namespace faultline
