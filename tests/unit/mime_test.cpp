// The MIME reader (content/mime.hpp): decodings, charsets, encoded words, the part tree, limits on
// hostile input, and agreement with published expected parses (../shared/corpora/mime/stalwart).
#include "content/mime.hpp"

#include <gtest/gtest.h>

#include "mime_test_support.hpp"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

using gatehouse::content::MimeLimits;
using gatehouse::content::ParsedMessage;
using gatehouse::content::parse_mime;
namespace fs = std::filesystem;

namespace {

using gatehouse::test::crlf;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

fs::path corpus_root() { return fs::path(GATEHOUSE_SOURCE_DIR) / ".." / "shared" / "corpora" / "mime"; }

}  // namespace

TEST(Mime, SimpleTextMessageHasSubjectAddressesAndBody) {
  auto parsed = parse_mime(crlf(
      "From: \"Ann Example\" <ann@example.test>\nTo: bob@example.test, Carol <carol@example.test>\n"
      "Subject: Lunch\nDate: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.test>\n\nSee you at noon.\n"));
  EXPECT_FALSE(parsed.unparsable);
  EXPECT_EQ(parsed.subject, "Lunch");
  ASSERT_EQ(parsed.from.size(), 1u);
  EXPECT_EQ(parsed.from[0].name, "Ann Example");
  EXPECT_EQ(parsed.from[0].address, "ann@example.test");
  ASSERT_EQ(parsed.to.size(), 2u);
  EXPECT_EQ(parsed.to[1].address, "carol@example.test");
  EXPECT_FALSE(parsed.undisclosed_recipients);
  ASSERT_EQ(parsed.parts.size(), 1u);
  EXPECT_EQ(parsed.parts[0].content_type, "text/plain");
  EXPECT_NE(parsed.text_plain.find("See you at noon."), std::string::npos);
  EXPECT_TRUE(parsed.html.empty());
  EXPECT_TRUE(parsed.anomalies.empty()) << parsed.anomalies.front();
}

TEST(Mime, EncodedWordsAndCharsetsBecomeUtf8) {
  auto parsed = parse_mime(crlf(
      "From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.test>\nTo: undisclosed-recipients:;\n"
      "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nMIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n"));
  EXPECT_EQ(parsed.subject, "Grüße aus Köln");
  ASSERT_EQ(parsed.from.size(), 1u);
  EXPECT_EQ(parsed.from[0].name, "Jörg");
  EXPECT_TRUE(parsed.undisclosed_recipients);
  EXPECT_NE(parsed.text_plain.find("Привет"), std::string::npos) << parsed.text_plain;
  EXPECT_FALSE(parsed.parts[0].charset_fallback);
}

TEST(Mime, UndeclaredEightBitTextFallsBackToWindows1252) {
  auto parsed = parse_mime(crlf("From: a@example.test\nSubject: x\n\nCaf\xe9 \x80" "5\n"));
  EXPECT_NE(parsed.text_plain.find("Café €5"), std::string::npos) << parsed.text_plain;
  EXPECT_TRUE(parsed.parts[0].charset_fallback);
  EXPECT_TRUE(parsed.has_anomaly("invalid_utf8"));
}

TEST(Mime, MultipartWithAttachmentsAndEmbeddedMessage) {
  auto parsed = parse_mime(crlf(
      "From: a@example.test\nTo: b@example.test\nSubject: report\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
      "Caf=C3=A9 soft=\nbreak\n"
      "--inner\nContent-Type: text/html; charset=utf-8\n\n<p>Caf&eacute;</p>\n"
      "--inner--\n"
      "--outer\nContent-Type: application/octet-stream\n"
      "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf.exe\n"
      "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n"
      "--outer\nContent-Type: message/rfc822\n\n"
      "From: c@example.test\nSubject: inner\n\nForwarded text.\n"
      "--outer--\n"));
  ASSERT_EQ(parsed.parts.size(), 7u);
  EXPECT_EQ(parsed.parts[0].content_type, "multipart/mixed");
  EXPECT_TRUE(parsed.parts[0].multipart);
  EXPECT_EQ(parsed.parts[1].content_type, "multipart/alternative");
  EXPECT_EQ(parsed.parts[1].parent, 0);
  EXPECT_EQ(parsed.parts[2].parent, 1);
  EXPECT_EQ(parsed.parts[2].text, "Café softbreak");   // the CRLF before a boundary is the boundary's
  EXPECT_EQ(parsed.parts[3].content_type, "text/html");
  const auto& attachment = parsed.parts[4];
  EXPECT_TRUE(attachment.is_attachment());
  EXPECT_EQ(attachment.filename, "résumé.pdf.exe");
  EXPECT_EQ(attachment.transfer_encoding, "base64");
  EXPECT_EQ(attachment.decoded.substr(0, 2), "MZ");
  EXPECT_TRUE(parsed.parts[5].embedded_message);
  EXPECT_EQ(parsed.parts[6].parent, 5);
  EXPECT_EQ(parsed.parts[6].depth, 2u);
  EXPECT_NE(parsed.text_plain.find("Café softbreak"), std::string::npos);
  EXPECT_NE(parsed.text_plain.find("Forwarded text."), std::string::npos);
  EXPECT_NE(parsed.html.find("<p>Caf&eacute;</p>"), std::string::npos);
  EXPECT_FALSE(parsed.has_anomaly("html_only"));
  EXPECT_FALSE(parsed.has_anomaly("missing_end_boundary"));
}

