#include "client/live_view.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/live_view.pb.h"
#include "client/output_format.h"
#include "client/rates.h"
#include "client/type_catalog.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/support/sync_stream.h"
#include "grpcpp/support/status.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostctl {

using google::protobuf::util::TimeUtil;
using vhostd::v1::Core;
using vhostd::v1::ListCoresResponse;
using vhostd::v1::PolledQueue;
using vhostd::v1::Port;
using vhostd::v1::PortStats;
using vhostd::v1::QueueStats;

// ---------------------------------------------------------------------------------
// Stopping, time and signals.

void StopToken::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  for (grpc::ClientContext* call : active_calls_) call->TryCancel();
  wake_.notify_all();
}

bool StopToken::stop_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void StopToken::WaitFor(absl::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  if (duration <= absl::ZeroDuration()) return;
  wake_.wait_for(lock, absl::ToChronoNanoseconds(duration), [this] { return stop_; });
}

void StopToken::AddActiveCall(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  active_calls_.insert(context);
  // Cancelling before the call starts is fine: gRPC cancels it as soon as it starts.
  if (stop_) context->TryCancel();
}

void StopToken::RemoveActiveCall(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  active_calls_.erase(context);
}

SignalStopper::SignalStopper(StopToken& stop) : stop_(stop) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
  thread_ = std::thread([this] {
    bool stopping = false;
    while (true) {
      int signal = 0;
      if (sigwait(&signals_, &signal) != 0) continue;
      if (done_) return;  // the destructor's wake-up
      if (!stopping) {
        stopping = true;
        stop_.RequestStop();
        continue;
      }
      // A second signal and the view still runs: give up at once.
      if (isatty(STDOUT_FILENO)) {
        ssize_t ignored = write(STDOUT_FILENO, kAnsiShowCursor, sizeof(kAnsiShowCursor) - 1);
        (void)ignored;
      }
      _exit(128 + signal);
    }
  });
}

SignalStopper::~SignalStopper() {
  done_ = true;
  // Blocked in that thread, the signal stays pending for it until its sigwait takes it.
  pthread_kill(thread_.native_handle(), SIGINT);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

namespace {

// ---------------------------------------------------------------------------------
// Output.

// Where the frames go.
class Screen {
 public:
  enum class Mode {
    kTerminal,   // redrawn in place
    kBlocks,     // appended, a blank line between two frames
    kJsonLines,  // appended, each frame one line
  };

  Screen(std::ostream& out, Mode mode) : out_(out), mode_(mode) {}

  // `frame`: lines each ending in '\n'.
  void Draw(const std::string& frame) {
    switch (mode_) {
      case Mode::kTerminal: {
        if (!cursor_hidden_) {
          out_ << kAnsiHideCursor << kAnsiClearScreen;
          cursor_hidden_ = true;
        }
        out_ << kAnsiHome;
        // Overwrite line by line, erasing what the previous frame left to the right
        // and below: no blank flash between two frames.
        size_t start = 0;
        while (start < frame.size()) {
          size_t end = frame.find('\n', start);
          if (end == std::string::npos) end = frame.size();
          out_ << absl::string_view(frame).substr(start, end - start) << kAnsiEraseLine << "\n";
          start = end + 1;
        }
        out_ << kAnsiEraseBelow;
        break;
      }
      case Mode::kBlocks:
        if (drawn_) out_ << "\n";
        out_ << frame;
        break;
      case Mode::kJsonLines:
        out_ << frame;
        break;
    }
    drawn_ = true;
    out_.flush();
  }

  // Leaves the terminal as it was found (but for the last frame, left on screen).
  void Finish() {
    if (cursor_hidden_) {
      out_ << kAnsiShowCursor;
      out_.flush();
      cursor_hidden_ = false;
    }
  }

 private:
  std::ostream& out_;
  const Mode mode_;
  bool drawn_ = false;
  bool cursor_hidden_ = false;
};

// Control characters would break a frame's layout (or, on a terminal, drive it).
std::string Sanitize(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string FrameTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", time, absl::LocalTimeZone());
}

// absl and protobuf time, through protobuf's own conversions.
void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  *timestamp = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

// ---------------------------------------------------------------------------------
// The daemon: a few unary calls, and the WatchEvents stream with its StatsSamples.

std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout) {
  return std::chrono::system_clock::now() + std::chrono::microseconds(absl::ToInt64Microseconds(timeout));
}

// Unary calls, each with a deadline of `timeout` from its start; a stop cancels them.
class Calls {
 public:
  using Stub = vhostd::v1::Vhostd::Stub;
  using Rpc = std::function<grpc::Status(Stub&, grpc::ClientContext*)>;

  Calls(Stub& stub, absl::Duration timeout, StopToken& stop) : stub_(stub), timeout_(timeout), stop_(stop) {}

  grpc::Status Call(const Rpc& rpc) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout_));
    stop_.AddActiveCall(&context);
    grpc::Status status = rpc(stub_, &context);
    stop_.RemoveActiveCall(&context);
    return status;
  }

  // Every page of ListPorts.
  grpc::Status ListAllPorts(std::vector<Port>* ports) {
    std::string token;
    while (true) {
      vhostd::v1::ListPortsRequest request;
      request.set_page_token(token);
      vhostd::v1::ListPortsResponse page;
      grpc::Status status = Call([&](Stub& stub, grpc::ClientContext* context) {
        return stub.ListPorts(context, request, &page);
      });
      if (!status.ok()) return status;
      for (Port& port : *page.mutable_ports()) ports->push_back(std::move(port));
      if (page.next_page_token().empty()) return grpc::Status::OK;
      if (page.next_page_token() == token) {
        return grpc::Status(grpc::StatusCode::INTERNAL, "the daemon returned the same page token twice");
      }
      token = page.next_page_token();
    }
  }

 private:
  Stub& stub_;
  const absl::Duration timeout_;
  StopToken& stop_;
};

