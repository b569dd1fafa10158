// `gatehouse learn`: teaches the adaptive classifier from messages on disk (files, or directories
// read recursively; a leading mbox "From " line is skipped), stored in the configured state store
// where the daemon picks the lessons up. `gatehouse classify`: the classifier's probability for
// messages on disk, without the other checks (for measuring it). See docs/content.md ("Classifier").
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "classifier/classifier.hpp"
#include "classifier/learner.hpp"
#include "cli/commands.hpp"
#include "content/headers.hpp"
#include "store/token_store.hpp"

namespace gatehouse::cli {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kCommitEvery = 500;   // messages per write transaction
constexpr auto kProgressInterval = std::chrono::seconds(1);

struct LearnOptions {
  std::string config = default_config_path();
  std::vector<std::string> ham, spam;
  bool forget = false;
  bool quiet = false;
};

// The message files under each path, in name order; an unreadable path is an error.
Result<std::vector<std::string>> message_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code error;
    auto status = fs::status(path, error);
    if (error || !fs::exists(status))
      return Error{fmt::format("{}: {}", path, error ? error.message() : "no such file or directory")};
    if (fs::is_directory(status)) {
      std::vector<std::string> found;
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error), end;
      if (error) return Error{fmt::format("{}: {}", path, error.message())};
      for (; it != end; it.increment(error)) {
        if (error) return Error{fmt::format("{}: {}", path, error.message())};
        if (it->is_regular_file(error) && !it->path().filename().string().starts_with("."))
          found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }
  return files;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return contents.str();
}

Result<std::unique_ptr<TokenStore>> open_token_store(const Config& config) {
  std::error_code error;
  fs::create_directories(config.state_dir, error);
  if (error) return Error{fmt::format("cannot create the state directory {}: {}", config.state_dir.string(), error.message())};
  return open_sqlite_token_store(config.database_path().string());
}

int run_learn(const LearnOptions& options) {
  auto config = load_or_report(options.config);
  if (!config) return 2;
  if (options.ham.empty() && options.spam.empty()) {
    std::cerr << "gatehouse learn: give messages with --ham PATH and/or --spam PATH\n";
    return 2;
  }
  auto ham_files = message_files(options.ham);
  auto spam_files = ham_files ? message_files(options.spam) : Result<std::vector<std::string>>(std::vector<std::string>{});
  if (!ham_files || !spam_files) {
    std::cerr << "gatehouse learn: " << (!ham_files ? ham_files.error().message : spam_files.error().message) << "\n";
    return 2;
  }
  auto store = open_token_store(*config);
  if (!store) {
    std::cerr << "gatehouse learn: " << store.error().message << "\n";
    return 2;
  }
  classifier::Learner learner(**store, nullptr);
  std::size_t learned = 0, relearned = 0, unchanged = 0, forgotten = 0, failed = 0;
  const std::size_t total = ham_files->size() + spam_files->size();
  std::size_t done = 0;
  auto last_progress = std::chrono::steady_clock::now();
  auto commit = [&]() -> bool {
    if (auto committed = learner.commit(); !committed) {
      std::cerr << "gatehouse learn: " << committed.error().message << "\n";
      return false;
    }
    return true;
  };
  for (auto [files, label] : {std::pair{&*ham_files, classifier::Label::ham}, std::pair{&*spam_files, classifier::Label::spam}}) {
    for (const auto& file : *files) {
      std::string error;
      auto message = read_file(file, error);
      ++done;
      if (!message) {
        std::cerr << fmt::format("gatehouse learn: {}: {}\n", file, error);
        ++failed;
        continue;
      }
      auto result = options.forget ? learner.forget(*message) : learner.learn(*message, label, "cli");
      switch (result.kind) {
        case classifier::LearnResult::Kind::learned: ++learned; break;
        case classifier::LearnResult::Kind::relearned: ++relearned; break;
        case classifier::LearnResult::Kind::forgotten: ++forgotten; break;
        case classifier::LearnResult::Kind::unchanged:
        case classifier::LearnResult::Kind::not_learned: ++unchanged; break;
      }
      if (learner.pending() >= kCommitEvery && !commit()) return 1;
      auto now = std::chrono::steady_clock::now();
      if (!options.quiet && (now - last_progress >= kProgressInterval || done == total)) {
        last_progress = now;
        std::cerr << fmt::format("{} {}/{} messages ({:.0f}%)\n", options.forget ? "forgetting" : "learning", done, total,
                                 100.0 * done / std::max<std::size_t>(total, 1));
      }
    }
  }
  if (!commit()) return 1;
  auto snapshot = (*store)->load();
  std::cout << fmt::format("{} learned, {} moved to the other kind, {} already known, {} forgotten, {} unreadable\n",
                           learned, relearned, unchanged, forgotten, failed);
  if (snapshot)
    std::cout << fmt::format("the classifier now knows {} spam and {} ham messages ({} features)\n",
                             snapshot->spam_messages, snapshot->ham_messages, snapshot->tokens.size());
  return failed ? 1 : 0;
}

