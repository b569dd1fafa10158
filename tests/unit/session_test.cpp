// Tests of the sans-I/O SMTP server session (src/smtp/session.hpp): greeting, EHLO/HELO,
// sequencing (RFC 5321 §4.3.2), syntax errors, limits (max_errors, max_rsets), PIPELINING and
// pipelining where it was not offered (RFC 2920 §3.1), a host's 421 closing the session (RFC 5321
// §3.8), DATA and its framing (SMTP smuggling), BDAT/CHUNKING, RSET/QUIT and the small commands,
// STARTTLS (RFC 3207 §4.2 input discarding), timeouts and shutdown. Every test drives the session as the network layer does:
// bytes in, replies and events out.
#include "smtp/session.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace gatehouse::smtp {
namespace {

using namespace std::string_literals;

// One reply as seen on the wire.
struct WireReply {
  int code = 0;
  std::vector<std::string> lines;   // text after "code-" / "code "
};

// Splits wire output into replies; fails the test on a line that is not "ddd[ -]text".
std::vector<WireReply> parse_wire(std::string_view out) {
  std::vector<WireReply> replies;
  WireReply current;
  while (!out.empty()) {
    auto end = out.find("\r\n");
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "reply line without CRLF: " << out;
      break;
    }
    std::string_view line = out.substr(0, end);
    out.remove_prefix(end + 2);
    if (line.size() < 3 || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      ADD_FAILURE() << "malformed reply line: " << line;
      continue;
    }
    current.code = std::stoi(std::string(line.substr(0, 3)));
    current.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    if (line.size() == 3 || line[3] == ' ') replies.push_back(std::exchange(current, {}));
  }
  return replies;
}

// The codes of the replies in `out`, in order.
std::vector<int> codes(std::string_view out) {
  std::vector<int> result;
  for (auto& r : parse_wire(out)) result.push_back(r.code);
  return result;
}

bool has_bare_newline(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
  }
  return false;
}

// What an accepting host answers to each event.
Reply accept_reply(const Event& event) {
  if (std::holds_alternative<HeloEvent>(event)) return Reply{250, "", "ignored: the session writes its own"};
  if (std::holds_alternative<MailEvent>(event)) return Reply{250, "2.1.0", "Ok"};
  if (std::holds_alternative<RcptEvent>(event)) return Reply{250, "2.1.5", "Ok"};
  if (std::holds_alternative<MessageEvent>(event)) return Reply{250, "2.0.0", "Ok: queued"};
  return Reply{};
}

// A client talking to a session whose host accepts everything (unless `manual`).
struct Client {
  Session session;
  std::vector<Event> events;
  bool manual = false;

  explicit Client(SessionSettings settings = {}, bool manual_ = false) : session(fix(std::move(settings))), manual(manual_) {
    session.greet(Reply{220, "", "mx.test ESMTP"});
    EXPECT_EQ(session.take_output(), "220 mx.test ESMTP\r\n");
  }
  static SessionSettings fix(SessionSettings s) {
    s.hostname = "mx.test";
    return s;
  }
  // Feeds bytes, answers every event (until STARTTLS) and returns what was sent.
  std::string send(std::string_view bytes) {
    session.receive(bytes);
    settle();
    return session.take_output();
  }
  void settle() {
    if (manual) return;
    while (session.pending() && !std::holds_alternative<StartTlsEvent>(*session.pending())) {
      events.push_back(*session.pending());
      session.resolve(accept_reply(*session.pending()));
    }
  }
  // The messages delivered so far.
  std::vector<MessageEvent> messages() const {
    std::vector<MessageEvent> result;
    for (auto& e : events)
      if (auto* m = std::get_if<MessageEvent>(&e)) result.push_back(*m);
    return result;
  }
  std::size_t count_resets() const {
    std::size_t n = 0;
    for (auto& e : events) n += std::holds_alternative<ResetEvent>(e);
    return n;
  }
  // EHLO + MAIL + RCPT, all accepted.
  void open_transaction() {
    EXPECT_EQ(codes(send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\n")),
              (std::vector<int>{250, 250, 250}));
    ASSERT_TRUE(session.in_transaction());
  }
};

// ---------------------------------------------------------------------------------------------
// Greeting

TEST(SessionGreeting, BannerIsSentAndCommandsWaitForIt) {
  Session session(SessionSettings{});
  session.receive("NOOP\r\n");  // a client that talks before the banner
  EXPECT_EQ(session.take_output(), "");
  session.greet(Reply{220, "", "mx.test ESMTP"});
  EXPECT_EQ(session.take_output(), "220 mx.test ESMTP\r\n250 2.0.0 Ok\r\n");
  EXPECT_FALSE(session.closing());
}

TEST(SessionGreeting, RefusingBannerClosesAndIgnoresInput) {
  Session session(SessionSettings{});
  session.greet(Reply{554, "5.7.1", "go away"});
  EXPECT_EQ(session.take_output(), "554 5.7.1 go away\r\n");
  EXPECT_TRUE(session.closing());
  session.receive("EHLO x\r\n");
  EXPECT_FALSE(session.pending().has_value());
  EXPECT_EQ(session.take_output(), "");
}

// ---------------------------------------------------------------------------------------------
// EHLO / HELO

std::set<std::string> ehlo_keywords(const std::string& out, std::string* first_line = nullptr) {
  auto replies = parse_wire(out);
  EXPECT_EQ(replies.size(), 1u) << out;
  if (replies.empty()) return {};
  EXPECT_EQ(replies[0].code, 250);
  if (first_line) *first_line = replies[0].lines.front();
  return {replies[0].lines.begin() + 1, replies[0].lines.end()};
}

TEST(SessionEhlo, CapabilitiesWithoutStarttls) {
  SessionSettings settings;
  settings.max_message_size = 1000;
  Client c(settings);
  std::string first;
  auto keywords = ehlo_keywords(c.send("EHLO client.test\r\n"), &first);
  EXPECT_EQ(first, "mx.test");
  EXPECT_EQ(keywords, (std::set<std::string>{"PIPELINING", "SIZE 1000", "ENHANCEDSTATUSCODES", "8BITMIME",
                                             "CHUNKING", "SMTPUTF8"}));
  EXPECT_TRUE(c.session.esmtp());
  EXPECT_EQ(c.session.helo_name(), "client.test");
  ASSERT_EQ(c.events.size(), 1u);
  auto& helo = std::get<HeloEvent>(c.events[0]);
  EXPECT_EQ(helo.name, "client.test");
  EXPECT_TRUE(helo.extended);
}

TEST(SessionEhlo, StarttlsListedWhenOffered) {
  SessionSettings settings;
  settings.offer_starttls = true;
  Client c(settings);
  auto keywords = ehlo_keywords(c.send("ehlo client.test\r\n"));
  EXPECT_TRUE(keywords.count("STARTTLS"));
  EXPECT_TRUE(keywords.count("PIPELINING"));
}

TEST(SessionEhlo, HeloGivesOneLineAndNoExtensions) {
  Client c;
  EXPECT_EQ(c.send("HELO client.test\r\n"), "250 mx.test\r\n");
  EXPECT_FALSE(c.session.esmtp());
  EXPECT_FALSE(std::get<HeloEvent>(c.events.at(0)).extended);
  // SMTPUTF8 needs EHLO; SIZE= and BODY= after HELO are tolerated (as Postfix, Sendmail and
  // OpenSMTPD do; OpenSMTPD's regress cases test.mailfrom/test.smtp4 expect it), but SIZE is enforced.
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SMTPUTF8\r\n")), std::vector<int>{555});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SIZE=999999999999\r\n")), std::vector<int>{552});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> BODY=8BITMIME SIZE=10\r\n")), std::vector<int>{250});
}

