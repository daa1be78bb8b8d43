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

// One "GROUP VERB" command.
struct CommandDef {
  absl::string_view group;
  absl::string_view verb;
  CommandKind kind;
  bool takes_name;
  std::vector<FlagDef> flags;
  // What follows "vhostctl "; a long one continues on further lines ('\n').
  std::vector<absl::string_view> synopses;
};

// "port create" flags, per --type. --queues is shared by all types.
const std::vector<absl::string_view> kVhostUserFlags = {
    "--socket", "--mode", "--queues", "--tso", "--iommu-support", "--postcopy-support",
    "--linear-buffer", "--ext-buffer"};
const std::vector<absl::string_view> kVhostKernelFlags = {"--tap", "--netns", "--queues",
                                                          "--mac", "--mtu"};
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
        {"--tap", true},
        {"--netns", true},
        {"--mac", true},
        {"--mtu", true},
        {"--device", true}},
       {"port create NAME --type vhost-user --socket PATH\n"
        "[--mode server|client] [--queues N] [--tso]\n"
        "[--iommu-support] [--postcopy-support]\n"
        "[--linear-buffer] [--ext-buffer]",
        "port create NAME --type vhost-kernel [--tap IFNAME]\n"
        "[--netns PATH] [--queues N] [--mac MAC] [--mtu N]",
        "port create NAME --type vdpa --device PATH_OR_NAME [--queues N]"}},
      {"port", "get", CommandKind::kPortGet, true, {}, {"port get NAME"}},
      {"port",
       "delete",
       CommandKind::kPortDelete,
       true,
       {{"--allow-missing", false}},
       {"port delete NAME [--allow-missing]"}},
      {"port", "list", CommandKind::kPortList, false, {}, {"port list"}},
      {"port", "stats", CommandKind::kPortStats, true, {}, {"port stats NAME"}},
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

bool IsCommandFlagOfAnyCommand(absl::string_view name) {
  for (const CommandDef& def : Commands()) {
    if (FindFlag(def.flags, name) != nullptr) return true;
  }
  return false;
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
    return absl::StrCat(command_->group, " ", command_->verb);
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
      } else if (IsCommandFlagOfAnyCommand(name)) {
        Fail(absl::StrCat("flag ", name, " must follow the command (e.g. 'port create NAME ",
                          name, " ...')"));
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
      double seconds = 0;
      if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) || seconds <= 0 ||
          absl::StripAsciiWhitespace(text) != text) {
        Fail(absl::StrCat("invalid value ", Quoted(text),
                          " for --timeout: expected a positive number of seconds"));
        return;
      }
      command->timeout = absl::Seconds(seconds);
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
        break;
      case PortType::kVhostKernel:
        if (Has("--tap")) port->tap_name = Value("--tap");
        if (Has("--netns")) port->netns = Value("--netns");
        if (Has("--mac")) port->mac = Value("--mac");
        if (Has("--mtu")) port->mtu = NumberFlag("--mtu");
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
      "  --timeout SECONDS   deadline for the whole command (default: 10)\n"
      "  -h, --help          show this help\n"
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

std::string ServerTarget(const Command& command, const char* env_server) {
  if (command.server) return *command.server;
  if (env_server != nullptr && env_server[0] != '\0') return env_server;
  return kDefaultServer;
}

}  // namespace vhostctl