// A following WatchEvents call with a stats_interval: the daemon pushes a StatsSample
// every interval, between the events. A daemon that sends nothing for `patience` (the
// interval plus --timeout) is given up on: the call is cancelled and Finish() says
// DEADLINE_EXCEEDED.
class SampleStream {
 public:
  SampleStream(Calls::Stub& stub, const vhostd::v1::WatchEventsRequest& request, absl::Duration first_patience,
               absl::Duration patience, StopToken& stop)
      : patience_(patience), stop_(stop), last_heard_(std::chrono::steady_clock::now()) {
    patience_now_ = first_patience;
    stop_.AddActiveCall(&context_);
    watchdog_ = std::thread([this] { Watch(); });
    reader_ = stub.WatchEvents(&context_, request);
  }

  ~SampleStream() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    if (!finished_) {  // the view is done with it: cancel, drain, end the call
      context_.TryCancel();
      for (vhostd::v1::Event ignored; reader_->Read(&ignored);) {
      }
      reader_->Finish();
    }
    stop_.RemoveActiveCall(&context_);
  }

  // Waits until the daemon registered the watch (from then on no change escapes it),
  // or the call failed (then Read returns false).
  void WaitUntilWatching() { reader_->WaitForInitialMetadata(); }

  // The next event or sample; false once the stream ended (then Finish()).
  bool Read(vhostd::v1::Event* event) {
    if (!reader_->Read(event)) return false;
    std::lock_guard<std::mutex> lock(mu_);
    last_heard_ = std::chrono::steady_clock::now();
    patience_now_ = patience_;
    return true;
  }

  grpc::Status Finish() {
    grpc::Status status = reader_->Finish();
    finished_ = true;
    if (Stalled()) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("the daemon sent no stats sample for ", absl::FormatDuration(patience_now_)));
    }
    if (status.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the daemon ended the watch");
    return status;
  }

 private:
  bool Stalled() {
    std::lock_guard<std::mutex> lock(mu_);
    return stalled_;
  }

  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      const auto give_up = last_heard_ + absl::ToChronoNanoseconds(patience_now_);
      if (std::chrono::steady_clock::now() >= give_up) {
        stalled_ = true;
        context_.TryCancel();
        return;
      }
      wake_.wait_until(lock, give_up);
    }
  }

  const absl::Duration patience_;
  StopToken& stop_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<vhostd::v1::Event>> reader_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::chrono::steady_clock::time_point last_heard_;
  absl::Duration patience_now_;
  bool stalled_ = false;
  bool done_ = false;
  bool finished_ = false;
  std::thread watchdog_;
};

