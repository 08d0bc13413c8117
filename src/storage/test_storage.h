// For tests: a real SQLite Storage in a fresh temporary folder named after the running test.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "storage/storage.h"

namespace latchkey {

// A fresh, empty folder "<tmp>/lk-<prefix>-<pid>-<test name>".
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() /
             ("lk-" + prefix + "-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

// Opens SQLite storage in `dir`; null (with a test failure recorded) if it cannot.
inline std::unique_ptr<Storage> open_test_storage(const std::filesystem::path& dir) {
  StorageConfig config;
  config.sqlite_path = (dir / "db.sqlite").string();
  auto opened = open_storage(config);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(opened.value()) : nullptr;
}

}  // namespace latchkey
