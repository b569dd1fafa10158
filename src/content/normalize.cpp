// Text normalisation against obfuscation. See normalize.hpp; the Unicode facts used: UAX #44
// (Default_Ignorable_Code_Point, General_Category), UAX #15 (NFKC, NFKC_Casefold), UAX #24 (Script)
// and the look-alike letters of Unicode TR #39's confusables between Latin, Cyrillic and Greek.
#include "content/normalize.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gatehouse::content {
namespace {

using Text = std::u32string;

// ---------------------------------------------------------------------------------------------
// Character classes

// ASCII answers inline (most text is ASCII; ICU's property lookups dominated the profile), the
// rest from ICU. The ASCII answers are ICU's own for those code points.
bool is_ascii_letter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_letter(char32_t c) { return c < 0x80 ? is_ascii_letter(c) : u_isalpha(static_cast<UChar32>(c)); }
bool is_mark(char32_t c) { return c >= 0x80 && (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_M_MASK) != 0; }
bool is_word_char(char32_t c) {
  if (c < 0x80) return is_ascii_letter(c) || (c >= '0' && c <= '9');
  return u_isalnum(static_cast<UChar32>(c)) || is_mark(c);
}
bool is_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0d) || c < 0x20 || c == 0x7f;
  return u_isUWhiteSpace(static_cast<UChar32>(c)) || (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_CC_MASK) != 0;
}
bool is_ignorable(char32_t c) {
  return c >= 0x80 && u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

enum class Alphabet { other, latin, cyrillic, greek };

// Greek letters that Latin-script text uses as symbols (µm, kΩ, 2πr, Δt): not evidence of mixing.
bool is_greek_symbol_letter(char32_t c) {
  switch (c) {
    case U'μ': case U'Ω': case U'ω': case U'π': case U'Δ': case U'δ': case U'λ': case U'Σ': case U'σ':
    case U'θ': case U'φ': case U'Φ':
      return true;
    default:
      return false;
  }
}

Alphabet alphabet_of(char32_t c) {
  if (c < 0x80) return is_ascii_letter(c) ? Alphabet::latin : Alphabet::other;
  if (!is_letter(c)) return Alphabet::other;
  UErrorCode status = U_ZERO_ERROR;
  switch (uscript_getScript(static_cast<UChar32>(c), &status)) {
    case USCRIPT_LATIN: return Alphabet::latin;
    case USCRIPT_CYRILLIC: return Alphabet::cyrillic;
    case USCRIPT_GREEK: return is_greek_symbol_letter(c) ? Alphabet::other : Alphabet::greek;
    default: return Alphabet::other;
  }
}

// Letters styled to stand out (and to escape filters): mathematical alphanumerics (𝐅𝐑𝐄𝐄), circled
// and squared letters (ⓕⓡⓔⓔ, 🄵🅁🄴🄴). NFKC turns them into plain letters.
bool is_styled_letter(char32_t c) {
  return (c >= 0x1D400 && c <= 0x1D7CB) || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149);
}

// ---------------------------------------------------------------------------------------------
// Look-alike letters (TR #39 confusables, the pairs that pass for each other in running text). The
// case matters (Cyrillic "в" passes for "B" only in capitals), so the tables work before case folding.

using LookAlikes = std::unordered_map<char32_t, char32_t>;

LookAlikes pairs(std::u32string_view from_to) {
  LookAlikes table;
  for (std::size_t i = 0; i + 1 < from_to.size(); i += 2) table.emplace(from_to[i], from_to[i + 1]);
  return table;
}

const LookAlikes& look_alikes(Alphabet from, Alphabet to) {
  static const LookAlikes cyrillic_to_latin = pairs(
      U"АAаaВBвbЕEеeЁEёeКKкkМMмmНHнhОOоoРPрpСCсcТTтtУYуyХXхxЅSѕsІIіiЇIїiЈJјjҺHһhԚQԛqԜWԝwӀIӏlҮYүyԀDԁdЬbьbпn");
  static const LookAlikes greek_to_latin = pairs(
      U"ΑAαaΒBβbΕEεeΖZΗHηnΙIιiΚKκkΜMΝNνvΟOοoΡPρpΤTτtΥYυuΧXχxγyϹCϲcϳj");
  static const LookAlikes latin_to_cyrillic = pairs(
      U"AАaаBВCСcсEЕeеHНKКkкMМOОoоPРpрTТXХxхYУyуIІiіSЅsѕJЈjј");
  static const LookAlikes latin_to_greek = pairs(
      U"AΑaαBΒEΕZΖHΗIΙiιKΚkκMΜNΝOΟoοPΡpρTΤYΥuυXΧxχvνyγ");
  static const LookAlikes none;
  if (to == Alphabet::latin) return from == Alphabet::cyrillic ? cyrillic_to_latin : from == Alphabet::greek ? greek_to_latin : none;
  if (from == Alphabet::latin) return to == Alphabet::cyrillic ? latin_to_cyrillic : to == Alphabet::greek ? latin_to_greek : none;
  return none;
}