TEST(SessionEhlo, MissingNameIs501) {
  Client c;
  EXPECT_EQ(codes(c.send("EHLO\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("HELO \r\n")), std::vector<int>{501});
  EXPECT_TRUE(c.events.empty());
}

TEST(SessionEhlo, ControlCharacterInNameIs501) {
  Client c;
  EXPECT_EQ(codes(c.send("EHLO a\rb.example\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("HELO a\x01b.example\r\n")), std::vector<int>{501});
  EXPECT_TRUE(c.events.empty());
  EXPECT_EQ(codes(c.send("EHLO ab.example\r\n")), std::vector<int>{250});
}

TEST(SessionEhlo, RefusedHeloDoesNotOpenTheSession) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO bad.test\r\n");
  ASSERT_TRUE(c.session.pending());
  c.session.resolve(Reply{550, "5.7.1", "Go away"});
  EXPECT_EQ(c.session.take_output(), "550 5.7.1 Go away\r\n");
  c.session.receive("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_FALSE(c.session.pending());
  EXPECT_EQ(codes(c.session.take_output()), std::vector<int>{503});
}

TEST(SessionEhlo, SecondEhloAbandonsTheTransaction) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("EHLO again.test\r\n")), std::vector<int>{250});
  EXPECT_FALSE(c.session.in_transaction());
  EXPECT_TRUE(c.session.recipients().empty());
  EXPECT_EQ(codes(c.send("RCPT TO:<b@example.test>\r\n")), std::vector<int>{503});
}

// ---------------------------------------------------------------------------------------------
// Sequencing

TEST(SessionSequence, MailBeforeHelo) {
  Client c;
  auto out = c.send("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_EQ(out.substr(0, 10), "503 5.5.1 ");
  EXPECT_TRUE(c.events.empty());
}

TEST(SessionSequence, RcptBeforeMail) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("RCPT TO:<b@example.test>\r\n").substr(0, 10), "503 5.5.1 ");
}

TEST(SessionSequence, DataWithoutMailOrRcpt) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("DATA\r\n")), std::vector<int>{503});
  c.send("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_EQ(c.send("DATA\r\n").substr(0, 10), "554 5.5.1 ");
  EXPECT_FALSE(c.session.in_data());
  // The next line is a command again, not message content.
  EXPECT_EQ(codes(c.send("NOOP\r\n")), std::vector<int>{250});
}

TEST(SessionSequence, RefusedRecipientsLeaveDataRefused) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO c.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n");
  c.session.resolve(Reply{250, "", ""});
  c.session.resolve(Reply{250, "2.1.0", "Ok"});
  c.session.resolve(Reply{550, "5.1.1", "User unknown"});
  EXPECT_FALSE(c.session.pending());
  EXPECT_EQ(codes(c.session.take_output()), (std::vector<int>{250, 250, 550, 554}));
  EXPECT_TRUE(c.session.recipients().empty());
}

TEST(SessionSequence, NestedMail) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("MAIL FROM:<other@sender.test>\r\n").substr(0, 10), "503 5.5.1 ");
  ASSERT_TRUE(c.session.mail());
  EXPECT_EQ(c.session.mail()->sender.text(), "a@sender.test");
}

TEST(SessionSequence, DataWithArgumentIs501) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("DATA now\r\n")), std::vector<int>{501});
  EXPECT_FALSE(c.session.in_data());
}

// ---------------------------------------------------------------------------------------------
// Syntax errors

TEST(SessionSyntax, BadAddresses) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@@sender.test>\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@-sender.test>\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("MAIL TO:<a@sender.test>\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test\r\n")), std::vector<int>{501});
  EXPECT_FALSE(c.session.in_transaction());
  c.send("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_EQ(codes(c.send("RCPT TO:<b@exa mple.test>\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("RCPT TO:<>\r\n")), std::vector<int>{501});
  EXPECT_TRUE(c.session.recipients().empty());
}

TEST(SessionSyntax, UnknownParameterIs555) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@sender.test> XFOO=1\r\n").substr(0, 10), "555 5.5.4 ");
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> BODY=BINARYMIME\r\n")), std::vector<int>{555});
  c.send("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_EQ(codes(c.send("RCPT TO:<b@example.test> XFOO=1\r\n")), std::vector<int>{555});
}

TEST(SessionSyntax, SizeNotANumber) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SIZE=ten\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SIZE=\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SIZE=-5\r\n")), std::vector<int>{501});
  EXPECT_FALSE(c.session.in_transaction());
}

