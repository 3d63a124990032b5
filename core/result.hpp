#pragma once
// Errors as values. An operation that can fail for reasons its caller must
// handle (a bad fault, a link that does not exist) returns Result<T>: the value,
// or an Error that says what kind of failure it was, where (a JSON pointer into
// the request, or an option) and what. Callers choose what a kind means to them:
// the admin API turns kinds into HTTP statuses, a scenario step into a verdict.

#include <string>
#include <utility>
#include <variant>

#include "core/errors.hpp"

namespace faultline {

struct Error {
  enum class Kind {
    invalid,    // the request is wrong: a bad value, an unknown field (the pointer names it)
    not_found,  // it names a link or a fault that does not exist
    conflict,   // it would create a name that exists
    failed,     // it was valid but could not be carried out (a port in use)
  };
  Kind kind = Kind::invalid;
  std::string pointer;  // where: "/attributes/latency", "--fault latency,..."; "" for the whole request
  std::string message;  // what, without the place

  // "pointer: message", or the message alone.
  std::string text() const { return pointer.empty() ? message : pointer + ": " + message; }
  static Error from(const ConfigError& e) { return {Kind::invalid, e.where(), e.message()}; }
};

std::string_view to_string(Error::Kind kind);

// An Error thrown through code that is simpler with exceptions, and turned back
// into a value at the API's edge.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.text()), error_(std::move(e)) {}
  ErrorException(Error::Kind kind, std::string message) : ErrorException(Error{kind, "", std::move(message)}) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit, so `return value;` reads naturally
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  // The value, or the error thrown as ErrorException (for code that cannot go on without it).
  T& expect() {
    if (!ok()) throw ErrorException(error());
    return value();
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  void expect() const {
    if (!ok_) throw ErrorException(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

// Runs `f`, turning the exceptions of validation and start-up into an Error:
// ConfigError is invalid (with its pointer), ErrorException keeps its error,
// StartupError failed.
template <class F>
auto capture_error(F&& f) -> Result<decltype(f())> {
  try {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      return {};
    } else {
      return f();
    }
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const ConfigError& e) {
    return Error::from(e);
  } catch (const StartupError& e) {
    return Error{Error::Kind::failed, "", e.what()};
  }
}

}  // namespace faultline
