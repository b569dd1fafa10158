// Delivery into Maildir folders (the demo back-end and a simple local store): one Maildir per
// recipient under the configured directory, <dir>/<recipient>/{tmp,new,cur}. Each message is
// written to tmp/, fsync'd, then renamed into new/ (the Maildir protocol), so a crash never leaves
// a half message in new/.
#pragma once
#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace gatehouse::delivery {

// Delivers `message` to `recipient`'s Maildir under `directory`; returns the file written.
Result<std::filesystem::path> deliver_to_maildir(const std::filesystem::path& directory, const std::string& recipient,
                                                 const std::string& message);

}  // namespace gatehouse::delivery
