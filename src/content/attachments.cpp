// Attachment inspection (content/attachments.hpp): names, real types (libmagic), archive members
// (libarchive), with limits that stop archive bombs before they expand.
#include "content/attachments.hpp"
#include "common/text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <magic.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>
#include <memory>

namespace gatehouse::content {
namespace {

// libmagic handles are not thread-safe: one per thread, loaded on first use.
class MagicCookie {
 public:
  MagicCookie() : cookie_(magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR)) {
    if (cookie_ && magic_load(cookie_, nullptr) != 0) {
      magic_close(cookie_);
      cookie_ = nullptr;
    }
  }
  ~MagicCookie() {
    if (cookie_) magic_close(cookie_);
  }
  MagicCookie(const MagicCookie&) = delete;
  MagicCookie& operator=(const MagicCookie&) = delete;
  magic_t get() const { return cookie_; }

 private:
  magic_t cookie_;
};

struct ArchiveFree {
  void operator()(archive* handle) const { archive_read_free(handle); }
};

class Inspector {
 public:
  Inspector(const ArchiveLimits& limits, AttachmentReport& report) : limits_(limits), report_(report) {}

  void add(AttachedFile file, std::string_view bytes) {
    const bool archive = is_archive_type(file.real_type);
    const std::string path = file.path;
    const std::size_t depth = file.depth;
    report_.files.push_back(std::move(file));
    if (!archive) return;
    if (depth >= limits_.max_depth) {
      limit_hit(fmt::format("{} nested deeper than {} archives", path, limits_.max_depth));
      return;
    }
    expand(path, bytes, depth);
  }

 private:
  void limit_hit(std::string what) {
    if (!report_.bomb) report_.problems.push_back("archive_bomb: " + what);
    report_.bomb = true;
  }

  void expand(const std::string& path, std::string_view bytes, std::size_t depth) {
    std::unique_ptr<archive, ArchiveFree> reader(archive_read_new());
    archive_read_support_filter_all(reader.get());
    archive_read_support_format_all(reader.get());
    archive_read_support_format_raw(reader.get());   // a lone gzip/bzip2/xz stream
    if (archive_read_open_memory(reader.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
      unreadable(path, archive_error_string(reader.get()));
      return;
    }
    const std::size_t expanded_before = expanded_;
    archive_entry* entry = nullptr;
    while (true) {
      const int status = archive_read_next_header(reader.get(), &entry);
      if (status == ARCHIVE_EOF) break;
      if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
        unreadable(path, archive_error_string(reader.get()));
        return;
      }
      if (++members_ > limits_.max_members) {
        limit_hit(fmt::format("{}: more than {} files", path, limits_.max_members));
        return;
      }
      if (archive_entry_filetype(entry) == AE_IFDIR) continue;
      AttachedFile member;
      const char* name = archive_entry_pathname_utf8(entry);
      if (!name) name = archive_entry_pathname(entry);
      member.name = name ? name : "";
      if (member.name == "data" && archive_format(reader.get()) == ARCHIVE_FORMAT_RAW) member.name = stem_of(path);
      member.path = path + "/" + member.name;
      member.depth = depth + 1;
      member.encrypted = archive_entry_is_encrypted(entry);
      if (member.encrypted) {
        report_.files.push_back(std::move(member));
        continue;
      }
      std::string content;
      if (!read_member(reader.get(), path, content)) {
        member.size = content.size();
        member.real_type = real_file_type(content);
        report_.files.push_back(std::move(member));
        return;
      }
      member.size = content.size();
      member.real_type = real_file_type(content);
      add(std::move(member), content);
      if (report_.bomb) return;
    }
    const std::size_t expanded = expanded_ - expanded_before;
    if (expanded > (10u << 20) && expanded / std::max<std::size_t>(bytes.size(), 1) > limits_.max_ratio)
      limit_hit(fmt::format("{} expands {} times", path, expanded / std::max<std::size_t>(bytes.size(), 1)));
  }