// ---------------------------------------------------------------------------------------------
// The steps

Text decode_utf8(std::string_view utf8) {
  Text text;
  text.reserve(utf8.size());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const auto length = static_cast<std::int32_t>(utf8.size());
  std::int32_t offset = 0;
  while (offset < length) {
    UChar32 c;
    U8_NEXT(bytes, offset, length, c);
    text.push_back(c < 0 ? U'\uFFFD' : static_cast<char32_t>(c));
  }
  return text;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool in_alphabetic_word(char32_t c) {
  const Alphabet alphabet = alphabet_of(c);
  return alphabet == Alphabet::latin || alphabet == Alphabet::cyrillic || alphabet == Alphabet::greek;
}

// Removes default-ignorable characters; counts those hidden between two letters of an alphabet
// written with spaces (where they have no use but to split a word for a filter). The soft hyphen
// is a legitimate hyphenation hint there, so it is removed without being counted; the joiners of
// emoji sequences and the ZWNJ of Persian or Indic text are not between such letters.
Text remove_invisible(const Text& input, ObfuscationCounts& counts) {
  Text output;
  output.reserve(input.size());
  for (std::size_t i = 0; i < input.size();) {
    if (!is_ignorable(input[i])) {
      output.push_back(input[i]);
      ++i;
      continue;
    }
    std::size_t end = i;
    std::size_t suspicious = 0;
    while (end < input.size() && is_ignorable(input[end])) {
      if (input[end] != 0x00AD) ++suspicious;
      ++end;
    }
    const bool between_letters = !output.empty() && in_alphabetic_word(output.back()) && end < input.size() &&
                                 in_alphabetic_word(input[end]);
    if (between_letters) counts.invisible_chars += suspicious;
    i = end;
  }
  return output;
}

const icu::Normalizer2* nfkc_casefold();

Text normalize_with(const icu::Normalizer2* normalizer, const Text& text) {
  // ASCII is its own NFKC; NFKC_Casefold only lower-cases it (checked for all 128 code points).
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; })) {
    if (normalizer != nfkc_casefold()) return text;
    Text lowered = text;
    for (char32_t& c : lowered)
      if (c >= U'A' && c <= U'Z') c += U'a' - U'A';
    return lowered;
  }
  icu::UnicodeString source = icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                                            static_cast<std::int32_t>(text.size()));
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString result = normalizer->normalize(source, status);
  if (U_FAILURE(status)) return text;
  Text out(static_cast<std::size_t>(result.countChar32()), U'\0');
  status = U_ZERO_ERROR;
  const std::int32_t written =
      result.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<std::int32_t>(out.size()), status);
  out.resize(static_cast<std::size_t>(std::max(written, 0)));
  return out;
}

const icu::Normalizer2* nfkc() {
  UErrorCode status = U_ZERO_ERROR;
  static const icu::Normalizer2* instance = icu::Normalizer2::getNFKCInstance(status);
  return instance;
}

const icu::Normalizer2* nfkc_casefold() {
  UErrorCode status = U_ZERO_ERROR;
  static const icu::Normalizer2* instance = icu::Normalizer2::getNFKCCasefoldInstance(status);
  return instance;
}

// Styled letters in runs of three or more (one ⓘ is decoration; 𝐅𝐑𝐄𝐄 is a word).
std::size_t count_styled_letters(const Text& text) {
  std::size_t total = 0, run = 0;
  for (char32_t c : text) {
    if (is_styled_letter(c)) {
      ++run;
      continue;
    }
    if (run >= 3) total += run;
    run = 0;
  }
  if (run >= 3) total += run;
  return total;
}