TEST(Mime, MissingCloseDelimiterHtmlOnlyAndBase64TextAreAnomalies) {
  auto parsed = parse_mime(crlf(
      "From: a@example.test\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\nPGI+aGk8L2I+\n"));
  EXPECT_TRUE(parsed.has_anomaly("missing_end_boundary"));
  EXPECT_TRUE(parsed.has_anomaly("html_only"));
  EXPECT_TRUE(parsed.has_anomaly("text_as_base64"));
  EXPECT_EQ(parsed.html, "<b>hi</b>");
}

TEST(Mime, DeepNestingStopsAtTheDepthLimit) {
  std::string message = "From: a@example.test\nSubject: bomb\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b0\n\n";
  const int levels = 200;
  for (int i = 0; i < levels; ++i)
    message += "--b" + std::to_string(i) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i + 1) + "\n\n";
  message += "--b200\nContent-Type: text/plain\n\ndeep\n";
  for (int i = levels; i >= 0; --i) message += "--b" + std::to_string(i) + "--\n";
  MimeLimits limits;
  limits.max_depth = 20;
  auto parsed = parse_mime(crlf(message), limits);
  EXPECT_TRUE(parsed.has_anomaly("depth_limit"));
  for (const auto& part : parsed.parts) EXPECT_LE(part.depth, 20u);
}

TEST(Mime, ManyPartsStopAtThePartLimitAndDecodedBytesAreBounded) {
  std::string message = "From: a@example.test\nSubject: many\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n";
  for (int i = 0; i < 2000; ++i)
    message += "--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUFBQUFBQUFBQUFBQUFBQQ==\n";
  message += "--zz--\n";
  MimeLimits limits;
  limits.max_parts = 100;
  limits.max_decoded_bytes = 500;
  auto parsed = parse_mime(crlf(message), limits);
  EXPECT_EQ(parsed.parts.size(), 100u);
  EXPECT_TRUE(parsed.has_anomaly("part_limit"));
  EXPECT_TRUE(parsed.has_anomaly("decoded_limit"));
  std::size_t decoded = 0;
  for (const auto& part : parsed.parts) decoded += part.decoded.size();
  EXPECT_LE(decoded, 500u);
}

TEST(Mime, GarbageIsScoredNotFatal) {
  for (std::string garbage : {std::string(), std::string("\0\0\0\xff\xfe", 5), std::string(100000, '-'),
                              std::string("Content-Type: multipart/mixed\n\n--\n--\n"), std::string(":\n:\n\n")}) {
    auto parsed = parse_mime(garbage);
    EXPECT_TRUE(parsed.unparsable || !parsed.parts.empty() || !parsed.anomalies.empty());
  }
}

// Every message of the MIME corpora parses; where stalwart's expected parse is given, the subject,
// the From addresses and the part tree (content types in pre-order, message/rfc822 bodies nested)
// agree. Messages on which two correct parsers may legitimately differ (malformed input) are
// counted, and most must still agree.
namespace {

std::string string_of(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : std::string();
}

std::string json_text(const boost::json::value& value) {
  if (auto* object = value.if_object()) {
    if (auto* text = object->if_contains("Text")) return std::string(text->as_string());
  }
  return {};
}

// Equal, where stalwart's U+FFFD (undeclared 8-bit text it did not convert) stands for any one
// character of ours (we read such text as Windows-1252).
bool same_text(const std::string& expected, const std::string& ours) {
  static const std::string replacement = "\xEF\xBF\xBD";
  std::size_t e = 0, o = 0;
  while (e < expected.size() && o < ours.size()) {
    if (expected.compare(e, 3, replacement) == 0) {
      e += 3;
      ++o;
      while (o < ours.size() && (static_cast<unsigned char>(ours[o]) & 0xC0) == 0x80) ++o;
      continue;
    }
    if (expected[e] != ours[o]) return false;
    ++e;
    ++o;
  }
  return e == expected.size() && o == ours.size();
}

void expected_tree(const boost::json::object& message, std::size_t depth, std::vector<std::string>& types) {
  const auto& parts = message.at("parts").as_array();
  // Parts are listed flat; a Multipart body names its children by index; walk from part 0.
  std::function<void(std::size_t, std::size_t)> walk = [&](std::size_t index, std::size_t level) {
    const auto& part = parts.at(index).as_object();
    std::string type;
    for (const auto& header : part.at("headers").as_array()) {
      const auto& field = header.as_object();
      if (string_of(field.at("name")) != "content_type" || !field.at("value").is_object()) continue;
      if (auto* ct = field.at("value").as_object().if_contains("ContentType")) {
        const auto& c = ct->as_object();
        type = string_of(c.at("c_type")) + "/" + string_of(c.at("c_subtype"));
      }
    }
    for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    types.push_back(std::to_string(level) + ":" + type);
    const auto& body = part.at("body");
    if (auto* object = body.if_object()) {
      if (auto* children = object->if_contains("Multipart"))
        for (const auto& child : children->as_array()) walk(static_cast<std::size_t>(child.to_number<double>()), level + 1);
      if (auto* embedded = object->if_contains("Message")) expected_tree(embedded->as_object(), level + 1, types);
    }
  };
  if (!parts.empty()) walk(0, depth);
}

}  // namespace

