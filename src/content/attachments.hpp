// What a message carries as attachments, looked at as a virus would be delivered: the name's
// extensions (dangerous types, double extensions, names padded to hide the real one), the real type
// of the bytes (libmagic) against the declared type and the name, and the members of archives
// (libarchive: zip, 7z, rar, tar, cab, iso, gz/bz2/xz …), recursively, within limits on depth,
// member count and expanded bytes so that an archive bomb is reported and never expanded.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "content/mime.hpp"

namespace gatehouse::content {

struct ArchiveLimits {
  std::size_t max_depth = 3;                   // archives inside archives
  std::size_t max_members = 1000;              // over the whole attachment
  std::size_t max_expanded_bytes = 100u << 20; // bytes read out of archives over the whole attachment
  std::size_t max_ratio = 200;                 // expanded / compressed above this (and > 10 MiB): a bomb
};

// One file as the recipient would see it: an attachment, or a member of an archive.
struct AttachedFile {
  std::string name;                            // file name ("" when none), UTF-8
  std::string path;                            // "report.zip/invoice.pdf.exe" for archive members
  std::string declared_type;                   // Content-Type of the MIME part ("" for members)
  std::string real_type;                       // libmagic's MIME type of the first bytes
  std::size_t size = 0;
  std::size_t depth = 0;                       // 0 = the MIME attachment itself
  bool encrypted = false;                      // an encrypted archive member (contents unknown)
};

struct AttachmentReport {
  std::vector<AttachedFile> files;             // attachments and archive members, in order
  std::vector<std::string> problems;           // "archive_bomb: report.zip (…)", "archive_unreadable: x.zip"
  bool bomb = false;                           // a limit was hit: expansion stopped
  bool unreadable_archive = false;             // an archive that could not be read
};

// The lower-case extensions of a file name, last first ("invoice.pdf.exe" → {"exe", "pdf"}); a
// name padded with spaces or dots before its extension keeps only the real ones.
std::vector<std::string> file_extensions(std::string_view name);

// libmagic's MIME type of the bytes ("application/x-dosexec", "application/zip", …).
std::string real_file_type(std::string_view bytes);

// Types that run code when opened on a desktop (PE/ELF/Mach-O executables, MSI, Java archives, …).
bool is_executable_type(std::string_view mime_type);
bool is_archive_type(std::string_view mime_type);

AttachmentReport inspect_attachments(const ParsedMessage& message, const ArchiveLimits& limits = {});

}  // namespace gatehouse::content
