// Runs the live views ("port stats --watch", "top") against a fake vhostd served
// in-process (no socket, no data plane) whose WatchEvents pushes scripted samples
// (stamped on a fake timeline) and events, and checks the frames.
#include "client/live_view.h"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/cli_args.h"
#include "client/commands.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace vhostd::v1;  // NOLINT: the test touches most of the API's messages

// Fills `stats` for a port whose every counter grows linearly with the poll number:
// per poll, each queue q receives (q + 1) * rx_step packets of 100 bytes, sends
// (q + 1) * tx_step packets of 1500 bytes and drops (q + 1) * drop_step.
void LinearStats(const std::string& name, int queues, uint64_t poll, uint64_t rx_step,
                 uint64_t tx_step, uint64_t drop_step, PortStats* stats) {
  stats->set_name(name);
  for (int q = 0; q < queues; ++q) {
    QueueStats* queue = stats->add_queues();
    queue->set_queue(q);
    queue->set_rx_packets(poll * rx_step * (q + 1));
    queue->set_rx_bytes(queue->rx_packets() * 100);
    queue->set_tx_packets(poll * tx_step * (q + 1));
    queue->set_tx_bytes(queue->tx_packets() * 1500);
    queue->set_tx_dropped(poll * drop_step * (q + 1));
    stats->set_rx_packets(stats->rx_packets() + queue->rx_packets());
    stats->set_rx_bytes(stats->rx_bytes() + queue->rx_bytes());
    stats->set_tx_packets(stats->tx_packets() + queue->tx_packets());
    stats->set_tx_bytes(stats->tx_bytes() + queue->tx_bytes());
    stats->set_tx_dropped(stats->tx_dropped() + queue->tx_dropped());
  }
}

// Serves scripted answers. WatchEvents sends sample n = 1, 2, ... at once, one after
// the other: the stats of a port and the cores depend on n, and sample n is stamped
// (n - 1) intervals (times `stretch`) after kStart. Before sample n it sends the events
// events_fn gives.
class FakeVhostd final : public Vhostd::Service {
 public:
  using StatsFn = std::function<grpc::Status(const std::string& name, uint64_t poll, PortStats*)>;
  using CoresFn = std::function<void(uint64_t poll, ListCoresResponse*)>;
  using EventsFn = std::function<std::vector<Event>(uint64_t poll)>;
  static constexpr int64_t kStart = 1700000000;

  grpc::Status ListPorts(grpc::ServerContext*, const ListPortsRequest* request,
                         ListPortsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    list_ports_tokens.push_back(request->page_token());
    size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    for (size_t i = start; i < ports.size() && i < start + page_size; ++i) {
      *response->add_ports() = ports[i];
    }
    if (start + page_size < ports.size()) {
      response->set_next_page_token(absl::StrCat(start + page_size));
    }
    return grpc::Status::OK;
  }

  // A port watch's check that the port exists (as "poll 0").
  grpc::Status GetPortStats(grpc::ServerContext*, const GetPortStatsRequest* request,
                            PortStats* response) override {
    std::lock_guard<std::mutex> lock(mu);
    ++get_port_stats_calls;
    if (!stats_fn) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no stats");
    return stats_fn(request->name(), 0, response);
  }

