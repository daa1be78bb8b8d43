// What this vhostd serves at most, from its flags: ports, queues per port, API message
// sizes and streams, and the open files all of that needs. A request beyond a limit is
// refused with RESOURCE_EXHAUSTED naming the limit, and changes nothing.
#ifndef VHOSTD_SERVER_CAPACITY_H_
#define VHOSTD_SERVER_CAPACITY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace grpc {
class ServerBuilder;
}

namespace vhostd {

struct Capacity {
  size_t max_ports = 256;
  std::string max_ports_source = "--max-ports=256";  // what set max_ports, for errors
  uint32_t max_queues_per_port = 16;
  int max_message_bytes = 4 << 20;  // gRPC's own default for received messages
  int max_concurrent_streams = 100;  // per API connection
};

// --max-ports, --max-queues-per-port, --max-message-bytes, --max-concurrent-streams.
absl::StatusOr<Capacity> CapacityFromFlags();

// Message size and stream limits for the API server.
void ApplyApiLimits(const Capacity& capacity, grpc::ServerBuilder* builder);

// Raises the open-file limit to its hard limit. If even that cannot hold `max_ports`
// ports (kFilesPerPort each, beyond kBaseFiles), lowers max_ports to what it holds and
// returns a warning naming both (a container runtime's 1024 files hold 96 ports); an
// error if it holds none. Returns "" when everything fits.
inline constexpr size_t kBaseFiles = 256;   // EAL, gRPC, metrics, state, plugins
// A typical port: its socket and connection, one queue pair's four eventfds, a memory
// region or two. (CreatePort checks each port's own need against what is open then.)
inline constexpr size_t kFilesPerPort = 8;
absl::StatusOr<std::string> FitToOpenFileLimit(Capacity* capacity);

// Room for one more port beside `ports` existing ones, with `spec`'s queues (its
// `queues` field, if the port type has one): the port and queue limits, and the open
// files it will need (four eventfds per queue for each of two frontends).
absl::Status CheckRoomForPort(const Capacity& capacity, size_t ports, const google::protobuf::Message& spec);

// Descriptors this process has open now. Reads /proc/self/fd: costs about a microsecond
// per descriptor.
size_t OpenFileCount();

// The size of this process's descriptor table (FDSize in /proc/self/status): every open
// descriptor's number is below it, so it bounds OpenFileCount() without listing them.
// 0 if unknown.
size_t DescriptorTableSize();

}  // namespace vhostd

#endif  // VHOSTD_SERVER_CAPACITY_H_
