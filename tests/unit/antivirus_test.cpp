// The [antivirus] configuration (defaults, values, "FILE:LINE: key: problem" errors, the example
// file) and the antivirus check's decisions without a clamd: disabled, too large, scanner
// unreachable (451 4.7.1 or accepted with a note), and that the engine runs it for white-listed
// senders. Scanning itself is tested against a real clamd in tests/e2e/test_antivirus.py.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "checks/builtin.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

const std::string minimal = "[server]\nlisten = [\"127.0.0.1:2525\"]\n";

Config parse_ok(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? *config : Config{};
}

std::string error_of(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_FALSE(config.ok()) << "unexpectedly loaded:\n" << text;
  return config.ok() ? std::string() : config.error().message;
}

TEST(AntivirusConfig, DefaultsAreOffDebianSocketAndSafeFailure) {
  const Config config = parse_ok(minimal);
  EXPECT_FALSE(config.antivirus.enabled);
  EXPECT_EQ(config.antivirus.socket, "/var/run/clamav/clamd.ctl");
  EXPECT_EQ(config.antivirus.timeout, 30s);
  EXPECT_EQ(config.antivirus.max_size, 25u * 1024 * 1024);
  EXPECT_EQ(config.antivirus.on_oversize, AntivirusConfig::Oversize::skip);
  EXPECT_EQ(config.antivirus.on_failure, AntivirusConfig::Failure::tempfail);
  // The finding and its reply.
  EXPECT_EQ(config.policy.check("antivirus").action("infected").kind, Action::Kind::reject);
  EXPECT_EQ(config.policy.reply_text("virus", "ID1", "Eicar"), "Virus found: Eicar (ID:ID1)");
}

TEST(AntivirusConfig, ReadsEveryKey) {
  const Config config = parse_ok(minimal +
                                 "[antivirus]\nenabled = true\nsocket = \"tcp:127.0.0.1:3310\"\ntimeout = \"1500ms\"\n"
                                 "max_size = \"10M\"\non_oversize = \"tempfail\"\non_failure = \"accept\"\n");
  EXPECT_TRUE(config.antivirus.enabled);
  EXPECT_EQ(config.antivirus.socket, "tcp:127.0.0.1:3310");
  EXPECT_EQ(config.antivirus.timeout, 1500ms);
  EXPECT_EQ(config.antivirus.max_size, 10u * 1024 * 1024);
  EXPECT_EQ(config.antivirus.on_oversize, AntivirusConfig::Oversize::tempfail);
  EXPECT_EQ(config.antivirus.on_failure, AntivirusConfig::Failure::accept);
  EXPECT_EQ(parse_ok(minimal + "[antivirus]\nsocket = \"unix:/run/clamd.sock\"\n").antivirus.socket, "unix:/run/clamd.sock");
  EXPECT_EQ(parse_ok(minimal + "[antivirus]\nmax_size = 1048576\n").antivirus.max_size, 1048576u);
}

TEST(AntivirusConfig, ErrorsNameFileLineAndKey) {
  EXPECT_NE(error_of(minimal + "[antivirus]\nsocket = \"clamd.ctl\"\n").find("test.toml:4: antivirus.socket: expected unix:/path"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\nsocket = \"tcp:clamd.example:3310\"\n").find("test.toml:4: antivirus.socket: "),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\ntimeout = \"soon\"\n").find("test.toml:4: antivirus.timeout: expected a duration"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\ntimeout = \"10ms\"\n").find("test.toml:4: antivirus.timeout: must be at least 100ms"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\nmax_size = \"big\"\n").find("test.toml:4: antivirus.max_size: expected a size"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\non_failure = \"ignore\"\n")
                .find("test.toml:4: antivirus.on_failure: expected one of \"tempfail\", \"accept\", got \"ignore\""),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\non_oversize = \"reject\"\n")
                .find("test.toml:4: antivirus.on_oversize: expected one of \"skip\", \"tempfail\""),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\nenabled = \"yes\"\n").find("test.toml:4: antivirus.enabled: expected true or false"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[antivirus]\nsockets = \"/x\"\n").find("test.toml:4: antivirus.sockets: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[filter.checks.antivirus]\ninfected = \"maybe\"\n")
                .find("test.toml:4: filter.checks.antivirus.infected: expected a score"),
            std::string::npos);
}