  grpc::Status WatchEvents(grpc::ServerContext* context, const WatchEventsRequest* request,
                           grpc::ServerWriter<Event>* writer) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      watch_requests.push_back(*request);
    }
    writer->SendInitialMetadata();
    const absl::Duration interval =
        absl::Nanoseconds(google::protobuf::util::TimeUtil::DurationToNanoseconds(request->stats_interval()));
    for (uint64_t n = 1; !hang_samples && n <= max_samples && !context->IsCancelled(); ++n) {
      std::vector<Event> events;
      Event sample;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (events_fn) events = events_fn(n);
        if (grpc::Status status = Sample(*request, n, sample.mutable_stats_sample()); !status.ok()) {
          return status;
        }
        const absl::Time time = absl::FromUnixSeconds(kStart) + (n - 1) * interval * stretch;
        *sample.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
      }
      for (const Event& event : events) writer->Write(event);
      if (!writer->Write(sample)) break;
      if (after_sample) after_sample(n);
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(sample_pause));
    }
    // Stands for a daemon with nothing more to say: wait for the client to give up.
    auto give_up = std::chrono::system_clock::now() + std::chrono::seconds(10);
    while (!context->IsCancelled() && std::chrono::system_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return grpc::Status::CANCELLED;
  }

  std::mutex mu;
  std::vector<Port> ports;
  size_t page_size = 2;
  bool hang_samples = false;    // registers the watch, then sends nothing
  uint64_t max_samples = 1000;  // then sends nothing
  absl::Duration sample_pause;  // real time between two samples
  double stretch = 1;           // sample times are this many intervals apart
  StatsFn stats_fn;
  CoresFn cores_fn;
  EventsFn events_fn;
  std::function<void(uint64_t poll)> after_sample;
  int get_port_stats_calls = 0;
  std::vector<std::string> list_ports_tokens;
  std::vector<WatchEventsRequest> watch_requests;

 private:
  // Sample n: the watched port, or every port (NOT_FOUND ones left out) and the cores.
  grpc::Status Sample(const WatchEventsRequest& request, uint64_t n, StatsSample* sample) {
    std::vector<std::string> names;
    if (!request.port().empty()) {
      names.push_back(request.port());
    } else {
      for (const Port& port : ports) names.push_back(port.name());
    }
    for (const std::string& name : names) {
      PortStats stats;
      grpc::Status status =
          stats_fn ? stats_fn(name, n, &stats) : grpc::Status(grpc::StatusCode::NOT_FOUND, "");
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) continue;
      if (!status.ok()) return status;
      *sample->add_ports() = stats;
    }
    if (request.port().empty() && cores_fn) {
      ListCoresResponse cores;
      cores_fn(n, &cores);
      *sample->mutable_cores() = cores.cores();
    }
    return grpc::Status::OK;
  }
};

class LiveViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }

  void TearDown() override { server_->Shutdown(); }

  // Parses and runs a live view against the fake; returns the exit status.
  int Run(const std::vector<std::string>& args, bool tty = false) {
    ParseResult parsed = ParseArgs(args);
    EXPECT_TRUE(parsed.ok()) << parsed.error->message;
    EXPECT_TRUE(IsLiveView(parsed.command));
    out_.str("");
    err_.str("");
    return RunLiveView(parsed.command, "fake", channel_, tty, stop_, out_, err_);
  }

  // The time a frame shows for a sample `seconds` after the fake's start.
  std::string FrameTime(int seconds) const {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(FakeVhostd::kStart + seconds),
                            absl::LocalTimeZone());
  }

  // The one watch the view asked for.
  WatchEventsRequest TheWatch() {
    std::lock_guard<std::mutex> lock(fake_.mu);
    EXPECT_EQ(fake_.watch_requests.size(), 1u);
    return fake_.watch_requests.empty() ? WatchEventsRequest() : fake_.watch_requests[0];
  }

  void AddPort(const std::string& name, PortStatus::State state = PortStatus::UP) {
    Port port;
    port.set_name(name);
    port.set_type("vhost-user");
    port.mutable_status()->set_state(state);
    fake_.ports.push_back(port);
  }

  // Every port: `queues` queues; rx_step packets per second on queue 0 (1 s interval).
  void LinearTraffic(int queues, uint64_t rx_step, uint64_t tx_step, uint64_t drop_step) {
    fake_.stats_fn = [=](const std::string& name, uint64_t poll, PortStats* stats) {
      LinearStats(name, queues, poll, rx_step, tx_step, drop_step, stats);
      return grpc::Status::OK;
    };
  }

  // The JSON lines of out_, parsed.
  std::vector<google::protobuf::Struct> JsonLines() {
    std::vector<google::protobuf::Struct> lines;
    for (absl::string_view line : absl::StrSplit(out_.str(), '\n', absl::SkipEmpty())) {
      google::protobuf::Struct object;
      auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &object);
      EXPECT_TRUE(status.ok()) << status.ToString() << ": " << line;
      lines.push_back(object);
    }
    return lines;
  }

  FakeVhostd fake_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  StopToken stop_;
  std::ostringstream out_;
  std::ostringstream err_;
};