TrafficCounters CountersOf(const QueueStats& queue) {
  return {queue.rx_packets(), queue.rx_bytes(), queue.tx_packets(), queue.tx_bytes(),
          queue.tx_dropped()};
}

TrafficCounters CountersOf(const PortStats& stats) {
  return {stats.rx_packets(), stats.rx_bytes(), stats.tx_packets(), stats.tx_bytes(),
          stats.tx_dropped()};
}

CoreCounters CountersOf(const Core& core) {
  return {core.busy_cycles(), core.idle_cycles(), core.packets(), core.bursts()};
}

std::optional<double> Field(const std::optional<TrafficRates>& rates,
                            double TrafficRates::*field) {
  if (!rates) return std::nullopt;
  return (*rates).*field;
}

// Rates in the JSON frames (which leave the field unset without rates).
void SetRates(const TrafficRates& rates, vhostctl::v1::TrafficRates* out) {
  out->set_rx_pps(rates.rx_pps);
  out->set_rx_bps(rates.rx_bps);
  out->set_tx_pps(rates.tx_pps);
  out->set_tx_bps(rates.tx_bps);
  out->set_drop_per_second(rates.drop_ps);
}

// What a live view shows: built from the watch's StatsSamples, and kept current by its
// events in between.
class View {
 public:
  virtual ~View() = default;
  // The port the watch is filtered on; "" for every port.
  virtual std::string WatchedPort() const = 0;
  // Once the watch is registered, what the view needs from before it.
  virtual grpc::Status Start(Calls& calls) = 0;
  // An event (not a sample): keeps the view current, or ends it with the error.
  virtual grpc::Status TakeEvent(const vhostd::v1::Event& event, Calls& calls) = 0;
  // A sample taken at `time`: kept with the one before; the next frame shows it.
  virtual grpc::Status TakeSample(absl::Time time, vhostd::v1::StatsSample sample) = 0;
  // The latest sample as a frame of table lines.
  virtual std::string TableFrame() const = 0;
  // The latest sample as a message, which -o json prints (client/live_view.proto).
  virtual std::unique_ptr<google::protobuf::Message> JsonFrame() const = 0;
};

// "port stats NAME --watch".
class PortWatchView final : public View {
 public:
  explicit PortWatchView(const Command& command)
      : name_(command.name), interval_(command.interval) {}

  std::string WatchedPort() const override { return name_; }

  // The port exists (else the daemon's NOT_FOUND), as the watch begins.
  grpc::Status Start(Calls& calls) override {
    vhostd::v1::GetPortStatsRequest request;
    request.set_name(name_);
    PortStats stats;
    return calls.Call([&](Calls::Stub& stub, grpc::ClientContext* context) {
      return stub.GetPortStats(context, request, &stats);
    });
  }

  grpc::Status TakeEvent(const vhostd::v1::Event& event, Calls&) override {
    return event.has_port_deleted() ? Deleted() : grpc::Status::OK;
  }

  grpc::Status TakeSample(absl::Time time, vhostd::v1::StatsSample sample) override {
    if (sample.ports_size() != 1 || sample.ports(0).name() != name_) return Deleted();
    previous_ = std::move(current_);
    current_ = Sample{time, std::move(*sample.mutable_ports(0))};
    return grpc::Status::OK;
  }

  std::string TableFrame() const override { return TableFrame(Rows()); }