TEST(SessionSyntax, Utf8AddressNeedsSmtputf8) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<j\xc3\xb6rg@sender.test>\r\n").substr(0, 10), "553 5.6.7 ");
  EXPECT_FALSE(c.session.in_transaction());
  EXPECT_EQ(codes(c.send("MAIL FROM:<j\xc3\xb6rg@sender.test> SMTPUTF8\r\n")), std::vector<int>{250});
  ASSERT_TRUE(c.session.mail());
  EXPECT_TRUE(c.session.mail()->params.smtputf8);
  EXPECT_TRUE(c.session.mail()->sender.utf8);
  EXPECT_EQ(codes(c.send("RCPT TO:<b@b\xc3\xbc" "cher.example>\r\n")), std::vector<int>{250});
}

TEST(SessionSyntax, Utf8RecipientWithoutSmtputf8Transaction) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("RCPT TO:<b@b\xc3\xbc" "cher.example>\r\n").substr(0, 10), "553 5.6.7 ");
  EXPECT_EQ(c.session.recipients().size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST(SessionLimits, SizeDeclaredTooLargeAtMail) {
  SessionSettings settings;
  settings.max_message_size = 1000;
  Client c(settings);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@sender.test> SIZE=1001\r\n").substr(0, 10), "552 5.3.4 ");
  EXPECT_FALSE(c.session.in_transaction());
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test> SIZE=1000\r\n")), std::vector<int>{250});
  EXPECT_EQ(c.session.mail()->params.size, 1000u);
}

TEST(SessionLimits, TooManyRecipients) {
  SessionSettings settings;
  settings.max_recipients = 2;
  Client c(settings);
  c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
  auto out = c.send("RCPT TO:<r1@example.test>\r\nRCPT TO:<r2@example.test>\r\nRCPT TO:<r3@example.test>\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{250, 250, 452}));
  EXPECT_NE(out.find("452 4.5.3 "), std::string::npos);
  ASSERT_EQ(c.session.recipients().size(), 2u);
  EXPECT_EQ(c.session.recipients()[1].recipient.local, "r2");
  // The two accepted recipients still get the message.
  EXPECT_EQ(codes(c.send("DATA\r\nhi\r\n.\r\n")), (std::vector<int>{354, 250}));
}

TEST(SessionLimits, LongLineIs500AndTheSessionContinues) {
  SessionSettings settings;
  settings.max_command_line = 64;
  Client c(settings);
  std::string longline = "NOOP " + std::string(100, 'a') + "\r\n";
  EXPECT_EQ(codes(c.send(longline + "NOOP\r\n")), (std::vector<int>{500, 250}));
  EXPECT_FALSE(c.session.closing());
}

TEST(SessionLimits, LongLineInPiecesIsDiscardedUpToItsEnd) {
  SessionSettings settings;
  settings.max_command_line = 64;
  Client c(settings);
  // The rest of an overlong line, arriving later, must not be run as a command.
  EXPECT_EQ(codes(c.send("NOOP " + std::string(100, 'a'))), std::vector<int>{500});
  EXPECT_EQ(codes(c.send(std::string(100, 'b'))), std::vector<int>{});
  EXPECT_EQ(codes(c.send("\r\nQUIT\r\nNOOP\r\n")), (std::vector<int>{221}));
  EXPECT_TRUE(c.session.closing());
}

TEST(SessionLimits, LineOfExactlyTheMaximumIsAcceptedWhateverTheSplit) {
  SessionSettings settings;
  settings.max_command_line = 64;
  std::string line = "VRFY " + std::string(59, 'x');
  ASSERT_EQ(line.size(), 64u);
  std::string wire = line + "\r\n";
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    Client c(settings);
    std::string out = c.send(wire.substr(0, split));
    out += c.send(wire.substr(split));
    EXPECT_EQ(codes(out), std::vector<int>{252}) << "split at " << split;
  }
}

TEST(SessionLimits, TooManyErrorsCloses) {
  SessionSettings settings;
  settings.max_errors = 3;
  Client c(settings);
  auto out = c.send("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{500, 500, 500, 421}));
  EXPECT_NE(out.find("421 4.7.0 "), std::string::npos);
  EXPECT_TRUE(c.session.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(SessionLimits, TooManyRsetsCloses) {
  SessionSettings settings;
  settings.max_rsets = 3;
  Client c(settings);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("RSET\r\nRSET\r\n")), (std::vector<int>{250, 250}));
  c.open_transaction();
  // The third is still allowed; the fourth is one too many: 421, the transaction is abandoned.
  EXPECT_EQ(codes(c.send("RSET\r\n")), std::vector<int>{250});
  EXPECT_EQ(c.count_resets(), 1u);
  c.open_transaction();
  auto out = c.send("RSET\r\nNOOP\r\n");
  EXPECT_EQ(out, "421 4.7.0 mx.test Too many RSET commands, closing connection\r\n");
  EXPECT_TRUE(c.session.closing());
  EXPECT_EQ(c.count_resets(), 2u);
  EXPECT_EQ(c.session.rsets(), 4u);
  EXPECT_TRUE(c.session.too_many_rsets());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

// A client reusing its connection for several messages (Postfix's connection cache sends RSET
// before each) is not counted against the limit: the count starts again after each message.
TEST(SessionLimits, RsetCountStartsAgainAfterEachMessage) {
  SessionSettings settings;
  settings.max_rsets = 2;
  Client c(settings);
  c.send("EHLO client.test\r\n");
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(codes(c.send("RSET\r\nRSET\r\n")), (std::vector<int>{250, 250})) << i;
    c.open_transaction();
    EXPECT_EQ(codes(c.send("DATA\r\nhello\r\n.\r\n")), (std::vector<int>{354, 250}));
  }
  EXPECT_EQ(c.messages().size(), 10u);
  EXPECT_EQ(c.session.rsets(), 20u);
  EXPECT_FALSE(c.session.too_many_rsets());
  // Three in a row without a message are one too many.
  EXPECT_EQ(codes(c.send("RSET\r\nRSET\r\nRSET\r\n")), (std::vector<int>{250, 250, 421}));
  EXPECT_TRUE(c.session.closing());
}

TEST(SessionLimits, RsetsUnlimitedByDefault) {
  Client c;
  c.send("EHLO client.test\r\n");
  std::string many;
  for (int i = 0; i < 500; ++i) many += "RSET\r\n";
  auto out = c.send(many);
  EXPECT_EQ(codes(out), std::vector<int>(500, 250));
  EXPECT_FALSE(c.session.closing());
  EXPECT_EQ(c.session.rsets(), 500u);
  // A refused RSET (syntax) is an error, not a RSET.
  EXPECT_EQ(codes(c.send("RSET x\r\n")), std::vector<int>{501});
  EXPECT_EQ(c.session.rsets(), 500u);
  EXPECT_EQ(c.session.errors(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Small commands

TEST(SessionCommands, Simple) {
  Client c;
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(c.send("VRFY alice\r\n").substr(0, 10), "252 2.5.2 ");
  EXPECT_EQ(codes(c.send("VRFY\r\n")), std::vector<int>{501});
  EXPECT_EQ(c.send("EXPN staff\r\n").substr(0, 4), "502 ");
  EXPECT_EQ(codes(c.send("HELP\r\n")), std::vector<int>{214});
  EXPECT_EQ(c.send("XYZZY\r\n").substr(0, 10), "500 5.5.2 ");
  EXPECT_EQ(codes(c.send("\r\n")), std::vector<int>{500});
  EXPECT_EQ(codes(c.send("NO\0OP\r\n"s)), std::vector<int>{500});
  EXPECT_EQ(codes(c.send("AUTH PLAIN AGFAYg==\r\n")), std::vector<int>{502});
  EXPECT_EQ(codes(c.send("LHLO client.test\r\n")), std::vector<int>{500});
  EXPECT_TRUE(c.events.empty());
  EXPECT_FALSE(c.session.closing());
}

TEST(SessionCommands, BareLfEndsACommandLine) {
  Client c;
  EXPECT_EQ(codes(c.send("NOOP\nNOOP\r\n")), (std::vector<int>{250, 250}));
}

TEST(SessionCommands, RsetWithoutTransactionEmitsNothing) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(c.count_resets(), 0u);
  EXPECT_EQ(codes(c.send("RSET now\r\n")), std::vector<int>{501});
}

TEST(SessionCommands, RsetAbandonsTheTransaction) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO c.test\r\nMAIL FROM:<a@sender.test>\r\n");
  c.session.resolve(Reply{250, "", ""});
  c.session.resolve(Reply{250, "2.1.0", "Ok"});
  c.session.take_output();
  c.session.receive("RSET\r\nMAIL FROM:<b@sender.test>\r\n");
  EXPECT_EQ(c.session.take_output(), "250 2.0.0 Ok\r\n");
  ASSERT_TRUE(c.session.pending());
  EXPECT_TRUE(std::holds_alternative<ResetEvent>(*c.session.pending()));
  EXPECT_FALSE(c.session.in_transaction());
  c.session.resolve(Reply{});
  EXPECT_EQ(c.session.take_output(), "");  // the reset itself has no reply
  ASSERT_TRUE(c.session.pending());
  ASSERT_TRUE(std::holds_alternative<MailEvent>(*c.session.pending()));
  EXPECT_EQ(std::get<MailEvent>(*c.session.pending()).mail.sender.local, "b");
}

TEST(SessionCommands, QuitCloses) {
  Client c;
  EXPECT_EQ(c.send("QUIT\r\nNOOP\r\n").substr(0, 4), "221 ");
  EXPECT_TRUE(c.session.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
  EXPECT_EQ(c.count_resets(), 0u);
}

TEST(SessionCommands, QuitInTransactionEmitsReset) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("QUIT\r\n")), std::vector<int>{221});
  EXPECT_EQ(c.count_resets(), 1u);
  EXPECT_TRUE(c.session.closing());
}

TEST(SessionCommands, ConnectionLostInTransactionEmitsReset) {
  Client c;
  c.open_transaction();
  c.session.connection_lost();
  ASSERT_TRUE(c.session.pending());
  EXPECT_TRUE(std::holds_alternative<ResetEvent>(*c.session.pending()));
  EXPECT_TRUE(c.session.closing());
}

// ---------------------------------------------------------------------------------------------
// PIPELINING

TEST(SessionPipelining, PausesAtEachEventAndRepliesInOrder) {
  Client c({}, /*manual=*/true);
  c.session.receive(
      "EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<r1@example.test>\r\n"
      "RCPT TO:<r2@example.test>\r\nNOOP\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n");
  // Nothing is answered until the host has decided about EHLO.
  EXPECT_EQ(c.session.take_output(), "");
  ASSERT_TRUE(c.session.pending());
  ASSERT_TRUE(std::holds_alternative<HeloEvent>(*c.session.pending()));

  c.session.resolve(Reply{250, "", ""});
  EXPECT_EQ(codes(c.session.take_output()), std::vector<int>{250});
  ASSERT_TRUE(std::holds_alternative<MailEvent>(*c.session.pending()));

  c.session.resolve(Reply{250, "2.1.0", "Sender ok"});
  EXPECT_EQ(c.session.take_output(), "250 2.1.0 Sender ok\r\n");
  ASSERT_TRUE(std::holds_alternative<RcptEvent>(*c.session.pending()));
  EXPECT_EQ(std::get<RcptEvent>(*c.session.pending()).rcpt.recipient.local, "r1");

  c.session.resolve(Reply{550, "5.1.1", "No such user"});
  EXPECT_EQ(c.session.take_output(), "550 5.1.1 No such user\r\n");
  ASSERT_TRUE(std::holds_alternative<RcptEvent>(*c.session.pending()));
  EXPECT_EQ(std::get<RcptEvent>(*c.session.pending()).rcpt.recipient.local, "r2");

  c.session.resolve(Reply{250, "2.1.5", "Recipient ok"});
  // NOOP and DATA run on until the end of the message.
  EXPECT_EQ(c.session.take_output(), "250 2.1.5 Recipient ok\r\n250 2.0.0 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  ASSERT_TRUE(std::holds_alternative<MessageEvent>(*c.session.pending()));
  EXPECT_EQ(std::get<MessageEvent>(*c.session.pending()).message, "hello\r\n");
  ASSERT_EQ(c.session.recipients().size(), 1u);
  EXPECT_EQ(c.session.recipients()[0].recipient.local, "r2");

  c.session.resolve(Reply{250, "2.0.0", "Ok: queued (ID:X)"});
  EXPECT_EQ(c.session.take_output(), "250 2.0.0 Ok: queued (ID:X)\r\n221 2.0.0 Bye\r\n");
  EXPECT_TRUE(c.session.closing());
  EXPECT_FALSE(c.session.in_transaction());
}

TEST(SessionPipelining, InputArrivingWhilePendingIsKept) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO client.test\r\n");
  c.session.receive("NO");
  c.session.receive("OP\r\nNOOP\r\n");
  EXPECT_EQ(c.session.take_output(), "");
  c.session.resolve(Reply{250, "", ""});
  EXPECT_EQ(codes(c.session.take_output()), (std::vector<int>{250, 250, 250}));
}

TEST(SessionPipelining, RefusingReply421Closes) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO client.test\r\nNOOP\r\n");
  c.session.resolve(Reply{421, "4.3.2", "busy"});
  EXPECT_EQ(c.session.take_output(), "421 4.3.2 busy\r\n");
  EXPECT_TRUE(c.session.closing());
}