// The example file documents [antivirus] with the defaults (and off: the demo has no clamd).
TEST(AntivirusConfig, ExampleFileShowsTheDefaults) {
  std::ifstream stream(std::filesystem::path(GATEHOUSE_SOURCE_DIR) / "etc/gatehouse.toml");
  std::ostringstream text;
  text << stream.rdbuf();
  ASSERT_NE(text.str().find("\n[antivirus]\n"), std::string::npos);
  auto config = parse_config(text.str(), "gatehouse.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const AntivirusConfig defaults;
  EXPECT_FALSE(config->antivirus.enabled);
  EXPECT_EQ(config->antivirus.socket, defaults.socket);
  EXPECT_EQ(config->antivirus.timeout, defaults.timeout);
  EXPECT_EQ(config->antivirus.max_size, defaults.max_size);
  EXPECT_EQ(config->antivirus.on_oversize, defaults.on_oversize);
  EXPECT_EQ(config->antivirus.on_failure, defaults.on_failure);
}

// ---------------------------------------------------------------------------------------------
// The check without a scanner.

class AntivirusCheck : public ::testing::Test {
 protected:
  AntivirusCheck() : check_(checks::make_antivirus_check()) {
    config_ = parse_ok(minimal + "[antivirus]\nenabled = true\nsocket = \"/nonexistent/gatehouse-test/clamd.sock\"\n");
    context_.stage = checks::Stage::data;
    context_.id = "TESTID";
    context_.config = &config_;
    context_.policy = &config_.policy;
    context_.message = message_;
  }

  checks::CheckOutcome run() {
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, check_->run(context_), boost::asio::use_future);
    io.run_for(10s);
    return future.get();
  }

  std::unique_ptr<checks::Check> check_;
  Config config_;
  std::string message_ = "Subject: hello\r\n\r\nHello.\r\n";
  checks::CheckContext context_;
};

TEST_F(AntivirusCheck, DeclaresItselfAsAlwaysRunningDataCheckWithVirusReply) {
  EXPECT_EQ(check_->name(), "antivirus");
  EXPECT_EQ(check_->stage(), checks::Stage::data);
  EXPECT_TRUE(check_->always_runs());
  EXPECT_EQ(check_->reply_kind(), "virus");
  EXPECT_EQ(check_->reject_code(), 554);
  EXPECT_EQ(check_->reject_enhanced(), "5.7.1");
  EXPECT_TRUE(check_->may_decide(config_, config_.policy));
  config_.antivirus.enabled = false;
  EXPECT_FALSE(check_->may_decide(config_, config_.policy));
}

TEST_F(AntivirusCheck, DisabledDoesNothing) {
  config_.antivirus.enabled = false;
  auto outcome = run();
  EXPECT_TRUE(outcome.contributions.empty());
  EXPECT_TRUE(outcome.note.empty());
}

TEST_F(AntivirusCheck, UnreachableScannerTempfailsWith451_471) {
  auto outcome = run();
  ASSERT_EQ(outcome.contributions.size(), 1u);
  const auto& contribution = outcome.contributions.front();
  EXPECT_EQ(contribution.action.kind, Action::Kind::tempfail);
  EXPECT_EQ(contribution.code, 451);
  EXPECT_EQ(contribution.enhanced, "4.7.1");
  EXPECT_EQ(contribution.detail, "virus scanner unavailable (not reachable)");
}

TEST_F(AntivirusCheck, OnFailureAcceptLeavesANote) {
  config_.antivirus.on_failure = AntivirusConfig::Failure::accept;
  auto outcome = run();
  EXPECT_TRUE(outcome.contributions.empty());
  EXPECT_EQ(outcome.note.rfind("not scanned, accepted (on_failure = accept): cannot connect to clamd at ", 0), 0u)
      << outcome.note;
}

TEST_F(AntivirusCheck, TooLargeIsSkippedWithANoteOrTempfailed) {
  config_.antivirus.max_size = 10;
  auto skipped = run();
  EXPECT_TRUE(skipped.contributions.empty());
  EXPECT_EQ(skipped.note, fmt::format("not scanned: message too large to scan ({} bytes, max_size 10 bytes)", message_.size()));

  config_.antivirus.on_oversize = AntivirusConfig::Oversize::tempfail;
  auto refused = run();
  ASSERT_EQ(refused.contributions.size(), 1u);
  EXPECT_EQ(refused.contributions[0].action.kind, Action::Kind::tempfail);
  EXPECT_EQ(refused.contributions[0].code, 451);
}

// The engine runs it for a white-listed envelope too: no silent acceptance without a scan.
TEST_F(AntivirusCheck, EngineRunsItForWhitelistedSenders) {
  std::vector<std::unique_ptr<checks::Check>> only;
  only.push_back(checks::make_antivirus_check());
  engine::Engine engine(std::move(only));
  engine::Verdict envelope;
  envelope.whitelisted = true;
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, engine.judge_message(context_, envelope), boost::asio::use_future);
  io.run_for(10s);
  auto verdict = future.get();
  EXPECT_EQ(verdict.disposition, "tempfail");
  EXPECT_EQ(verdict.reason, "antivirus");
  EXPECT_EQ(verdict.reply.code, 451);
  EXPECT_EQ(verdict.reply.enhanced, "4.7.1");
  EXPECT_NE(verdict.reply.text.find("virus scanner unavailable (not reachable)"), std::string::npos) << verdict.reply.text;
  EXPECT_NE(verdict.reply.text.find("(ID:TESTID)"), std::string::npos) << verdict.reply.text;
}

}  // namespace
}  // namespace gatehouse