  std::unique_ptr<google::protobuf::Message> JsonFrame() const override {
    auto frame = std::make_unique<vhostctl::v1::PortWatchFrame>();
    SetTimestamp(current_->time, frame->mutable_time());
    if (Elapsed()) frame->set_elapsed_seconds(absl::ToDoubleSeconds(*Elapsed()));
    *frame->mutable_stats() = current_->stats;
    for (const Row& row : Rows()) {
      if (!row.queue) {
        if (row.rates) SetRates(*row.rates, frame->mutable_total());
        continue;
      }
      vhostctl::v1::QueueRates* queue = frame->add_queues();
      queue->set_queue(*row.queue);
      if (row.rates) SetRates(*row.rates, queue->mutable_rates());
    }
    return frame;
  }

 private:
  struct Sample {
    absl::Time time;
    PortStats stats;
  };

  struct Row {
    std::optional<uint32_t> queue;  // unset for the total
    TrafficCounters counters;
    std::optional<TrafficRates> rates;
  };

  std::optional<absl::Duration> Elapsed() const {
    if (!previous_) return std::nullopt;
    return current_->time - previous_->time;
  }

  // One row per queue of the latest sample, then the total. A queue's rates need the
  // same queue in the sample before.
  std::vector<Row> Rows() const {
    std::vector<Row> rows;
    const std::optional<absl::Duration> elapsed = Elapsed();
    for (const QueueStats& queue : current_->stats.queues()) {
      Row row{queue.queue(), CountersOf(queue), std::nullopt};
      if (previous_) {
        for (const QueueStats& before : previous_->stats.queues()) {
          if (before.queue() == queue.queue()) {
            row.rates = ComputeTrafficRates(CountersOf(before), row.counters, *elapsed);
            break;
          }
        }
      }
      rows.push_back(row);
    }
    Row total{std::nullopt, CountersOf(current_->stats), std::nullopt};
    if (previous_) {
      total.rates = ComputeTrafficRates(CountersOf(previous_->stats), total.counters, *elapsed);
    }
    rows.push_back(total);
    return rows;
  }

  grpc::Status Deleted() const {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("port ", name_, " was deleted"));
  }

  std::string TableFrame(const std::vector<Row>& rows) const {
    Table table({{"QUEUE"},
                 {"RX_PPS", Align::kRight},
                 {"RX_BPS", Align::kRight},
                 {"TX_PPS", Align::kRight},
                 {"TX_BPS", Align::kRight},
                 {"DROP/S", Align::kRight},
                 {"RX_PKTS", Align::kRight},
                 {"TX_PKTS", Align::kRight},
                 {"TX_DROPPED", Align::kRight}});
    for (const Row& row : rows) {
      const std::optional<TrafficRates>& rates = row.rates;
      table.AddRow({row.queue ? absl::StrCat(*row.queue) : "total",
                    FormatSi(Field(rates, &TrafficRates::rx_pps)),
                    FormatSi(Field(rates, &TrafficRates::rx_bps)),
                    FormatSi(Field(rates, &TrafficRates::tx_pps)),
                    FormatSi(Field(rates, &TrafficRates::tx_bps)),
                    FormatSi(Field(rates, &TrafficRates::drop_ps)),
                    absl::StrCat(row.counters.rx_packets), absl::StrCat(row.counters.tx_packets),
                    absl::StrCat(row.counters.tx_dropped)});
    }
    return absl::StrCat("port ", Sanitize(current_->stats.name()), "   ",
                        FrameTime(current_->time), "   every ",
                        absl::FormatDuration(interval_), "\n", table.Render());
  }

  const std::string name_;
  const absl::Duration interval_;
  std::optional<Sample> previous_;
  std::optional<Sample> current_;
};

// "top".
class TopView final : public View {
 public:
  explicit TopView(const Command& command) : interval_(command.interval), limit_(command.limit) {}

  std::string WatchedPort() const override { return ""; }

  // Every port's type and state, which the events keep current from here on.
  grpc::Status Start(Calls& calls) override {
    std::vector<Port> ports;
    grpc::Status status = calls.ListAllPorts(&ports);
    if (!status.ok()) return status;
    ports_.clear();
    for (Port& port : ports) ports_[port.name()] = std::move(port);
    return grpc::Status::OK;
  }

