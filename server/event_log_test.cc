#include "server/event_log.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using vhostd::v1::Event;
using vhostd::v1::EventsMissed;
using vhostd::v1::WatchEventsRequest;
using Result = EventLog::Watcher::Result;

Event Created(const std::string& name) {
  Event event;
  event.mutable_port_created()->mutable_port()->set_name(name);
  return event;
}

WatchEventsRequest After(uint64_t sequence, bool follow = true) {
  WatchEventsRequest request;
  request.set_after_sequence(sequence);
  request.set_follow(follow);
  return request;
}

absl::Time Soon() { return absl::Now() + absl::Milliseconds(50); }

// Everything `watcher` has now (it must not be following), as (sequence or 0 for a
// marker, port name or the marker's reason).
std::vector<std::pair<uint64_t, std::string>> Drain(EventLog::Watcher& watcher) {
  std::vector<std::pair<uint64_t, std::string>> out;
  Event event;
  while (watcher.Next(Soon(), &event) == Result::kEvent) {
    out.emplace_back(event.sequence(), event.has_events_missed()
                                           ? EventsMissed::Reason_Name(event.events_missed().reason())
                                           : event.port_created().port().name());
  }
  return out;
}

TEST(EventLogTest, StampsSequenceTimeAndInstance) {
  EventLog log(16, 4);
  const absl::Time before = absl::Now();
  EXPECT_EQ(log.Publish(Created("a")), 1u);
  EXPECT_EQ(log.Publish(Created("b")), 2u);
  auto watcher = log.Watch(After(0, false));
  ASSERT_TRUE(watcher.ok());
  Event event;
  ASSERT_EQ((*watcher)->Next(Soon(), &event), Result::kEvent);
  EXPECT_EQ(event.sequence(), 1u);
  EXPECT_EQ(event.instance_id(), log.instance_id());
  EXPECT_EQ(log.instance_id().size(), 32u);
  EXPECT_GE(event.time().seconds(), absl::ToUnixSeconds(before));
  EXPECT_NE(EventLog(1, 1).instance_id(), log.instance_id());
}

TEST(EventLogTest, ResumesAfterASequenceOnceAndInOrder) {
  EventLog log(16, 4);
  for (const char* name : {"a", "b", "c", "d"}) log.Publish(Created(name));
  auto watcher = log.Watch(After(2, false));
  ASSERT_TRUE(watcher.ok());
  EXPECT_THAT(Drain(**watcher), ::testing::ElementsAre(std::pair<uint64_t, std::string>{3, "c"},
                                                        std::pair<uint64_t, std::string>{4, "d"}));
  Event event;
  EXPECT_EQ((*watcher)->Next(Soon(), &event), Result::kCaughtUp);
  auto all = log.Watch(After(0, false));
  EXPECT_EQ(Drain(**all).size(), 4u);
}

TEST(EventLogTest, WithoutAfterSequenceOnlyNewEvents) {
  EventLog log(16, 4);
  log.Publish(Created("old"));
  WatchEventsRequest request;
  request.set_follow(true);
  auto watcher = log.Watch(request);
  ASSERT_TRUE(watcher.ok());
  Event event;
  EXPECT_EQ((*watcher)->Next(Soon(), &event), Result::kTimeout);
  log.Publish(Created("new"));
  ASSERT_EQ((*watcher)->Next(Soon(), &event), Result::kEvent);
  EXPECT_EQ(event.port_created().port().name(), "new");
}

TEST(EventLogTest, ExpiredHistoryIsReportedThenTheOldestFollows) {
  EventLog log(3, 4);
  for (int i = 0; i < 10; ++i) log.Publish(Created("p" + std::to_string(i)));  // keeps 8, 9, 10
  auto watcher = log.Watch(After(2, false));
  ASSERT_TRUE(watcher.ok());
  Event marker;
  ASSERT_EQ((*watcher)->Next(Soon(), &marker), Result::kEvent);
  ASSERT_TRUE(marker.has_events_missed());
  EXPECT_EQ(marker.sequence(), 0u);
  EXPECT_EQ(marker.events_missed().reason(), EventsMissed::HISTORY_EXPIRED);
  EXPECT_EQ(marker.events_missed().first_missed(), 3u);
  EXPECT_EQ(marker.events_missed().last_missed(), 7u);
  EXPECT_EQ(Drain(**watcher).front().first, 8u);
}

