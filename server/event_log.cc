#include "server/event_log.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "absl/time/clock.h"

namespace vhostd {
namespace {

using vhostd::v1::Event;
using vhostd::v1::EventsMissed;

// 128 random bits in hex: tells one daemon start's sequence numbers from another's.
std::string NewInstanceId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) absl::StrAppendFormat(&id, "%08x", random());
  return id;
}

void SetTime(absl::Time time, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

}  // namespace

EventLog::EventLog(size_t history, size_t max_watchers)
    : history_capacity_(std::max<size_t>(history, 1)),
      max_watchers_(std::max<size_t>(max_watchers, 1)),
      instance_id_(NewInstanceId()) {}

EventLog::~EventLog() = default;

uint64_t EventLog::Publish(Event event) {
  event.set_instance_id(instance_id_);
  SetTime(absl::Now(), event.mutable_time());
  absl::MutexLock lock(&mu_);
  event.set_sequence(++last_);
  if (history_.size() == history_capacity_) history_.pop_front();
  history_.push_back(std::move(event));
  return last_;  // watchers wait on a condition of last_: the unlock wakes them
}

uint64_t EventLog::last_sequence() {
  absl::MutexLock lock(&mu_);
  return last_;
}

void EventLog::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

Event EventLog::Missed(EventsMissed::Reason reason, uint64_t first, uint64_t last) const {
  Event marker;
  marker.set_instance_id(instance_id_);
  SetTime(absl::Now(), marker.mutable_time());
  EventsMissed* missed = marker.mutable_events_missed();
  missed->set_reason(reason);
  missed->set_first_missed(first);
  missed->set_last_missed(last);
  return marker;
}

absl::StatusOr<std::unique_ptr<EventLog::Watcher>> EventLog::Watch(const vhostd::v1::WatchEventsRequest& request) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("vhostd is shutting down");
  if (watchers_ >= max_watchers_) {
    return absl::ResourceExhaustedError(absl::StrCat("already ", watchers_, " event watchers, the most this vhostd "
                                                     "serves (--max-event-watchers)"));
  }
  std::unique_ptr<Watcher> watcher(new Watcher(this, last_ + 1, request.follow()));
  if (request.has_after_sequence()) {
    const uint64_t after = request.after_sequence();
    const bool other_instance = !request.instance_id().empty() && request.instance_id() != instance_id_;
    if (other_instance || after > last_) {
      // Numbers from an earlier daemon: none of this one's events were seen.
      watcher->marker_ = std::make_unique<Event>(Missed(EventsMissed::DAEMON_RESTARTED, 0, 0));
      watcher->next_ = oldest();
    } else if (after + 1 < oldest()) {
      watcher->marker_ =
          std::make_unique<Event>(Missed(EventsMissed::HISTORY_EXPIRED, after + 1, oldest() - 1));
      watcher->next_ = oldest();
    } else {
      watcher->next_ = after + 1;
    }
  }
  ++watchers_;
  return watcher;
}

EventLog::Watcher::~Watcher() {
  absl::MutexLock lock(&log_->mu_);
  --log_->watchers_;
}

EventLog::Watcher::Result EventLog::Watcher::Next(absl::Time deadline, Event* out) {
  absl::MutexLock lock(&log_->mu_);
  if (log_->closed_) return Result::kClosed;
  if (marker_) {
    *out = std::move(*marker_);
    marker_.reset();
    return Result::kEvent;
  }
  if (!follow_ && next_ > log_->last_) return Result::kCaughtUp;
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_->mu_) { return log_->closed_ || next_ <= log_->last_; };
  if (!log_->mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) return Result::kTimeout;
  if (log_->closed_) return Result::kClosed;
  const uint64_t oldest = log_->oldest();
  if (next_ < oldest) {
    // The events it had not taken yet were dropped from the history meanwhile.
    *out = log_->Missed(EventsMissed::SLOW_WATCHER, next_, oldest - 1);
    next_ = oldest;
    return Result::kEvent;
  }
  *out = log_->history_[next_ - oldest];
  ++next_;
  return Result::kEvent;
}

}  // namespace vhostd