  grpc::Status TakeEvent(const vhostd::v1::Event& event, Calls& calls) override {
    switch (event.kind_case()) {
      case vhostd::v1::Event::kPortCreated:
        ports_[event.port_created().port().name()] = event.port_created().port();
        break;
      case vhostd::v1::Event::kPortDeleted:
        ports_.erase(event.port_deleted().port());
        break;
      case vhostd::v1::Event::kPortStateChanged: {
        const vhostd::v1::PortStateChanged& change = event.port_state_changed();
        vhostd::v1::PortStatus* status = ports_[change.port()].mutable_status();
        status->set_state(change.new_state());
        status->set_message(change.message());
        break;
      }
      case vhostd::v1::Event::kEventsMissed:
        return Start(calls);  // this watcher fell behind: list again
      default:
        break;
    }
    return grpc::Status::OK;
  }

  // The sample's ports, with what the events said about each; one whose creation has
  // not come through yet is shown by name only.
  grpc::Status TakeSample(absl::Time time, vhostd::v1::StatsSample sample) override {
    Sample next;
    next.time = time;
    for (PortStats& stats : *sample.mutable_ports()) {
      auto it = ports_.find(stats.name());
      Port port;
      if (it != ports_.end()) {
        port = it->second;
      } else {
        port.set_name(stats.name());
      }
      next.ports.push_back({std::move(port), std::move(stats)});
    }
    for (Core& core : *sample.mutable_cores()) *next.cores.add_cores() = std::move(core);
    previous_ = std::move(current_);
    current_ = std::move(next);
    return grpc::Status::OK;
  }

  std::string TableFrame() const override { return TableFrame(PortRows(), CoreRows()); }

  std::unique_ptr<google::protobuf::Message> JsonFrame() const override {
    return JsonFrame(PortRows(), CoreRows());
  }

 private:
  struct PortSample {
    Port port;
    PortStats stats;
  };

  struct Sample {
    absl::Time time;
    std::vector<PortSample> ports;  // in the sample's order (by name)
    ListCoresResponse cores;
  };

  struct PortRow {
    const PortSample* sample;
    std::optional<TrafficRates> rates;
  };

  struct CoreRow {
    const Core* core;
    std::optional<CoreRates> rates;
  };

  std::optional<absl::Duration> Elapsed() const {
    if (!previous_) return std::nullopt;
    return current_->time - previous_->time;
  }