// RFC 5321 §3.8: a 421 from the host (the gateway's answer to directory harvesting) means the
// server closes; pipelined commands behind it are not answered, and the open transaction ends.
TEST(SessionPipelining, Host421AtRcptClosesAndDropsPipelinedInput) {
  Client c({}, /*manual=*/true);
  c.session.receive("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.test>\r\n"
                    "RCPT TO:<y@example.test>\r\nNOOP\r\n");
  c.session.resolve(Reply{250, "", ""});
  c.session.resolve(Reply{250, "2.1.0", "Ok"});
  c.session.take_output();
  ASSERT_TRUE(c.session.pending() && std::holds_alternative<RcptEvent>(*c.session.pending()));
  c.session.resolve(Reply{421, "4.7.0", "mx.test Too many unknown recipients, closing connection"});
  EXPECT_EQ(c.session.take_output(), "421 4.7.0 mx.test Too many unknown recipients, closing connection\r\n");
  EXPECT_TRUE(c.session.closing());
  EXPECT_FALSE(c.session.pending());       // the second RCPT is never raised
  EXPECT_TRUE(c.session.in_transaction());  // the host ends it (the server calls on_reset)
  c.session.receive("NOOP\r\n");
  EXPECT_EQ(c.session.take_output(), "");
}

TEST(SessionPipelining, Host421AtMailAndHeloCloses) {
  for (int at_mail = 0; at_mail < 2; ++at_mail) {
    Client c({}, /*manual=*/true);
    c.session.receive("HELO client.test\r\n");
    if (at_mail) {
      c.session.resolve(Reply{250, "", ""});
      c.session.receive("MAIL FROM:<a@sender.test>\r\n");
    }
    c.session.resolve(Reply{421, "4.7.1", "mx.test go away"});
    EXPECT_EQ(codes(c.session.take_output()), (at_mail ? std::vector<int>{250, 421} : std::vector<int>{421}));
    EXPECT_TRUE(c.session.closing());
    EXPECT_FALSE(c.session.in_transaction());
  }
}

