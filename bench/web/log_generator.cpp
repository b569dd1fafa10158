// Fills a gatehouse store with realistic transaction log rows for the web benchmark
// (bench/web/run.sh): written through the real Store (open_sqlite_store, Store::record), so the
// schema, its indexes and the dashboard's rollup are exactly what the daemon writes.
//
//   log_generator STORE [--rows N] [--days D] [--seed S]
//
// The mix, over the last D days with a day/night rhythm: 24 served domains of unequal size
// (Zipf-like), ~1,500 users each; ~4,000 legitimate sender domains with a few sending IPs each and
// ~60,000 throw-away spam domains and ~150,000 spam IPs; subjects from templates with numbers and
// names; 1–3 recipients; dispositions about 55 % accept, 10 % tag, 30 % reject (DNS lists, unknown
// recipients, SPF, content score, viruses, relay attempts), 5 % tempfail (greylisting, back-end
// 4xx). No message copies are stored (the log rows are what the searches read). Marker rows that
// the benchmark searches for (a rare recipient, sender domain and subject word) are spread thinly.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/id.hpp"
#include "store/store.hpp"

using namespace gatehouse;

namespace {

std::mt19937_64 rng;

std::size_t zipf_index(std::size_t n, double skew = 1.1) {
  // Inverse-transform on a precomputed table per (n, skew) would be faster; a cached table is enough.
  static std::vector<std::pair<std::pair<std::size_t, double>, std::vector<double>>> tables;
  std::vector<double>* table = nullptr;
  for (auto& [key, cdf] : tables)
    if (key.first == n && key.second == skew) table = &cdf;
  if (!table) {
    std::vector<double> cdf(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) cdf[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), skew));
    for (auto& value : cdf) value /= sum;
    tables.push_back({{n, skew}, std::move(cdf)});
    table = &tables.back().second;
  }
  double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return static_cast<std::size_t>(std::lower_bound(table->begin(), table->end(), u) - table->begin()) % n;
}

