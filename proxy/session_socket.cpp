#include "proxy/session_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

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

boost::asio::awaitable<boost::system::error_code> connect_upstream(
    boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::resolver::results_type& endpoints) {
  boost::system::error_code last = boost::asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    const auto endpoint = entry.endpoint();
    boost::system::error_code ignored;
    socket.close(ignored);
    boost::system::error_code ec;
    socket.open(endpoint.protocol(), ec);
    if (ec == boost::asio::error::address_family_not_supported) {  // say, IPv6 off: try the next address
      last = ec;
      continue;
    }
    if (ec) co_return ec;  // out of descriptors: the next address would fail the same way
    auto [connect_ec] = co_await socket.async_connect(endpoint, boost::asio::as_tuple(boost::asio::use_awaitable));
    if (!connect_ec) co_return connect_ec;
    last = connect_ec;
    if (!socket.is_open()) break;  // closed while connecting: the session is going away
  }
  co_return last;
}

}  // namespace faultline
