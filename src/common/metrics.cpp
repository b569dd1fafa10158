// Metrics and their Prometheus text exposition format (version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/). See metrics.hpp.
#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <thread>

namespace gatehouse::metrics {

const Buckets& latency_buckets() {
  static const Buckets bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return bounds;
}

Histogram::Histogram(const Buckets& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  // The first bucket whose upper bound is >= value ("le": less or equal).
  auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

namespace {
template <class Series>
std::unique_ptr<Series> make_series(const Buckets* bounds) {
  if constexpr (std::is_same_v<Series, Histogram>) return std::make_unique<Histogram>(bounds ? *bounds : latency_buckets());
  else return std::make_unique<Series>();
}
}  // namespace

template <class Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> label_names, const Buckets* bounds,
                       std::size_t capacity)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(bounds),
      slots_(std::make_unique<Slot[]>(capacity)),
      capacity_(capacity) {}

template <class Series>
Series& Family<Series>::claim(Slot& slot, std::string key, std::vector<std::string> values) {
  slot.key = std::move(key);
  slot.values = std::move(values);
  slot.series = make_series<Series>(bounds_);
  slot.state.store(2, std::memory_order_release);
  return *slot.series;
}

template <class Series>
Series& Family<Series>::with(std::initializer_list<std::string_view> values) {
  std::string key;
  for (auto value : values) {
    key.append(value);
    key.push_back('\x1f');
  }
  // Slots fill in order and never empty, so a scan that waits for each slot being filled sees every
  // series created before it and no two threads can create the same one.
  for (std::size_t i = 0; i < capacity_; ++i) {
    Slot& slot = slots_[i];
    int state = slot.state.load(std::memory_order_acquire);
    if (state == 0) {
      int expected = 0;
      if (slot.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
        return claim(slot, std::move(key), std::vector<std::string>(values.begin(), values.end()));
      state = expected;
    }
    while (state == 1) {   // another thread is filling it: a few instructions
      std::this_thread::yield();
      state = slot.state.load(std::memory_order_acquire);
    }
    if (slot.key == key) return *slot.series;
  }
  int state = overflow_.state.load(std::memory_order_acquire);
  if (state == 0) {
    int expected = 0;
    if (overflow_.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
      return claim(overflow_, {}, std::vector<std::string>(label_names_.size(), "other"));
  }
  while (overflow_.state.load(std::memory_order_acquire) != 2) std::this_thread::yield();
  return *overflow_.series;
}

template <class Series>
void Family<Series>::for_each(const std::function<void(const std::vector<std::string>&, const Series&)>& visit) const {
  for (std::size_t i = 0; i < capacity_; ++i) {
    const Slot& slot = slots_[i];
    if (slot.state.load(std::memory_order_acquire) != 2) break;   // slots fill in order (one being filled: skipped now)
    visit(slot.values, *slot.series);
  }
  if (overflow_.state.load(std::memory_order_acquire) == 2) visit(overflow_.values, *overflow_.series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '"') escaped += "\\\"";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

namespace {
std::string escape_help(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

// {a="x",b="y"} (with `extra` appended, such as le="0.5"), or "" without labels.
std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       std::string_view extra = {}) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    text += text.empty() ? "{" : ",";
    text += fmt::format("{}=\"{}\"", names[i], escape_label_value(values[i]));
  }
  if (!extra.empty()) {
    text += text.empty() ? "{" : ",";
    text += extra;
  }
  if (!text.empty()) text += "}";
  return text;
}
}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{}", value);
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry entry{Type::counter};
  entry.counter = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names));
  entries_.push_back(std::move(entry));
  return *entries_.back().counter;
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry entry{Type::gauge};
  entry.gauge = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names));
  entries_.push_back(std::move(entry));
  return *entries_.back().gauge;
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                     const Buckets& bounds) {
  std::lock_guard lock(mutex_);
  Entry entry{Type::histogram};
  entry.bounds = std::make_unique<Buckets>(bounds);
  std::sort(entry.bounds->begin(), entry.bounds->end());
  entry.histogram =
      std::make_unique<HistogramFamily>(std::move(name), std::move(help), std::move(label_names), entry.bounds.get());
  entries_.push_back(std::move(entry));
  return *entries_.back().histogram;
}

