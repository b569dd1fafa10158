// For tests of the SQLite store: a fresh store file in its own directory under /tmp, and one
// integer read from a database file with SQLite directly, beside whatever the store has open.
#pragma once
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "store/store.hpp"

namespace gatehouse::testing_support {

// The first column of the first row of `sql` (with ?1 bound to `parameter`), -1 without a row.
inline std::int64_t query_integer(const std::string& path, const std::string& sql, const std::string& parameter = "") {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_bind_text(statement, 1, parameter.c_str(), -1, SQLITE_TRANSIENT);
  std::int64_t value = -1;
  if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

// Every test gets a fresh directory under /tmp (named after `prefix`), removed afterwards;
// path_ is the store file in it.
class StoreFileTest : public ::testing::Test {
 protected:
  explicit StoreFileTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    std::string pattern = "/tmp/" + prefix_ + "-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = (directory_ / "store.db").string();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  std::unique_ptr<Store> open_store(const StoreOptions& options = {}) {
    auto store = open_sqlite_store(path_, options);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string prefix_;
  std::filesystem::path directory_;
  std::string path_;
};

}  // namespace gatehouse::testing_support