TEST(Mime, CorporaParseAndAgreeWithStalwartsExpectedResults) {
  const fs::path root = corpus_root();
  if (!fs::exists(root)) GTEST_SKIP() << "corpus not found at " << root;
  std::size_t parsed_files = 0, compared = 0, subject_agree = 0, from_agree = 0, tree_agree = 0;
  std::size_t malformed_compared = 0, malformed_tree_differs = 0;
  std::vector<std::string> disagreements;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const auto extension = entry.path().extension().string();
    if (extension != ".eml" && extension != ".msg") continue;   // the rest are expected results and licences
    const std::string raw = read_file(entry.path());
    auto parsed = parse_mime(raw);
    ++parsed_files;
    if (entry.path().string().find("/stalwart/") == std::string::npos || extension != ".eml") continue;
    auto expected_path = entry.path();
    expected_path.replace_extension(".json");
    if (!fs::exists(expected_path)) continue;
    const auto expected = boost::json::parse(read_file(expected_path)).as_object();
    ++compared;
    std::string subject, from;
    const auto& top = expected.at("parts").as_array().at(0).as_object();
    for (const auto& header : top.at("headers").as_array()) {
      const auto& field = header.as_object();
      if (string_of(field.at("name")) == "subject" && subject.empty()) subject = json_text(field.at("value"));
      if (string_of(field.at("name")) == "from" && from.empty() && field.at("value").is_object()) {
        if (auto* address = field.at("value").as_object().if_contains("Address"))
          if (auto* list = address->as_object().if_contains("List"))
            for (const auto& mailbox : list->as_array())
              if (mailbox.as_object().at("address").is_string()) {
                from = std::string(mailbox.as_object().at("address").as_string());
                break;
              }
      }
    }
    // An address without '@' (a bare display name) is no address to stalwart.
    std::string our_from = parsed.from.empty() || parsed.from.front().address.find('@') == std::string::npos
                               ? ""
                               : parsed.from.front().address;
    if (same_text(subject, parsed.subject)) ++subject_agree;
    else disagreements.push_back(entry.path().filename().string() + " subject: [" + subject + "] vs [" + parsed.subject + "]");
    if (from == our_from) ++from_agree;
    else disagreements.push_back(entry.path().filename().string() + " from: [" + from + "] vs [" + our_from + "]");
    std::vector<std::string> want, got;
    expected_tree(expected, 0, want);
    for (const auto& part : parsed.parts) got.push_back(std::to_string(part.depth) + ":" + (part.content_type_declared ? part.content_type : ""));
    // An undeclared Content-Type defaults by context (RFC 2045 §5.2, RFC 2046 §5.1.5): compare declared ones.
    for (std::size_t i = 0; i < want.size() && i < got.size(); ++i)
      if (got[i].ends_with(":")) want[i] = want[i].substr(0, want[i].find(':') + 1);
    const bool malformed = entry.path().parent_path().filename() == "malformed";
    if (malformed) ++malformed_compared;
    if (want == got) ++tree_agree;
    else if (malformed) ++malformed_tree_differs;
    else {
      std::string detail;
      for (const auto& w : want) detail += " " + w;
      detail += " | ours:";
      for (const auto& g : got) detail += " " + g;
      disagreements.push_back(entry.path().parent_path().filename().string() + "/" + entry.path().filename().string() +
                              " tree differs:" + detail);
    }
  }
  std::string report;
  for (const auto& line : disagreements) report += line + "\n";
  EXPECT_GE(parsed_files, 220u);
  EXPECT_GT(compared, 100u);
  // Subjects and senders agree nearly everywhere. Part trees of well-formed messages agree (one
  // truncated thirdparty message is read differently by design); stalwart's "malformed" directory
  // is where two correct parsers may cut parts differently, so there it is only parsed.
  EXPECT_GE(subject_agree * 100, compared * 98) << report;
  EXPECT_GE(from_agree * 100, compared * 98) << report;
  const std::size_t well_formed = compared - malformed_compared;
  const std::size_t well_formed_agree = tree_agree - (malformed_compared - malformed_tree_differs);
  EXPECT_GE(well_formed_agree * 100, well_formed * 98) << report;
  std::cout << "MIME corpora: " << parsed_files << " files parsed; stalwart " << compared << " compared: subject "
            << subject_agree << ", from " << from_agree << ", tree " << tree_agree << " agree (well-formed "
            << well_formed_agree << " of " << well_formed << ")\n" << report;
}
