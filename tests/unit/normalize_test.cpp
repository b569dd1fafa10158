// Tests of the anti-obfuscation normaliser (src/content/normalize.hpp): each trick is undone and
// counted, and ordinary text of several languages and kinds comes out clean and uncounted.
#include "content/normalize.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace gatehouse::content {
namespace {

// Nothing counted as obfuscation.
void expect_clean(const NormalizedText& normalized) {
  EXPECT_EQ(normalized.counts.invisible_chars, 0u) << normalized.text;
  EXPECT_EQ(normalized.counts.mixed_script_words, 0u) << normalized.text;
  EXPECT_EQ(normalized.counts.confusables, 0u) << normalized.text;
  EXPECT_EQ(normalized.counts.leet_words, 0u) << normalized.text;
  EXPECT_EQ(normalized.counts.spaced_words, 0u) << normalized.text;
}

TEST(Normalize, CaseFoldsAndCollapsesWhiteSpace) {
  auto n = normalize_text("  Hello\r\n\tWORLD \u00A0 Straße  ");
  EXPECT_EQ(n.text, "hello world strasse");
  EXPECT_EQ(n.counts.words, 3u);
  expect_clean(n);
}

TEST(Normalize, NfkcTurnsFullwidthAndLigaturesIntoPlainLetters) {
  EXPECT_EQ(normalize_text("\uFF26\uFF32\uFF25\uFF25 of\uFB01ce").text, "free office");
}

TEST(Normalize, ZeroWidthCharactersInsideWordsAreRemovedAndCounted) {
  auto n = normalize_text("v\u200Bi\u200Ca\u200Dg\u2060r\uFEFFa now");
  EXPECT_EQ(n.text, "viagra now");
  EXPECT_EQ(n.counts.invisible_chars, 5u);
}

TEST(Normalize, BidiControlsTagCharactersAndVariationSelectorsInsideWordsAreRemoved) {
  auto n = normalize_text("pay\u202Epal ca\U000E0041sh lo\uFE0Fan");
  EXPECT_EQ(n.text, "paypal cash loan");
  EXPECT_EQ(n.counts.invisible_chars, 3u);
}

TEST(Normalize, SoftHyphenIsRemovedButNotCounted) {
  // German newsletters hyphenate long words with &shy;.
  auto n = normalize_text("Silben\u00ADtrennung f\u00FCr Donau\u00ADdampf\u00ADschiff");
  EXPECT_EQ(n.text, "silbentrennung für donaudampfschiff");
  expect_clean(n);
}

TEST(Normalize, EmojiZwjSequencesAndFlagsAreNotObfuscation) {
  // Family (ZWJ), heart with variation selector, England flag (tag characters), Persian ZWNJ.
  auto n = normalize_text("Hi \U0001F468\u200D\U0001F469\u200D\U0001F467 \u2764\uFE0F \U0001F3F4\U000E0067\U000E0062\U000E0065"
                          "\U000E006E\U000E0067\U000E007F \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645 bye");
  expect_clean(n);
  EXPECT_TRUE(n.text.starts_with("hi ")) << n.text;
  EXPECT_TRUE(n.text.ends_with(" bye")) << n.text;
}

TEST(Normalize, CyrillicLookAlikesInsideLatinWordsBecomeLatin) {
  // "pаypal" with Cyrillic а, "Аpple" with Cyrillic А, "miсrosoft" with Cyrillic с.
  auto n = normalize_text("Your p\u0430ypal and \u0410pple and mi\u0441rosoft accounts");
  EXPECT_EQ(n.text, "your paypal and apple and microsoft accounts");
  EXPECT_EQ(n.counts.mixed_script_words, 3u);
  EXPECT_EQ(n.counts.confusables, 3u);
}

TEST(Normalize, CapitalLookAlikesAreMappedBeforeCaseFolding) {
  // Cyrillic В and Н look like B and H only as capitals; Greek Ο and Κ.
  auto n = normalize_text("\u0412UY C\u041dEAP BO\u039F\u039A");
  EXPECT_EQ(n.text, "buy cheap book");
  EXPECT_EQ(n.counts.confusables, 4u);
}

TEST(Normalize, LatinLookAlikesInsideCyrillicWordsBecomeCyrillic) {
  // "скидка" (discount) with a Latin c and a Latin a.
  auto n = normalize_text("Большая cкидк\u0061");
  EXPECT_EQ(n.text, "большая скидка");
  EXPECT_EQ(n.counts.mixed_script_words, 1u);
  EXPECT_EQ(n.counts.confusables, 2u);
}

TEST(Normalize, GenuineCyrillicAndGreekTextIsUntouched) {
  auto russian = normalize_text("Уважаемый клиент! Ваш заказ №12345 отправлен 24.05.2024, стоимость 1 299,00 ₽. "
                                "Скачайте PDF-файл в личном кабинете на сайте example.ru в разделе «Заказы».");
  EXPECT_EQ(russian.text,
            "уважаемый клиент! ваш заказ no12345 отправлен 24.05.2024, стоимость 1 299,00 ₽. "
            "скачайте pdf-файл в личном кабинете на сайте example.ru в разделе «заказы».");
  expect_clean(russian);
  auto greek = normalize_text("Καλημέρα σας! Η παραγγελία σας ΑΒ-1234 στάλθηκε. Ευχαριστούμε, ΟΤΕ.");
  EXPECT_EQ(greek.text, "καλημέρα σασ! η παραγγελία σασ αβ-1234 στάλθηκε. ευχαριστούμε, οτε.");   // final sigma folds to σ
  expect_clean(greek);
}

TEST(Normalize, GreekLettersUsedAsUnitsAreNotMixing) {
  auto n = normalize_text("Filter: 5\u00B5m pore size, 10k\u2126 resistor, area 2\u03C0r");
  expect_clean(n);
}

TEST(Normalize, GermanNewsletterIsClean) {
  auto n = normalize_text("Liebe Kundin, lieber Kunde,\n\nunsere Öffnungszeiten ändern sich ab 1.7.: Mo–Fr 9–18 Uhr. "
                          "Größe 42, Preis 19,99 €, 3er-Pack für 49 € – nur bis 31.12.2024! Straße 5a, 10115 Berlin. "
                          "Fragen? info@beispiel.de oder https://www.beispiel.de/kontakt?x=1");
  expect_clean(n);
  EXPECT_NE(n.text.find("öffnungszeiten ändern"), std::string::npos);
  EXPECT_NE(n.text.find("info@beispiel.de"), std::string::npos);
  EXPECT_NE(n.text.find("https://www.beispiel.de/kontakt?x=1"), std::string::npos);
}

TEST(Normalize, StyledLettersBecomePlainAndCount) {
  auto n = normalize_text("\U0001D405\U0001D411\U0001D404\U0001D404 money \u24D8");
  EXPECT_EQ(n.text, "free money i");
  EXPECT_EQ(n.counts.confusables, 4u);   // the lone ⓘ is decoration
}

TEST(Normalize, LeetWordsAreSpeltOut) {
  auto n = normalize_text("Buy V1AGRA and c!al1s, fr33 shipping, $ave big, p@ypal h3ll0 l33t ca$h");
  EXPECT_EQ(n.text, "buy viagra and cialis, free shipping, save big, paypal hello leet cash");
  EXPECT_EQ(n.counts.leet_words, 8u);
}

// A symbol at the start of a word is spelt out only as the $ of a short word; a line number
// before text ("1XXXX", smtp-source's body) or "4ever" stays as written, in either road.
TEST(Normalize, OnlyADollarIsSpeltAtTheStartOfAWord) {
  for (const std::string suffix : {"", " caf\u00E9"}) {
    auto n = normalize_text("1XXXXXXXXXX 2XXXXXXXXX 4ever 0ne-t1me $ave $avings" + suffix);
    EXPECT_EQ(n.text, "1xxxxxxxxxx 2xxxxxxxxx 4ever 0ne-time save $avings" + suffix) << suffix;
    EXPECT_EQ(n.counts.leet_words, 2u) << suffix;
  }
}

TEST(Normalize, NumbersPricesDatesAddressesAndCodesAreNotLeet) {
  const std::string text =
      "Only $5.99 (was $10) 24/7 support, call +1-555-0100 at 10:30am or 9am, the 1st, 2nd, 3rd and 4th "
      "of May 2024-05-01; win10 and mp3 files, top10 list, covid19 rules, b2b deals, 4x4 cars, 50% off, "
      "€5 or 5€ or US$5, send to john.doe1@example.com or visit http://example.com/p4ge1, version v1.2.3, "
      "booking code K3JX7P, ref 0x7f3a";
  auto n = normalize_text(text);
  EXPECT_EQ(n.counts.leet_words, 0u) << n.text;
  EXPECT_NE(n.text.find("$5.99"), std::string::npos);
  EXPECT_NE(n.text.find("24/7"), std::string::npos);
  EXPECT_NE(n.text.find("john.doe1@example.com"), std::string::npos);
  EXPECT_NE(n.text.find("http://example.com/p4ge1"), std::string::npos);
  EXPECT_NE(n.text.find("k3jx7p"), std::string::npos);
  expect_clean(n);
}

TEST(Normalize, SpacedOutLettersAreJoined) {
  auto n = normalize_text("V.I.A.G.R.A and f r e e pills, V-1-A-G-R-A, c_i_a_l_i_s");
  EXPECT_EQ(n.text, "viagra and free pills, viagra, cialis");
  EXPECT_EQ(n.counts.spaced_words, 4u);
}

TEST(Normalize, AbbreviationsAndInitialsAreJoinedButNotCounted) {
  auto n = normalize_text("R.S.V.P. to J. R. R. Tolkien in the U.S.A., e.g. today, or plan B. A new try");
  EXPECT_EQ(n.text, "rsvp. to jrr. tolkien in the usa., e.g. today, or plan b. a new try");
  EXPECT_EQ(n.counts.spaced_words, 0u);
}

TEST(Normalize, SpacedLettersInsideAddressesAreLeftAlone) {
  auto n = normalize_text("see a.b.c.example.com and x.y.z@example.org");
  EXPECT_EQ(n.text, "see a.b.c.example.com and x.y.z@example.org");
  expect_clean(n);
}

TEST(Normalize, TricksCombine) {
  // Cyrillic о, a zero-width space and l33t in one message.
  auto n = normalize_text("Cheap m\u200B\u043En3y: V\u200BI\u200BA\u200BG\u200BR\u200BA");
  EXPECT_EQ(n.text, "cheap money: viagra");
  EXPECT_GE(n.counts.invisible_chars, 6u);
  EXPECT_EQ(n.counts.confusables, 1u);
  EXPECT_EQ(n.counts.leet_words, 1u);
}

TEST(Normalize, InvalidUtf8IsReplacedAndInputIsCapped) {
  auto invalid = normalize_text("ab\xFF\xFE" "cd");
  EXPECT_EQ(invalid.text, "ab\uFFFD\uFFFDcd");
  NormalizeLimits limits;
  limits.max_input_bytes = 10;
  auto capped = normalize_text("ääääääääää", limits);   // 2 bytes each: the cut falls between characters
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(capped.text, "äääää");
}

TEST(Normalize, LargeInputIsFast) {
  std::string text;
  while (text.size() < (512u << 10)) text += "Hello w\u200Borld, v1agra p\u0430ypal f r e e 24/7 $5.99 Straße. ";
  const auto start = std::chrono::steady_clock::now();
  auto n = normalize_text(text);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(n.truncated);
  EXPECT_GT(n.counts.leet_words, 1000u);
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// ASCII text takes a shorter road (bytes, no Unicode steps); it must end where the full one does.
// A non-ASCII word appended sends the same text down the full road.
TEST(Normalize, AsciiTextComesOutAsThroughTheUnicodeSteps) {
  const char* samples[] = {
      "Buy V1AGRA now!!! F R E E m0ney, fr33 $ave: v-1-a-g-r-a and c.a.s.i.n.o",
      "Meeting at 10am on the 4th; see http://www.example.com/a_b?x=1 or mail bob@example.com",
      "R.S.V.P. by Friday -- U.S.A. h3ll0 w0rld (l33t) 'qu0ted' \"d0uble\" mp3s win10 k3jx7p",
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n\tTabs\x01ctl",
  };
  for (const char* sample : samples) {
    const NormalizedText ascii = normalize_text(sample);
    const NormalizedText unicode = normalize_text(std::string(sample) + " caf\u00E9");
    EXPECT_EQ(ascii.text + " caf\u00E9", unicode.text) << sample;
    EXPECT_EQ(ascii.counts.leet_words, unicode.counts.leet_words) << sample;
    EXPECT_EQ(ascii.counts.spaced_words, unicode.counts.spaced_words) << sample;
    EXPECT_EQ(ascii.counts.words + 1, unicode.counts.words) << sample;
  }
  const NormalizedText spelt = normalize_text("Buy V1AGRA now F R E E");
  EXPECT_EQ(spelt.text, "buy viagra now free");
  EXPECT_EQ(spelt.counts.leet_words, 1u);
  EXPECT_EQ(spelt.counts.spaced_words, 1u);
}

}  // namespace
}  // namespace gatehouse::content