const google::protobuf::Value& Get(const google::protobuf::Struct& object, const std::string& key) {
  static const auto* const missing = new google::protobuf::Value();
  auto it = object.fields().find(key);
  EXPECT_NE(it, object.fields().end()) << "no field " << key;
  return it == object.fields().end() ? *missing : it->second;
}

bool Has(const google::protobuf::Struct& object, const std::string& key) {
  return object.fields().count(key) > 0;
}

const google::protobuf::Struct& Object(const google::protobuf::Struct& object, const std::string& key) {
  return Get(object, key).struct_value();
}

// --- port stats --watch --------------------------------------------------------------

TEST_F(LiveViewTest, WatchPrintsPlainBlocksWithRates) {
  LinearTraffic(2, 1000, 500, 10);
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "2"}), 0) << err_.str();
  EXPECT_EQ(err_.str(), "");
  // Queue 0: 1000 rx pps of 100 bytes (800 kbit/s), 500 tx pps of 1500 bytes (6 Mbit/s),
  // 10 drops/s; queue 1 twice as much; the total the sum.
  EXPECT_EQ(out_.str(),
            "port p0   " + FrameTime(0) + "   every 1s\n" +
                "QUEUE   RX_PPS   RX_BPS   TX_PPS   TX_BPS   DROP/S   RX_PKTS   TX_PKTS   "
                "TX_DROPPED\n"
                "0            -        -        -        -        -      1000       500"
                "           10\n"
                "1            -        -        -        -        -      2000      1000"
                "           20\n"
                "total        -        -        -        -        -      3000      1500"
                "           30\n"
                "\n"
                "port p0   " +
                FrameTime(1) + "   every 1s\n" +
                "QUEUE   RX_PPS   RX_BPS   TX_PPS   TX_BPS   DROP/S   RX_PKTS   TX_PKTS   "
                "TX_DROPPED\n"
                "0        1.00k     800k      500    6.00M       10      2000      1000"
                "           20\n"
                "1        2.00k    1.60M    1.00k    12.0M       20      4000      2000"
                "           40\n"
                "total    3.00k    2.40M    1.50k    18.0M       30      6000      3000"
                "           60\n");
  // One stream of the port's samples, no poll; the port's existence checked once.
  const WatchEventsRequest watch = TheWatch();
  EXPECT_TRUE(watch.follow());
  EXPECT_EQ(watch.port(), "p0");
  EXPECT_FALSE(watch.has_after_sequence());
  EXPECT_EQ(watch.stats_interval().seconds(), 1);
  EXPECT_EQ(watch.stats_interval().nanos(), 0);
  EXPECT_EQ(fake_.get_port_stats_calls, 1);
}

TEST_F(LiveViewTest, WatchAsksForASampleEveryInterval) {
  LinearTraffic(1, 1, 1, 0);
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "4", "--interval", "0.5"}), 0);
  EXPECT_EQ(TheWatch().stats_interval().nanos(), 500000000);
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  EXPECT_EQ(blocks.size(), 4u);
}

TEST_F(LiveViewTest, NotATerminalMeansNoEscapes) {
  LinearTraffic(1, 1000, 1000, 0);
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "3"}, /*tty=*/false), 0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("\x1b")));
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  ASSERT_EQ(blocks.size(), 3u);
  for (const std::string& block : blocks) EXPECT_THAT(block, StartsWith("port p0   "));
  EXPECT_THAT(out_.str(), EndsWith("\n"));
  EXPECT_THAT(out_.str(), Not(EndsWith("\n\n")));
}

TEST_F(LiveViewTest, TerminalRedrawsInPlaceAndRestoresTheCursor) {
  LinearTraffic(1, 1000, 1000, 0);
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "3"}, /*tty=*/true), 0);
  const std::string& out = out_.str();
  EXPECT_THAT(out, StartsWith(absl::StrCat(kAnsiHideCursor, kAnsiClearScreen, kAnsiHome,
                                           "port p0   ")));
  // Each frame starts at the top left, and erases what the frame before left behind.
  std::vector<std::string> frames = absl::StrSplit(out, kAnsiHome);
  ASSERT_EQ(frames.size(), 4u);  // what precedes the first frame, and 3 frames
  for (size_t i = 1; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_THAT(frames[i], HasSubstr(absl::StrCat("TX_DROPPED", kAnsiEraseLine, "\n")));
    EXPECT_THAT(frames[i], HasSubstr(kAnsiEraseBelow));
    EXPECT_THAT(frames[i], Not(HasSubstr("\n\n")));
  }
  EXPECT_THAT(out, EndsWith(absl::StrCat(kAnsiEraseLine, "\n", kAnsiEraseBelow, kAnsiShowCursor)));
  EXPECT_EQ(out.find(kAnsiClearScreen), out.rfind(kAnsiClearScreen));  // cleared once
}

