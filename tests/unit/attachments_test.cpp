// Attachment inspection (content/attachments.hpp) and the attachments check: extensions, real
// types, archives made in the test with libarchive (nested, encrypted, a bomb), and the findings.
#include "content/attachments.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

using namespace gatehouse;
using content::file_extensions;

namespace {

struct Member {
  std::string name;
  std::string content;
};

// An archive in `format` ("zip", "7zip", "tar", "gzip tar") with the given members.
std::string make_archive(const std::vector<Member>& members, std::string_view format, const char* passphrase = nullptr) {
  std::string out;
  archive* writer = archive_write_new();
  if (format == "zip") archive_write_set_format_zip(writer);
  else if (format == "7zip") archive_write_set_format_7zip(writer);
  else {
    archive_write_set_format_pax_restricted(writer);
    if (format == "gzip tar") archive_write_add_filter_gzip(writer);
  }
  if (passphrase) {
    archive_write_set_options(writer, "zip:encryption=zipcrypt");
    archive_write_set_passphrase(writer, passphrase);
  }
  archive_write_open(
      writer, &out, nullptr,
      [](archive*, void* data, const void* buffer, size_t length) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buffer), length);
        return static_cast<la_ssize_t>(length);
      },
      nullptr);
  for (const auto& member : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(member.content.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_write_header(writer, entry);
    archive_write_data(writer, member.content.data(), member.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
  return out;
}

// A DOS/PE executable header as libmagic knows it.
std::string executable_bytes() {
  std::string bytes(512, '\0');
  bytes[0] = 'M';
  bytes[1] = 'Z';
  bytes[0x3c] = 0x80;
  bytes.replace(0x80, 4, std::string("PE\0\0", 4));
  return bytes;
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
    if (out.size() % 78 == 76) out += "\r\n";
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::string message_with(const std::string& filename, const std::string& type, std::string_view content) {
  return "From: a@remote.test\r\nTo: b@example.test\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n--xx\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
         "--xx\r\nContent-Type: " + type + "; name=\"" + filename + "\"\r\nContent-Disposition: attachment; filename=\"" +
         filename + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64(content) + "\r\n--xx--\r\n";
}

Config default_config() {
  auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
  EXPECT_TRUE(config.ok());
  return *config;
}

FilterPolicy default_filter_policy() { return default_config().policy; }

// The attachments check's findings on a message under the default policy.
std::vector<std::string> findings_of(const std::string& message, FilterPolicy policy = default_filter_policy()) {
  auto analysis = content::analyse_message(message);
  Config config = default_config();
  checks::CheckContext context;
  context.stage = checks::Stage::data;
  context.config = &config;
  context.policy = &policy;
  context.message = message;
  context.content = &analysis;
  auto check = checks::make_attachments_check();
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, check->run(context), boost::asio::use_future);
  io.run();
  std::vector<std::string> findings;
  for (const auto& contribution : future.get().contributions) findings.push_back(contribution.finding + ": " + contribution.detail);
  return findings;
}

}  // namespace

TEST(Attachments, ExtensionsAreReadLastFirstAndPaddingDoesNotHideThem) {
  EXPECT_EQ(file_extensions("invoice.pdf.exe"), (std::vector<std::string>{"exe", "pdf"}));
  EXPECT_EQ(file_extensions("Invoice.PDF         .EXE"), (std::vector<std::string>{"exe", "pdf"}));
  EXPECT_EQ(file_extensions("archive/dir/run.js."), (std::vector<std::string>{"js"}));
  EXPECT_TRUE(file_extensions("README").empty());
  EXPECT_TRUE(file_extensions(".profile").empty());
}

TEST(Attachments, RealTypesComeFromTheBytes) {
  EXPECT_TRUE(content::is_executable_type(content::real_file_type(executable_bytes())));
  EXPECT_EQ(content::real_file_type(make_archive({{"a.txt", "hello"}}, "zip")), "application/zip");
  EXPECT_TRUE(content::is_archive_type(content::real_file_type(make_archive({{"a.txt", "hello"}}, "gzip tar"))));
}

TEST(Attachments, ConfiguredListReplacesTheDefaultAndBadEntriesAreErrors) {
  auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n[filter]\nblocked_attachments = [\".EXE\", \"js\"]\n", "t.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->policy.blocked_attachments, (std::vector<std::string>{"exe", "js"}));
  auto bad = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n[filter]\nblocked_attachments = [\"a b\"]\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("t.toml:4: filter.blocked_attachments"), std::string::npos) << bad.error().message;
}

TEST(Attachments, BlockedExtensionIsRefusedAndAllowedOnesAreNot) {
  auto findings = findings_of(message_with("setup.js", "application/javascript", "alert(1)"));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0], "dangerous_type: setup.js (.js)");
  EXPECT_TRUE(findings_of(message_with("minutes.txt", "text/plain", "Minutes of the meeting")).empty());
  FilterPolicy policy = default_filter_policy();
  policy.blocked_attachments = {"txt"};
  EXPECT_EQ(findings_of(message_with("minutes.txt", "text/plain", "Minutes"), policy).size(), 1u);
}

TEST(Attachments, DoubleExtensionAndDisguisedExecutable) {
  auto findings = findings_of(message_with("invoice.pdf.exe", "application/pdf", executable_bytes()));
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0], "double_extension: invoice.pdf.exe");
  findings = findings_of(message_with("photo.jpg", "image/jpeg", executable_bytes()));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].starts_with("disguised_executable: photo.jpg is application/")) << findings[0];
}