std::size_t uniform(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

template <class T>
const T& pick(const std::vector<T>& values) {
  return values[uniform(values.size())];
}

const std::vector<std::string> first_names{"alice", "bob",   "carol", "dave",  "erin",   "frank", "grace", "heidi",
                                           "ivan",  "judy",  "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
                                           "trent", "victor", "walter", "yara", "zoe",    "omar",  "lena",  "maria"};
const std::vector<std::string> last_names{"smith", "jones", "miller", "garcia", "nguyen", "kim",   "weber",  "rossi",
                                          "dubois", "novak", "silva", "khan",   "sato",   "olsen", "murphy", "fischer"};
const std::vector<std::string> words{"quarterly", "report",  "meeting", "invoice", "order",   "shipment", "project",
                                     "update",    "review",  "budget",  "contract", "schedule", "proposal", "training",
                                     "holiday",   "payroll", "release", "security", "account", "delivery", "feedback"};
const std::vector<std::string> spam_words{"cheap", "winner", "bitcoin", "pharmacy", "loan", "casino", "offer",
                                          "urgent", "prize", "dating", "crypto", "replica", "discount", "verify"};
const std::vector<std::string> tlds{"com", "net", "org", "de", "fr", "co.uk", "io", "biz", "info", "ru", "cn", "xyz"};

struct Reason {
  const char* disposition;
  const char* reason;
  double weight;
  const char* reply;
};
const std::vector<Reason> outcomes{
    {"accept", "", 55, "250 2.0.0 Ok: queued"},
    {"tag", "score above tag threshold", 10, "250 2.0.0 Ok: queued (tagged)"},
    {"reject", "dnsbl: zen.spamhaus.org", 11, "550 5.7.1 Client host blocked using zen.spamhaus.org"},
    {"reject", "unknown recipient", 7, "550 5.1.1 No such user here"},
    {"reject", "spf fail", 3, "550 5.7.23 SPF check failed"},
    {"reject", "content score", 5, "550 5.7.1 Message looks like spam"},
    {"reject", "virus: Eicar-Test-Signature", 0.6, "554 5.7.1 Virus found"},
    {"reject", "relay denied", 2.4, "554 5.7.1 Relay access denied"},
    {"reject", "backend 550", 1, "550 5.1.1 Mailbox unavailable"},
    {"tempfail", "greylisted", 3.5, "451 4.7.1 Greylisted, please try again later"},
    {"tempfail", "backend 451", 1, "451 4.3.0 Temporary back-end failure"},
    {"tempfail", "dns timeout", 0.5, "451 4.4.3 DNS lookup failed, try again"},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s STORE [--rows N] [--days D] [--seed S]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  std::size_t rows = 1'000'000, days = 30;
  std::uint64_t seed = 20261127;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    if (option == "--rows") rows = std::strtoull(argv[i + 1], nullptr, 10);
    else if (option == "--days") days = std::strtoull(argv[i + 1], nullptr, 10);
    else if (option == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "unknown option %s\n", option.c_str());
      return 2;
    }
  }
  rng.seed(seed);
  auto opened = open_sqlite_store(path);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  Store& store = **opened;

  std::vector<std::string> served;
  for (const char* name : {"example.org", "acme.example", "globex.example", "initech.example", "umbrella.example",
                           "hooli.example", "stark.example", "wayne.example", "wonka.example", "tyrell.example",
                           "cyberdyne.example", "soylent.example", "aperture.example", "gringotts.example",
                           "oscorp.example", "vandelay.example", "dunder.example", "pied-piper.example",
                           "massive.example", "nakatomi.example", "monarch.example", "octan.example",
                           "virtucon.example", "zorg.example"})
    served.emplace_back(name);
  std::vector<std::string> legit_domains, spam_domains, legit_ips, spam_ips;
  for (std::size_t i = 0; i < 4000; ++i)
    legit_domains.push_back(fmt::format("{}{}.{}", pick(words), i, pick(tlds)));
  for (std::size_t i = 0; i < 60000; ++i)
    spam_domains.push_back(fmt::format("{}-{}{}.{}", pick(spam_words), pick(words), i, pick(tlds)));
  for (std::size_t i = 0; i < 4000 * 3; ++i)
    legit_ips.push_back(fmt::format("{}.{}.{}.{}", 20 + i % 180, (i * 7) % 256, (i / 3) % 256, 1 + i % 250));
  for (std::size_t i = 0; i < 150000; ++i)
    spam_ips.push_back(fmt::format("{}.{}.{}.{}", 1 + uniform(223), uniform(256), uniform(256), 1 + uniform(254)));

  std::vector<double> weights;
  for (const auto& outcome : outcomes) weights.push_back(outcome.weight);
  std::discrete_distribution<std::size_t> outcome_of(weights.begin(), weights.end());

  const auto now = Clock::now();
  const auto span = std::chrono::hours(24 * days);
  // Times: uniform over the span, thinned at night (a day/night rhythm in UTC), then sorted: the
  // daemon writes in time order too (and B-trees fill far faster that way).
  std::vector<Clock::time_point> times;
  times.reserve(rows);
  while (times.size() < rows) {
    auto offset = std::chrono::milliseconds(static_cast<std::int64_t>(
        std::uniform_real_distribution<double>(0, 1)(rng) * std::chrono::duration_cast<std::chrono::milliseconds>(span).count()));
    auto time = now - offset;
    auto hour = std::chrono::duration_cast<std::chrono::hours>(time.time_since_epoch()).count() % 24;
    if (chance(hour >= 7 && hour <= 20 ? 1.0 : 0.45)) times.push_back(time);
  }
  std::sort(times.begin(), times.end());
  std::size_t markers = 0;
  for (std::size_t n = 0; n < rows; ++n) {
    const Clock::time_point time = times[n];
    const Reason& outcome = outcomes[outcome_of(rng)];
    const std::string disposition = outcome.disposition;
    const bool spammy = disposition != "accept" && (disposition != "tempfail" || chance(0.7));

    TransactionRecord record;
    record.time = time;
    record.id = transaction_id_at(time, static_cast<std::uint32_t>(rng() & 0x3fffff));
    std::string sender_domain;
    if (spammy && chance(0.85)) {
      sender_domain = spam_domains[zipf_index(spam_domains.size(), 0.6)];
      record.client_ip = spam_ips[zipf_index(spam_ips.size(), 0.5)];
    } else {
      std::size_t which = zipf_index(legit_domains.size(), 1.05);
      sender_domain = legit_domains[which];
      record.client_ip = legit_ips[which * 3 + uniform(3)];
    }
    record.client_ptr = chance(0.8) ? fmt::format("mail{}.{}", uniform(9), sender_domain) : "";
    record.helo = record.client_ptr.empty() ? fmt::format("[{}]", record.client_ip) : record.client_ptr;
    record.tls = chance(0.7) ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : "";
    record.mail_from = chance(0.03) ? "" : fmt::format("{}.{}@{}", pick(first_names), pick(last_names), sender_domain);
    record.header_from = record.mail_from;
    const std::string& domain = served[zipf_index(served.size(), 1.0)];
    record.domain = domain;
    std::size_t count = chance(0.8) ? 1 : (chance(0.7) ? 2 : 3);
    for (std::size_t r = 0; r < count; ++r) {
      std::string address = fmt::format("{}.{}{}@{}", pick(first_names), pick(last_names), uniform(60), domain);
      if (std::string(outcome.reason) == "unknown recipient")
        record.rejected_recipients.push_back(address + ": 550 5.1.1 No such user here");
      else
        record.recipients.push_back(address);
    }
    if (spammy)
      record.subject = fmt::format("{} {} {}% {} {}", pick(spam_words), pick(spam_words), 10 + uniform(90), pick(words), uniform(100000));
    else if (chance(0.3))
      record.subject = fmt::format("Re: {} {} for {}", pick(words), pick(words), pick(first_names));
    else
      record.subject = fmt::format("{} {} #{}", pick(words), pick(words), uniform(1000000));
    // Markers for the benchmark's rare searches: one row in about 20,000.
    if (uniform(20000) == 0) {
      ++markers;
      record.recipients = {fmt::format("zz-rare.recipient@{}", domain)};
      record.mail_from = fmt::format("billing@zz-rare-sender.example");
      record.subject = fmt::format("Quarterly zzmarker statement {}", markers);
    }
    record.message_id = fmt::format("<{}.{}@{}>", record.id, uniform(100000), sender_domain);
    record.size = 2000 + uniform(60000);
    record.disposition = disposition;
    record.reason = outcome.reason;
    record.reply = fmt::format("{} (ID:{})", outcome.reply, record.id);
    record.score = disposition == "accept" ? -1.0 + uniform(40) / 10.0 : disposition == "tag" ? 5 + uniform(50) / 10.0 : 10 + uniform(100) / 10.0;
    record.checks = {{"dnsbl", spammy ? 5.0 : 0.0, spammy ? "listed" : ""}, {"spf", 0, "pass"}, {"content", record.score, "words"}};
    record.backend = "smtp:127.0.0.1:2526";
    record.delivery_status = disposition == "accept" || disposition == "tag" ? "delivered" : "none";
    record.delivery_attempts = record.delivery_status == "delivered" ? 1 : 0;
    store.record(std::move(record));
    if ((n + 1) % 20000 == 0) {
      store.flush();
      std::fprintf(stderr, "\r%zu rows", n + 1);
    }
  }
  store.flush();
  std::fprintf(stderr, "\r%zu rows, %zu marker rows\n", rows, markers);
  return 0;
}
