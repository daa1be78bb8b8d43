// Command-line parsing for vhostctl: turns argv into a Command, with no gRPC involved.
//
//   vhostctl [--server unix:PATH] [-o table|json] [--timeout SECONDS] COMMAND ...
//
// Flags are written "--flag value" or "--flag=value". The global flags may appear
// before the command (or among its arguments); command flags follow the command words.
// Most commands are two words (GROUP VERB); "top" is one.
#ifndef VHOSTD_CLIENT_CLI_ARGS_H_
#define VHOSTD_CLIENT_CLI_ARGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace vhostctl {

// The daemon's socket when neither --server nor $VHOSTD_SERVER says otherwise.
inline constexpr char kDefaultServer[] = "unix:/run/vhostd/vhostd.sock";
inline constexpr char kServerEnvVar[] = "VHOSTD_SERVER";

// The full help text (vhostctl help, --help, -h).
const std::string& UsageText();

// --interval of the live views.
inline constexpr absl::Duration kDefaultInterval = absl::Seconds(1);
inline constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxInterval = absl::Seconds(3600);
// Ports "top" shows without --limit.
inline constexpr uint32_t kDefaultTopLimit = 10;

enum class CommandKind {
  kHelp,
  kPortCreate,
  kPortGet,
  kPortDelete,
  kPortList,
  kPortStats,
  kXconnectCreate,
  kXconnectList,
  kXconnectDelete,
  kCoreList,
  kPluginList,
  kTop,
};

enum class OutputFormat { kTable, kJson };

enum class PortType { kVhostUser, kVhostKernel, kVdpa };

// --mode of a vhost-user port; kUnspecified when the flag is absent (the daemon
// then acts as the socket's server).
enum class SocketMode { kUnspecified, kServer, kClient };

// The flags of "port create". Only the members of the chosen type can be set; the
// parser rejects flags that belong to another type.
struct PortSpecArgs {
  PortType type = PortType::kVhostUser;
  std::optional<uint32_t> queues;  // only when --queues was given (0 included)

  // --type vhost-user
  std::string socket_path;
  SocketMode mode = SocketMode::kUnspecified;
  bool tso = false;
  bool iommu_support = false;
  bool postcopy_support = false;
  bool linear_buffer = false;
  bool ext_buffer = false;
  bool no_mrg_rxbuf = false;
  bool no_checksum = false;
  bool allow_plain_tap = false;

  // --type vhost-kernel
  std::string tap_name;
  std::string netns;
  std::string mac;
  std::optional<uint32_t> mtu;

  // --type vdpa
  std::string device;
};

struct Command {
  CommandKind kind = CommandKind::kHelp;

  // Global flags.
  std::optional<std::string> server;  // --server, when given
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);

  // NAME of port get/delete/stats/create and xconnect create/delete.
  std::string name;
  bool allow_missing = false;  // port delete, xconnect delete
  PortSpecArgs port;           // port create
  std::string port_a;          // xconnect create --ports A,B
  std::string port_b;

  // Live views: "port stats NAME --watch" and "top" (see IsLiveView).
  bool watch = false;                          // port stats --watch
  absl::Duration interval = kDefaultInterval;  // --interval, kMinInterval..kMaxInterval
  std::optional<uint32_t> count;               // --count: refreshes; unset = until stopped
  uint32_t limit = kDefaultTopLimit;           // top --limit: ports shown, >= 1
};

// Whether `command` is a live view, which refreshes until stopped or --count times.
bool IsLiveView(const Command& command);

struct UsageError {
  std::string message;   // names the offending argument
  std::string synopsis;  // usage lines of the command being parsed, or the general one
};

struct ParseResult {
  bool ok() const { return !error.has_value(); }

  Command command;                  // meaningful when ok()
  std::optional<UsageError> error;  // set on a usage error
};

// Parses the arguments that follow the program name.
ParseResult ParseArgs(const std::vector<std::string>& args);

// The gRPC target to dial: --server, else a non-empty `env_server` (the value of
// $VHOSTD_SERVER, may be null), else kDefaultServer.
std::string ServerTarget(const Command& command, const char* env_server);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_CLI_ARGS_H_
