#include "server/port_status.h"

#include <memory>

#include "google/protobuf/message.h"

namespace vhostd {

void FillPortStatus(const PortBackend& backend, const google::protobuf::Descriptor* status_type,
                    vhostd::v1::PortStatus* status) {
  std::unique_ptr<google::protobuf::Message> type_status;
  if (status_type != nullptr) {
    type_status.reset(google::protobuf::MessageFactory::generated_factory()->GetPrototype(status_type)->New());
  }
  PortState state;
  backend.FillStatus(&state, type_status.get());
  status->set_state(static_cast<vhostd::v1::PortStatus::State>(state.state));
  status->set_message(state.message);
  status->set_negotiated_features(state.negotiated_features);
  for (const std::string& name : state.negotiated_feature_names) status->add_negotiated_feature_names(name);
  for (const QueueState& queue : state.queues) {
    vhostd::v1::QueueStatus* out = status->add_queues();
    out->set_queue(queue.queue);
    out->set_rx_enabled(queue.rx_enabled);
    out->set_tx_enabled(queue.tx_enabled);
    out->set_lcore(-1);
  }
  status->set_mac(state.mac);
  status->set_frontend_connects(state.frontend_connects);
  status->set_frontend_disconnects(state.frontend_disconnects);
  status->set_backend(state.backend);
  status->set_mtu(state.mtu);
  status->set_dataplane_port_id(backend.ethdev_port_id());
  status->set_active_queues(backend.queues());
  if (type_status) status->mutable_type_status()->PackFrom(*type_status, "type.googleapis.com/");
}

}  // namespace vhostd
