// Text normalisation against obfuscation (docs/content.md, "Normalised text and obfuscation"): the
// text the classifier and the watch words read, with the tricks spammers use to hide words from
// them undone, and a count of each trick found so that the `obfuscation` check can score it.
//
// In order: invisible and format characters are removed (zero-width spaces and joiners, soft
// hyphens, bidi controls, tag characters, variation selectors…; Unicode's Default_Ignorable_Code_Point
// set, UAX #44); the text is NFKC-normalised (UAX #15: fullwidth and mathematical letters become
// plain ones); inside a word that mixes Latin, Cyrillic and Greek letters the minority letters that
// look like letters of the majority script are replaced by those (Unicode TR #39 confusables,
// restricted to mixed words so that genuine Cyrillic or Greek text is untouched); the text is
// case-folded (NFKC_Casefold); letters spelt out with separators ("v.i.a.g.r.a", "f r e e") are
// joined; l33t substitutions inside otherwise alphabetic words ("v1agra", "fr33", "$ave") are
// spelt out, leaving numbers, prices, dates, addresses and URLs alone; runs of white space become
// one space. Input beyond the size cap is not read; the work is linear in the input.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace gatehouse::content {

struct NormalizeLimits {
  std::size_t max_input_bytes = 512u << 10;   // UTF-8 read per call; the rest is ignored
};

// What the normaliser found: each a sign of text written to defeat filters.
struct ObfuscationCounts {
  std::size_t invisible_chars = 0;      // invisible/format characters between letters of Latin, Cyrillic or Greek
  std::size_t mixed_script_words = 0;   // words with letters of two of Latin, Cyrillic, Greek
  std::size_t confusables = 0;          // look-alike letters replaced, and styled (mathematical, circled) letters
  std::size_t leet_words = 0;           // words with digits or symbols standing for letters
  std::size_t spaced_words = 0;         // words spelt out letter by letter with separators (4+ letters)
  std::size_t words = 0;                // words in the normalised text

  ObfuscationCounts& operator+=(const ObfuscationCounts& other);
};

struct NormalizedText {
  std::string text;                     // NFKC, case-folded, de-obfuscated, single spaces
  ObfuscationCounts counts;
  bool truncated = false;               // input beyond limits.max_input_bytes was ignored
};

// Normalises UTF-8 text (invalid sequences read as U+FFFD).
NormalizedText normalize_text(std::string_view utf8, const NormalizeLimits& limits = {});

}  // namespace gatehouse::content