Registry::CallbackHandle Registry::gauge_callback(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  std::uint64_t id = next_callback_++;
  callbacks_.push_back(Callback{id, std::move(name), std::move(help), std::move(read)});
  return CallbackHandle(this, id);
}

Registry::CallbackHandle& Registry::CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    this->~CallbackHandle();
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

Registry::CallbackHandle::~CallbackHandle() {
  if (!registry_) return;
  std::lock_guard lock(registry_->mutex_);
  std::erase_if(registry_->callbacks_, [&](const Callback& callback) { return callback.id == id_; });
  registry_ = nullptr;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  auto header = [&](const std::string& name, const std::string& help, std::string_view type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
  };
  for (const Entry& entry : entries_) {
    if (entry.type == Type::counter) {
      const auto& family = *entry.counter;
      header(family.name(), family.help(), "counter");
      family.for_each([&](const std::vector<std::string>& values, const Counter& counter) {
        out += fmt::format("{}{} {}\n", family.name(), label_text(family.label_names(), values), counter.value());
      });
    } else if (entry.type == Type::gauge) {
      const auto& family = *entry.gauge;
      header(family.name(), family.help(), "gauge");
      family.for_each([&](const std::vector<std::string>& values, const Gauge& gauge) {
        out += fmt::format("{}{} {}\n", family.name(), label_text(family.label_names(), values), format_value(gauge.value()));
      });
    } else {
      const auto& family = *entry.histogram;
      header(family.name(), family.help(), "histogram");
      family.for_each([&](const std::vector<std::string>& values, const Histogram& histogram) {
        auto snapshot = histogram.snapshot();
        const auto& bounds = histogram.bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          std::string le = fmt::format("le=\"{}\"", i < bounds.size() ? format_value(bounds[i]) : "+Inf");
          out += fmt::format("{}_bucket{} {}\n", family.name(), label_text(family.label_names(), values, le),
                             snapshot.cumulative[i]);
        }
        std::string labels = label_text(family.label_names(), values);
        out += fmt::format("{}_sum{} {}\n", family.name(), labels, format_value(snapshot.sum));
        out += fmt::format("{}_count{} {}\n", family.name(), labels, snapshot.cumulative.back());
      });
    }
  }
  for (const Callback& callback : callbacks_) {
    header(callback.name, callback.help, "gauge");
    out += fmt::format("{} {}\n", callback.name, format_value(callback.read()));
  }
  return out;
}

Registry& registry() {
  static Registry instance;
  return instance;
}

GatewayMetrics& gateway() {
  static GatewayMetrics metrics{
      registry().counter("gatehouse_messages_total", "SMTP transactions by direction, disposition and reason",
                         {"direction", "disposition", "reason"}),
      registry().histogram("gatehouse_transaction_seconds", "Time from MAIL FROM to the final reply of a transaction"),
      registry().histogram("gatehouse_check_seconds", "Time each check takes per run", {"check"}),
      registry().counter("gatehouse_dns_errors_total", "DNS look-ups that failed (not NXDOMAIN or no data), by status",
                         {"status"}),
      registry().gauge("gatehouse_backend_up", "1 when the back-end answered the last attempt to reach it, 0 when not",
                       {"backend"}),
      registry().counter("gatehouse_backend_failures_total", "Attempts to reach a back-end that failed", {"backend"}),
      registry().counter("gatehouse_http_requests_total", "Requests to the web server by status code", {"status"}),
  };
  return metrics;
}

}  // namespace gatehouse::metrics
