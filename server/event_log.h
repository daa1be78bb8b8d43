// The daemon's event stream (WatchEvents): a bounded history of numbered events and the
// watchers that read it. Anything in the server publishes (the port manager, the
// bridges); gRPC streams read through a Watcher each.
//
// Publishing never waits for a watcher: each watcher is only a cursor into the shared
// history, so a slow one costs no memory and holds nobody up. A watcher whose cursor
// falls out of the history (it read too slowly, or asked for events already dropped)
// gets an EventsMissed marker and goes on with the oldest retained event.
#ifndef VHOSTD_SERVER_EVENT_LOG_H_
#define VHOSTD_SERVER_EVENT_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vhostd/v1/event.pb.h"

namespace vhostd {

class EventLog {
 public:
  inline static constexpr size_t kDefaultHistory = 4096;
  inline static constexpr size_t kDefaultMaxWatchers = 32;

  // `history`: events kept for resuming watchers (>= 1); `max_watchers`: concurrent
  // watchers (>= 1), RESOURCE_EXHAUSTED beyond.
  EventLog(size_t history, size_t max_watchers);
  ~EventLog();  // every Watcher must be gone

  // Stamps `event` (sequence, time, instance_id), keeps it and wakes the watchers.
  // Returns its sequence. Safe on any thread but a polling core's; takes one short
  // lock and never waits for a reader.
  uint64_t Publish(vhostd::v1::Event event);

  const std::string& instance_id() const { return instance_id_; }
  uint64_t last_sequence();

  // Ends every watch: their Next returns kClosed from now on (the daemon stops).
  void Close();

  class Watcher {
   public:
    enum class Result {
      kEvent,     // `out` holds the next event (or an EventsMissed marker)
      kTimeout,   // nothing new before the deadline
      kCaughtUp,  // not following, and everything retained was sent: end the stream
      kClosed,    // the log is closed
    };
    ~Watcher();  // frees its place among max_watchers
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // The next thing to send, waiting up to `deadline` for one.
    Result Next(absl::Time deadline, vhostd::v1::Event* out);

   private:
    friend class EventLog;
    Watcher(EventLog* log, uint64_t next, bool follow) : log_(log), next_(next), follow_(follow) {}
    EventLog* const log_;
    uint64_t next_;                  // the sequence it sends next (guarded by log_->mu_)
    const bool follow_;
    std::unique_ptr<vhostd::v1::Event> marker_;  // to send before anything else
  };

  // A watcher for `request` (see vhostd.v1.WatchEventsRequest).
  absl::StatusOr<std::unique_ptr<Watcher>> Watch(const vhostd::v1::WatchEventsRequest& request);

 private:
  // An EventsMissed marker for events first..last.
  vhostd::v1::Event Missed(vhostd::v1::EventsMissed::Reason reason, uint64_t first, uint64_t last) const;
  uint64_t oldest() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return history_.empty() ? last_ + 1 : history_.front().sequence();
  }

  const size_t history_capacity_;
  const size_t max_watchers_;
  const std::string instance_id_;
  absl::Mutex mu_;
  std::deque<vhostd::v1::Event> history_ ABSL_GUARDED_BY(mu_);  // sequences oldest()..last_
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;                       // the last sequence published
  size_t watchers_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_EVENT_LOG_H_