// Pipelining where it was not offered (RFC 2920 §3.1).
TEST(SessionPipelining, AfterHeloPipelinedMailAndRcptAreNoted) {
  Client c;
  c.send("HELO client.test\r\n");
  EXPECT_FALSE(c.session.unoffered_pipelining());
  // Still served: the finding only feeds the protocol check's score.
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\n")), (std::vector<int>{250, 250}));
  EXPECT_TRUE(c.session.unoffered_pipelining());
  EXPECT_EQ(c.session.recipients().size(), 1u);
}

TEST(SessionPipelining, AfterHeloOneCommandAtATimeIsFine) {
  Client c;
  c.send("HELO client.test\r\n");
  c.send("MAIL FROM:<a@sender.test>\r\n");
  c.send("RCPT TO:<b@example.test>\r\n");
  c.send("DATA\r\n");
  c.send("Subject: x\r\n\r\nhello\r\n.\r\n");
  c.send("RSET\r\n");
  // A command split over several reads is still one command.
  c.send("NO");
  c.send("OP\r");
  c.send("\n");
  EXPECT_EQ(c.messages().size(), 1u);
  EXPECT_FALSE(c.session.unoffered_pipelining());
  EXPECT_EQ(codes(c.send("QUIT\r\n")), std::vector<int>{221});
  EXPECT_FALSE(c.session.unoffered_pipelining());
}

TEST(SessionPipelining, HeloWithCommandsBehindIsNoted) {
  Client c;
  EXPECT_EQ(codes(c.send("HELO client.test\r\nMAIL FROM:<a@sender.test>\r\n")), (std::vector<int>{250, 250}));
  EXPECT_TRUE(c.session.unoffered_pipelining());
}

TEST(SessionPipelining, AfterHeloAnyCommandButQuitCounts) {
  for (std::string first : {"NOOP", "RSET", "VRFY x", "HELP", "QUIT"}) {
    Client c;
    c.send("HELO client.test\r\n");
    c.send(first + "\r\nNOOP\r\n");
    EXPECT_EQ(c.session.unoffered_pipelining(), first != "QUIT") << first;
  }
}

TEST(SessionPipelining, AfterEhloOfferingPipeliningNothingIsNoted) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  c.send("hello\r\n.\r\nMAIL FROM:<a@sender.test>\r\nRSET\r\nNOOP\r\nQUIT\r\n");
  EXPECT_EQ(c.messages().size(), 1u);
  EXPECT_FALSE(c.session.unoffered_pipelining());
}

TEST(SessionPipelining, AfterEhloWithoutPipeliningOfferedIsNoted) {
  SessionSettings settings;
  settings.offer_pipelining = false;
  Client c(settings);
  auto keywords = ehlo_keywords(c.send("EHLO client.test\r\n"));
  EXPECT_FALSE(keywords.count("PIPELINING"));
  EXPECT_TRUE(keywords.count("SIZE 52428800"));
  c.send("MAIL FROM:<a@sender.test>\r\n");
  EXPECT_FALSE(c.session.unoffered_pipelining());
  c.send("RCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\n");
  EXPECT_TRUE(c.session.unoffered_pipelining());
}

