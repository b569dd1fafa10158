// Errors as values: Result<T> holds either a value or an Error with a human-readable message.
// Used wherever a failure is expected (bad input, a peer that does not answer); exceptions stay for
// the unexpected.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace gatehouse {

struct Error {
  std::string message;
  int code = 0;           // optional: the SMTP reply code this error maps to (501, 555, …)
  std::string enhanced;   // optional: the enhanced status code ("5.1.7")
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace gatehouse