// In each word with letters of two or three of Latin, Cyrillic and Greek, the letters of the
// minority alphabets that have a look-alike in the majority one are replaced by it (all of them,
// or none when one has no look-alike: then the word is only counted).
void unmix_scripts(Text& text, ObfuscationCounts& counts) {
  for (std::size_t start = 0; start < text.size();) {
    if (!(is_letter(text[start]) || is_mark(text[start]))) {
      ++start;
      continue;
    }
    std::size_t end = start;
    std::array<std::size_t, 4> letters{};
    while (end < text.size() && (is_letter(text[end]) || is_mark(text[end]))) {
      ++letters[static_cast<std::size_t>(alphabet_of(text[end]))];
      ++end;
    }
    const std::size_t latin = letters[1], cyrillic = letters[2], greek = letters[3];
    const int alphabets = (latin > 0) + (cyrillic > 0) + (greek > 0);
    if (alphabets >= 2) {
      ++counts.mixed_script_words;
      Alphabet majority = Alphabet::latin;
      if (cyrillic > latin && cyrillic >= greek) majority = Alphabet::cyrillic;
      else if (greek > latin && greek > cyrillic) majority = Alphabet::greek;
      Text replaced(text.begin() + static_cast<std::ptrdiff_t>(start), text.begin() + static_cast<std::ptrdiff_t>(end));
      std::size_t substitutions = 0;
      bool complete = true;
      for (char32_t& c : replaced) {
        const Alphabet alphabet = alphabet_of(c);
        if (alphabet == Alphabet::other || alphabet == majority) continue;
        const auto& table = look_alikes(alphabet, majority);
        auto found = table.find(c);
        if (found == table.end()) {
          complete = false;
          break;
        }
        c = found->second;
        ++substitutions;
      }
      if (complete) {
        std::copy(replaced.begin(), replaced.end(), text.begin() + static_cast<std::ptrdiff_t>(start));
        counts.confusables += substitutions;
      }
    }
    start = end;
  }
}

bool is_ascii(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; });
}

// ASCII text case-folded with its white space collapsed: what the Unicode steps make of it.
std::string lowered_ascii_collapsed(std::string_view ascii) {
  // Written through a pointer into a buffer of the input's size (the output is never longer).
  std::string out(ascii.size(), '\0');
  char* const begin = out.data();
  char* end = begin;
  bool pending_space = false;
  for (char byte : ascii) {
    if (is_space(static_cast<char32_t>(byte))) {
      pending_space = end != begin;
      continue;
    }
    if (pending_space) *end++ = ' ';
    pending_space = false;
    *end++ = byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte + ('a' - 'A')) : byte;
  }
  out.resize(static_cast<std::size_t>(end - begin));
  return out;
}

// White space and control characters become single spaces; none at either end.
Text collapse_spaces(const Text& text) {
  Text out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char32_t c : text) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// l33t: the letter a digit or symbol stands for.
char32_t leet_letter(char32_t c) {
  switch (c) {
    case U'0': return U'o';
    case U'1': return U'i';
    case U'3': return U'e';
    case U'4': return U'a';
    case U'5': return U's';
    case U'7': return U't';
    case U'@': return U'a';
    case U'$': return U's';
    case U'!': return U'i';
    case U'|': return U'l';
    default: return 0;
  }
}

bool is_spacing_separator(char32_t c) {
  switch (c) {
    case U' ': case U'.': case U'-': case U'_': case U'*': case U'~': case U'+': case U'\u00B7': case U'\u2022':
      return true;
    default:
      return false;
  }
}

// One spelt-out letter at `i`: a letter (or l33t symbol) standing alone between non-word characters.
template <class Str>
bool single_letter_at(const Str& text, std::size_t i) {
  if (i >= text.size()) return false;
  if (!is_letter(text[i]) && !leet_letter(text[i])) return false;
  if (i > 0 && (is_word_char(text[i - 1]) || leet_letter(text[i - 1]))) return false;
  if (i + 1 < text.size() && (is_word_char(text[i + 1]) || leet_letter(text[i + 1]))) return false;
  return true;
}

template <class Str>
bool starts_token(const Str& text, std::size_t i) {
  if (i == 0) return true;
  switch (text[i - 1]) {
    case U' ': case U'(': case U'[': case U'"': case U'\'': case U'<': case U'\u00AB': case U'\u201C': case U'\u201E':
      return true;
    default:
      return false;
  }
}

