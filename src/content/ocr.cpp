// OCR of images: signatures and headers, the worker pool, leptonica decoding and tesseract
// recognition. See ocr.hpp and docs/content.md ("OCR").
#include "content/ocr.hpp"

#include <pthread.h>
#include <fmt/format.h>
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>

#include <atomic>
#include <cstdlib>
#include <future>

namespace gatehouse::content {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::uint32_t le16(std::string_view bytes, std::size_t pos) {
  return static_cast<unsigned char>(bytes[pos]) | static_cast<unsigned char>(bytes[pos + 1]) << 8;
}

// GIF (GIF89a specification): the logical screen and every image descriptor, without decoding.
// leptonica hands GIFs to giflib's DGifSlurp, which decodes every frame: a few megabytes of LZW
// can describe gigabytes of frames, so all of them count against the pixel limit.
void probe_gif(std::string_view bytes, ImageInfo& info) {
  constexpr std::size_t kMaxFrames = 1000;
  if (bytes.size() < 13) {
    info.error = "truncated GIF header";
    return;
  }
  info.width = le16(bytes, 6);
  info.height = le16(bytes, 8);
  info.pixels = std::uint64_t{info.width} * info.height;
  std::size_t pos = 13;
  const unsigned char screen_flags = static_cast<unsigned char>(bytes[10]);
  if (screen_flags & 0x80) pos += std::size_t{3} << ((screen_flags & 7) + 1);   // global colour table
  auto skip_sub_blocks = [&] {
    while (pos < bytes.size()) {
      const std::size_t length = static_cast<unsigned char>(bytes[pos++]);
      if (length == 0) return true;
      pos += length;
    }
    return false;
  };
  std::size_t frames = 0;
  while (pos < bytes.size()) {
    const unsigned char block = static_cast<unsigned char>(bytes[pos++]);
    if (block == 0x3B) break;                        // trailer
    if (block == 0x21) {                             // extension: label, then data sub-blocks
      ++pos;
      if (!skip_sub_blocks()) break;
      continue;
    }
    if (block != 0x2C) {
      if (frames == 0) info.error = fmt::format("malformed GIF (block 0x{:02x})", block);
      break;                                         // giflib stops there too
    }
    if (pos + 9 > bytes.size()) break;
    const std::uint64_t width = le16(bytes, pos + 4), height = le16(bytes, pos + 6);
    const unsigned char flags = static_cast<unsigned char>(bytes[pos + 8]);
    pos += 9;
    if (flags & 0x80) pos += std::size_t{3} << ((flags & 7) + 1);   // local colour table
    ++pos;                                           // LZW minimum code size
    info.pixels += width * height;
    if (++frames > kMaxFrames) {
      info.error = fmt::format("GIF with more than {} frames", kMaxFrames);
      return;
    }
    if (!skip_sub_blocks()) break;
  }
  if (frames == 0 && info.error.empty()) info.error = "GIF without an image";
}

std::string describe_bytes(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return fmt::format("{}M", bytes / (1024 * 1024));
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{}K", bytes / 1024);
  return fmt::format("{} bytes", bytes);
}

// leptonica reports every problem on stderr; its return values say all we need.
void quiet_leptonica() {
  static std::once_flag once;
  std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

struct PixDeleter {
  void operator()(Pix* pix) const { pixDestroy(&pix); }
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;

// What tesseract's cancel callback looks at.
struct CancelState {
  SteadyClock::time_point deadline;
  const std::atomic<bool>* stop = nullptr;
  bool cancelled = false;
};

bool should_cancel(void* data, int /*words*/) {
  auto* state = static_cast<CancelState*>(data);
  if (state->stop->load(std::memory_order_relaxed) || SteadyClock::now() >= state->deadline) state->cancelled = true;
  return state->cancelled;
}

// One worker's tesseract: initialised on the first image, again when the languages change.
class Recognizer {
 public:
  OcrResult read(std::string_view bytes, const OcrRequest& request, SteadyClock::time_point deadline,
                 const std::atomic<bool>& stop) {
    OcrResult result;
    const auto started = SteadyClock::now();
    try {
      read_into(result, bytes, request, deadline, stop);
    } catch (const std::exception& error) {
      result.error = fmt::format("tesseract failed: {}", error.what());
      api_.reset();
    } catch (...) {
      result.error = "tesseract failed";
      api_.reset();
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
    return result;
  }

 private:
  void read_into(OcrResult& result, std::string_view bytes, const OcrRequest& request,
                 SteadyClock::time_point deadline, const std::atomic<bool>& stop) {
    const OcrLimits& limits = request.limits;
    if (stop.load()) {
      result.error = "not read: OCR stopping";
      return;
    }
    if (SteadyClock::now() >= deadline) {
      result.error = "not read: time budget used up";
      return;
    }
    if (bytes.size() > limits.max_image_bytes) {
      result.error = fmt::format("too large: {} bytes (max_image_size {})", bytes.size(), describe_bytes(limits.max_image_bytes));
      return;
    }
    result.image = probe_image(bytes);
    const ImageInfo& image = result.image;
    if (!image.error.empty()) {
      result.error = image.error;
      return;
    }
    if (image.pixels > limits.max_pixels) {
      result.error = fmt::format("too many pixels: {}×{} {} ({} pixels, max_pixels {})", image.width, image.height,
                                 image.format, image.pixels, limits.max_pixels);
      return;
    }
    if (too_small(image, limits)) {
      result.error = fmt::format("too small: {}×{}", image.width, image.height);
      return;
    }
    const std::filesystem::path tessdata = request.tessdata.empty() ? default_tessdata_dir() : request.tessdata;
    if (!api_ || languages_ != request.languages || tessdata_ != tessdata) {
      api_.reset();
      auto api = std::make_unique<tesseract::TessBaseAPI>();
      api->SetVariable("debug_file", "/dev/null");   // tesseract's diagnostics ("Estimating resolution…")
      if (api->Init(tessdata.c_str(), request.languages.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
        result.error = fmt::format("tesseract cannot load language data \"{}\" from {}", request.languages, tessdata.string());
        return;
      }
      api->SetPageSegMode(tesseract::PSM_AUTO);
      api_ = std::move(api);
      languages_ = request.languages;
      tessdata_ = tessdata;
    }

    PixPtr pix(pixReadMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size()));
    if (!pix) {
      result.error = fmt::format("unreadable {} image", image.format);
      return;
    }
    // Text drawn on a transparent background: put it on white, as a mail reader shows it.
    if (pixGetSpp(pix.get()) == 4) {
      if (PixPtr blended{pixAlphaBlendUniform(pix.get(), 0xffffff00)}) pix = std::move(blended);
    }
    CancelState cancel{deadline, &stop};
    tesseract::ETEXT_DESC monitor;
    monitor.cancel = &should_cancel;
    monitor.cancel_this = &cancel;
    api_->SetImage(pix.get());
    const int recognized = api_->Recognize(&monitor);
    if (recognized == 0 || cancel.cancelled) result.text = confident_text(limits);
    api_->Clear();
    if (cancel.cancelled) {
      result.error = stop.load() ? "cancelled: OCR stopping" : "time budget used up while reading";
    } else if (recognized != 0) {
      result.error = "tesseract could not recognise the image";
    }
  }

  // The words tesseract is sure enough of, a line per text line.
  std::string confident_text(const OcrLimits& limits) {
    std::string text;
    std::unique_ptr<tesseract::ResultIterator> words(api_->GetIterator());
    if (!words) return text;
    constexpr auto kWord = tesseract::RIL_WORD;
    bool line_has_words = false;
    do {
      if (words->Empty(kWord)) continue;
      std::unique_ptr<char[]> word(words->GetUTF8Text(kWord));
      if (word && words->Confidence(kWord) >= static_cast<float>(limits.min_confidence)) {
        if (line_has_words) text += ' ';
        text += word.get();
        line_has_words = true;
      }
      if (words->IsAtFinalElement(tesseract::RIL_TEXTLINE, kWord) && line_has_words) {
        text += '\n';
        line_has_words = false;
      }
      if (text.size() >= limits.max_text_bytes) break;
    } while (words->Next(kWord));
    if (text.size() > limits.max_text_bytes) {
      std::size_t cut = limits.max_text_bytes;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;   // not inside a character
      text.resize(cut);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }

  std::unique_ptr<tesseract::TessBaseAPI> api_;
  std::string languages_;
  std::filesystem::path tessdata_;
};

}  // namespace

std::string image_format(std::string_view bytes) {
  if (bytes.starts_with("\x89PNG\r\n\x1a\n")) return "png";
  if (bytes.starts_with("\xFF\xD8\xFF")) return "jpeg";
  if (bytes.starts_with("GIF87a") || bytes.starts_with("GIF89a")) return "gif";
  if (bytes.starts_with(std::string_view("II*\0", 4)) || bytes.starts_with(std::string_view("MM\0*", 4))) return "tiff";
  if (bytes.starts_with("BM") && bytes.size() >= 26) return "bmp";
  if (bytes.size() >= 12 && bytes.starts_with("RIFF") && bytes.substr(8, 4) == "WEBP") return "webp";
  return {};
}

ImageInfo probe_image(std::string_view bytes) {
  ImageInfo info;
  info.format = image_format(bytes);
  if (info.format.empty()) {
    info.error = "not an image (PNG, JPEG, GIF, TIFF, BMP or WebP)";
    return info;
  }
  if (info.format == "gif") {
    probe_gif(bytes, info);
  } else {
    quiet_leptonica();
    l_int32 format = 0, width = 0, height = 0, bps = 0, spp = 0, colormap = 0;
    if (bytes.size() < 12 ||
        pixReadHeaderMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size(), &format, &width, &height, &bps,
                         &spp, &colormap) != 0 ||
        width <= 0 || height <= 0) {
      info.error = fmt::format("unreadable {} header", info.format);
      return info;
    }
    info.width = static_cast<std::uint32_t>(width);
    info.height = static_cast<std::uint32_t>(height);
    info.pixels = std::uint64_t{info.width} * info.height;
  }
  if (info.error.empty() && (info.width == 0 || info.height == 0)) info.error = fmt::format("{} of no size", info.format);
  return info;
}

bool too_small(const ImageInfo& image, const OcrLimits& limits) {
  return image.width < limits.min_side || image.height < limits.min_side;
}

std::filesystem::path default_tessdata_dir() {
  if (const char* prefix = std::getenv("TESSDATA_PREFIX"); prefix && *prefix) return prefix;
  return "/usr/share/tesseract-ocr/5/tessdata";
}

std::string missing_language_data(const std::filesystem::path& tessdata, std::string_view languages) {
  std::vector<std::string> missing;
  std::size_t start = 0;
  while (start <= languages.size()) {
    std::size_t end = languages.find('+', start);
    if (end == std::string_view::npos) end = languages.size();
    const std::string_view language = languages.substr(start, end - start);
    start = end + 1;
    const bool valid = !language.empty() && language.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                                                std::string_view::npos;
    if (!valid) return fmt::format("\"{}\" is not a list of language names such as eng or eng+deu", languages);
    std::error_code error;
    if (!std::filesystem::is_regular_file(tessdata / fmt::format("{}.traineddata", language), error))
      missing.push_back(std::string(language));
  }
  if (missing.empty()) return {};
  std::string files, packages;
  for (const auto& name : missing) {
    files += fmt::format("{}{}.traineddata", files.empty() ? "" : ", ", name);
    packages += fmt::format(" tesseract-ocr-{}", name);
  }
  return fmt::format("no {} in {} (Debian:{})", files, tessdata.string(), packages);
}

// ---------------------------------------------------------------------------------------------
// The pool

struct OcrPool::Job {
  OcrRequest request;
  SteadyClock::time_point deadline;
  std::mutex mutex;
  std::vector<OcrResult> results;
  std::size_t pending = 0;
  Done done;
};


OcrPool::OcrPool(unsigned workers, std::size_t max_queued) : max_queued_(max_queued ? max_queued : 16 * std::max(1u, workers)) {
  quiet_leptonica();
  for (unsigned i = 0; i < std::max(1u, workers); ++i) {
    threads_.emplace_back([this] { work(); });
    pthread_setname_np(threads_.back().native_handle(), "gatehouse-ocr");
  }
}

OcrPool::~OcrPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.store(true);
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
  std::deque<Task> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& task : left) {
    OcrResult result;
    result.error = "not read: OCR stopping";
    finish(*task.job, task.index, std::move(result));
  }
}

void OcrPool::finish(Job& job, std::size_t index, OcrResult result) {
  Done done;
  std::vector<OcrResult> results;
  {
    std::lock_guard lock(job.mutex);
    job.results[index] = std::move(result);
    if (--job.pending != 0) return;
    done = std::move(job.done);
    results = std::move(job.results);
  }
  done(std::move(results));
}

void OcrPool::submit(OcrRequest request, Done done) {
  const std::size_t count = request.images.size();
  if (count == 0) {
    done({});
    return;
  }
  auto job = std::make_shared<Job>();
  job->deadline = SteadyClock::now() + request.budget;
  job->request = std::move(request);
  job->results.resize(count);
  job->pending = count;
  job->done = std::move(done);
  std::vector<std::size_t> refused;
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
    for (std::size_t index = 0; index < count; ++index) {
      if (stopping || queue_.size() >= max_queued_) refused.push_back(index);
      else queue_.push_back({job, index});
    }
  }
  wake_.notify_all();
  for (std::size_t index : refused) {
    OcrResult result;
    result.error = stopping ? "not read: OCR stopping" : fmt::format("not read: OCR queue full ({} images waiting)", max_queued_);
    finish(*job, index, std::move(result));
  }
}

std::vector<OcrResult> OcrPool::read_blocking(OcrRequest request) {
  std::promise<std::vector<OcrResult>> promise;
  auto future = promise.get_future();
  submit(std::move(request), [&promise](std::vector<OcrResult> results) { promise.set_value(std::move(results)); });
  return future.get();
}

void OcrPool::work() {
  Recognizer recognizer;
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Job& job = *task.job;
    OcrResult result = recognizer.read(job.request.images[task.index], job.request, job.deadline, stop_);
    finish(job, task.index, std::move(result));
  }
}

}  // namespace gatehouse::content