TEST_F(LiveViewTest, WatchJsonLines) {
  LinearTraffic(2, 1000, 500, 10);
  // JSON lines even on a terminal: no escapes.
  ASSERT_EQ(Run({"-o", "json", "port", "stats", "p0", "--watch", "--count", "2"}, /*tty=*/true),
            0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("\x1b")));
  std::vector<google::protobuf::Struct> lines = JsonLines();
  ASSERT_EQ(lines.size(), 2u);
  // vhostctl.v1.PortWatchFrame: the first has no rates yet.
  EXPECT_EQ(Get(lines[0], "time").string_value(), "2023-11-14T22:13:20Z");
  EXPECT_FALSE(Has(lines[0], "elapsedSeconds"));
  EXPECT_FALSE(Has(lines[0], "total"));
  EXPECT_EQ(Get(Object(lines[0], "stats"), "name").string_value(), "p0");
  EXPECT_EQ(Get(Object(lines[0], "stats"), "rxPackets").string_value(), "3000");
  const auto& first_queues = Get(lines[0], "queues").list_value().values();
  ASSERT_EQ(first_queues.size(), 2);
  EXPECT_FALSE(Has(first_queues[0].struct_value(), "rates"));

  EXPECT_EQ(Get(lines[1], "time").string_value(), "2023-11-14T22:13:21Z");
  EXPECT_EQ(Get(lines[1], "elapsedSeconds").number_value(), 1);
  const google::protobuf::Struct& total = Object(lines[1], "total");
  EXPECT_EQ(Get(total, "rxPps").number_value(), 3000);
  EXPECT_EQ(Get(total, "rxBps").number_value(), 2400000);
  EXPECT_EQ(Get(total, "txPps").number_value(), 1500);
  EXPECT_EQ(Get(total, "txBps").number_value(), 18000000);
  EXPECT_EQ(Get(total, "dropPerSecond").number_value(), 30);
  const google::protobuf::Struct& stats = Object(lines[1], "stats");
  EXPECT_EQ(Get(stats, "rxPackets").string_value(), "6000");  // 64-bit: a string
  EXPECT_EQ(Get(stats, "txPackets").string_value(), "3000");
  EXPECT_EQ(Get(stats, "txDropped").string_value(), "60");
  EXPECT_EQ(Get(stats, "rxNoMbuf").string_value(), "0");
  EXPECT_EQ(Get(Get(stats, "queues").list_value().values(1).struct_value(), "txBytes").string_value(),
            "3000000");
  const auto& queues = Get(lines[1], "queues").list_value().values();
  ASSERT_EQ(queues.size(), 2);
  EXPECT_EQ(Get(queues[1].struct_value(), "queue").number_value(), 1);
  EXPECT_EQ(Get(Object(queues[1].struct_value(), "rates"), "rxPps").number_value(), 2000);
}

TEST_F(LiveViewTest, RatesUseTheSampleTimes) {
  LinearTraffic(1, 1000, 0, 0);
  fake_.stretch = 2;  // the daemon took its samples 2 s apart
  ASSERT_EQ(Run({"-o", "json", "port", "stats", "p0", "--watch", "--count", "2"}), 0);
  std::vector<google::protobuf::Struct> lines = JsonLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Get(lines[1], "elapsedSeconds").number_value(), 2);
  EXPECT_EQ(Get(Object(lines[1], "total"), "rxPps").number_value(), 500);
}