// Joins letters spelt out with one repeated separator ("v.i.a.g.r.a", "f r e e", "v-1-a-g-r-a"):
// three or more, at least three of them letters. Counted as obfuscation from four letters, or from
// five when the separator is a dot (R.S.V.P. and U.S.A. are abbreviations, not tricks). Runs that
// continue into a longer word ("a.b.c.example") or an address are left alone.
template <class Str>
Str join_spaced_letters(const Str& text, ObfuscationCounts& counts) {
  Str out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!starts_token(text, i) || !single_letter_at(text, i)) {   // the cheap test first
      // Copied up to the next token start at once: only there can a run begin.
      std::size_t next = i + 1;
      while (next < text.size() && !starts_token(text, next)) ++next;
      out.append(text, i, next - i);
      i = next;
      continue;
    }
    std::vector<std::size_t> elements{i};
    Str separator;
    std::size_t position = i + 1;
    while (true) {
      std::size_t sep_end = position;
      while (sep_end < text.size() && sep_end - position < 4 && is_spacing_separator(text[sep_end])) ++sep_end;
      const std::size_t sep_length = sep_end - position;
      if (sep_length == 0 || sep_length > 3 || !single_letter_at(text, sep_end)) break;
      Str this_separator(text.substr(position, sep_length));
      if (separator.empty()) separator = this_separator;
      else if (this_separator != separator) break;
      elements.push_back(sep_end);
      position = sep_end + 1;
    }
    const std::size_t run_end = elements.back() + 1;
    std::size_t letters = 0;
    for (std::size_t element : elements) letters += is_letter(text[element]) ? 1 : 0;
    bool continues = false;
    if (run_end < text.size()) {
      const char32_t next = text[run_end];
      if (next == U'@' || next == U'/' || next == U':') continues = true;
      if (next != U' ' && is_spacing_separator(next) && run_end + 1 < text.size() && is_word_char(text[run_end + 1]))
        continues = true;
    }
    if (elements.size() < 3 || letters < 3 || continues) {
      out.push_back(text[i++]);
      continue;
    }
    for (std::size_t element : elements) {
      const char32_t c = text[element];
      out.push_back(static_cast<typename Str::value_type>(is_letter(c) ? c : leet_letter(c)));
    }
    const bool dotted = (separator.size() == 1 && separator[0] == '.') ||
                        (separator.size() == 2 && separator[0] == '.' && separator[1] == ' ');
    if (elements.size() >= 5 || (elements.size() >= 4 && !dotted)) ++counts.spaced_words;
    i = run_end;
  }
  return out;
}

bool is_vowel(char32_t c) { return c == U'a' || c == U'e' || c == U'i' || c == U'o' || c == U'u' || c == U'y'; }

// A word that reads as one once spelt out: a vowel and no four consonants in a row (booking codes
// like "k3jx7p" do not).
template <class Str>
bool pronounceable(const Str& word) {
  bool vowel = false;
  std::size_t consonants = 0;
  for (char32_t c : word) {
    if (is_vowel(c)) {
      vowel = true;
      consonants = 0;
    } else if (++consonants >= 4) {
      return false;
    }
  }
  return vowel;
}

bool is_trailing_leet_digit(char32_t c) { return c == U'0' || c == U'3' || c == U'4' || c == U'5' || c == U'7'; }