  // Every port of the latest sample, busiest (rx + tx packets/s) first; ports without
  // rates yet (first refresh, new port) last; ties by name.
  std::vector<PortRow> PortRows() const {
    std::map<std::string, const PortStats*> before;
    if (previous_) {
      for (const PortSample& sample : previous_->ports) before[sample.port.name()] = &sample.stats;
    }
    std::vector<PortRow> rows;
    for (const PortSample& sample : current_->ports) {
      PortRow row{&sample, std::nullopt};
      auto it = before.find(sample.port.name());
      if (it != before.end()) {
        row.rates = ComputeTrafficRates(CountersOf(*it->second), CountersOf(sample.stats),
                                        *Elapsed());
      }
      rows.push_back(row);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const PortRow& a, const PortRow& b) {
      const double a_pps = a.rates ? a.rates->total_pps() : -1;
      const double b_pps = b.rates ? b.rates->total_pps() : -1;
      if (a_pps != b_pps) return a_pps > b_pps;
      return a.sample->port.name() < b.sample->port.name();
    });
    return rows;
  }

  std::vector<CoreRow> CoreRows() const {
    std::map<uint32_t, const Core*> before;
    if (previous_) {
      for (const Core& core : previous_->cores.cores()) before[core.lcore()] = &core;
    }
    std::vector<CoreRow> rows;
    for (const Core& core : current_->cores.cores()) {
      CoreRow row{&core, std::nullopt};
      auto it = before.find(core.lcore());
      if (it != before.end()) {
        row.rates = ComputeCoreRates(CountersOf(*it->second), CountersOf(core), *Elapsed());
      }
      rows.push_back(row);
    }
    return rows;
  }

  static std::string QueueText(const PolledQueue& queue) {
    return absl::StrCat(queue.port(), "/", queue.queue(), "->",
                        queue.forwards_to().empty() ? "-" : queue.forwards_to());
  }

  size_t Shown(const std::vector<PortRow>& ports) const {
    return std::min<size_t>(ports.size(), limit_);
  }

  std::string TableFrame(const std::vector<PortRow>& ports,
                         const std::vector<CoreRow>& cores) const {
    std::string header = absl::StrCat("vhostd top   ", FrameTime(current_->time),
                                      "   ports: ", ports.size());
    if (Shown(ports) < ports.size()) absl::StrAppend(&header, " (busiest ", Shown(ports), " shown)");
    absl::StrAppend(&header, "   cores: ", cores.size(), "   every ",
                    absl::FormatDuration(interval_));

    Table core_table({{"LCORE", Align::kRight},
                      {"CPU", Align::kRight},
                      {"BUSY%", Align::kRight},
                      {"PPS", Align::kRight},
                      {"BATCH", Align::kRight},
                      {"QUEUES"}});
    for (const CoreRow& row : cores) {
      std::vector<std::string> queues;
      for (const PolledQueue& queue : row.core->queues()) queues.push_back(QueueText(queue));
      const std::optional<CoreRates>& rates = row.rates;
      core_table.AddRow(
          {absl::StrCat(row.core->lcore()), absl::StrCat(row.core->cpu()),
           FormatFixed(rates ? rates->busy_percent : std::nullopt, 1),
           FormatSi(rates ? std::optional<double>(rates->pps) : std::nullopt),
           FormatFixed(rates ? rates->batch : std::nullopt, 1),
           queues.empty() ? "-" : absl::StrJoin(queues, ",")});
    }

    Table port_table({{"PORT"},
                      {"TYPE"},
                      {"STATE"},
                      {"RX_PPS", Align::kRight},
                      {"TX_PPS", Align::kRight},
                      {"RX_BPS", Align::kRight},
                      {"TX_BPS", Align::kRight},
                      {"DROP/S", Align::kRight}});
    for (size_t i = 0; i < Shown(ports); ++i) {
      const PortRow& row = ports[i];
      const Port& port = row.sample->port;
      port_table.AddRow({port.name(), PortTypeName(port), PortStateName(port.status()),
                         FormatSi(Field(row.rates, &TrafficRates::rx_pps)),
                         FormatSi(Field(row.rates, &TrafficRates::tx_pps)),
                         FormatSi(Field(row.rates, &TrafficRates::rx_bps)),
                         FormatSi(Field(row.rates, &TrafficRates::tx_bps)),
                         FormatSi(Field(row.rates, &TrafficRates::drop_ps))});
    }
    return absl::StrCat(Sanitize(header), "\n\n", core_table.Render(), "\n",
                        port_table.Render());
  }

  std::unique_ptr<google::protobuf::Message> JsonFrame(const std::vector<PortRow>& ports,
                                                       const std::vector<CoreRow>& cores) const {
    auto frame = std::make_unique<vhostctl::v1::TopFrame>();
    SetTimestamp(current_->time, frame->mutable_time());
    if (Elapsed()) frame->set_elapsed_seconds(absl::ToDoubleSeconds(*Elapsed()));
    frame->set_port_count(static_cast<uint32_t>(ports.size()));
    frame->set_core_count(static_cast<uint32_t>(cores.size()));
    for (const CoreRow& row : cores) {
      vhostctl::v1::TopCore* core = frame->add_cores();
      *core->mutable_core() = *row.core;
      if (!row.rates) continue;
      vhostctl::v1::CoreRates* rates = core->mutable_rates();
      if (row.rates->busy_percent) rates->set_busy_percent(*row.rates->busy_percent);
      rates->set_pps(row.rates->pps);
      if (row.rates->batch) rates->set_batch(*row.rates->batch);
    }
    for (size_t i = 0; i < Shown(ports); ++i) {
      const PortRow& row = ports[i];
      vhostctl::v1::TopPort* port = frame->add_ports();
      port->set_name(row.sample->port.name());
      port->set_type(row.sample->port.type());
      port->set_state(row.sample->port.status().state());
      *port->mutable_stats() = row.sample->stats;
      if (row.rates) SetRates(*row.rates, port->mutable_rates());
    }
    return frame;
  }

  const absl::Duration interval_;
  const uint32_t limit_;
  std::map<std::string, Port> ports_;  // by name, as listed and as the events tell
  std::optional<Sample> previous_;
  std::optional<Sample> current_;
};