TEST_F(LiveViewTest, ResetCountersShowZeroNotHugeRates) {
  fake_.stats_fn = [](const std::string& name, uint64_t poll, PortStats* stats) {
    // 1000 packets per poll, but the port was re-created before the second poll.
    LinearStats(name, 1, poll == 2 ? 1 : poll, 1000, 1000, 0, stats);
    return grpc::Status::OK;
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "3"}), 0);
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  ASSERT_EQ(blocks.size(), 3u);
  // Poll 2 counted less than poll 1: rate 0. Poll 3 grew by 2000 in 1 s.
  EXPECT_THAT(blocks[1], HasSubstr("\ntotal        0        0        0        0        0"));
  EXPECT_THAT(blocks[2], HasSubstr("\ntotal    2.00k    1.60M    2.00k    24.0M        0"));
}

TEST_F(LiveViewTest, ANewQueueHasNoRatesYet) {
  fake_.stats_fn = [](const std::string& name, uint64_t poll, PortStats* stats) {
    LinearStats(name, poll == 1 ? 1 : 2, poll, 1000, 1000, 0, stats);
    return grpc::Status::OK;
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "2"}), 0);
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_THAT(blocks[1], HasSubstr("\n0        1.00k "));
  EXPECT_THAT(blocks[1], HasSubstr("\n1            -        -        -        -        -"));
}

TEST_F(LiveViewTest, StopBetweenSamplesExitsCleanly) {
  LinearTraffic(1, 1000, 1000, 0);
  fake_.max_samples = 2;
  fake_.after_sample = [this](uint64_t n) {
    if (n == 2) stop_.RequestStop();  // Ctrl-C while waiting for the third sample
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch"}, /*tty=*/true), 0);
  EXPECT_EQ(err_.str(), "");
  EXPECT_THAT(out_.str(), EndsWith(kAnsiShowCursor));
}

TEST_F(LiveViewTest, StopCancelsTheStream) {
  LinearTraffic(1, 1000, 1000, 0);
  fake_.hang_samples = true;
  std::thread interrupter([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_.RequestStop();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run({"--timeout", "30", "port", "stats", "p0", "--watch"}, /*tty=*/true), 0);
  interrupter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(out_.str(), "");  // nothing drawn, so nothing to restore
}

TEST_F(LiveViewTest, AnErrorEndsTheViewWithStatusOne) {
  ASSERT_EQ(Run({"port", "stats", "p9", "--watch"}), 1);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: no stats\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(LiveViewTest, APortGoneFromTheSamplesEndsTheViewAndRestoresTheCursor) {
  fake_.stats_fn = [](const std::string& name, uint64_t poll, PortStats* stats) {
    if (poll == 2) return grpc::Status(grpc::StatusCode::NOT_FOUND, "");
    LinearStats(name, 1, poll, 1, 1, 0, stats);
    return grpc::Status::OK;
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "5"}, /*tty=*/true), 1);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: port p0 was deleted\n");
  EXPECT_THAT(out_.str(), EndsWith(kAnsiShowCursor));
}

TEST_F(LiveViewTest, ThePortDeletedEventEndsTheView) {
  LinearTraffic(1, 1, 1, 0);
  fake_.events_fn = [](uint64_t poll) {
    std::vector<Event> events;
    if (poll == 3) events.emplace_back().mutable_port_deleted()->set_port("p0");
    return events;
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch", "--count", "5"}), 1);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: port p0 was deleted\n");
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  EXPECT_EQ(blocks.size(), 2u);  // the frames before it
}

TEST_F(LiveViewTest, AStreamErrorEndsTheView) {
  fake_.stats_fn = [](const std::string& name, uint64_t poll, PortStats* stats) {
    if (poll == 2) return grpc::Status(grpc::StatusCode::INTERNAL, "boom");
    LinearStats(name, 1, poll, 1, 1, 0, stats);
    return grpc::Status::OK;
  };
  ASSERT_EQ(Run({"port", "stats", "p0", "--watch"}), 1);
  EXPECT_EQ(err_.str(), "error: INTERNAL: boom\n");
}

// --- top -----------------------------------------------------------------------------------

class TopTest : public LiveViewTest {
 protected:
  void SetUp() override {
    LiveViewTest::SetUp();
    AddPort("p0");
    AddPort("p1");
    AddPort("p2", PortStatus::WAITING_FOR_PEER);
    // rx packets per second: p0 100, p1 3000, p2 50; tx the same.
    fake_.stats_fn = [](const std::string& name, uint64_t poll, PortStats* stats) {
      const uint64_t step = name == "p0" ? 100 : name == "p1" ? 3000 : 50;
      LinearStats(name, 1, poll, step, step, name == "p1" ? 7 : 0, stats);
      return grpc::Status::OK;
    };
    // Per second: 250 busy and 750 idle cycles, 3200 packets in 100 bursts.
    fake_.cores_fn = [](uint64_t poll, ListCoresResponse* response) {
      Core* core = response->add_cores();
      core->set_lcore(1);
      core->set_cpu(3);
      core->set_busy_cycles(250 * poll);
      core->set_idle_cycles(750 * poll);
      core->set_packets(3200 * poll);
      core->set_bursts(100 * poll);
      PolledQueue* queue = core->add_queues();
      queue->set_port("p1");
      queue->set_queue(0);
      queue->set_forwards_to("p0");
      Core* idle = response->add_cores();
      idle->set_lcore(2);
      idle->set_cpu(4);
    };
  }
};

TEST_F(TopTest, BusiestPortsAndCores) {
  ASSERT_EQ(Run({"top", "--count", "2", "--limit", "2"}), 0) << err_.str();
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(out_.str(),
            "vhostd top   " + FrameTime(0) +
                "   ports: 3 (busiest 2 shown)   cores: 2   every 1s\n"
                "\n"
                "LCORE   CPU   BUSY%   PPS   BATCH   QUEUES\n"
                "    1     3       -     -       -   p1/0->p0\n"
                "    2     4       -     -       -   -\n"
                "\n"
                // No rates yet: by name.
                "PORT   TYPE         STATE   RX_PPS   TX_PPS   RX_BPS   TX_BPS   DROP/S\n"
                "p0     vhost-user   UP           -        -        -        -        -\n"
                "p1     vhost-user   UP           -        -        -        -        -\n"
                "\n"
                "vhostd top   " +
                FrameTime(1) +
                "   ports: 3 (busiest 2 shown)   cores: 2   every 1s\n"
                "\n"
                "LCORE   CPU   BUSY%     PPS   BATCH   QUEUES\n"
                "    1     3    25.0   3.20k    32.0   p1/0->p0\n"
                "    2     4       -       0       -   -\n"
                "\n"
                "PORT   TYPE         STATE   RX_PPS   TX_PPS   RX_BPS   TX_BPS   DROP/S\n"
                "p1     vhost-user   UP       3.00k    3.00k    2.40M    36.0M        7\n"
                "p0     vhost-user   UP         100      100    80.0k    1.20M        0\n");
  // The ports listed once (every page), then one stream of every port's samples.
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre("", "2"));
  const WatchEventsRequest watch = TheWatch();
  EXPECT_TRUE(watch.follow());
  EXPECT_EQ(watch.port(), "");
  EXPECT_EQ(watch.stats_interval().seconds(), 1);
}

