// Metrics for monitoring: counters, gauges and histograms, optionally with labels, rendered in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics (src/web/api.cpp).
//
// Written here rather than taken from prometheus-cpp (Debian's prometheus-cpp-dev 1.0.1): its
// Histogram takes a mutex on every observation and its package drags in civetweb and libcurl, while
// the gateway needs only lock-free updates on the SMTP path and the text format. Every update is a
// relaxed atomic add; finding a labelled series is a scan of a fixed table whose slots are claimed
// with one compare-and-swap and never move, so callers may keep the reference. A family holds at
// most `capacity` series: label values beyond that are counted under the value "other", so an
// unbounded label (a reason text) cannot grow memory without bound.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::metrics {

class Counter {
 public:
  void inc(std::uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Upper bounds of buckets (seconds), ascending; +Inf is implicit.
using Buckets = std::vector<double>;
// 0.5 ms … 60 s: from a cached list look-up to a slow back-end.
const Buckets& latency_buckets();

class Histogram {
 public:
  explicit Histogram(const Buckets& bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;   // per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  const Buckets& bounds() const { return bounds_; }

 private:
  const Buckets bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;   // bounds_.size() + 1 (the last: above every bound)
  std::atomic<double> sum_{0};
};

enum class Type { counter, gauge, histogram };

// A metric name with its label names and a fixed table of series, one per combination of label
// values. `Series` is Counter, Gauge or Histogram.
template <class Series>
class Family {
 public:
  static constexpr std::size_t default_capacity = 256;
  Family(std::string name, std::string help, std::vector<std::string> label_names, const Buckets* bounds = nullptr,
         std::size_t capacity = default_capacity);
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series for these label values (as many as label names), created on first use.
  Series& with(std::initializer_list<std::string_view> values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls visit(label_values, series) for every series created so far.
  void for_each(const std::function<void(const std::vector<std::string>&, const Series&)>& visit) const;

 private:
  struct Slot {
    std::atomic<int> state{0};   // 0 free, 1 being filled, 2 ready
    std::string key;             // label values joined by '\x1f'
    std::vector<std::string> values;
    std::unique_ptr<Series> series;
  };
  Series& claim(Slot& slot, std::string key, std::vector<std::string> values);

  std::string name_, help_;
  std::vector<std::string> label_names_;
  const Buckets* bounds_;
  std::unique_ptr<Slot[]> slots_;
  std::size_t capacity_;
  Slot overflow_;                // every label value "other", once the table is full
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// The metrics of one process (or of one test), rendered together.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Families live as long as the registry; the reference stays valid.
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> label_names = {},
                             const Buckets& bounds = latency_buckets());

  // A gauge read when the metrics are rendered (a queue's length): registered for as long as the
  // returned handle lives.
  class CallbackHandle {
   public:
    CallbackHandle() = default;
    CallbackHandle(Registry* registry, std::uint64_t id) : registry_(registry), id_(id) {}
    CallbackHandle(CallbackHandle&& other) noexcept : registry_(other.registry_), id_(other.id_) { other.registry_ = nullptr; }
    CallbackHandle& operator=(CallbackHandle&& other) noexcept;
    ~CallbackHandle();

   private:
    Registry* registry_ = nullptr;
    std::uint64_t id_ = 0;
  };
  [[nodiscard]] CallbackHandle gauge_callback(std::string name, std::string help, std::function<double()> read);

  // The Prometheus text format, families in registration order.
  std::string render() const;

 private:
  struct Callback {
    std::uint64_t id;
    std::string name, help;
    std::function<double()> read;
  };
  struct Entry {
    Type type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::unique_ptr<Buckets> bounds;
  };
  mutable std::mutex mutex_;   // registration and rendering only; never on an update
  std::vector<Entry> entries_;
  std::vector<Callback> callbacks_;
  std::uint64_t next_callback_ = 1;
};

// Text-format helpers (exposed for tests).
std::string escape_label_value(std::string_view value);
std::string format_value(double value);

// The gateway's own metrics, in the process-wide registry.
struct GatewayMetrics {
  CounterFamily& messages;            // gatehouse_messages_total{direction, disposition, reason}
  HistogramFamily& transaction_seconds;   // gatehouse_transaction_seconds: MAIL to the final reply
  HistogramFamily& check_seconds;     // gatehouse_check_seconds{check}
  CounterFamily& dns_errors;          // gatehouse_dns_errors_total{status}: servfail, timeout, error
  GaugeFamily& backend_up;            // gatehouse_backend_up{backend}: 1 reachable at the last attempt, 0 not
  CounterFamily& backend_failures;    // gatehouse_backend_failures_total{backend}
  CounterFamily& http_requests;       // gatehouse_http_requests_total{status}
};
Registry& registry();
GatewayMetrics& gateway();

}  // namespace gatehouse::metrics
