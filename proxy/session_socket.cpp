#include "proxy/session_socket.hpp"

namespace faultline {

std::string endpoint_text(const boost::asio::ip::tcp::socket& s, bool remote) {
  boost::system::error_code ec;
  const auto ep = remote ? s.remote_endpoint(ec) : s.local_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

bool is_reset(const boost::system::error_code& ec) {
  return ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe;
}

void close_socket(boost::asio::ip::tcp::socket& socket, CloseMode mode) {
  if (!socket.is_open()) return;
  boost::system::error_code ignored;
  if (mode == CloseMode::rst) {
    socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
  } else {
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  }
  socket.close(ignored);
}

}  // namespace faultline