TEST_F(TopTest, EventsKeepThePortsCurrent) {
  fake_.events_fn = [this](uint64_t poll) {
    std::vector<Event> events;
    if (poll != 2) return events;
    Port created;
    created.set_name("p3");
    created.set_type("vhost-kernel");
    created.mutable_status()->set_state(PortStatus::WAITING_FOR_PEER);
    *events.emplace_back().mutable_port_created()->mutable_port() = created;
    fake_.ports.push_back(created);  // (under the fake's lock)
    PortStateChanged* change = events.emplace_back().mutable_port_state_changed();
    change->set_port("p0");
    change->set_old_state(PortStatus::UP);
    change->set_new_state(PortStatus::ERROR);
    events.emplace_back().mutable_port_deleted()->set_port("p2");
    fake_.ports.erase(fake_.ports.begin() + 2);
    return events;
  };
  ASSERT_EQ(Run({"top", "--count", "2"}), 0) << err_.str();
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\nvhostd top");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_THAT(blocks[1], HasSubstr("ports: 3   cores: 2"));
  EXPECT_THAT(blocks[1], HasSubstr("\np3     vhost-kernel   WAITING_FOR_PEER "));
  EXPECT_THAT(blocks[1], HasSubstr("\np0     vhost-user     ERROR "));
  EXPECT_THAT(blocks[1], Not(HasSubstr("\np2 ")));
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre("", "2"));  // no listing again
}

