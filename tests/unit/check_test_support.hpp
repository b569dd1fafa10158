// Shared by the unit tests of the content checks: runs one check (checks/check.hpp) on a whole
// message, analysed as the gateway does (content/analysis.hpp), under the default configuration,
// and returns the names of its findings (the scores are the policy's: docs/weights.md).
#pragma once
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"
#include "content/headers.hpp"

namespace gatehouse::checks {

// `connection`: the client as the session knows it (its reverse DNS name), or none.
// `config_text`: the configuration file's text, when the check needs more than the defaults.
inline std::vector<std::string> findings_on_message(const Check& check, const std::string& message,
                                                    ConnectionState* connection = nullptr,
                                                    const std::string& config_text = "[server]\nlisten = [\"127.0.0.1:2525\"]\n") {
  Config config = *parse_config(config_text, "test.toml");
  const content::MessageAnalysis analysis = content::analyse_message(message);
  const content::HeaderSection headers = content::parse_headers(message);
  CheckContext context;
  context.stage = Stage::data;
  context.config = &config;
  context.policy = &config.policy;
  context.message = message;
  context.content = &analysis;
  context.headers = &headers;
  context.connection = connection;
  CheckOutcome outcome;
  boost::asio::io_context io;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    CheckOutcome result = co_await check.run(context);
    outcome = std::move(result);
  }, boost::asio::detached);
  io.run();
  std::vector<std::string> findings;
  for (const auto& contribution : outcome.contributions) findings.push_back(contribution.finding);
  return findings;
}

}  // namespace gatehouse::checks
