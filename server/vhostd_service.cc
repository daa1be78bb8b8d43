#include "server/vhostd_service.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "server/event_filter.h"

namespace vhostd {
namespace {

// How often a watch that has nothing to send looks whether its client went away.
constexpr absl::Duration kWatchCancelCheck = absl::Milliseconds(200);

// When a watch with a stats_interval sends its next StatsSample, and the samples' time:
// the wall clock at the start advanced by the monotonic clock.
class StatsSampler {
 public:
  explicit StatsSampler(absl::Duration interval)
      : interval_(interval), next_(interval > absl::ZeroDuration() ? start_ : absl::InfiniteFuture()) {}

  // When the next sample is due, on the wall clock (which Watcher::Next waits by).
  absl::Time WakeBy() const { return absl::Now() + (next_ - Now()); }

  // Whether a sample is due; if so, schedules the next one interval after it (or after
  // now, for a client too slow to take them in time: fewer samples, no backlog).
  bool Due() {
    const absl::Time now = Now();
    if (now < next_) return false;
    next_ = std::max(next_ + interval_, now);
    return true;
  }

  void Stamp(vhostd::v1::Event* sample) const {
    *sample->mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(Now()));
  }

 private:
  absl::Time Now() const {
    return start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_start_);
  }

  const absl::Duration interval_;
  const absl::Time start_ = absl::Now();
  const std::chrono::steady_clock::time_point steady_start_ = std::chrono::steady_clock::now();
  absl::Time next_;
};

