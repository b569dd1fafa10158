// The adaptive classifier's tokenizer: turns a message (its content analysis and header section)
// into the set of features the statistics count — words of the body text and Subject, orthogonal
// sparse bigrams (OSB: pairs of words up to four apart, Siefkes et al. 2004) for phrases, and
// tokens of the header fields a gateway sees from the sender (From, Reply-To, Message-ID domain,
// mailer, MIME structure), URL hosts and attachment types. Trace fields added on the way
// (Received, Return-Path, Delivered-To, X-Spam-*) are deliberately left out: they describe the
// path to one mailbox, not the message, and would teach the classifier where a corpus was
// collected. Each feature is hashed to 64 bits; a message counts once per distinct feature.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "content/analysis.hpp"
#include "content/headers.hpp"

namespace gatehouse::classifier {

struct TokenizerOptions {
  bool osb = true;                    // word pairs up to 4 apart, besides single words
  std::size_t max_body_bytes = 256 * 1024;   // text read per message (spam is rarely longer)
  std::size_t max_words = 20000;
};

struct Feature {
  std::uint64_t hash = 0;
  std::string text;                   // readable form, for explanations ("subject:free", "url:example.com")
};

// 64-bit hash of a feature's text (FNV-1a with a final avalanche step).
std::uint64_t feature_hash(std::string_view text);

// The distinct features of a message, in first-seen order. `image_text`: the words of its images
// (the ocr check's CheckContext::image_text), counted as body words.
std::vector<Feature> tokenize(const content::MessageAnalysis& analysis, const content::HeaderSection& headers,
                              const TokenizerOptions& options = {}, std::string_view image_text = {});

// The words of a text as the tokenizer sees them (lower case; long and odd words summarised).
std::vector<std::string> words_of(std::string_view text, std::size_t max_words = 20000);

// Text of an HTML body with tags, comments, scripts and styles skipped and common entities decoded.
std::string html_to_text(std::string_view html);

// URL hosts (lower case) of http(s) links in a text or HTML body.
std::vector<std::string> url_hosts(std::string_view text, std::size_t max_hosts = 200);

}  // namespace gatehouse::classifier
