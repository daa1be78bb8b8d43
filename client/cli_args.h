// Command-line parsing for vhostctl: turns argv into a Command, with no gRPC involved.
// The grammar is CLI11's (a subcommand per command word), built once in cli_args.cc
// from one definition per command and flag, which also yields the usage text.
//
//   vhostctl [--server unix:PATH] [-o table|json] [--timeout SECONDS] COMMAND ...
//
// Flags are written "--flag value" or "--flag=value" ("-o json", "-ojson", "-o=json");
// a switch is "--flag" or "--flag=true|false". The global flags may appear before the
// command or among its arguments; command flags follow the command words.
//
// "port create" takes flags of the port's type, which vhostctl learns from the daemon
// (ListPlugins: the type's spec message, see client/spec_flags.h). So it is parsed
// twice: ParseArgs(args) checks everything but those flags and keeps the arguments;
// once the type's flags are known, ParseArgs(args, &type_flags) parses them all.
#ifndef VHOSTD_CLIENT_CLI_ARGS_H_
#define VHOSTD_CLIENT_CLI_ARGS_H_

#include <cstddef>
#include <cstdint>
#include <map>
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
  kBridgeCreate,
  kBridgeGet,
  kBridgeDelete,
  kBridgeList,
  kBridgeAddPort,
  kBridgeDelPort,
  kBridgeMacs,
  kCoreList,
  kCorePin,
  kCoreUnpin,
  kCoreRebalance,
  kCoreSettings,
  kPluginList,
  kTop,
  kEvents,
};

enum class OutputFormat { kTable, kJson };

// A flag of one port type, made from a field of the type's spec message
// (client/spec_flags.h makes them).
struct TypeFlag {
  std::vector<std::string> names;        // every spelling, canonical first: "--socket-path", "--socket"
  std::vector<std::string> false_names;  // switches: spellings that mean false ("--no-tso")
  bool is_switch = false;                // a bool: "--tso", "--tso=false"; else takes a value
  bool repeated = false;                 // may be given again, each a further list element
  std::string value_name;                // "PATH", "N", "server|client" (none for switches)
  std::string help;                      // one line: the field it sets
};

// What the command line gave for one TypeFlag.
struct TypeFlagValues {
  size_t flag = 0;                  // index into the TypeFlag list given to ParseArgs
  std::vector<std::string> values;  // in order; a switch's: "true", "false" or what followed '='
};

// The flags of "port create" besides the type's own.
struct PortCreateArgs {
  std::string type;                      // --type
  std::optional<std::string> spec_json;  // --spec: the spec message in protobuf JSON
  std::map<std::string, std::string> labels;  // --label KEY=VALUE
  bool help = false;                     // --help with --type: list the type's flags
  std::vector<std::string> args;         // the whole command line, to parse again
  bool type_flags_parsed = false;        // ParseArgs had the type's flags
  std::vector<TypeFlagValues> type_flags;  // those given (when type_flags_parsed)
};

// The client side of the daemon's mutual TLS (files are read when dialling).
struct TlsFlags {
  std::optional<std::string> ca;           // --tls-ca: PEM CAs the daemon's certificate chains to
  std::optional<std::string> cert;         // --tls-cert: the client's PEM certificate chain
  std::optional<std::string> key;          // --tls-key: its PEM private key
  std::optional<std::string> server_name;  // --tls-server-name: overrides the host of --server
  bool any() const { return ca || cert || key || server_name; }
};

struct Command {
  CommandKind kind = CommandKind::kHelp;

  // Global flags.
  std::optional<std::string> server;  // --server, when given
  TlsFlags tls;                       // --tls-*: TLS to a HOST:PORT server when any is given
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);

  // NAME of port get/delete/stats/create and xconnect create/delete.
  std::string name;
  bool allow_missing = false;  // port delete, xconnect delete
  PortCreateArgs port;         // port create
  std::string port_a;          // xconnect create --ports A,B
  std::string port_b;
  // The positional words after NAME, for commands that take more (bridge add-port
  // BRIDGE PORT: {PORT}).
  std::vector<std::string> args;
  // bridge create: --mac-table-size, --mac-aging (unset: the daemon's defaults).
  std::optional<uint32_t> mac_table_size;
  std::optional<uint32_t> mac_aging_seconds;
  // bridge add-port: --vlan ID (access) or --trunk IDS (expanded, in order given).
  std::optional<uint32_t> access_vlan;
  std::optional<std::vector<uint32_t>> trunk_vlans;
  std::string label_selector;  // port list -l

  // core pin PORT QUEUE LCORE, core unpin PORT QUEUE (port in `name`).
  uint32_t queue = 0;
  uint32_t lcore = 0;
  bool dry_run = false;  // core rebalance --dry-run
  // core settings: what to change (unset: keep).
  std::optional<std::string> assign_mode;  // --assign: cycles, group or roundrobin
  std::optional<bool> isolate_pinned;      // --isolate-pinned[=BOOL]
  std::optional<uint32_t> sleep_max_us;    // --sleep-max-us N

  // Live views: "port stats NAME --watch" and "top" (see IsLiveView).
  bool watch = false;                          // port stats --watch
  absl::Duration interval = kDefaultInterval;  // --interval, kMinInterval..kMaxInterval
  std::optional<uint32_t> count;               // --count: refreshes; unset = until stopped
  uint32_t limit = kDefaultTopLimit;           // top --limit: ports shown, >= 1

  // events: --follow, --since SEQ (resume after it), --instance ID (the instance_id SEQ
  // came from), --port NAME (only that port's events).
  bool follow = false;
  std::optional<uint64_t> since;
  std::string instance_id;
  std::string event_port;
};

// "10,20,100-199" as the VLAN IDs it lists, in order (a range expanded, within
// 1..4094); nullopt if it is not such a list. Single IDs may be any whole number:
// the daemon checks them and names the one out of range.
std::optional<std::vector<uint32_t>> ParseVlanList(const std::string& text);

// Whether `command` is a live view, which refreshes until stopped or --count times.
bool IsLiveView(const Command& command);

struct UsageError {
  std::string message;   // names the offending argument
  std::string synopsis;  // usage lines of the command being parsed, or the general one
};

// "vhostctl: MESSAGE\nSYNOPSIS Run 'vhostctl --help' ...\n", as printed on stderr.
std::string FormatUsageError(const UsageError& error);

struct ParseResult {
  bool ok() const { return !error.has_value(); }

  Command command;                  // meaningful when ok()
  std::optional<UsageError> error;  // set on a usage error
};

// Parses the arguments that follow the program name. Without `type_flags`, "port
// create" accepts any further flag (command.port.args keeps them for the second parse);
// with them, exactly those (and fills command.port.type_flags).
ParseResult ParseArgs(const std::vector<std::string>& args,
                      const std::vector<TypeFlag>* type_flags = nullptr);

// "usage: vhostctl port create NAME --type TYPE ...\n": with the type's flags when
// `type_flags` is given.
std::string PortCreateSynopsis(const std::string& type, const std::vector<TypeFlag>* type_flags);

// Spellings "port create" takes itself (--type, --spec, the global flags, --help), which
// a type's flags therefore cannot have.
bool IsPortCreateOwnFlag(const std::string& spelling);

// The gRPC target to dial: --server, else a non-empty `env_server` (the value of
// $VHOSTD_SERVER, may be null), else kDefaultServer.
std::string ServerTarget(const Command& command, const char* env_server);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_CLI_ARGS_H_
