// The attachments check: dangerous file types by name (the policy's blocked_attachments), names
// that hide an executable behind a document's extension, executables whose name or declared type
// says otherwise (libmagic), the same inside archives, and archives that are encrypted, unreadable or
// bombs. What is looked at comes from content/attachments.hpp (MessageAnalysis::attachments).
#include <algorithm>
#include <array>
#include <set>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

// Extensions that run code when opened (whatever the policy blocks): "invoice.pdf.exe".
bool runs_code(std::string_view extension) {
  static constexpr std::array<std::string_view, 20> runnable = {"exe", "scr", "com", "pif", "bat", "cmd", "cpl",
                                                                "msi", "js",  "jse", "vbs", "vbe", "wsf", "wsh",
                                                                "hta", "ps1", "lnk", "jar", "reg", "scf"};
  return std::find(runnable.begin(), runnable.end(), extension) != runnable.end();
}

// Extensions people open without a second thought: the decoy in a double extension.
bool looks_harmless(std::string_view extension) {
  static constexpr std::array<std::string_view, 22> harmless = {"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt",
                                                                "rtf", "txt", "jpg", "jpeg", "png", "gif", "bmp", "tif",
                                                                "mp3", "mp4", "wav", "avi", "htm", "html"};
  return std::find(harmless.begin(), harmless.end(), extension) != harmless.end();
}

bool declared_major_type_definite(std::string_view declared) {
  return declared.starts_with("image/") || declared.starts_with("audio/") || declared.starts_with("video/") ||
         declared == "application/pdf";
}

class AttachmentsCheck final : public Check {
 public:
  std::string_view name() const override { return "attachments"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 5; }
  std::string_view reply_kind() const override { return "attachment"; }
  int reject_code() const override { return 554; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    const auto& report = context.content->attachments;
    const CheckPolicy& policy = context.policy->check(name());
    const auto& blocked = context.policy->blocked_attachments;
    std::set<std::string> findings;   // each finding once, with its first file as the detail
    auto add = [&](const std::string& finding, std::string detail) {
      if (findings.insert(finding).second) outcome.add(policy, finding, std::move(detail));
    };

    for (const auto& file : report.files) {
      const auto extensions = content::file_extensions(file.name);
      const bool blocked_name = !extensions.empty() &&
                                std::find(blocked.begin(), blocked.end(), extensions.front()) != blocked.end();
      const bool double_extension = extensions.size() >= 2 && runs_code(extensions[0]) && looks_harmless(extensions[1]);
      const bool executable = content::is_executable_type(file.real_type);
      if (double_extension) {
        add("double_extension", file.path);
      } else if (blocked_name) {
        add("dangerous_type", file.path + " (." + extensions.front() + ")");
      } else if (executable && (extensions.empty() || !runs_code(extensions.front()))) {
        add("disguised_executable", file.path + " is " + file.real_type);
      } else if (file.encrypted) {
        add("encrypted_archive", file.path + " is encrypted");
      } else if (file.depth == 0 && declared_major_type_definite(file.declared_type) && !file.real_type.empty() &&
                 file.real_type != "application/octet-stream" &&
                 file.real_type.substr(0, file.real_type.find('/')) != file.declared_type.substr(0, file.declared_type.find('/')) &&
                 !(file.declared_type == "application/pdf" && file.real_type == "application/pdf")) {
        add("type_mismatch", file.path + " declared " + file.declared_type + ", is " + file.real_type);
      }
    }
    for (const auto& problem : report.problems) {
      const auto colon = problem.find(": ");
      const std::string finding = problem.substr(0, colon);
      add(finding, colon == std::string::npos ? problem : problem.substr(colon + 2));
    }
    if (outcome.contributions.empty() && !report.files.empty())
      outcome.note = std::to_string(report.files.size()) + (report.files.size() == 1 ? " file" : " files") + " looked at";
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_attachments_check() { return std::make_unique<AttachmentsCheck>(); }

}  // namespace gatehouse::checks