TEST(EventLogTest, NumbersOfAnotherInstanceAreADaemonRestart) {
  EventLog log(8, 4);
  log.Publish(Created("a"));
  for (WatchEventsRequest request : {After(5), After(0)}) {
    if (request.after_sequence() == 0) request.set_instance_id("0123456789abcdef0123456789abcdef");
    auto watcher = log.Watch(request);
    ASSERT_TRUE(watcher.ok());
    Event event;
    ASSERT_EQ((*watcher)->Next(Soon(), &event), Result::kEvent);
    EXPECT_EQ(event.events_missed().reason(), EventsMissed::DAEMON_RESTARTED);
    ASSERT_EQ((*watcher)->Next(Soon(), &event), Result::kEvent);
    EXPECT_EQ(event.sequence(), 1u);  // then everything this instance kept
  }
  WatchEventsRequest same = After(0);
  same.set_instance_id(log.instance_id());
  auto watcher = log.Watch(same);
  Event event;
  ASSERT_EQ((*watcher)->Next(Soon(), &event), Result::kEvent);
  EXPECT_EQ(event.sequence(), 1u);
}

TEST(EventLogTest, ASlowWatcherIsToldItFellBehindAndNobodyWaitsForIt) {
  EventLog log(4, 4);
  auto slow = log.Watch(After(0));
  auto fast = log.Watch(After(0));
  ASSERT_TRUE(slow.ok() && fast.ok());
  Event event;
  for (int i = 1; i <= 10; ++i) {
    log.Publish(Created("p" + std::to_string(i)));  // never blocks on `slow`
    ASSERT_EQ((*fast)->Next(Soon(), &event), Result::kEvent);
    EXPECT_EQ(event.sequence(), static_cast<uint64_t>(i));
  }
  ASSERT_EQ((*slow)->Next(Soon(), &event), Result::kEvent);
  ASSERT_TRUE(event.has_events_missed());
  EXPECT_EQ(event.events_missed().reason(), EventsMissed::SLOW_WATCHER);
  EXPECT_EQ(event.events_missed().first_missed(), 1u);
  EXPECT_EQ(event.events_missed().last_missed(), 6u);
  for (uint64_t expected = 7; expected <= 10; ++expected) {
    ASSERT_EQ((*slow)->Next(Soon(), &event), Result::kEvent);
    EXPECT_EQ(event.sequence(), expected);
  }
}

TEST(EventLogTest, BoundedWatchersAndClose) {
  EventLog log(4, 2);
  auto a = log.Watch(After(0));
  auto b = log.Watch(After(0));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = log.Watch(After(0));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("--max-event-watchers"));
  a->reset();  // its place is free again
  EXPECT_TRUE(log.Watch(After(0)).ok());
  // Close wakes a watcher that waits.
  std::thread closer([&log] {
    absl::SleepFor(absl::Milliseconds(50));
    log.Close();
  });
  Event event;
  EXPECT_EQ((*b)->Next(absl::Now() + absl::Seconds(10), &event), Result::kClosed);
  closer.join();
  EXPECT_EQ(log.Watch(After(0)).status().code(), absl::StatusCode::kUnavailable);
}

TEST(EventLogTest, ConcurrentPublishersEveryWatcherSeesEveryEventOnceInOrder) {
  EventLog log(100000, 4);
  constexpr int kPerThread = 5000;
  auto watcher = log.Watch(After(0));
  ASSERT_TRUE(watcher.ok());
  std::vector<std::thread> publishers;
  for (int t = 0; t < 3; ++t) {
    publishers.emplace_back([&log] {
      for (int i = 0; i < kPerThread; ++i) log.Publish(Created("x"));
    });
  }
  uint64_t expected = 1;
  Event event;
  while (expected <= 3 * kPerThread) {
    ASSERT_EQ((*watcher)->Next(absl::Now() + absl::Seconds(10), &event), Result::kEvent);
    ASSERT_EQ(event.sequence(), expected++);
  }
  for (std::thread& t : publishers) t.join();
}

}  // namespace
}  // namespace vhostd
