// The `ocr` check (docs/content.md "OCR"): reads the text of the message's images — image
// attachments and inline images (multipart/related, Content-Disposition: inline), known by their
// bytes' signature or declared image/* — with the OCR workers (content/ocr.hpp) and hands it,
// normalised like the rest of the text, to the checks that read the message's words: watch_words
// and classifier (CheckContext::image_text). It adds no score of its own unless the finding
// image_text of [filter.checks.ocr] is given points; its explanation says how many images were
// read, how much text they gave, how long it took, and why other images were not read.
//
// The engine runs it only for messages with an image, after the antivirus and before the checks
// it feeds, and only when one of those can still decide or change the disposition (Check::feeds):
// a message already refused, white-listed, or whose score nothing can move across a threshold is
// not read.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"
#include "content/normalize.hpp"
#include "content/ocr.hpp"

namespace gatehouse::checks {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A leaf part that holds an image: its bytes say so, or its declared type does (then the bytes
// may still be garbage, which is reported).
bool holds_image(const content::MimePart& part) {
  if (part.multipart || part.embedded_message || part.decoded.empty()) return false;
  return part.content_type.starts_with("image/") || !content::image_format(part.decoded).empty();
}

std::string label_of(const content::MimePart& part, std::size_t index) {
  if (!part.filename.empty()) return part.filename;
  return fmt::format("{} (part {})", part.content_type.empty() ? "untyped" : part.content_type, index);
}

// The beginning of a text for the explanation, on one line.
std::string excerpt(std::string_view text, std::size_t max_bytes = 80) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_bytes && (static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      out += "…";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

class OcrCheck final : public Check {
 public:
  std::string_view name() const override { return "ocr"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  // Seconds of CPU for a large image: after everything else but the checks it feeds.
  int cost() const override { return 150; }
  std::vector<std::string_view> feeds() const override { return {"watch_words", "classifier"}; }

  bool has_input(const CheckContext& context) const override {
    if (!context.config->ocr.enabled || !context.content) return false;
    for (const auto& part : context.content->mime.parts)
      if (holds_image(part)) return true;
    return false;
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const OcrConfig& settings = context.config->ocr;
    if (!context.content) co_return outcome;
    if (!context.ocr) {
      outcome.note = "images not read: no OCR workers running";
      co_return outcome;
    }
    content::OcrRequest request;
    request.languages = settings.languages;
    request.tessdata = settings.tessdata;
    request.budget = settings.timeout;
    request.limits.max_image_bytes = settings.max_image_size;
    request.limits.max_pixels = settings.max_pixels;
    request.limits.min_side = settings.min_side;

    // Which images to read: the first max_images that are neither tiny nor over the limits. The
    // headers are read here (no decoding) so that icons and spacers do not take a reader's turn.
    std::vector<std::string> labels, problems;
    std::size_t images = 0, small = 0, over = 0;
    const auto& parts = context.content->mime.parts;
    for (std::size_t index = 0; index < parts.size(); ++index) {
      const content::MimePart& part = parts[index];
      if (!holds_image(part)) continue;
      ++images;
      const std::string label = label_of(part, index);
      if (part.decoded.size() > settings.max_image_size) {
        problems.push_back(fmt::format("{}: too large ({} bytes)", label, part.decoded.size()));
        continue;
      }
      const content::ImageInfo info = content::probe_image(part.decoded);
      if (!info.error.empty()) {
        problems.push_back(fmt::format("{}: {}", label, info.error));
        continue;
      }
      if (content::too_small(info, request.limits)) {
        ++small;
        continue;
      }
      if (info.pixels > settings.max_pixels) {
        problems.push_back(fmt::format("{}: too many pixels ({}×{} {})", label, info.width, info.height, info.format));
        continue;
      }
      if (request.images.size() == settings.max_images) {
        ++over;
        continue;
      }
      request.images.push_back(part.decoded);
      labels.push_back(fmt::format("{} {}×{} {}", label, info.width, info.height, info.format));
    }

    const auto started = SteadyClock::now();
    std::vector<content::OcrResult> results;
    if (!request.images.empty()) {
      std::vector<content::OcrResult> read_results = co_await context.ocr->read(std::move(request));
      results = std::move(read_results);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);

    std::string text;
    std::size_t read = 0;
    for (std::size_t index = 0; index < results.size(); ++index) {
      const content::OcrResult& result = results[index];
      if (result.ok()) ++read;
      else problems.push_back(fmt::format("{}: {}", labels[index], result.error));
      if (result.text.empty()) continue;
      if (!text.empty()) text += '\n';
      text += result.text;
    }
    std::string normalized;
    if (!text.empty()) normalized = content::normalize_text(text).text;
    if (!normalized.empty()) {
      if (!context.image_text.empty()) context.image_text += '\n';
      context.image_text += normalized;
    }

    std::string explanation = fmt::format("{} of {} image{} read", read, images, images == 1 ? "" : "s");
    if (!results.empty()) {
      explanation += fmt::format(" in {} ms", elapsed.count());
      std::string which;
      for (std::size_t index = 0; index < results.size(); ++index)
        if (results[index].ok()) which += (which.empty() ? "" : ", ") + labels[index];
      if (!which.empty()) explanation += " (" + which + ")";
    }
    if (small) explanation += fmt::format("; {} too small to hold text (under {} pixels on a side)", small, settings.min_side);
    if (over) explanation += fmt::format("; {} more not read (max_images {})", over, settings.max_images);
    for (const auto& problem : problems) explanation += "; " + problem;
    if (!problems.empty()) spdlog::info("id={} ocr: {}", context.id, explanation);
    if (normalized.empty()) {
      outcome.note = explanation + (read ? "; no text found" : "");
    } else {
      outcome.add(context.policy->check(name()), "image_text",
                  fmt::format("{} characters: \"{}\"; {}", normalized.size(), excerpt(normalized), explanation));
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_ocr_check() { return std::make_unique<OcrCheck>(); }

}  // namespace gatehouse::checks
