#include <spdlog/spdlog.h>

#include <boost/system/system_error.hpp>

#include "cli/commands.hpp"
#include "core/errors.hpp"
#include "core/result.hpp"

namespace faultline::cli {

int run_guarded(const char* command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const ConfigError& e) {
    spdlog::error("{}: {}", command, e.what());
    return kExitUsage;
  } catch (const StartupError& e) {
    spdlog::error("{}: {}", command, e.what());
    return kExitStartup;
  } catch (const ErrorException& e) {
    spdlog::error("{}: {}", command, e.what());
    switch (e.error().kind) {
      case Error::Kind::invalid:
      case Error::Kind::not_found:
      case Error::Kind::conflict: return kExitUsage;
      case Error::Kind::failed: return kExitStartup;
    }
    return kExitRuntime;
  } catch (const boost::system::system_error& e) {
    spdlog::error("{}: {}", command, e.what());
    return kExitRuntime;
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", command, e.what());
    return kExitRuntime;
  }
}

}  // namespace faultline::cli