  // Reads the current member within the expansion budget; false when it could not be read whole.
  bool read_member(archive* reader, const std::string& path, std::string& content) {
    std::array<char, 64 * 1024> buffer{};
    while (true) {
      const la_ssize_t got = archive_read_data(reader, buffer.data(), buffer.size());
      if (got == 0) return true;
      if (got < 0) {
        unreadable(path, archive_error_string(reader));
        return false;
      }
      expanded_ += static_cast<std::size_t>(got);
      if (expanded_ > limits_.max_expanded_bytes) {
        limit_hit(fmt::format("{} expands beyond {} MiB", path, limits_.max_expanded_bytes >> 20));
        return false;
      }
      content.append(buffer.data(), static_cast<std::size_t>(got));
    }
  }

  void unreadable(const std::string& path, const char* why) {
    report_.unreadable_archive = true;
    report_.problems.push_back(fmt::format("archive_unreadable: {} ({})", path, why ? why : "unknown error"));
  }

  static std::string stem_of(const std::string& path) {
    const auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = name.rfind('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
  }

  const ArchiveLimits& limits_;
  AttachmentReport& report_;
  std::size_t members_ = 0;
  std::size_t expanded_ = 0;
};

}  // namespace

std::vector<std::string> file_extensions(std::string_view name) {
  std::vector<std::string> extensions;
  // Only the last path component counts (members of archives carry folders).
  if (auto slash = name.find_last_of("/\\"); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '.' || name.back() == '\t')) name.remove_suffix(1);
  for (int i = 0; i < 4 && !name.empty(); ++i) {
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) break;
    std::string extension = to_lower_ascii(name.substr(dot + 1));
    const bool plausible = !extension.empty() && extension.size() <= 8 &&
                           std::all_of(extension.begin(), extension.end(), [](unsigned char c) { return std::isalnum(c); });
    if (!plausible) break;
    extensions.push_back(std::move(extension));
    name = name.substr(0, dot);
    while (!name.empty() && (name.back() == ' ' || name.back() == '_')) name.remove_suffix(1);   // "invoice.pdf      .exe"
  }
  return extensions;
}

std::string real_file_type(std::string_view bytes) {
  if (bytes.empty()) return "application/x-empty";
  thread_local MagicCookie cookie;
  if (!cookie.get()) return "";
  const char* type = magic_buffer(cookie.get(), bytes.data(), std::min<std::size_t>(bytes.size(), 256 * 1024));
  return type ? std::string(type) : std::string();
}

bool is_executable_type(std::string_view type) {
  static constexpr std::array<std::string_view, 11> executables = {
      "application/x-dosexec",       "application/x-msdownload", "application/vnd.microsoft.portable-executable",
      "application/x-executable",    "application/x-sharedlib",  "application/x-pie-executable",
      "application/x-mach-binary",   "application/x-msi",        "application/x-ms-installer",
      "application/java-archive",    "application/x-ms-shortcut"};
  return std::find(executables.begin(), executables.end(), type) != executables.end();
}

bool is_archive_type(std::string_view type) {
  static constexpr std::array<std::string_view, 16> archives = {
      "application/zip",        "application/x-zip-compressed", "application/x-7z-compressed", "application/x-rar",
      "application/vnd.rar",    "application/x-rar-compressed", "application/x-tar",           "application/gzip",
      "application/x-gzip",     "application/x-bzip2",          "application/x-xz",            "application/vnd.ms-cab-compressed",
      "application/x-iso9660-image", "application/x-cpio",      "application/x-lzh-compressed", "application/x-arj"};
  return std::find(archives.begin(), archives.end(), type) != archives.end();
}

AttachmentReport inspect_attachments(const ParsedMessage& message, const ArchiveLimits& limits) {
  AttachmentReport report;
  Inspector inspector(limits, report);
  for (const auto& part : message.parts) {
    if (!part.is_attachment()) continue;
    AttachedFile file;
    file.name = part.filename;
    file.path = part.filename.empty() ? "(unnamed " + part.content_type + ")" : part.filename;
    file.declared_type = part.content_type;
    file.real_type = real_file_type(part.decoded);
    file.size = part.decoded.size();
    inspector.add(std::move(file), part.decoded);
    if (report.bomb) break;
  }
  return report;
}

}  // namespace gatehouse::content