// Spells out one l33t word (ASCII letters with digits/symbols among them), or returns "" when it
// is not one: too few letters, a digit that stands for no letter (2, 6, 8, 9), a number with a unit
// or ordinal (10am, 4th), a code (k3jx7p), a trailing version (win10, mp3).
template <class Str>
Str spell_leet_word(std::basic_string_view<typename Str::value_type> word) {
  const std::size_t n = word.size();
  std::size_t letters = 0, symbols = 0;
  for (char32_t c : word) {
    if (is_ascii_letter(c)) ++letters;
    else if (leet_letter(c)) ++symbols;
    else return {};
  }
  if (symbols == 0 || letters < 2 || letters < symbols) return {};
  // A leading symbol is spelt out only as the $ of a short word ($ave): any other ("1XXXX", a line
  // number) leaves the word as it is, whatever follows.
  const bool leading_dollar = word[0] == U'$' && n > 1 && n <= 5 && is_ascii_letter(word[1]);
  if (!is_ascii_letter(word[0]) && !leading_dollar) return {};
  std::vector<bool> spelt(n, false);
  bool interior = false;
  std::size_t runs = 0;   // runs of symbols
  for (std::size_t k = 0; k < n; ++k) runs += !is_ascii_letter(word[k]) && (k == 0 || is_ascii_letter(word[k - 1]));
  for (std::size_t start = 0; start < n;) {
    if (is_ascii_letter(word[start])) {
      ++start;
      continue;
    }
    std::size_t end = start;
    while (end < n && !is_ascii_letter(word[end])) ++end;
    // Between letters: after at most three of them (v1agra, c4sino, m0n3y; not forest4trees or
    // pymp3cut), not before a plural s (mp3s), an @ not before a host name (nice@localhost).
    std::size_t before = start;
    while (before > 0 && is_ascii_letter(word[before - 1])) --before;
    std::size_t after = end;
    while (after < n && is_ascii_letter(word[after])) ++after;
    const bool plural = runs == 1 && after == n && after - end == 1 && word[end] == U's';
    const bool host = word[start] == U'@' && after - end > 5;
    if (start > 0 && end < n && end - start <= 3 && start - before <= 3 && !plural && !host) {
      for (std::size_t k = start; k < end; ++k) spelt[k] = true;
      interior = true;
    }
    start = end;
  }
  if (leading_dollar) spelt[0] = true;   // $ave, not $IPTABLES
  // A trailing run: "fr33" (two or more of 0 3 4 5 7), or anything after an interior one ("h3ll0").
  std::size_t trailing = n;
  while (trailing > 0 && !is_ascii_letter(word[trailing - 1])) --trailing;
  if (trailing > 0 && trailing < n) {
    const bool digits_only = std::all_of(word.begin() + static_cast<std::ptrdiff_t>(trailing), word.end(), is_trailing_leet_digit);
    if (interior || (n - trailing >= 2 && digits_only)) {
      for (std::size_t k = trailing; k < n; ++k) spelt[k] = true;
    }
  }
  Str result;
  for (std::size_t k = 0; k < n; ++k) {
    if (is_ascii_letter(word[k])) {
      result.push_back(static_cast<typename Str::value_type>(word[k] >= U'A' && word[k] <= U'Z' ? word[k] + 32 : word[k]));
    } else {
      if (!spelt[k]) return {};
      result.push_back(static_cast<typename Str::value_type>(leet_letter(word[k])));
    }
  }
  if (!pronounceable(result)) return {};
  return result;
}

using TextView = std::u32string_view;

// Whether a space-delimited token is an address, a URL, a path or another form l33t never takes
// ("://" needs a ':', which is in the set of characters that exclude a token).
template <class View>
bool leave_token_alone(View token) {
  const bool www = token.size() >= 4 && token[0] == 'w' && token[1] == 'w' && token[2] == 'w' && token[3] == '.';
  if (www || token.front() == '@') return true;
  if (const auto at = token.find('@'); at != View::npos && token.find('.', at) != View::npos) return true;
  for (char32_t c : token) {
    switch (c) {
      case U'/': case U'\\': case U'=': case U'&': case U'%': case U'#': case U'_': case U':': case U'+': case U'~': case U'^':
        return true;
      default:
        break;
    }
  }
  return false;
}

bool is_leading_punctuation(char32_t c) { return TextView(U"\"'([{<*\u00AB\u201C\u201E\u2018").find(c) != TextView::npos; }
bool is_trailing_punctuation(char32_t c) { return TextView(U".,;:!?\"')]}>*\u00BB\u201D\u2019\u2026").find(c) != TextView::npos; }
bool is_part_separator(char32_t c) { return c == U'-' || c == U'\'' || c == U'\u2019'; }