// Copies a successful result into `out`, or returns the error.
template <typename T, typename Out>
grpc::Status Reply(absl::StatusOr<T> result, Out* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status VhostdService::CreatePort(grpc::ServerContext*, const vhostd::v1::CreatePortRequest* request,
                                       vhostd::v1::Port* response) {
  return Reply(manager_->CreatePort(request->port()), response);
}

grpc::Status VhostdService::GetPort(grpc::ServerContext*, const vhostd::v1::GetPortRequest* request,
                                    vhostd::v1::Port* response) {
  return Reply(manager_->GetPort(request->name()), response);
}

grpc::Status VhostdService::ListPorts(grpc::ServerContext*, const vhostd::v1::ListPortsRequest* request,
                                      vhostd::v1::ListPortsResponse* response) {
  return Reply(manager_->ListPorts(*request), response);
}

grpc::Status VhostdService::DeletePort(grpc::ServerContext*, const vhostd::v1::DeletePortRequest* request,
                                       google::protobuf::Empty*) {
  return ToGrpcStatus(manager_->DeletePort(request->name(), request->allow_missing()));
}

grpc::Status VhostdService::GetPortStats(grpc::ServerContext*, const vhostd::v1::GetPortStatsRequest* request,
                                         vhostd::v1::PortStats* response) {
  return Reply(manager_->GetPortStats(request->name()), response);
}

grpc::Status VhostdService::CreateCrossConnect(grpc::ServerContext*,
                                               const vhostd::v1::CreateCrossConnectRequest* request,
                                               vhostd::v1::CrossConnect* response) {
  return Reply(manager_->CreateCrossConnect(request->cross_connect()), response);
}

grpc::Status VhostdService::DeleteCrossConnect(grpc::ServerContext*,
                                               const vhostd::v1::DeleteCrossConnectRequest* request,
                                               google::protobuf::Empty*) {
  return ToGrpcStatus(manager_->DeleteCrossConnect(request->name(), request->allow_missing()));
}

grpc::Status VhostdService::ListCrossConnects(grpc::ServerContext*,
                                              const vhostd::v1::ListCrossConnectsRequest* request,
                                              vhostd::v1::ListCrossConnectsResponse* response) {
  return Reply(manager_->ListCrossConnects(*request), response);
}

grpc::Status VhostdService::CreateBridge(grpc::ServerContext*, const vhostd::v1::CreateBridgeRequest* request,
                                         vhostd::v1::Bridge* response) {
  return Reply(manager_->CreateBridge(request->bridge()), response);
}

grpc::Status VhostdService::GetBridge(grpc::ServerContext*, const vhostd::v1::GetBridgeRequest* request,
                                      vhostd::v1::Bridge* response) {
  return Reply(manager_->GetBridge(request->name(), request->mac_table()), response);
}

grpc::Status VhostdService::ListBridges(grpc::ServerContext*, const vhostd::v1::ListBridgesRequest* request,
                                        vhostd::v1::ListBridgesResponse* response) {
  return Reply(manager_->ListBridges(*request), response);
}

grpc::Status VhostdService::DeleteBridge(grpc::ServerContext*, const vhostd::v1::DeleteBridgeRequest* request,
                                         google::protobuf::Empty*) {
  return ToGrpcStatus(manager_->DeleteBridge(request->name(), request->allow_missing()));
}

grpc::Status VhostdService::AddBridgePort(grpc::ServerContext*, const vhostd::v1::AddBridgePortRequest* request,
                                          vhostd::v1::BridgePort* response) {
  return Reply(manager_->AddBridgePort(request->bridge(), request->port()), response);
}

grpc::Status VhostdService::DeleteBridgePort(grpc::ServerContext*, const vhostd::v1::DeleteBridgePortRequest* request,
                                             google::protobuf::Empty*) {
  return ToGrpcStatus(manager_->DeleteBridgePort(request->bridge(), request->port()));
}

grpc::Status VhostdService::ListPlugins(grpc::ServerContext*, const vhostd::v1::ListPluginsRequest*,
                                        vhostd::v1::ListPluginsResponse* response) {
  *response = manager_->ListPlugins();
  return grpc::Status::OK;
}

grpc::Status VhostdService::ListCores(grpc::ServerContext*, const vhostd::v1::ListCoresRequest*,
                                      vhostd::v1::ListCoresResponse* response) {
  *response = manager_->ListCores();
  return grpc::Status::OK;
}

grpc::Status VhostdService::PinQueue(grpc::ServerContext*, const vhostd::v1::PinQueueRequest* request,
                                     vhostd::v1::QueuePin* response) {
  return Reply(manager_->PinQueue(request->pin()), response);
}

grpc::Status VhostdService::UnpinQueue(grpc::ServerContext*, const vhostd::v1::UnpinQueueRequest* request,
                                       google::protobuf::Empty*) {
  return ToGrpcStatus(manager_->UnpinQueue(*request));
}

grpc::Status VhostdService::RebalanceCores(grpc::ServerContext*, const vhostd::v1::RebalanceCoresRequest* request,
                                           vhostd::v1::RebalanceCoresResponse* response) {
  return Reply(manager_->RebalanceCores(request->dry_run()), response);
}

grpc::Status VhostdService::GetCoreSettings(grpc::ServerContext*, const vhostd::v1::GetCoreSettingsRequest*,
                                            vhostd::v1::CoreSettings* response) {
  *response = manager_->GetCoreSettings();
  return grpc::Status::OK;
}

grpc::Status VhostdService::UpdateCoreSettings(grpc::ServerContext*,
                                               const vhostd::v1::UpdateCoreSettingsRequest* request,
                                               vhostd::v1::CoreSettings* response) {
  return Reply(manager_->UpdateCoreSettings(*request), response);
}

grpc::Status VhostdService::WatchEvents(grpc::ServerContext* context, const vhostd::v1::WatchEventsRequest* request,
                                        grpc::ServerWriter<vhostd::v1::Event>* writer) {
  if (absl::Status s = ValidateWatchRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::unique_ptr<EventLog::Watcher>> watcher = events_->Watch(*request);
  if (!watcher.ok()) return ToGrpcStatus(watcher.status());
  // The watch is registered: from here on no change escapes it (clients list after this).
  writer->SendInitialMetadata();
  StatsSampler sampler(StatsInterval(*request));
  vhostd::v1::Event event;
  while (!context->IsCancelled()) {
    if (sampler.Due()) {
      vhostd::v1::Event sample;
      *sample.mutable_stats_sample() = manager_->SampleStats(request->port());
      sampler.Stamp(&sample);
      if (!writer->Write(sample)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    switch ((*watcher)->Next(std::min(absl::Now() + kWatchCancelCheck, sampler.WakeBy()), &event)) {
      case EventLog::Watcher::Result::kEvent:
        if (!request->port().empty() && !EventConcernsPort(event, request->port())) break;
        // Blocks while the client does not read (flow control): meanwhile the log goes
        // on without this watcher, which then gets an EventsMissed marker.
        if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
        break;
      case EventLog::Watcher::Result::kTimeout:
        break;
      case EventLog::Watcher::Result::kCaughtUp:
        return grpc::Status::OK;
      case EventLog::Watcher::Result::kClosed:
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "vhostd is shutting down");
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the watch");
}

}  // namespace vhostd