TEST(SessionPipelining, HeloAfterEhloStopsTheOffer) {
  Client c;
  c.send("EHLO client.test\r\nNOOP\r\n");
  EXPECT_FALSE(c.session.unoffered_pipelining());
  c.send("HELO client.test\r\n");
  EXPECT_FALSE(c.session.unoffered_pipelining());
  c.send("NOOP\r\nNOOP\r\n");
  EXPECT_TRUE(c.session.unoffered_pipelining());
}

// ---------------------------------------------------------------------------------------------
// DATA

TEST(SessionData, MessageIsAssembledAndUnstuffed) {
  Client c;
  c.open_transaction();
  auto out = c.send("DATA\r\nSubject: t\r\n\r\n..leading dot\r\n...\r\n. \r\nend\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{354, 250, 250}));
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "Subject: t\r\n\r\n.leading dot\r\n..\r\n \r\nend\r\n");
  EXPECT_EQ(messages[0].size, messages[0].message.size());
  EXPECT_FALSE(messages[0].oversize);
  EXPECT_FALSE(messages[0].chunked);
  EXPECT_EQ(messages[0].bare_newlines, 0u);
  EXPECT_EQ(messages[0].longest_line, std::string(".leading dot").size());  // unstuffed, without CRLF
  EXPECT_FALSE(c.session.in_transaction());
  EXPECT_FALSE(c.session.in_data());
}

TEST(SessionData, OnlyCrLfDotCrLfEnds) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("DATA\r\nline .\r\n.x\r\n")), std::vector<int>{354});
  EXPECT_TRUE(c.session.in_data());
  EXPECT_EQ(codes(c.send(".\r\n")), std::vector<int>{250});
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, "line .\r\nx\r\n");
}

TEST(SessionData, EmptyMessage) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("DATA\r\n.\r\n")), (std::vector<int>{354, 250}));
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, "");
  EXPECT_EQ(c.messages()[0].size, 0u);
}

TEST(SessionData, EverySplitPositionGivesTheSameConversation) {
  const std::string conversation =
      "EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
      "Subject: split\r\n\r\n..dot\r\n.\r\r\nbare\nlf\r\n\r\n.\r\nNOOP\r\nQUIT\r\n";
  Client reference;
  const std::string expected = reference.send(conversation);
  ASSERT_EQ(codes(expected), (std::vector<int>{250, 250, 250, 354, 250, 250, 221}));
  ASSERT_EQ(reference.messages().size(), 1u);
  const MessageEvent want = reference.messages()[0];
  EXPECT_EQ(want.message, "Subject: split\r\n\r\n.dot\r\n\r\n\r\nbare\r\nlf\r\n\r\n");
  EXPECT_EQ(want.bare_newlines, 2u);

  for (std::size_t i = 0; i <= conversation.size(); ++i) {
    Client c;
    std::string out = c.send(conversation.substr(0, i));
    out += c.send(conversation.substr(i));
    ASSERT_EQ(out, expected) << "split at " << i;
    ASSERT_EQ(c.messages().size(), 1u) << "split at " << i;
    EXPECT_EQ(c.messages()[0].message, want.message) << "split at " << i;
    EXPECT_EQ(c.messages()[0].bare_newlines, want.bare_newlines) << "split at " << i;
  }
  Client bytewise;
  std::string out;
  for (char ch : conversation) out += bytewise.send(std::string_view(&ch, 1));
  EXPECT_EQ(out, expected);
  ASSERT_EQ(bytewise.messages().size(), 1u);
  EXPECT_EQ(bytewise.messages()[0].message, want.message);
}

// SMTP smuggling: none of these ends DATA; what follows stays message content, and the message
// handed on has only CRLF line endings so no back-end can be made to see a terminator either.
TEST(SessionData, SmugglingSequencesDoNotEndData) {
  const std::vector<std::string> sequences = {"\n.\n",   "\n.\r\n",   "\r.\r\n", "\r\n.\r",
                                              "\r.\n",   "\r.\r",     "\r\n\0.\r\n"s, "\r\n.\r\r\n"};
  const std::string smuggled = "MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nforged\r\n";
  for (const auto& seq : sequences) {
    std::string shown;
    for (char ch : seq) shown += ch == '\r' ? "\\r" : ch == '\n' ? "\\n" : ch == '\0' ? "\\0" : std::string(1, ch);
    SCOPED_TRACE("sequence " + shown);
    Client c;
    c.open_transaction();
    EXPECT_EQ(codes(c.send("DATA\r\nSubject: hi\r\n\r\nbody" + seq + smuggled)), std::vector<int>{354});
    EXPECT_TRUE(c.session.in_data());
    EXPECT_TRUE(c.messages().empty());
    EXPECT_EQ(codes(c.send("\r\n.\r\n")), std::vector<int>{250});
    auto messages = c.messages();
    ASSERT_EQ(messages.size(), 1u);
    const std::string& m = messages[0].message;
    EXPECT_NE(m.find("MAIL FROM:<evil@attacker.test>\r\n"), std::string::npos) << m;
    EXPECT_NE(m.find("forged\r\n"), std::string::npos);
    EXPECT_FALSE(has_bare_newline(m)) << m;
    bool has_bare_input = seq.find('\0') == std::string::npos;
    if (has_bare_input) EXPECT_GE(messages[0].bare_newlines, 1u);
    else EXPECT_EQ(messages[0].bare_newlines, 0u);
    // Relayed with dot-stuffing, the only terminator is the final one.
    std::string relayed = dot_stuff(m);
    EXPECT_EQ(("\r\n" + relayed).find("\r\n.\r\n"), relayed.size() - 3);
    // Only one transaction happened.
    std::size_t mails = 0;
    for (auto& e : c.events) mails += std::holds_alternative<MailEvent>(e);
    EXPECT_EQ(mails, 1u);
  }
}

