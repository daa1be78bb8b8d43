#include "server/capacity.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_builder.h"

ABSL_FLAG(int64_t, max_ports, 256, "Ports this vhostd serves (1..4096); more are refused with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_queues_per_port, 16, "Queue pairs one port may ask for (1..16).");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20, "Largest API request in bytes (4096..67108864).");
ABSL_FLAG(int64_t, max_concurrent_streams, 100, "Concurrent API calls on one client connection (1..1024).");

namespace vhostd {
namespace {

absl::Status InRange(const char* flag, int64_t value, int64_t low, int64_t high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", value, " is out of range ", low, "..", high));
}

// Eventfds a port's frontends may hand over: a kick and a call per ring, two rings per
// queue pair, for the frontend and a migration destination beside it.
size_t FilesForQueues(uint32_t queues) { return 8 + 8 * static_cast<size_t>(queues); }

uint32_t QueuesOf(const google::protobuf::Message& spec) {
  const google::protobuf::FieldDescriptor* field = spec.GetDescriptor()->FindFieldByName("queues");
  if (field == nullptr || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT32 ||
      field->is_repeated()) {
    return 1;
  }
  const uint32_t queues = spec.GetReflection()->GetUInt32(spec, field);
  return queues == 0 ? 1 : queues;
}

}  // namespace

absl::StatusOr<Capacity> CapacityFromFlags() {
  const int64_t ports = absl::GetFlag(FLAGS_max_ports), queues = absl::GetFlag(FLAGS_max_queues_per_port),
                bytes = absl::GetFlag(FLAGS_max_message_bytes), streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  for (const absl::Status& s : {InRange("max-ports", ports, 1, 4096), InRange("max-queues-per-port", queues, 1, 16),
                                InRange("max-message-bytes", bytes, 4096, 64 << 20),
                                InRange("max-concurrent-streams", streams, 1, 1024)}) {
    if (!s.ok()) return s;
  }
  Capacity capacity;
  capacity.max_ports = static_cast<size_t>(ports);
  capacity.max_ports_source = absl::StrCat("--max-ports=", ports);
  capacity.max_queues_per_port = static_cast<uint32_t>(queues);
  capacity.max_message_bytes = static_cast<int>(bytes);
  capacity.max_concurrent_streams = static_cast<int>(streams);
  return capacity;
}

void ApplyApiLimits(const Capacity& capacity, grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(capacity.max_message_bytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, capacity.max_concurrent_streams);
}

absl::StatusOr<std::string> FitToOpenFileLimit(Capacity* capacity) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", strerror(errno)));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);  // keeps the old soft limit if refused; read back below
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const size_t needed = kBaseFiles + capacity->max_ports * kFilesPerPort;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return std::string();
  const size_t fits = limit.rlim_cur > kBaseFiles ? (limit.rlim_cur - kBaseFiles) / kFilesPerPort : 0;
  if (fits == 0) {
    return absl::ResourceExhaustedError(absl::StrCat("the open-file limit (RLIMIT_NOFILE) is ", limit.rlim_cur,
                                                     ", too low for any port; raise it (ulimit -n, LimitNOFILE=)"));
  }
  const std::string warning = absl::StrCat("--max-ports: ", capacity->max_ports, " ports need about ", needed,
                                           " open files, the limit (RLIMIT_NOFILE) is ", limit.rlim_cur,
                                           ": serving at most ", fits,
                                           " ports; raise the limit (ulimit -n, LimitNOFILE=) for more");
  capacity->max_ports_source = absl::StrCat(capacity->max_ports_source, ", lowered to ", fits, " by RLIMIT_NOFILE ",
                                            limit.rlim_cur);
  capacity->max_ports = fits;
  return warning;
}

absl::Status CheckRoomForPort(const Capacity& capacity, size_t ports, const google::protobuf::Message& spec) {
  if (ports >= capacity.max_ports) {
    return absl::ResourceExhaustedError(
        absl::StrCat("port: ", ports, " ports exist, the most this vhostd serves (", capacity.max_ports_source, ")"));
  }
  const uint32_t queues = QueuesOf(spec);
  if (queues > capacity.max_queues_per_port) {
    return absl::ResourceExhaustedError(absl::StrCat("port.spec.queues: ", queues, " queues, more than this vhostd "
                                                     "serves per port (--max-queues-per-port=",
                                                     capacity.max_queues_per_port, ")"));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const size_t wanted = FilesForQueues(queues);
    // Counting 2,000 descriptors costs milliseconds; the table's size bounds the count
    // and is far below the limit but for a process near it.
    const size_t bound = DescriptorTableSize();
    const size_t open = bound != 0 && bound + wanted <= limit.rlim_cur ? 0 : OpenFileCount();
    if (open + wanted > limit.rlim_cur) {
      return absl::ResourceExhaustedError(absl::StrCat("port: ", open, " of ", limit.rlim_cur,
                                                       " open files (RLIMIT_NOFILE) in use; this port may need ",
                                                       wanted, " more"));
    }
  }
  return absl::OkStatus();
}

size_t OpenFileCount() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  size_t count = 0;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count > 3 ? count - 3 : 0;  // ".", ".." and the directory's own fd
}

size_t DescriptorTableSize() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view value = line;
    if (!absl::ConsumePrefix(&value, "FDSize:")) continue;
    size_t size = 0;
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &size) ? size : 0;
  }
  return 0;
}

}  // namespace vhostd