TEST_F(TopTest, AWatcherThatFellBehindListsAgain) {
  fake_.events_fn = [](uint64_t poll) {
    std::vector<Event> events;
    if (poll == 2) {
      events.emplace_back().mutable_events_missed()->set_reason(EventsMissed::SLOW_WATCHER);
    }
    return events;
  };
  ASSERT_EQ(Run({"top", "--count", "2"}), 0) << err_.str();
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre("", "2", "", "2"));
}

TEST_F(TopTest, DefaultLimitShowsEveryPortHere) {
  ASSERT_EQ(Run({"top", "--count", "2"}), 0);
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\nvhostd top");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_THAT(blocks[1], HasSubstr("ports: 3   cores: 2"));
  // Sorted by rx + tx packets per second, busiest first.
  const size_t p1 = blocks[1].find("\np1 ");
  const size_t p0 = blocks[1].find("\np0 ");
  const size_t p2 = blocks[1].find("\np2 ");
  EXPECT_LT(p1, p0);
  EXPECT_LT(p0, p2);
  EXPECT_NE(p2, std::string::npos);
  EXPECT_THAT(blocks[1], HasSubstr("WAITING_FOR_PEER"));
}

TEST_F(TopTest, APortMissingFromASampleIsLeftOut) {
  auto rates = fake_.stats_fn;
  fake_.stats_fn = [rates](const std::string& name, uint64_t poll, PortStats* stats) {
    if (name == "p2") return grpc::Status(grpc::StatusCode::NOT_FOUND, "port p2 not found");
    return rates(name, poll, stats);
  };
  ASSERT_EQ(Run({"top", "--count", "1"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("ports: 2   cores: 2"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("p2 ")));
}

TEST_F(TopTest, OtherErrorsEndTheView) {
  fake_.stats_fn = [](const std::string&, uint64_t, PortStats*) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "boom");
  };
  EXPECT_EQ(Run({"top"}), 1);
  EXPECT_EQ(err_.str(), "error: INTERNAL: boom\n");
}

TEST_F(TopTest, JsonLines) {
  ASSERT_EQ(Run({"top", "-o", "json", "--count", "2", "--limit", "2"}), 0);
  std::vector<google::protobuf::Struct> lines = JsonLines();
  ASSERT_EQ(lines.size(), 2u);
  // vhostctl.v1.TopFrame.
  EXPECT_FALSE(Has(lines[0], "elapsedSeconds"));
  EXPECT_FALSE(Has(Get(lines[0], "cores").list_value().values(0).struct_value(), "rates"));
  const google::protobuf::Struct& top = lines[1];
  EXPECT_EQ(Get(top, "elapsedSeconds").number_value(), 1);
  EXPECT_EQ(Get(top, "portCount").number_value(), 3);
  EXPECT_EQ(Get(top, "coreCount").number_value(), 2);

  const auto& cores = Get(top, "cores").list_value().values();
  ASSERT_EQ(cores.size(), 2);
  const google::protobuf::Struct& core = Object(cores[0].struct_value(), "core");
  EXPECT_EQ(Get(core, "lcore").number_value(), 1);
  EXPECT_EQ(Get(core, "cpu").number_value(), 3);
  EXPECT_EQ(Get(core, "packets").string_value(), "6400");
  const auto& queues = Get(core, "queues").list_value().values();
  ASSERT_EQ(queues.size(), 1);
  EXPECT_EQ(Get(queues[0].struct_value(), "forwardsTo").string_value(), "p0");
  const google::protobuf::Struct& rates = Object(cores[0].struct_value(), "rates");
  EXPECT_EQ(Get(rates, "busyPercent").number_value(), 25);
  EXPECT_EQ(Get(rates, "pps").number_value(), 3200);
  EXPECT_EQ(Get(rates, "batch").number_value(), 32);
  // The idle core counted no cycle: no busy share, no batch.
  const google::protobuf::Struct& idle = Object(cores[1].struct_value(), "rates");
  EXPECT_FALSE(Has(idle, "busyPercent"));
  EXPECT_FALSE(Has(idle, "batch"));
  EXPECT_EQ(Get(idle, "pps").number_value(), 0);

  const auto& ports = Get(top, "ports").list_value().values();
  ASSERT_EQ(ports.size(), 2);  // --limit
  const google::protobuf::Struct& busiest = ports[0].struct_value();
  EXPECT_EQ(Get(busiest, "name").string_value(), "p1");
  EXPECT_EQ(Get(busiest, "state").string_value(), "UP");
  EXPECT_EQ(Get(busiest, "type").string_value(), "vhost-user");
  EXPECT_EQ(Get(Object(busiest, "rates"), "rxPps").number_value(), 3000);
  EXPECT_EQ(Get(Object(busiest, "rates"), "txBps").number_value(), 36000000);
  EXPECT_EQ(Get(Object(busiest, "rates"), "dropPerSecond").number_value(), 7);
  EXPECT_EQ(Get(Object(busiest, "stats"), "rxPackets").string_value(), "6000");
  EXPECT_EQ(Get(ports[1].struct_value(), "name").string_value(), "p0");
}

