// OCR of images (docs/content.md "OCR"): the text of image attachments and inline images, read by
// tesseract so that the watch words and the classifier see words that spam puts in pictures. No
// policy here: this is the engine — image sniffing and limits, decoding (leptonica: PNG, JPEG, GIF,
// TIFF, BMP, WebP) and recognition on a pool of worker threads — and the `ocr` check
// (checks/ocr.cpp) decides what to read and what the text is for.
//
// Hostile input is the norm. An image's dimensions are read from its header before anything is
// decoded (for GIF every frame's, since leptonica decodes them all) and refused above the pixel
// limit; tiny images (tracking pixels, icons) are left alone; the images of one message share a
// time budget, which also counts the wait in the queue, and tesseract's recognition is cancelled
// when it runs out (its layout analysis cannot be cancelled: the pixel limit bounds it). Every
// failure is a value — the reason in OcrResult::error — never an exception or a crash.
//
// Each worker thread owns one tesseract::TessBaseAPI (not thread-safe), initialised on its first
// image and again when the languages change. Results come back to the caller's executor.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gatehouse::content {

struct OcrLimits {
  std::size_t max_image_bytes = 5u << 20;      // encoded size
  std::uint64_t max_pixels = 20'000'000;       // width × height (all frames of a GIF together)
  unsigned min_side = 32;                      // smaller on either side: not read (pixels, icons)
  int min_confidence = 50;                     // words tesseract is less sure of (0–100) are dropped
  std::size_t max_text_bytes = 64u << 10;      // text kept per image
};

// What an image's header says, read without decoding it.
struct ImageInfo {
  std::string format;                          // "png", "jpeg", "gif", "tiff", "bmp", "webp"; "" = not one of them
  std::uint32_t width = 0, height = 0;
  std::uint64_t pixels = 0;                    // width × height, summed over a GIF's frames
  std::string error;                           // "" or why the header cannot be used
};

// The format of the bytes by their signature ("" when not an image format read here).
std::string image_format(std::string_view bytes);
// The format and dimensions from the header (no decoding); error set when it is unreadable.
ImageInfo probe_image(std::string_view bytes);
// Whether `image` is too small to hold text under `limits` (tracking pixels, icons, spacers).
bool too_small(const ImageInfo& image, const OcrLimits& limits);

// Where tesseract's language data is when [ocr] tessdata is not set: $TESSDATA_PREFIX (the
// directory holding the .traineddata files, as tesseract 5 reads it), else Debian's.
std::filesystem::path default_tessdata_dir();
// "" when every language of "eng+deu" has its NAME.traineddata in `tessdata`; else what is missing.
std::string missing_language_data(const std::filesystem::path& tessdata, std::string_view languages);

struct OcrRequest {
  std::vector<std::string> images;             // encoded image bytes (copied: the caller may go away)
  std::string languages = "eng";               // tesseract's form: "eng", "eng+deu"
  std::filesystem::path tessdata;              // "" = default_tessdata_dir()
  OcrLimits limits;
  std::chrono::milliseconds budget{10000};     // for all the images together, from submission
};

struct OcrResult {
  std::string text;                            // UTF-8, words tesseract is sure enough of, a line per line
  std::string error;                           // "" = read; else why not ("not an image", "time budget used up", …)
  ImageInfo image;
  std::chrono::milliseconds elapsed{0};        // spent on this image by its worker
  bool ok() const { return error.empty(); }
};

class OcrPool {
 public:
  using Done = std::function<void(std::vector<OcrResult>)>;

  // `workers` threads (at least one); at most `max_queued` images wait (0 = 16 per worker): more
  // are answered at once with an error instead of growing the wait of everyone.
  explicit OcrPool(unsigned workers = 1, std::size_t max_queued = 0);
  ~OcrPool();   // cancels running recognitions, answers waiting images with an error, joins
  OcrPool(const OcrPool&) = delete;
  OcrPool& operator=(const OcrPool&) = delete;

  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

  // Reads every image of the request on the pool's threads; `done` is called exactly once, on a
  // pool thread (or at once on the caller's when there is nothing to do), with one result per image.
  void submit(OcrRequest request, Done done);

  // The same for a coroutine: resumes on the caller's executor with the results.
  boost::asio::awaitable<std::vector<OcrResult>> read(OcrRequest request);

  // The same, blocking the calling thread (tests, command-line tools).
  std::vector<OcrResult> read_blocking(OcrRequest request);

 private:
  struct Job;
  struct Task {
    std::shared_ptr<Job> job;
    std::size_t index = 0;
  };
  void work();
  static void finish(Job& job, std::size_t index, OcrResult result);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  std::size_t max_queued_;
  bool stopping_ = false;
  std::atomic<bool> stop_{false};             // polled by running recognitions (without the mutex)
  std::vector<std::thread> threads_;
};

inline boost::asio::awaitable<std::vector<OcrResult>> OcrPool::read(OcrRequest request) {
  boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
  std::vector<OcrResult> results =
      co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::vector<OcrResult>)>(
          [this, executor, &request](auto handler) {
            // The handler is the suspended coroutine: moved exactly once into the function posted
            // to the caller's executor, so no pool thread keeps (and later destroys) a copy.
            auto slot = std::make_shared<std::optional<decltype(handler)>>(std::move(handler));
            submit(std::move(request), [slot, executor](std::vector<OcrResult> results) {
              boost::asio::post(executor, [h = std::move(**slot), results = std::move(results)]() mutable {
                std::move(h)(std::move(results));
              });
              slot->reset();
            });
          },
          boost::asio::use_awaitable);
  co_return results;
}

}  // namespace gatehouse::content
