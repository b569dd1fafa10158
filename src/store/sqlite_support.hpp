// Small RAII wrappers over the SQLite C API, shared by the SQLite stores (sqlite_store.cpp, the
// message log; sqlite_token_store.cpp, the classifier's tokens). Inside those files failures throw
// SqliteError; their public methods turn them into Error values or log lines.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <fmt/format.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gatehouse::sqlite {


class SqliteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

inline void execute(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw SqliteError(text);
  }
}

class Statement {
 public:
  // `reused`: the statement lives long (the writer's), which SQLite can place better in memory.
  Statement(sqlite3* db, std::string_view sql, bool reused = false) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), reused ? SQLITE_PREPARE_PERSISTENT : 0,
                                &raw, nullptr);
    statement_.reset(raw);
    if (rc != SQLITE_OK) throw SqliteError(fmt::format("{} (in: {})", sqlite3_errmsg(db), sql));
  }

  // Starts a fresh use of a reused statement.
  Statement& reset() {
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
    return *this;
  }
  Statement& bind_text(int index, std::string_view text) {
    // An empty string_view may have a null data pointer, which SQLite would bind as NULL.
    check(sqlite3_bind_text64(statement_.get(), index, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8));
    return *this;
  }
  Statement& bind_blob(int index, std::string_view bytes) {
    check(sqlite3_bind_blob64(statement_.get(), index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind_integer(int index, std::int64_t value) {
    check(sqlite3_bind_int64(statement_.get(), index, value));
    return *this;
  }
  Statement& bind_real(int index, double value) {
    check(sqlite3_bind_double(statement_.get(), index, value));
    return *this;
  }
  Statement& bind(int index, std::int64_t value) { return bind_integer(index, value); }
  Statement& bind(int index, std::string_view text) { return bind_text(index, text); }

  // True when a row is available, false when done.
  bool step() {
    int rc = sqlite3_step(statement_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(sqlite3_errmsg(db_));
  }
  // Runs a statement that returns no rows of interest; returns the number of rows it changed.
  int run() {
    while (step()) {
    }
    int changed = sqlite3_changes(db_);
    sqlite3_reset(statement_.get());
    return changed;
  }

  std::string text(int column) const {
    auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_.get(), column));
    return data ? std::string(data, sqlite3_column_bytes(statement_.get(), column)) : std::string();
  }
  // Valid until the next step() or reset().
  std::string_view blob(int column) const {
    auto* data = static_cast<const char*>(sqlite3_column_blob(statement_.get(), column));
    return data ? std::string_view(data, sqlite3_column_bytes(statement_.get(), column)) : std::string_view();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_.get(), column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }
  double real(int column) const { return sqlite3_column_double(statement_.get(), column); }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
  };
  void check(int rc) const {
    if (rc != SQLITE_OK) throw SqliteError(sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
};

}  // namespace gatehouse::sqlite