// Spells out the l33t words of each token (space-delimited, split further at hyphens and
// apostrophes). Tokens are read in place; only one with a l33t word is rebuilt.
template <class Str>
Str spell_out_leet(const Str& text, ObfuscationCounts& counts) {
  using View = std::basic_string_view<typename Str::value_type>;
  Str out;
  out.reserve(text.size());
  const View all(text);
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find(' ', start);
    if (end == View::npos) end = all.size();
    const View token = all.substr(start, end - start);
    std::size_t core_start = 0, core_end = token.size();
    while (core_start < core_end && is_leading_punctuation(token[core_start])) ++core_start;
    while (core_end > core_start && is_trailing_punctuation(token[core_end - 1])) --core_end;
    const View core = token.substr(core_start, core_end - core_start);
    // Only a core with a l33t symbol, and without '.' or ',' (one pass; either ends it), can hold a
    // l33t word (plain letters, the common case, have nothing to spell out); one that is a single
    // part (no hyphen or apostrophe) must consist of letters and l33t symbols alone and start with a
    // letter or $ (spell_leet_word spells out no other leading symbol).
    bool leet = false, split = false, foreign = false, stop = false;
    for (char32_t c : core) {
      if (is_ascii_letter(c)) continue;
      if (c == U'.' || c == U',') {
        stop = true;
        break;
      }
      if (leet_letter(c)) leet = true;
      else if (is_part_separator(c)) split = true;
      else foreign = true;
    }
    const bool candidate = !stop && leet && (split || (!foreign && (is_ascii_letter(core.front()) || core.front() == U'$'))) &&
                           !leave_token_alone(core);
    Str rebuilt;
    bool changed = false;
    if (candidate) {
      std::size_t part_start = 0;
      while (part_start <= core.size()) {
        std::size_t part_end = part_start;
        while (part_end < core.size() && !is_part_separator(core[part_end])) ++part_end;
        const View part = core.substr(part_start, part_end - part_start);
        Str spelt = spell_leet_word<Str>(part);
        if (!spelt.empty()) {
          ++counts.leet_words;
          rebuilt += spelt;
          changed = true;
        } else {
          rebuilt += part;
        }
        if (part_end < core.size()) rebuilt.push_back(core[part_end]);
        part_start = part_end + 1;
      }
    }
    if (changed) {
      out += token.substr(0, core_start);
      out += rebuilt;
      out += token.substr(core_end);
    } else {
      out += token;
    }
    if (end < all.size()) out.push_back(U' ');
    start = end + 1;
  }
  return out;
}

template <class Str>
std::size_t count_words(const Str& text) {
  std::size_t words = 0;
  bool in_word = false;
  for (char32_t c : text) {
    if (c == U' ') {
      in_word = false;
    } else if (!in_word && is_word_char(c)) {
      ++words;
      in_word = true;
    }
  }
  return words;
}

}  // namespace

ObfuscationCounts& ObfuscationCounts::operator+=(const ObfuscationCounts& other) {
  invisible_chars += other.invisible_chars;
  mixed_script_words += other.mixed_script_words;
  confusables += other.confusables;
  leet_words += other.leet_words;
  spaced_words += other.spaced_words;
  words += other.words;
  return *this;
}

NormalizedText normalize_text(std::string_view utf8, const NormalizeLimits& limits) {
  NormalizedText result;
  if (utf8.size() > limits.max_input_bytes) {
    std::size_t cut = limits.max_input_bytes;
    while (cut > 0 && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) --cut;   // not inside a character
    utf8 = utf8.substr(0, cut);
    result.truncated = true;
  }
  ObfuscationCounts& counts = result.counts;
  if (is_ascii(utf8)) {
    // The common case, as bytes. For ASCII the Unicode steps reduce to one pass: nothing is
    // default-ignorable or styled, NFKC is the identity, every letter is Latin (no mixed words),
    // and NFKC_Casefold lower-cases A-Z. The word steps keep ASCII ASCII, so the result is UTF-8.
    std::string text = join_spaced_letters(lowered_ascii_collapsed(utf8), counts);
    result.text = spell_out_leet(text, counts);
    counts.words = count_words(result.text);
    return result;
  }
  Text text = remove_invisible(decode_utf8(utf8), counts);
  counts.confusables += count_styled_letters(text);
  text = normalize_with(nfkc(), text);
  unmix_scripts(text, counts);
  text = collapse_spaces(normalize_with(nfkc_casefold(), text));
  text = join_spaced_letters(text, counts);
  text = spell_out_leet(text, counts);
  counts.words = count_words(text);
  result.text.reserve(text.size());
  for (char32_t c : text) append_utf8(result.text, c);
  return result;
}

}  // namespace gatehouse::content