TEST(Attachments, ArchivesAreLookedIntoRecursively) {
  const std::string inner = make_archive({{"docs/readme.txt", "hi"}, {"docs/run.vbs", "WScript.Echo 1"}}, "7zip");
  const std::string outer = make_archive({{"bundle.7z", inner}}, "zip");
  auto findings = findings_of(message_with("bundle.zip", "application/zip", outer));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0], "dangerous_type: bundle.zip/bundle.7z/docs/run.vbs (.vbs)");
  const std::string clean = make_archive({{"report.pdf", "%PDF-1.4 ..."}, {"notes.txt", "notes"}}, "gzip tar");
  EXPECT_TRUE(findings_of(message_with("report.tar.gz", "application/gzip", clean)).empty());
}

TEST(Attachments, EncryptedArchivesAndBombsAreReported) {
  const std::string encrypted = make_archive({{"invoice.doc", "secret"}}, "zip", "infected");
  auto findings = findings_of(message_with("invoice.zip", "application/zip", encrypted));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].starts_with("encrypted_archive: invoice.zip/invoice.doc")) << findings[0];

  const std::string bomb = make_archive({{"zeros.bin", std::string(40u << 20, '\0')}}, "zip");
  ASSERT_LT(bomb.size(), 200u * 1024);
  findings = findings_of(message_with("data.zip", "application/zip", bomb));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].starts_with("archive_bomb: data.zip expands")) << findings[0];

  content::ArchiveLimits limits;
  limits.max_depth = 1;
  std::string nested = make_archive({{"a.txt", "x"}}, "zip");
  for (int i = 0; i < 3; ++i) nested = make_archive({{"n" + std::to_string(i) + ".zip", nested}}, "zip");
  auto parsed = content::parse_mime(message_with("n.zip", "application/zip", nested));
  auto report = content::inspect_attachments(parsed, limits);
  EXPECT_TRUE(report.bomb);
}

TEST(Attachments, CorruptArchiveIsScoredNotFatal) {
  std::string noise(5000, '\0');
  unsigned state = 12345;
  for (char& c : noise) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  std::string broken = make_archive({{"a.bin", noise}}, "zip");
  for (std::size_t i = broken.size() / 3; i < broken.size() / 3 + 16; ++i) broken[i] = static_cast<char>(~broken[i]);
  auto findings = findings_of(message_with("broken.zip", "application/zip", broken));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].starts_with("archive_unreadable: broken.zip")) << findings[0];
}