TEST_F(TopTest, NoPortsNoCores) {
  fake_.ports.clear();
  fake_.cores_fn = nullptr;
  ASSERT_EQ(Run({"top", "--count", "1"}), 0);
  EXPECT_EQ(out_.str(), "vhostd top   " + FrameTime(0) +
                            "   ports: 0   cores: 0   every 1s\n"
                            "\n"
                            "LCORE   CPU   BUSY%   PPS   BATCH   QUEUES\n"
                            "\n"
                            "PORT   TYPE   STATE   RX_PPS   TX_PPS   RX_BPS   TX_BPS   DROP/S\n");
}

// --- Real time -------------------------------------------------------------------------------

TEST_F(LiveViewTest, SamplesOnTimeKeepTheViewGoingPastTheTimeout) {
  LinearTraffic(1, 1, 1, 0);
  fake_.sample_pause = absl::Milliseconds(150);
  auto start = std::chrono::steady_clock::now();
  // 3 gaps of 150 ms: longer than the 200 ms --timeout, which bounds each wait for a
  // sample beyond the interval, not the view.
  ASSERT_EQ(Run({"--timeout", "0.2", "port", "stats", "p0", "--watch", "--interval", "0.15",
                 "--count", "4"}),
            0)
      << err_.str();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(440));
}

TEST_F(LiveViewTest, ADaemonThatStopsSendingSamplesIsGivenUpOn) {
  LinearTraffic(1, 1, 1, 0);
  fake_.max_samples = 1;
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Run({"--timeout", "0.2", "port", "stats", "p0", "--watch", "--interval", "0.1"}), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(err_.str(), AllOf(StartsWith("error: DEADLINE_EXCEEDED: "),
                                HasSubstr("the daemon sent no stats sample for 300ms")));
  EXPECT_THAT(out_.str(), StartsWith("port p0 "));  // the one frame
}

TEST_F(LiveViewTest, RunCommandRunsLiveViewsAsPlainBlocks) {
  LinearTraffic(1, 1, 1, 0);
  ParseResult parsed =
      ParseArgs({"port", "stats", "p0", "--watch", "--interval", "0.1", "--count", "2"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(RunCommand(parsed.command, "fake", channel_, out_, err_), 0) << err_.str();
  std::vector<std::string> blocks = absl::StrSplit(out_.str(), "\n\n");
  EXPECT_EQ(blocks.size(), 2u);
  EXPECT_THAT(out_.str(), Not(HasSubstr("\x1b")));
}

TEST(StopTokenTest, WaitEndsEarlyOnStop) {
  StopToken stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.RequestStop();
  });
  auto start = std::chrono::steady_clock::now();
  stop.WaitFor(absl::Seconds(30));
  stopper.join();
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  stop.WaitFor(absl::Seconds(30));  // already stopped: returns at once
}

TEST(StopTokenTest, WaitWithoutStop) {
  StopToken stop;
  auto start = std::chrono::steady_clock::now();
  stop.WaitFor(absl::Milliseconds(30));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(29));
  EXPECT_FALSE(stop.stop_requested());
}

}  // namespace
}  // namespace vhostctl
