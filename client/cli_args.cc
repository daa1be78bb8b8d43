#include "client/cli_args.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace vhostctl {
namespace {

// What follows "vhostctl " in the general usage line.
constexpr char kGeneralSynopsis[] =
    "[--server unix:PATH] [-o table|json] [--timeout SECONDS]\nCOMMAND ...";

struct FlagDef {
  absl::string_view name;  // with its dashes: "--queues", "-o"
  bool takes_value;
};

// Flags accepted with every command.
const FlagDef kGlobalFlags[] = {
    {"--server", true},
    {"-o", true},
    {"--timeout", true},
};

// One "GROUP VERB" command, or a one-word command (empty verb).
struct CommandDef {
  absl::string_view group;
  absl::string_view verb;  // empty for a one-word command such as "top"
  CommandKind kind;
  bool takes_name;
  std::vector<FlagDef> flags;
  // What follows "vhostctl "; a long one continues on further lines ('\n').
  std::vector<absl::string_view> synopses;
};

// "port create" flags, per --type. --queues is shared by all types.
const std::vector<absl::string_view> kVhostUserFlags = {
    "--socket", "--mode", "--queues", "--tso", "--iommu-support", "--postcopy-support",
    "--linear-buffer", "--ext-buffer", "--no-mrg-rxbuf", "--no-checksum"};
const std::vector<absl::string_view> kVhostKernelFlags = {"--tap", "--netns", "--queues",
                                                          "--mac", "--mtu", "--allow-plain-tap"};
const std::vector<absl::string_view> kVdpaFlags = {"--device", "--queues"};

const std::vector<CommandDef>& Commands() {
  static const auto* const commands = new std::vector<CommandDef>{
      {"port",
       "create",
       CommandKind::kPortCreate,
       true,
       {{"--type", true},
        {"--socket", true},
        {"--mode", true},
        {"--queues", true},
        {"--tso", false},
        {"--iommu-support", false},
        {"--postcopy-support", false},
        {"--linear-buffer", false},
        {"--ext-buffer", false},
        {"--no-mrg-rxbuf", false},
        {"--no-checksum", false},
        {"--tap", true},
        {"--netns", true},
        {"--mac", true},
        {"--mtu", true},
        {"--allow-plain-tap", false},
        {"--device", true}},
       {"port create NAME --type vhost-user --socket PATH\n"
        "[--mode server|client] [--queues N] [--tso]\n"
        "[--iommu-support] [--postcopy-support]\n"
        "[--linear-buffer] [--ext-buffer] [--no-mrg-rxbuf]\n"
        "[--no-checksum]",
        "port create NAME --type vhost-kernel [--tap IFNAME]\n"
        "[--netns PATH] [--queues N] [--mac MAC] [--mtu N]\n"
        "[--allow-plain-tap]",
        "port create NAME --type vdpa --device PATH_OR_NAME [--queues N]"}},
      {"port", "get", CommandKind::kPortGet, true, {}, {"port get NAME"}},
      {"port",
       "delete",
       CommandKind::kPortDelete,
       true,
       {{"--allow-missing", false}},
       {"port delete NAME [--allow-missing]"}},
      {"port", "list", CommandKind::kPortList, false, {}, {"port list"}},
      {"port",
       "stats",
       CommandKind::kPortStats,
       true,
       {{"--watch", false}, {"--interval", true}, {"--count", true}},
       {"port stats NAME [--watch [--interval SECONDS] [--count N]]"}},
      {"xconnect",
       "create",
       CommandKind::kXconnectCreate,
       true,
       {{"--ports", true}},
       {"xconnect create NAME --ports A,B"}},
      {"xconnect", "list", CommandKind::kXconnectList, false, {}, {"xconnect list"}},
      {"xconnect",
       "delete",
       CommandKind::kXconnectDelete,
       true,
       {{"--allow-missing", false}},
       {"xconnect delete NAME [--allow-missing]"}},
      {"core", "list", CommandKind::kCoreList, false, {}, {"core list"}},
      {"plugin", "list", CommandKind::kPluginList, false, {}, {"plugin list"}},
      {"top",
       "",
       CommandKind::kTop,
       false,
       {{"--interval", true}, {"--count", true}, {"--limit", true}},
       {"top [--interval SECONDS] [--count N] [--limit K]"}},
  };
  return *commands;
}

bool IsGroup(absl::string_view word) {
  for (const CommandDef& def : Commands()) {
    if (def.group == word) return true;
  }
  return false;
}

const CommandDef* FindCommand(absl::string_view group, absl::string_view verb) {
  for (const CommandDef& def : Commands()) {
    if (def.group == group && def.verb == verb) return &def;
  }
  return nullptr;
}

const FlagDef* FindFlag(const std::vector<FlagDef>& flags, absl::string_view name) {
  for (const FlagDef& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

const FlagDef* FindGlobalFlag(absl::string_view name) {
  for (const FlagDef& flag : kGlobalFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// The first command that takes flag `name`, or null.
const CommandDef* CommandWithFlag(absl::string_view name) {
  for (const CommandDef& def : Commands()) {
    if (FindFlag(def.flags, name) != nullptr) return &def;
  }
  return nullptr;
}

// "port create NAME", "top": a command's words as its synopsis starts.
std::string CommandWords(const CommandDef& def) {
  return absl::StrCat(def.group, def.verb.empty() ? "" : " ", def.verb,
                      def.takes_name ? " NAME" : "");
}

// Appends `synopsis` after `prefix`, indenting its continuation lines under the
// command words.
void AppendSynopsis(absl::string_view prefix, absl::string_view synopsis, std::string* out) {
  const std::string indent(prefix.size() + 4, ' ');
  bool first = true;
  for (absl::string_view line : absl::StrSplit(synopsis, '\n')) {
    absl::StrAppend(out, first ? prefix : indent, line, "\n");
    first = false;
  }
}

// "usage: vhostctl A\n       vhostctl B\n" for the given synopses.
std::string UsageLines(const std::vector<absl::string_view>& synopses) {
  std::string out;
  for (absl::string_view synopsis : synopses) {
    AppendSynopsis(out.empty() ? "usage: vhostctl " : "       vhostctl ", synopsis, &out);
  }
  return out;
}

std::vector<absl::string_view> GroupSynopses(absl::string_view group) {
  std::vector<absl::string_view> synopses;
  for (const CommandDef& def : Commands()) {
    if (def.group == group) synopses.insert(synopses.end(), def.synopses.begin(), def.synopses.end());
  }
  return synopses;
}

// Parses a number of seconds, as --timeout and --interval take it: a finite decimal
// number without surrounding spaces.
std::optional<double> ParseSeconds(const std::string& text) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) ||
      absl::StripAsciiWhitespace(text) != text) {
    return std::nullopt;
  }
  return seconds;
}

// Parses a whole decimal number 0..UINT32_MAX (no sign, no spaces).
std::optional<uint32_t> ParseUint32(absl::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value > std::numeric_limits<uint32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

std::string Quoted(absl::string_view text) { return absl::StrCat("'", text, "'"); }

class Parser {
 public:
  explicit Parser(const std::vector<std::string>& args) : args_(args) {}

  ParseResult Parse() {
    ParseResult result;
    for (const std::string& arg : args_) {
      if (arg == "-h" || arg == "--help") return result;  // kHelp
    }
    for (size_t i = 0; i < args_.size() && !error_; ++i) {
      const std::string& arg = args_[i];
      if (arg.size() > 1 && arg[0] == '-') {
        TakeFlag(arg, &i);
      } else {
        TakePositional(arg);
        if (group_ == "help") return result;
      }
    }
    if (!error_) Finish(&result.command);
    if (error_) {
      result.error = UsageError{*error_, Synopsis()};
    }
    return result;
  }

 private:
  void Fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }

  // The synopsis matching how far parsing got: the command, its group, or the general one.
  std::string Synopsis() const {
    if (command_ != nullptr) return UsageLines(command_->synopses);
    if (IsGroup(group_)) return UsageLines(GroupSynopses(group_));
    return UsageLines({kGeneralSynopsis});
  }

  std::string CommandName() const {
    return absl::StrCat(command_->group, command_->verb.empty() ? "" : " ", command_->verb);
  }

  void TakeFlag(const std::string& arg, size_t* index) {
    absl::string_view name = arg;
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != absl::string_view::npos) {
      inline_value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const FlagDef* def = FindGlobalFlag(name);
    if (def == nullptr && command_ != nullptr) def = FindFlag(command_->flags, name);
    if (def == nullptr) {
      if (command_ != nullptr) {
        Fail(absl::StrCat("unknown flag ", name, " for '", CommandName(), "'"));
      } else if (const CommandDef* owner = CommandWithFlag(name); owner != nullptr) {
        Fail(absl::StrCat("flag ", name, " must follow the command (e.g. '",
                          CommandWords(*owner), " ", name, " ...')"));
      } else {
        Fail(absl::StrCat("unknown flag ", name));
      }
      return;
    }
    std::string key(name);
    if (flags_.count(key) > 0) {
      Fail(absl::StrCat("flag ", name, " given more than once"));
      return;
    }
    if (!def->takes_value) {
      if (inline_value) {
        Fail(absl::StrCat("flag ", name, " takes no value (got ", Quoted(*inline_value), ")"));
        return;
      }
      flags_[key] = "";
      return;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (*index + 1 < args_.size()) {
      value = args_[++*index];
    } else {
      Fail(absl::StrCat("flag ", name, " needs a value"));
      return;
    }
    if (value.empty()) {
      Fail(absl::StrCat("flag ", name, " needs a non-empty value"));
      return;
    }
    flags_[key] = std::move(value);
  }

  void TakePositional(const std::string& arg) {
    if (group_.empty()) {
      if (arg != "help" && !IsGroup(arg)) {
        Fail(absl::StrCat("unknown command ", Quoted(arg)));
        return;
      }
      group_ = arg;
      command_ = FindCommand(group_, "");  // a one-word command: complete already
      return;
    }
    if (command_ == nullptr) {
      command_ = FindCommand(group_, arg);
      if (command_ == nullptr) Fail(absl::StrCat("unknown ", group_, " command ", Quoted(arg)));
      return;
    }
    if (command_->takes_name && !name_) {
      if (arg.empty()) {
        Fail(absl::StrCat("'", CommandName(), "': NAME must not be empty"));
        return;
      }
      name_ = arg;
      return;
    }
    Fail(absl::StrCat("unexpected argument ", Quoted(arg), " for '", CommandName(), "'"));
  }

  bool Has(absl::string_view flag) const { return flags_.count(std::string(flag)) > 0; }
  const std::string& Value(absl::string_view flag) const {
    return flags_.at(std::string(flag));
  }

  void Finish(Command* command) {
    if (group_.empty()) {
      Fail("missing command");
      return;
    }
    if (command_ == nullptr) {
      Fail(absl::StrCat("missing ", group_, " command (",
                        absl::StrJoin(GroupVerbs(group_), ", "), ")"));
      return;
    }
    command->kind = command_->kind;
    ApplyGlobalFlags(command);
    if (error_) return;
    if (command_->takes_name) {
      if (!name_) {
        Fail(absl::StrCat("'", CommandName(), "': missing NAME"));
        return;
      }
      command->name = *name_;
    }
    command->allow_missing = Has("--allow-missing");
    switch (command_->kind) {
      case CommandKind::kPortCreate:
        ApplyPortCreateFlags(&command->port);
        break;
      case CommandKind::kXconnectCreate:
        ApplyPortsFlag(command);
        break;
      case CommandKind::kPortStats:
        command->watch = Has("--watch");
        if (!command->watch) {
          for (absl::string_view flag : {"--interval", "--count"}) {
            if (Has(flag)) {
              Fail(absl::StrCat("flag ", flag, " needs --watch ('port stats NAME --watch ",
                                flag, " ...')"));
              return;
            }
          }
        }
        ApplyLiveFlags(command);
        break;
      case CommandKind::kTop:
        ApplyLiveFlags(command);
        break;
      default:
        break;
    }
  }

  static std::vector<absl::string_view> GroupVerbs(absl::string_view group) {
    std::vector<absl::string_view> verbs;
    for (const CommandDef& def : Commands()) {
      if (def.group == group) verbs.push_back(def.verb);
    }
    return verbs;
  }

  void ApplyGlobalFlags(Command* command) {
    if (Has("--server")) command->server = Value("--server");
    if (Has("-o")) {
      const std::string& format = Value("-o");
      if (format == "table") {
        command->output = OutputFormat::kTable;
      } else if (format == "json") {
        command->output = OutputFormat::kJson;
      } else {
        Fail(absl::StrCat("invalid value ", Quoted(format), " for -o: expected table or json"));
        return;
      }
    }
    if (Has("--timeout")) {
      const std::string& text = Value("--timeout");
      std::optional<double> seconds = ParseSeconds(text);
      if (!seconds || *seconds <= 0) {
        Fail(absl::StrCat("invalid value ", Quoted(text),
                          " for --timeout: expected a positive number of seconds"));
        return;
      }
      command->timeout = absl::Seconds(*seconds);
    }
  }

  // --interval, --count and --limit of the live views (each only where the command
  // defines it, which TakeFlag has checked).
  void ApplyLiveFlags(Command* command) {
    if (Has("--interval")) {
      const std::string& text = Value("--interval");
      std::optional<double> seconds = ParseSeconds(text);
      if (!seconds || *seconds < absl::ToDoubleSeconds(kMinInterval) ||
          *seconds > absl::ToDoubleSeconds(kMaxInterval)) {
        Fail(absl::StrCat("invalid value ", Quoted(text), " for --interval: expected ",
                          absl::ToDoubleSeconds(kMinInterval), " to ",
                          absl::ToDoubleSeconds(kMaxInterval), " seconds"));
        return;
      }
      // At most 3600 s: the conversion cannot overflow. Round to whole microseconds so
      // that "0.1" is exactly 100ms.
      command->interval = absl::Microseconds(std::llround(*seconds * 1e6));
    }
    if (Has("--count")) {
      command->count = PositiveNumberFlag("--count");
      if (error_) return;
    }
    if (Has("--limit")) {
      std::optional<uint32_t> limit = PositiveNumberFlag("--limit");
      if (error_) return;
      command->limit = *limit;
    }
  }

  std::optional<uint32_t> NumberFlag(absl::string_view flag) {
    const std::string& text = Value(flag);
    std::optional<uint32_t> value = ParseUint32(text);
    if (!value) {
      Fail(absl::StrCat("invalid value ", Quoted(text), " for ", flag,
                        ": expected a whole number 0..4294967295"));
    }
    return value;
  }

  std::optional<uint32_t> PositiveNumberFlag(absl::string_view flag) {
    const std::string& text = Value(flag);
    std::optional<uint32_t> value = ParseUint32(text);
    if (!value || *value == 0) {
      Fail(absl::StrCat("invalid value ", Quoted(text), " for ", flag,
                        ": expected a whole number 1..4294967295"));
      return std::nullopt;
    }
    return value;
  }

  void ApplyPortCreateFlags(PortSpecArgs* port) {
    if (!Has("--type")) {
      Fail("'port create': missing --type (vhost-user, vhost-kernel or vdpa)");
      return;
    }
    const std::string& type = Value("--type");
    const std::vector<absl::string_view>* allowed = nullptr;
    if (type == "vhost-user") {
      port->type = PortType::kVhostUser;
      allowed = &kVhostUserFlags;
    } else if (type == "vhost-kernel") {
      port->type = PortType::kVhostKernel;
      allowed = &kVhostKernelFlags;
    } else if (type == "vdpa") {
      port->type = PortType::kVdpa;
      allowed = &kVdpaFlags;
    } else {
      Fail(absl::StrCat("invalid value ", Quoted(type),
                        " for --type: expected vhost-user, vhost-kernel or vdpa"));
      return;
    }
    for (const auto& [flag, value] : flags_) {
      if (flag == "--type" || FindGlobalFlag(flag) != nullptr) continue;
      bool ok = false;
      for (absl::string_view name : *allowed) ok = ok || name == flag;
      if (!ok) {
        Fail(absl::StrCat("flag ", flag, " is not valid with --type ", type));
        return;
      }
    }

    if (Has("--queues")) {
      port->queues = NumberFlag("--queues");
      if (error_) return;
    }
    switch (port->type) {
      case PortType::kVhostUser:
        if (!Has("--socket")) {
          Fail("'port create --type vhost-user': missing --socket PATH");
          return;
        }
        port->socket_path = Value("--socket");
        if (Has("--mode")) {
          const std::string& mode = Value("--mode");
          if (mode == "server") {
            port->mode = SocketMode::kServer;
          } else if (mode == "client") {
            port->mode = SocketMode::kClient;
          } else {
            Fail(absl::StrCat("invalid value ", Quoted(mode),
                              " for --mode: expected server or client"));
            return;
          }
        }
        port->tso = Has("--tso");
        port->iommu_support = Has("--iommu-support");
        port->postcopy_support = Has("--postcopy-support");
        port->linear_buffer = Has("--linear-buffer");
        port->ext_buffer = Has("--ext-buffer");
        port->no_mrg_rxbuf = Has("--no-mrg-rxbuf");
        port->no_checksum = Has("--no-checksum");
        break;
      case PortType::kVhostKernel:
        if (Has("--tap")) port->tap_name = Value("--tap");
        if (Has("--netns")) port->netns = Value("--netns");
        if (Has("--mac")) port->mac = Value("--mac");
        if (Has("--mtu")) port->mtu = NumberFlag("--mtu");
        port->allow_plain_tap = Has("--allow-plain-tap");
        break;
      case PortType::kVdpa:
        if (!Has("--device")) {
          Fail("'port create --type vdpa': missing --device PATH_OR_NAME");
          return;
        }
        port->device = Value("--device");
        break;
    }
  }

  void ApplyPortsFlag(Command* command) {
    if (!Has("--ports")) {
      Fail("'xconnect create': missing --ports A,B");
      return;
    }
    const std::string& text = Value("--ports");
    std::vector<std::string> names = absl::StrSplit(text, ',');
    if (names.size() != 2 || names[0].empty() || names[1].empty()) {
      Fail(absl::StrCat("invalid value ", Quoted(text),
                        " for --ports: expected two port names separated by a comma (A,B)"));
      return;
    }
    command->port_a = names[0];
    command->port_b = names[1];
  }

  const std::vector<std::string>& args_;
  std::string group_;                        // first command word
  const CommandDef* command_ = nullptr;      // set once the verb is known
  std::optional<std::string> name_;          // the NAME argument
  std::map<std::string, std::string> flags_;  // flag -> value ("" for switches)
  std::optional<std::string> error_;
};

std::string BuildUsageText() {
  std::string out;
  AppendSynopsis("Usage: vhostctl ", kGeneralSynopsis, &out);
  absl::StrAppend(&out, "\nCommands:\n");
  for (const CommandDef& def : Commands()) {
    for (absl::string_view synopsis : def.synopses) AppendSynopsis("  ", synopsis, &out);
  }
  absl::StrAppend(
      &out,
      "  help\n"
      "\n"
      "Global flags:\n"
      "  --server unix:PATH  the daemon's gRPC socket (default: $", kServerEnvVar, " if set,\n"
      "                      else ", kDefaultServer, ")\n",
      "  -o table|json       output format (default: table)\n"
      "  --timeout SECONDS   deadline for the whole command, or for each refresh of a\n"
      "                      live view (default: 10)\n"
      "  -h, --help          show this help\n"
      "\n"
      "Live views: 'port stats NAME --watch' (per-queue rates of one port) and 'top'\n"
      "(busiest cores, and the --limit busiest ports, default 10) poll the daemon\n"
      "every --interval seconds (0.1 to 3600, default 1) until Ctrl-C, or --count N\n"
      "times. Rates are per second over the last interval (bps: bits per second;\n"
      "k, M, G: 10^3, 10^6, 10^9); the first refresh has no rates yet (\"-\"). On a\n"
      "terminal the view is redrawn in place; otherwise each refresh is printed as a\n"
      "block followed by a blank line, and with -o json as one JSON object per line.\n"
      "\n"
      "Flags are written \"--flag value\" or \"--flag=value\".\n"
      "Exit status: 0 on success, 1 if the daemon reported an error or could not be\n"
      "reached, 2 on a usage error.\n");
  return out;
}

}  // namespace

const std::string& UsageText() {
  static const auto* const text = new std::string(BuildUsageText());
  return *text;
}

ParseResult ParseArgs(const std::vector<std::string>& args) { return Parser(args).Parse(); }

bool IsLiveView(const Command& command) {
  return command.kind == CommandKind::kTop ||
         (command.kind == CommandKind::kPortStats && command.watch);
}

std::string ServerTarget(const Command& command, const char* env_server) {
  if (command.server) return *command.server;
  if (env_server != nullptr && env_server[0] != '\0') return env_server;
  return kDefaultServer;
}

}  // namespace vhostctl