TEST(SessionData, OversizeMessageIsReadToTheEndAndFlagged) {
  SessionSettings settings;
  settings.max_message_size = 100;
  Client c(settings);
  c.open_transaction();
  std::string body;
  for (int i = 0; i < 10; ++i) body += std::string(19, 'a' + i) + "\r\n";  // 10 lines of 21 octets
  EXPECT_EQ(codes(c.send("DATA\r\n" + body + ".\r\nNOOP\r\n")), (std::vector<int>{354, 250, 250}));
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].oversize);
  EXPECT_EQ(messages[0].size, 210u);
  EXPECT_LE(messages[0].message.size(), 100u);
}

TEST(SessionData, OversizeReplyIsTheHosts) {
  SessionSettings settings;
  settings.max_message_size = 10;
  Client c(settings, /*manual=*/true);
  c.session.receive("EHLO c.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\n");
  c.session.resolve(Reply{250, "", ""});
  c.session.resolve(Reply{250, "2.1.0", "Ok"});
  c.session.resolve(Reply{250, "2.1.5", "Ok"});
  c.session.take_output();
  c.session.receive("DATA\r\n" + std::string(50, 'x') + "\r\n.\r\n");
  ASSERT_TRUE(c.session.pending());
  auto& event = std::get<MessageEvent>(*c.session.pending());
  EXPECT_TRUE(event.oversize);
  EXPECT_EQ(event.size, 52u);
  c.session.resolve(Reply{552, "5.3.4", "Message size exceeds fixed maximum message size"});
  EXPECT_EQ(c.session.take_output(), "354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_FALSE(c.session.in_transaction());
}

TEST(SessionData, SecondTransactionOnTheSameConnection) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\nfirst\r\n.\r\n");
  EXPECT_EQ(codes(c.send("MAIL FROM:<c@sender.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\nsecond\r\n.\r\n")),
            (std::vector<int>{250, 250, 354, 250}));
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].message, "second\r\n");
  EXPECT_EQ(c.count_resets(), 0u);
}

// ---------------------------------------------------------------------------------------------
// BDAT (RFC 3030)

TEST(SessionBdat, ChunksThenLast) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 5\r\nhello"), "250 2.0.0 5 octets received\r\n");
  EXPECT_TRUE(c.messages().empty());
  EXPECT_TRUE(c.session.in_transaction());
  EXPECT_EQ(codes(c.send("BDAT 8 LAST\r\n world\r\nNOOP\r\n")), (std::vector<int>{250, 250}));
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "hello world\r\n");
  EXPECT_EQ(messages[0].size, 13u);
  EXPECT_TRUE(messages[0].chunked);
  EXPECT_FALSE(messages[0].oversize);
  EXPECT_FALSE(c.session.in_transaction());
}

TEST(SessionBdat, ChunkBytesAreNotCommandsAndNotUnstuffed) {
  Client c;
  c.open_transaction();
  const std::string content = "Subject: x\r\n\r\n.\r\nQUIT\r\n..dots\r\n";
  auto out = c.send("BDAT " + std::to_string(content.size()) + " LAST\r\n" + content);
  EXPECT_EQ(codes(out), std::vector<int>{250});
  EXPECT_FALSE(c.session.closing());
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, content);
  EXPECT_EQ(c.messages()[0].bare_newlines, 0u);
}

TEST(SessionBdat, BareLineBreaksAreNormalisedAcrossChunks) {
  Client c;
  c.open_transaction();
  // CR at the end of one chunk and LF at the start of the next are one line break.
  c.send("BDAT 3\r\na\nb");
  c.send("BDAT 2\r\nc\r");
  c.send("BDAT 4 LAST\r\n\nd\re");
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "a\r\nbc\r\nd\r\ne");
  EXPECT_EQ(messages[0].bare_newlines, 2u);
}

TEST(SessionBdat, TrailingCrOfTheLastChunkIsABareCr) {
  Client c;
  c.open_transaction();
  c.send("BDAT 2 LAST\r\nx\r");
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "x\r\n");
  EXPECT_EQ(messages[0].bare_newlines, 1u);
}

TEST(SessionBdat, WithoutMailTheBytesAreStillConsumed) {
  Client c;
  c.send("EHLO client.test\r\n");
  auto out = c.send("BDAT 12\r\nQUIT\r\nQUIT\r\nNOOP\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{503, 250}));
  EXPECT_FALSE(c.session.closing());
  EXPECT_TRUE(c.messages().empty());
  EXPECT_EQ(c.send("BDAT 6 LAST\r\nQUIT\r\n").substr(0, 4), "503 ");
  EXPECT_FALSE(c.session.closing());
}

TEST(SessionBdat, WithoutRecipientsTheBytesAreStillConsumed) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
  EXPECT_EQ(codes(c.send("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")), (std::vector<int>{554, 250}));
  EXPECT_FALSE(c.session.closing());
  EXPECT_TRUE(c.messages().empty());
}

TEST(SessionBdat, ZeroLast) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("BDAT 3\r\nabcBDAT 0 LAST\r\n")), (std::vector<int>{250, 250}));
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "abc");
  EXPECT_TRUE(messages[0].chunked);

  Client empty;
  empty.open_transaction();
  EXPECT_EQ(codes(empty.send("BDAT 0 LAST\r\n")), std::vector<int>{250});
  ASSERT_EQ(empty.messages().size(), 1u);
  EXPECT_EQ(empty.messages()[0].message, "");
  EXPECT_EQ(empty.messages()[0].size, 0u);
}

TEST(SessionBdat, DataAndRcptAfterBdatAreRefused) {
  Client c;
  c.open_transaction();
  c.send("BDAT 4\r\nabc\n");
  EXPECT_EQ(codes(c.send("DATA\r\n")), std::vector<int>{503});
  EXPECT_FALSE(c.session.in_data());
  EXPECT_EQ(codes(c.send("RCPT TO:<x@example.test>\r\n")), std::vector<int>{503});
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test>\r\n")), std::vector<int>{503});
  // The chunked transaction goes on.
  EXPECT_EQ(codes(c.send("BDAT 3 LAST\r\ndef")), std::vector<int>{250});
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, "abc\r\ndef");
}

