// The OCR engine (content/ocr.hpp) on real images made by tests/fixtures/ocr/make-images.py: a
// phrase in PNG, JPEG, GIF and on a transparent background is read back; a non-image, a truncated
// image, a header claiming huge dimensions, a GIF of many frames and a tracking pixel give an
// error value; the time budget cancels a long recognition and counts the wait in the queue;
// results come back on the caller's executor; a pool destroyed with work waiting answers it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "content/ocr.hpp"

namespace gatehouse::content {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(GATEHOUSE_SOURCE_DIR) / "tests" / "fixtures" / "ocr";

std::string fixture(const std::string& name) {
  std::ifstream in(kFixtures / name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

OcrRequest request_for(std::vector<std::string> images, std::chrono::milliseconds budget = std::chrono::seconds(60)) {
  OcrRequest request;
  request.images = std::move(images);
  request.budget = budget;
  return request;
}

// CRC-32 of PNG chunks (ISO 3309, as zlib computes it).
std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A valid PNG header claiming width × height, with an empty IDAT: readable up to the pixels.
std::string png_header(std::uint32_t width, std::uint32_t height) {
  std::string bytes("\x89PNG\r\n\x1a\n", 8);
  auto be32 = [](std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
  };
  auto chunk = [&](std::string_view type, const std::string& data) {
    be32(bytes, static_cast<std::uint32_t>(data.size()));
    std::string body = std::string(type) + data;
    bytes += body;
    be32(bytes, crc32(body));
  };
  std::string header;
  be32(header, width);
  be32(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);   // 8 bits, RGB
  chunk("IHDR", header);
  chunk("IDAT", "");
  chunk("IEND", "");
  return bytes;
}

TEST(OcrProbe, ReadsFormatsAndDimensionsWithoutDecoding) {
  ImageInfo png = probe_image(fixture("text.png"));
  EXPECT_EQ(png.format, "png");
  EXPECT_TRUE(png.error.empty()) << png.error;
  EXPECT_GT(png.width, 500u);
  EXPECT_GT(png.height, 40u);
  EXPECT_EQ(probe_image(fixture("text.jpg")).format, "jpeg");
  ImageInfo gif = probe_image(fixture("text.gif"));
  EXPECT_EQ(gif.format, "gif");
  EXPECT_EQ(gif.width, png.width);
  EXPECT_EQ(gif.height, png.height);
  EXPECT_TRUE(gif.error.empty()) << gif.error;

  ImageInfo huge = probe_image(png_header(60000, 60000));
  EXPECT_TRUE(huge.error.empty()) << huge.error;
  EXPECT_EQ(huge.pixels, 3600000000ull);

  EXPECT_FALSE(probe_image("Hello, this is plain text, not a picture.").error.empty());
  EXPECT_EQ(image_format("GIF89a"), "gif");
  EXPECT_EQ(image_format("<html>"), "");
}

TEST(OcrProbe, CountsEveryFrameOfAGif) {
  // A 100×100 screen with 50 frames each claiming 4000×4000: 800 million pixels that giflib would
  // allocate and decode, though the screen is small.
  std::string gif("GIF89a", 6);
  gif += std::string("\x64\x00\x64\x00\x00\x00\x00", 7);   // screen 100×100, no colour table
  for (int frame = 0; frame < 50; ++frame) {
    gif += std::string("\x2c\x00\x00\x00\x00\xa0\x0f\xa0\x0f\x00", 10);   // descriptor 4000×4000
    gif += std::string("\x02\x01\x00\x00", 4);   // LZW code size, one sub-block, terminator
  }
  gif += '\x3b';
  ImageInfo info = probe_image(gif);
  EXPECT_TRUE(info.error.empty()) << info.error;
  EXPECT_EQ(info.pixels, 100ull * 100 + 50ull * 4000 * 4000);

  OcrPool pool(1);
  auto results = pool.read_blocking(request_for({gif}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].error.find("too many pixels"), std::string::npos) << results[0].error;
}

TEST(OcrPool, ReadsThePhraseInEveryFormat) {
  OcrPool pool(2);
  auto results = pool.read_blocking(
      request_for({fixture("text.png"), fixture("text.jpg"), fixture("text.gif"), fixture("text-transparent.png")}));
  ASSERT_EQ(results.size(), 4u);
  for (const auto& result : results) {
    EXPECT_TRUE(result.ok()) << result.image.format << ": " << result.error;
    EXPECT_NE(lower(result.text).find("cheap watches for sale today"), std::string::npos)
        << result.image.format << ": \"" << result.text << "\"";
  }
}

TEST(OcrPool, HostileInputGivesErrorValues) {
  OcrPool pool(1);
  const std::string png = fixture("text.png");
  auto results = pool.read_blocking(request_for({
      "not an image at all, just some text",   // no signature
      png.substr(0, png.size() / 3),           // truncated: the header reads, the pixels do not
      png_header(60000, 60000),                // 3.6 gigapixels claimed
      fixture("pixel.gif"),                    // a tracking pixel
      std::string(6 * 1024 * 1024, 'x'),       // over max_image_bytes
      std::string("\x89PNG\r\n\x1a\n", 8),     // a signature and nothing else
  }));
  ASSERT_EQ(results.size(), 6u);
  EXPECT_NE(results[0].error.find("not an image"), std::string::npos) << results[0].error;
  EXPECT_FALSE(results[1].ok());
  EXPECT_NE(results[2].error.find("too many pixels"), std::string::npos) << results[2].error;
  EXPECT_NE(results[3].error.find("too small"), std::string::npos) << results[3].error;
  EXPECT_NE(results[4].error.find("too large"), std::string::npos) << results[4].error;
  EXPECT_FALSE(results[5].ok());
  for (const auto& result : results) EXPECT_TRUE(result.text.empty());
  // The worker is still fine afterwards.
  auto after = pool.read_blocking(request_for({png}));
  EXPECT_TRUE(after[0].ok()) << after[0].error;
}

TEST(OcrPool, TheTimeBudgetCancelsARecognitionAndCountsTheWait) {
  OcrPool pool(1);
  const auto started = std::chrono::steady_clock::now();
  // One worker: the second image waits behind the first, whose recognition the budget cuts short.
  auto results = pool.read_blocking(request_for({fixture("page.png"), fixture("text.png")}, std::chrono::milliseconds(300)));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(results.size(), 2u);
  EXPECT_NE(results[0].error.find("time budget used up"), std::string::npos) << results[0].error;
  EXPECT_NE(results[1].error.find("not read: time budget used up"), std::string::npos) << results[1].error;
  // Unbounded, the page takes seconds of CPU; layout analysis (not cancellable) is the rest.
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(OcrPool, ResultsComeBackOnTheCallersExecutor) {
  OcrPool pool(1);
  boost::asio::io_context io;
  std::thread::id resumed_on;
  std::vector<OcrResult> results;
  OcrRequest request = request_for({fixture("text.png")});
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::vector<OcrResult> read = co_await pool.read(std::move(request));
        results = std::move(read);
        resumed_on = std::this_thread::get_id();
      },
      boost::asio::detached);
  io.run();
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(lower(results[0].text).find("watches"), std::string::npos) << results[0].text;
}

TEST(OcrPool, DestroyedWithWorkWaitingAnswersIt) {
  std::vector<std::string> errors;
  std::mutex mutex;
  {
    OcrPool pool(1);
    for (int i = 0; i < 3; ++i) {
      pool.submit(request_for({fixture("page.png")}), [&](std::vector<OcrResult> results) {
        std::lock_guard lock(mutex);
        for (auto& result : results) errors.push_back(result.error);
      });
    }
  }
  ASSERT_EQ(errors.size(), 3u);
  for (const auto& error : errors) EXPECT_NE(error.find("stopping"), std::string::npos) << error;
}

TEST(OcrPool, AFullQueueRefusesInsteadOfGrowing) {
  OcrPool pool(1, 2);
  std::vector<std::string> images(5, fixture("pixel.gif"));
  auto results = pool.read_blocking(request_for(images));
  ASSERT_EQ(results.size(), 5u);
  const auto refused = std::count_if(results.begin(), results.end(),
                                     [](const OcrResult& r) { return r.error.find("queue full") != std::string::npos; });
  EXPECT_GE(refused, 2);
}

TEST(OcrLanguageData, NamesWhatIsMissing) {
  EXPECT_EQ(missing_language_data(default_tessdata_dir(), "eng"), "");
  const std::string missing = missing_language_data(default_tessdata_dir(), "eng+xyz");
  EXPECT_NE(missing.find("xyz.traineddata"), std::string::npos) << missing;
  EXPECT_NE(missing.find("tesseract-ocr-xyz"), std::string::npos) << missing;
  EXPECT_NE(missing_language_data(default_tessdata_dir(), "../etc/passwd").find("not a list of language names"),
            std::string::npos);
}

}  // namespace
}  // namespace gatehouse::content
