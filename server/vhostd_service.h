// The vhostd.v1.Vhostd gRPC service: decodes requests, calls the PortManager, and maps
// absl::Status to the canonical gRPC status with the same code and message.
#ifndef VHOSTD_SERVER_VHOSTD_SERVICE_H_
#define VHOSTD_SERVER_VHOSTD_SERVICE_H_

#include "server/event_log.h"
#include "server/port_manager.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostd {

class VhostdService final : public vhostd::v1::Vhostd::Service {
 public:
  // `events`: what WatchEvents streams (the log the manager publishes to).
  VhostdService(PortManager* manager, EventLog* events) : manager_(manager), events_(events) {}

  grpc::Status CreatePort(grpc::ServerContext*, const vhostd::v1::CreatePortRequest*, vhostd::v1::Port*) override;
  grpc::Status GetPort(grpc::ServerContext*, const vhostd::v1::GetPortRequest*, vhostd::v1::Port*) override;
  grpc::Status ListPorts(grpc::ServerContext*, const vhostd::v1::ListPortsRequest*,
                         vhostd::v1::ListPortsResponse*) override;
  grpc::Status DeletePort(grpc::ServerContext*, const vhostd::v1::DeletePortRequest*,
                          google::protobuf::Empty*) override;
  grpc::Status GetPortStats(grpc::ServerContext*, const vhostd::v1::GetPortStatsRequest*,
                            vhostd::v1::PortStats*) override;
  grpc::Status CreateCrossConnect(grpc::ServerContext*, const vhostd::v1::CreateCrossConnectRequest*,
                                  vhostd::v1::CrossConnect*) override;
  grpc::Status DeleteCrossConnect(grpc::ServerContext*, const vhostd::v1::DeleteCrossConnectRequest*,
                                  google::protobuf::Empty*) override;
  grpc::Status ListCrossConnects(grpc::ServerContext*, const vhostd::v1::ListCrossConnectsRequest*,
                                 vhostd::v1::ListCrossConnectsResponse*) override;
  grpc::Status CreateBridge(grpc::ServerContext*, const vhostd::v1::CreateBridgeRequest*, vhostd::v1::Bridge*) override;
  grpc::Status GetBridge(grpc::ServerContext*, const vhostd::v1::GetBridgeRequest*, vhostd::v1::Bridge*) override;
  grpc::Status ListBridges(grpc::ServerContext*, const vhostd::v1::ListBridgesRequest*,
                           vhostd::v1::ListBridgesResponse*) override;
  grpc::Status DeleteBridge(grpc::ServerContext*, const vhostd::v1::DeleteBridgeRequest*,
                            google::protobuf::Empty*) override;
  grpc::Status AddBridgePort(grpc::ServerContext*, const vhostd::v1::AddBridgePortRequest*,
                             vhostd::v1::BridgePort*) override;
  grpc::Status DeleteBridgePort(grpc::ServerContext*, const vhostd::v1::DeleteBridgePortRequest*,
                                google::protobuf::Empty*) override;
  grpc::Status ListPlugins(grpc::ServerContext*, const vhostd::v1::ListPluginsRequest*,
                           vhostd::v1::ListPluginsResponse*) override;
  grpc::Status ListCores(grpc::ServerContext*, const vhostd::v1::ListCoresRequest*,
                         vhostd::v1::ListCoresResponse*) override;
  grpc::Status PinQueue(grpc::ServerContext*, const vhostd::v1::PinQueueRequest*, vhostd::v1::QueuePin*) override;
  grpc::Status UnpinQueue(grpc::ServerContext*, const vhostd::v1::UnpinQueueRequest*,
                          google::protobuf::Empty*) override;
  grpc::Status RebalanceCores(grpc::ServerContext*, const vhostd::v1::RebalanceCoresRequest*,
                              vhostd::v1::RebalanceCoresResponse*) override;
  grpc::Status GetCoreSettings(grpc::ServerContext*, const vhostd::v1::GetCoreSettingsRequest*,
                               vhostd::v1::CoreSettings*) override;
  grpc::Status UpdateCoreSettings(grpc::ServerContext*, const vhostd::v1::UpdateCoreSettingsRequest*,
                                  vhostd::v1::CoreSettings*) override;
  // One watcher of the log per call; ends when the client cancels, the daemon stops
  // (UNAVAILABLE), or, without follow, once the retained events are sent.
  grpc::Status WatchEvents(grpc::ServerContext*, const vhostd::v1::WatchEventsRequest*,
                           grpc::ServerWriter<vhostd::v1::Event>*) override;

 private:
  PortManager* const manager_;
  EventLog* const events_;
};

// absl and gRPC share the canonical code numbering.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_VHOSTD_SERVICE_H_