struct ClassifyOptions {
  std::string config = default_config_path();
  std::vector<std::string> paths;
  bool json = false;
  std::size_t clues = 0;
  bool features = false;
};

// A message file for `gatehouse classify`; when unreadable, says so and sets `status` to 1.
std::optional<std::string> read_for_classify(const std::string& file, int& status) {
  std::string error;
  auto message = read_file(file, error);
  if (!message) {
    std::cerr << fmt::format("gatehouse classify: {}: {}\n", file, error);
    status = 1;
  }
  return message;
}

// `gatehouse classify --features`: the features the tokenizer finds in each message, one JSON
// object a line ({"path", "features": [text…]}), without a state store — for seeing what the
// classifier reads, and for measuring tokenizer changes outside the program.
int print_features(const std::vector<std::string>& files) {
  int status = 0;
  for (const auto& file : files) {
    auto message = read_for_classify(file, status);
    if (!message) continue;
    boost::json::array features;
    for (const auto& feature : classifier::message_features(*message)) features.push_back(boost::json::string(feature.text));
    std::cout << boost::json::serialize(boost::json::object{{"path", file}, {"features", std::move(features)}}) << "\n";
  }
  return status;
}

int run_classify(const ClassifyOptions& options) {
  auto config = load_or_report(options.config);
  if (!config) return 2;
  auto files = message_files(options.paths);
  if (!files) {
    std::cerr << "gatehouse classify: " << files.error().message << "\n";
    return 2;
  }
  if (options.features) return print_features(*files);
  if (!fs::exists(config->database_path())) {
    std::cerr << fmt::format("gatehouse classify: no state store at {}: learn first (gatehouse learn)\n",
                             config->database_path().string());
    return 2;
  }
  auto store = open_sqlite_token_store(config->database_path().string());
  if (!store) {
    std::cerr << "gatehouse classify: " << store.error().message << "\n";
    return 2;
  }
  classifier::Model model;
  classifier::Learner loader(**store, &model);
  if (auto loaded = loader.load(); !loaded) {
    std::cerr << "gatehouse classify: " << loaded.error().message << "\n";
    return 2;
  }
  int status = 0;
  for (const auto& file : *files) {
    auto message = read_for_classify(file, status);
    if (!message) continue;
    auto result = classifier::classify(model, classifier::message_features(*message));
    if (options.json) {
      boost::json::object out{{"path", file}, {"probability", result.probability}};
      boost::json::array clues;
      for (std::size_t i = 0; i < result.clues.size() && i < options.clues; ++i)
        clues.push_back(boost::json::object{{"feature", result.clues[i].feature},
                                            {"probability", result.clues[i].probability},
                                            {"spam", result.clues[i].spam},
                                            {"ham", result.clues[i].ham}});
      out["clues"] = std::move(clues);
      std::cout << boost::json::serialize(out) << "\n";
    } else {
      std::cout << fmt::format("{:.6f} {}\n", result.probability, file);
      for (std::size_t i = 0; i < result.clues.size() && i < options.clues; ++i)
        std::cout << fmt::format("    {:.4f} {:>6} spam {:>6} ham  {}\n", result.clues[i].probability,
                                 result.clues[i].spam, result.clues[i].ham, result.clues[i].feature);
    }
  }
  return status;
}

}  // namespace

void add_learn_commands(CLI::App& app) {
  {
    auto options = std::make_shared<LearnOptions>();
    auto* cmd = app.add_subcommand("learn", "Teach the adaptive classifier from ham and spam messages on disk");
    cmd->add_option("--config,-c", options->config, "Configuration file")->capture_default_str();
    cmd->add_option("--ham", options->ham, "A message file or a directory of them (recursively) that is ham");
    cmd->add_option("--spam", options->spam, "A message file or a directory of them (recursively) that is spam");
    cmd->add_flag("--forget", options->forget, "Forget these messages instead (whatever they were learned as)");
    cmd->add_flag("--quiet,-q", options->quiet, "No progress lines on standard error");
    cmd->callback([options] { throw ExitCode{run_learn(*options)}; });
  }
  {
    auto options = std::make_shared<ClassifyOptions>();
    auto* cmd = app.add_subcommand("classify", "The adaptive classifier's spam probability of messages on disk");
    cmd->add_option("--config,-c", options->config, "Configuration file")->capture_default_str();
    cmd->add_option("paths", options->paths, "Message files or directories")->required();
    cmd->add_flag("--json", options->json, "One JSON object per message");
    cmd->add_option("--clues", options->clues, "Show this many of the features that weighed most");
    cmd->add_flag("--features", options->features,
                  "Print the features the tokenizer finds in each message (JSON lines), no probability");
    cmd->callback([options] { throw ExitCode{run_classify(*options)}; });
  }
}

}  // namespace gatehouse::cli