// Longest deadline we hand to gRPC; beyond it the arithmetic could overflow.
constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 365);

// The frame of the view's latest sample, as the output mode wants it; false (the error
// told) if it cannot be printed.
bool DrawFrame(const View& view, bool json, TypeCatalog& catalog, Screen& screen, std::ostream& err) {
  if (!json) {
    screen.Draw(view.TableFrame());
    return true;
  }
  std::vector<std::string> warnings;
  absl::StatusOr<std::string> line = catalog.ToJson(*view.JsonFrame(), false, &warnings);
  if (!line.ok()) {
    screen.Finish();
    err << "error: " << line.status().message() << "\n";
    return false;
  }
  screen.Draw(*line + "\n");
  return true;
}

}  // namespace

int RunLiveView(const Command& command, const std::string& target,
                const std::shared_ptr<grpc::Channel>& channel, bool tty, StopToken& stop,
                std::ostream& out, std::ostream& err) {
  std::unique_ptr<View> view;
  if (command.kind == CommandKind::kTop) {
    view = std::make_unique<TopView>(command);
  } else if (command.kind == CommandKind::kPortStats && command.watch) {
    view = std::make_unique<PortWatchView>(command);
  } else {
    err << "error: internal: not a live view\n";
    return 1;
  }
  const bool json = command.output == OutputFormat::kJson;
  Screen screen(out, json ? Screen::Mode::kJsonLines
                          : tty ? Screen::Mode::kTerminal : Screen::Mode::kBlocks);
  const absl::Duration timeout = std::min(command.timeout, kMaxTimeout);
  const auto fail = [&](const grpc::Status& status) {
    screen.Finish();
    err << FormatRpcError(status, target, channel->GetState(false) == GRPC_CHANNEL_READY, timeout);
    return 1;
  };
  std::unique_ptr<Calls::Stub> stub = vhostd::v1::Vhostd::NewStub(channel);
  Calls calls(*stub, timeout, stop);
  TypeCatalog catalog;  // the frames hold no plugin message: the API's types suffice

  // One stream: the daemon samples every interval and pushes it (no poll per port);
  // the first sample comes at once, then one per interval.
  vhostd::v1::WatchEventsRequest request;
  request.set_follow(true);
  request.set_port(view->WatchedPort());
  *request.mutable_stats_interval() = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(command.interval));
  SampleStream stream(*stub, request, timeout, command.interval + timeout, stop);
  stream.WaitUntilWatching();
  grpc::Status status = view->Start(calls);
  if (stop.stop_requested()) return 0;
  if (!status.ok()) return fail(status);
  uint64_t frames = 0;
  for (vhostd::v1::Event event;;) {
    if (!stream.Read(&event)) {  // the daemon ended the stream, or a stop cancelled it
      if (stop.stop_requested()) break;
      return fail(stream.Finish());
    }
    const bool sample = event.has_stats_sample();
    status = sample ? view->TakeSample(TimeOf(event.time()), std::move(*event.mutable_stats_sample()))
                    : view->TakeEvent(event, calls);
    if (stop.stop_requested()) break;  // a cancelled call is no error
    if (!status.ok()) return fail(status);
    if (!sample) continue;
    if (!DrawFrame(*view, json, catalog, screen, err)) return 1;
    if (!out) break;  // the caller reports the broken output
    if (command.count && ++frames >= *command.count) break;
  }
  screen.Finish();
  return out ? 0 : 1;
}

}  // namespace vhostctl