TEST(SessionBdat, BadSyntax) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("BDAT\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("BDAT ten\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("BDAT 5 FIRST\r\n")), std::vector<int>{501});
  EXPECT_EQ(codes(c.send("BDAT -1\r\n")), std::vector<int>{501});
  EXPECT_TRUE(c.messages().empty());
  EXPECT_EQ(codes(c.send("BDAT 2 last\r\nok")), std::vector<int>{250});
  EXPECT_EQ(c.messages().size(), 1u);
}

TEST(SessionBdat, OversizeIsFlagged) {
  SessionSettings settings;
  settings.max_message_size = 10;
  Client c(settings);
  c.open_transaction();
  c.send("BDAT 8\r\n12345678");
  c.send("BDAT 8 LAST\r\n12345678");
  auto messages = c.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].oversize);
  EXPECT_EQ(messages[0].size, 16u);
  EXPECT_TRUE(messages[0].chunked);
}

TEST(SessionBdat, RsetDuringChunksEmitsReset) {
  Client c;
  c.open_transaction();
  c.send("BDAT 3\r\nabc");
  EXPECT_EQ(codes(c.send("RSET\r\n")), std::vector<int>{250});
  EXPECT_EQ(c.count_resets(), 1u);
  EXPECT_FALSE(c.session.in_transaction());
  // A new transaction does not inherit the old chunks.
  c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.test>\r\n");
  c.send("BDAT 3 LAST\r\nxyz");
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, "xyz");
  EXPECT_EQ(c.messages()[0].size, 3u);
}

// ---------------------------------------------------------------------------------------------
// STARTTLS

TEST(SessionStarttls, NotOffered) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("STARTTLS\r\n").substr(0, 4), "502 ");
  EXPECT_FALSE(c.session.pending());
  EXPECT_FALSE(c.session.tls());
}

TEST(SessionStarttls, UpgradeDiscardsPipelinedPlaintextAndStartsOver) {
  SessionSettings settings;
  settings.offer_starttls = true;
  Client c(settings);
  c.open_transaction();
  // A command injected after STARTTLS in the same packet must never run (CVE-2011-0411 class).
  auto out = c.send("STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<x@example.test>\r\n");
  EXPECT_EQ(out.substr(0, 4), "220 ");
  EXPECT_EQ(codes(out), std::vector<int>{220});
  ASSERT_TRUE(c.session.pending());
  EXPECT_TRUE(std::holds_alternative<StartTlsEvent>(*c.session.pending()));
  EXPECT_FALSE(c.session.in_transaction());
  // Any reply leaves the event waiting for the handshake.
  c.session.resolve(Reply{250, "", ""});
  ASSERT_TRUE(c.session.pending());
  c.session.receive("NOOP\r\n");  // still plaintext: ignored too
  c.session.tls_established();
  EXPECT_TRUE(c.session.tls());
  EXPECT_FALSE(c.session.pending());
  EXPECT_EQ(c.session.take_output(), "");
  EXPECT_EQ(c.session.helo_name(), "");
  EXPECT_FALSE(c.session.esmtp());
  c.events.clear();
  // A new EHLO is required, and it no longer offers STARTTLS.
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test>\r\n")), std::vector<int>{503});
  auto keywords = ehlo_keywords(c.send("EHLO client.test\r\n"));
  EXPECT_FALSE(keywords.count("STARTTLS"));
  EXPECT_TRUE(keywords.count("PIPELINING"));
  EXPECT_NE(c.send("STARTTLS\r\n").substr(0, 1), "2");
  EXPECT_FALSE(c.session.pending());
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test>\r\n")), std::vector<int>{250});
  for (auto& e : c.events) {
    if (auto* m = std::get_if<MailEvent>(&e)) {
      EXPECT_NE(m->mail.sender.local, "evil");
    }
  }
}

TEST(SessionStarttls, WithArgumentIs501) {
  SessionSettings settings;
  settings.offer_starttls = true;
  Client c(settings);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("STARTTLS now\r\n")), std::vector<int>{501});
  EXPECT_FALSE(c.session.pending());
}

TEST(SessionStarttls, RequireTlsRefusesMailBeforeTls) {
  SessionSettings settings;
  settings.offer_starttls = true;
  settings.require_tls = true;
  Client c(settings);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@sender.test>\r\n").substr(0, 10), "530 5.7.0 ");
  EXPECT_FALSE(c.session.in_transaction());
  c.send("STARTTLS\r\n");
  c.session.tls_established();
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(codes(c.send("MAIL FROM:<a@sender.test>\r\n")), std::vector<int>{250});
  EXPECT_TRUE(c.session.in_transaction());
}

// ---------------------------------------------------------------------------------------------
// Timeout and shutdown

TEST(SessionEnd, TimeoutSends421AndCloses) {
  Client c;
  c.send("EHLO client.test\r\n");
  c.session.timeout();
  EXPECT_EQ(c.session.take_output().substr(0, 10), "421 4.4.2 ");
  EXPECT_TRUE(c.session.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(SessionEnd, TimeoutInTransactionEmitsReset) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\npartial");
  c.session.timeout();
  ASSERT_TRUE(c.session.pending());
  EXPECT_TRUE(std::holds_alternative<ResetEvent>(*c.session.pending()));
  EXPECT_EQ(codes(c.session.take_output()), std::vector<int>{421});
}

TEST(SessionEnd, ShutdownWhenIdleIsImmediate) {
  Client c;
  c.send("EHLO client.test\r\n");
  c.session.shutdown();
  EXPECT_EQ(c.session.take_output().substr(0, 10), "421 4.3.2 ");
  EXPECT_TRUE(c.session.closing());
}

TEST(SessionEnd, ShutdownDuringDataWaitsForTheMessageReply) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(codes(c.send("DATA\r\nhalf a mess")), std::vector<int>{354});
  c.session.shutdown();
  EXPECT_EQ(c.session.take_output(), "");
  EXPECT_FALSE(c.session.closing());
  auto out = c.send("age\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{250, 421}));
  EXPECT_EQ(out.substr(0, 20), "250 2.0.0 Ok: queued");
  EXPECT_TRUE(c.session.closing());
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].message, "half a message\r\n");
}

}  // namespace
}  // namespace gatehouse::smtp
