#include "client/cli_args.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/flag_values.h"

namespace vhostctl {
namespace {

constexpr uint32_t kMaxVlan = 4094;

// Lines of the usage text and synopses wrap before this column.
constexpr size_t kLineWidth = 80;

// What follows "vhostctl " in the general usage line.
const std::vector<std::string>& GeneralSynopsis() {
  static const auto* const items = new std::vector<std::string>{
      "[--server unix:PATH|HOST:PORT]", "[--tls-ca FILE --tls-cert FILE --tls-key FILE]",
      "[-o table|json]", "[--timeout SECONDS]", "COMMAND ..."};
  return *items;
}

// One flag: its name, the name of its value (null for a switch, which takes an
// optional "=true|false"), and a line of help.
struct FlagDef {
  const char* name;
  const char* value_name;
  const char* help;
  bool required = false;
};

// Flags accepted with every command (and before it).
const FlagDef kGlobalFlags[] = {
    {"--server", "unix:PATH",
     "the daemon's gRPC socket (default: $VHOSTD_SERVER if set, else "
     "unix:/run/vhostd/vhostd.sock)"},
    {"-o", "table|json", "output format (default: table)"},
    {"--timeout", "SECONDS",
     "deadline for the whole command, or for each refresh of a live view (default: 10)"},
    {"--tls-ca", "FILE",
     "with --server HOST:PORT: speak TLS, trusting the daemon's certificate if it chains "
     "to these PEM CA certificates"},
    {"--tls-cert", "FILE", "client certificate (PEM) for the daemon's mutual TLS"},
    {"--tls-key", "FILE", "private key (PEM) of --tls-cert"},
    {"--tls-server-name", "NAME",
     "name the daemon's certificate must carry (default: HOST of --server)"},
};

// One "GROUP VERB" command, or a one-word command (empty verb). The parser, the
// synopses and the usage text are all made from these.
struct CommandDef {
  const char* group;
  const char* verb;  // empty for a one-word command such as "top"
  CommandKind kind;
  bool takes_name;
  const char* help;
  std::vector<FlagDef> flags;
  const char* synopsis_tail = "";  // what the synopsis adds after the flags
  const char* name_word = "NAME";  // how the synopsis and errors call NAME
  std::vector<const char*> extra_args = {};  // positional words after NAME (Command::args)
};

const FlagDef kIntervalFlag = {"--interval", "SECONDS",
                               "seconds between refreshes, 0.1 to 3600 (default: 1)"};
const FlagDef kCountFlag = {"--count", "N", "stop after N refreshes (default: until Ctrl-C)"};
const FlagDef kAllowMissingFlag = {"--allow-missing", nullptr, "succeed if there is none"};

const std::vector<CommandDef>& Commands() {
  static const auto* const commands = new std::vector<CommandDef>{
      {"port", "create", CommandKind::kPortCreate, true,
       "Create a port. Its type's flags come from the type's spec message (ListPlugins); "
       "'vhostctl port create --type TYPE --help' lists them.",
       {{"--type", "TYPE", "the port type, a plugin of the daemon ('vhostctl plugin list')", true},
        {"--spec", "JSON",
         "the type's spec message in protobuf JSON; the type's flags override its fields"},
        {"--label", "KEY=VALUE",
         "a label of the port (orchestrator metadata, e.g. k8s.pod.name=web-0); again for each"}},
       "[TYPE FLAGS...]"},
      {"port", "get", CommandKind::kPortGet, true, "Show a port's spec and status.", {}},
      {"port", "delete", CommandKind::kPortDelete, true, "Delete a port.", {kAllowMissingFlag}},
      {"port", "list", CommandKind::kPortList, false, "List the ports.",
       {{"-l", "SELECTOR",
         "only ports whose labels match every comma-separated term: key=value, key!=value, "
         "key (present) or !key (absent)"}}},
      {"port", "stats", CommandKind::kPortStats, true,
       "Show a port's counters, per queue; with --watch, their rates, refreshed.",
       {{"--watch", nullptr, "a live view of the port's per-queue rates"},
        kIntervalFlag,
        kCountFlag}},
      {"xconnect", "create", CommandKind::kXconnectCreate, true,
       "Cross-connect two ports: what one receives, the other sends.",
       {{"--ports", "A,B", "the two ports", true}}},
      {"xconnect", "list", CommandKind::kXconnectList, false, "List the cross-connects.", {}},
      {"xconnect", "delete", CommandKind::kXconnectDelete, true, "Delete a cross-connect.",
       {kAllowMissingFlag}},
      {"bridge", "create", CommandKind::kBridgeCreate, true, "Create a learning bridge (no ports yet).",
       {{"--mac-table-size", "N", "most MAC addresses it learns (default: 2048)"},
        {"--mac-aging", "SECONDS", "how long an unseen address stays learned (default: 300)"}}},
      {"bridge", "get", CommandKind::kBridgeGet, true, "Show a bridge, its ports and counters.", {}},
      {"bridge", "delete", CommandKind::kBridgeDelete, true, "Delete a bridge; its ports stay, detached.",
       {kAllowMissingFlag}},
      {"bridge", "list", CommandKind::kBridgeList, false, "List the bridges.", {}},
      {"bridge", "add-port", CommandKind::kBridgeAddPort, true,
       "Attach a port to a bridge: with no VLAN rule, as an access port of one VLAN, or as a trunk.",
       {{"--vlan", "ID", "access port of VLAN ID (1..4094): untagged frames only"},
        {"--trunk", "IDS", "trunk of these VLANs (e.g. 10,20,100-199): tagged frames only"}},
       "", "BRIDGE", {"PORT"}},
      {"bridge", "del-port", CommandKind::kBridgeDelPort, true, "Detach a port from a bridge.", {}, "",
       "BRIDGE", {"PORT"}},
      {"bridge", "macs", CommandKind::kBridgeMacs, true, "Show the MAC addresses a bridge learned.", {}, "",
       "BRIDGE"},
      {"core", "list", CommandKind::kCoreList, false,
       "List the polling cores and their rx queues, with each queue's share of its core "
       "over the last minute (USAGE%), and how queues are placed.",
       {}},
      {"core", "pin", CommandKind::kCorePin, true,
       "Pin rx queue QUEUE of PORT to the polling core LCORE (an lcore of 'core list'). Kept "
       "in the daemon's state; the core polls pinned queues only unless isolation is off.",
       {}, "", "PORT", {"QUEUE", "LCORE"}},
      {"core", "unpin", CommandKind::kCoreUnpin, true, "Unpin rx queue QUEUE of PORT.",
       {kAllowMissingFlag}, "", "PORT", {"QUEUE"}},
      {"core", "rebalance", CommandKind::kCoreRebalance, false,
       "Spread the unpinned rx queues over the polling cores afresh, by the assignment mode "
       "and their measured load; prints the queues that move.",
       {{"--dry-run", nullptr, "only print the moves a rebalance would make"}}},
      {"core", "settings", CommandKind::kCoreSettings, false,
       "Show, or change until the daemon restarts, how rx queues are placed and how long idle "
       "cores sleep.",
       {{"--assign", "cycles|group|roundrobin", "the assignment mode (as OVS's pmd-rxq-assign)"},
        {"--isolate-pinned", nullptr, "cores with a pinned queue poll pinned queues only"},
        {"--sleep-max-us", "N", "an idle core sleeps up to N microseconds, 0..10000 (0: never)"}}},
      {"plugin", "list", CommandKind::kPluginList, false,
       "List the port types: the daemon's plugins.", {}},
      {"top", "", CommandKind::kTop, false, "A live view of the busiest cores and ports.",
       {kIntervalFlag, kCountFlag, {"--limit", "K", "ports shown, busiest first (default: 10)"}}},
      {"events", "", CommandKind::kEvents, false,
       "Print the daemon's events (ports, frontends, queues, features, cross-connects, "
       "bridges), one per line: the retained history, or with --since those after SEQ.",
       {{"--follow", nullptr, "keep printing new events until Ctrl-C"},
        {"--since", "SEQ", "only events after sequence number SEQ (0: the whole history)"},
        {"--instance", "ID", "the daemon instance SEQ came from: tells a restart apart"},
        {"--port", "NAME", "only events about port NAME"}}},
  };
  return *commands;
}

std::vector<std::string> GroupNames() {
  std::vector<std::string> groups;
  for (const CommandDef& def : Commands()) {
    if (def.verb[0] != '\0' && std::find(groups.begin(), groups.end(), def.group) == groups.end()) {
      groups.push_back(def.group);
    }
  }
  return groups;
}

std::vector<std::string> GroupVerbs(absl::string_view group) {
  std::vector<std::string> verbs;
  for (const CommandDef& def : Commands()) {
    if (def.group == group) verbs.push_back(def.verb);
  }
  return verbs;
}

// "port create", "top".
std::string CommandName(const CommandDef& def) {
  return absl::StrCat(def.group, def.verb[0] == '\0' ? "" : " ", def.verb);
}

// "port create NAME", "top": a command's words as its synopsis starts.
std::string CommandWords(const CommandDef& def) {
  std::string words = absl::StrCat(CommandName(def), def.takes_name ? absl::StrCat(" ", def.name_word) : "");
  for (const char* arg : def.extra_args) absl::StrAppend(&words, " ", arg);
  return words;
}

// "--interval SECONDS", "[--watch]": a flag as a synopsis shows it.
std::string FlagSynopsis(const FlagDef& flag) {
  std::string text = flag.value_name ? absl::StrCat(flag.name, " ", flag.value_name) : flag.name;
  return flag.required ? text : absl::StrCat("[", text, "]");
}

std::string TypeFlagSynopsis(const TypeFlag& flag) {
  std::string name = flag.names.front();
  if (flag.is_switch && !flag.false_names.empty() &&
      flag.false_names.front() == absl::StrCat("--no-", name.substr(2))) {
    name = absl::StrCat("--[no-]", name.substr(2));
  }
  return absl::StrCat("[", name, flag.is_switch ? "" : absl::StrCat(" ", flag.value_name),
                      flag.repeated ? "..." : "", "]");
}

// Lays out `items` after `prefix` in lines of at most kLineWidth, continuation lines
// indented `hang` columns more than `prefix` (under the command words of a synopsis). An item wider than a line gets a line of its own.
void AppendWrapped(absl::string_view prefix, const std::vector<std::string>& items,
                   std::string* out, size_t hang = 4) {
  const std::string indent(prefix.size() + hang, ' ');
  std::string line(prefix);
  bool line_has_item = false;
  for (const std::string& item : items) {
    if (line_has_item && line.size() + 1 + item.size() > kLineWidth) {
      absl::StrAppend(out, line, "\n");
      line = indent;
      line_has_item = false;
    }
    absl::StrAppend(&line, line_has_item ? " " : "", item);
    line_has_item = true;
  }
  absl::StrAppend(out, line, "\n");
}

// The pieces of a command's synopsis: its words, then each flag. `type_flags`: those
// of the port type being created (port create only), replacing "[TYPE FLAGS...]".
std::vector<std::string> SynopsisItems(const CommandDef& def, const std::string& type,
                                       const std::vector<TypeFlag>* type_flags) {
  std::vector<std::string> items = {CommandWords(def)};
  for (const FlagDef& flag : def.flags) {
    if (type_flags != nullptr && absl::string_view(flag.name) == "--type") {
      items.push_back(absl::StrCat("--type ", type));
    } else {
      items.push_back(FlagSynopsis(flag));
    }
  }
  if (type_flags != nullptr) {
    for (const TypeFlag& flag : *type_flags) items.push_back(TypeFlagSynopsis(flag));
  } else if (def.synopsis_tail[0] != '\0') {
    items.push_back(def.synopsis_tail);
  }
  return items;
}

std::string UsageLines(const std::vector<std::vector<std::string>>& synopses) {
  std::string out;
  for (const std::vector<std::string>& items : synopses) {
    AppendWrapped(out.empty() ? "usage: vhostctl " : "       vhostctl ", items, &out);
  }
  return out;
}

std::string GeneralUsage() { return UsageLines({GeneralSynopsis()}); }

std::string GroupUsage(absl::string_view group) {
  std::vector<std::vector<std::string>> synopses;
  for (const CommandDef& def : Commands()) {
    if (def.group == group) synopses.push_back(SynopsisItems(def, "", nullptr));
  }
  return UsageLines(synopses);
}

// Splits "-o=json" into "-o", "json": CLI11 would take "=json" as the value of a short
// flag. Stops at "--" (what follows is positional).
std::vector<std::string> NormalizeShortFlags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  bool positional_only = false;
  for (const std::string& arg : args) {
    positional_only = positional_only || arg == "--";
    if (!positional_only && arg.size() > 2 && arg[0] == '-' && arg[1] != '-' && arg[2] == '=') {
      out.push_back(arg.substr(0, 2));
      out.push_back(arg.substr(3));
    } else {
      out.push_back(arg);
    }
  }
  return out;
}

bool HasHelpFlag(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "--help") return true;
  }
  return false;
}

// "--name=": CLI11 would take the next argument as the value instead.
std::optional<std::string> EmptyInlineValue(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-' && arg.find('=') == arg.size() - 1) {
      return arg.substr(0, arg.size() - 1);
    }
  }
  return std::nullopt;
}

bool IsFlagLike(absl::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

// The flag's name in "--name=value".
std::string FlagName(absl::string_view arg) {
  return std::string(arg.substr(0, std::min(arg.find('='), arg.size())));
}

// The global flags as registered on one level of the command tree.
struct GlobalOptions {
  std::vector<CLI::Option*> options;  // parallel to kGlobalFlags
};

// One command of the tree and its flags.
struct Leaf {
  const CommandDef* def = nullptr;
  CLI::App* app = nullptr;
  CLI::Option* name_option = nullptr;
  std::string name;
  std::vector<CLI::Option*> extra_options;  // parallel to def->extra_args
  std::vector<std::string> extra_values;    // sized once: the options point into it
  std::map<std::string, CLI::Option*> flags;  // by FlagDef::name
  std::vector<CLI::Option*> type_options;     // port create: parallel to the type flags
};

class Parser {
 public:
  Parser(const std::vector<TypeFlag>* type_flags, bool help_mode)
      : type_flags_(type_flags), help_mode_(help_mode) {
    Build();
  }

  ParseResult Parse(const std::vector<std::string>& original_args,
                    const std::vector<std::string>& args) {
    ParseResult result;
    result.command.port.args = original_args;
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      root_.parse(reversed);
    } catch (const CLI::ParseError& e) {
      Fail(TranslateCliError(e));
    }
    if (!error_) Finish(&result.command);
    if (error_) result.error = UsageError{*error_, Synopsis()};
    return result;
  }

 private:
  // --- The command tree ------------------------------------------------------------

  static void Configure(CLI::App* app) {
    app->set_help_flag();  // -h/--help anywhere means help: ParseArgs looks for it first
    app->allow_extras();   // unknown arguments are reported by Finish, in our words
  }

  GlobalOptions AddGlobals(CLI::App* app) {
    GlobalOptions globals;
    for (const FlagDef& flag : kGlobalFlags) {
      globals.options.push_back(app->add_option(flag.name, flag.help)->take_all());
    }
    return globals;
  }

  static CLI::Option* AddFlag(CLI::App* app, const FlagDef& flag) {
    if (flag.value_name == nullptr) return app->add_flag(flag.name, flag.help)->take_all();
    return app->add_option(flag.name, flag.help)->take_all();
  }

  void Build() {
    Configure(&root_);
    // At most one command word per level: a port named "top" stays a name.
    root_.require_subcommand(0, 1);
    globals_.push_back(AddGlobals(&root_));
    std::map<std::string, CLI::App*> groups;
    for (const std::string& group : GroupNames()) {
      CLI::App* app = root_.add_subcommand(group);
      Configure(app);
      app->require_subcommand(0, 1);
      globals_.push_back(AddGlobals(app));
      groups[group] = app;
    }
    for (const CommandDef& def : Commands()) {
      auto leaf = std::make_unique<Leaf>();
      leaf->def = &def;
      CLI::App* parent = def.verb[0] == '\0' ? &root_ : groups.at(def.group);
      leaf->app = parent->add_subcommand(def.verb[0] == '\0' ? def.group : def.verb);
      Configure(leaf->app);
      globals_.push_back(AddGlobals(leaf->app));
      if (def.takes_name) leaf->name_option = leaf->app->add_option("NAME", leaf->name);
      leaf->extra_values.resize(def.extra_args.size());
      for (size_t i = 0; i < def.extra_args.size(); ++i) {
        leaf->extra_options.push_back(leaf->app->add_option(def.extra_args[i], leaf->extra_values[i]));
      }
      for (const FlagDef& flag : def.flags) leaf->flags[flag.name] = AddFlag(leaf->app, flag);
      if (def.kind == CommandKind::kPortCreate && type_flags_ != nullptr) AddTypeFlags(leaf.get());
      leaves_.push_back(std::move(leaf));
    }
    help_ = root_.add_subcommand("help");
    Configure(help_);
  }

  void AddTypeFlags(Leaf* leaf) {
    for (const TypeFlag& flag : *type_flags_) {
      std::vector<std::string> names = flag.names;
      for (const std::string& name : flag.false_names) names.push_back("!" + name);
      const std::string spelling = absl::StrJoin(names, ",");
      CLI::Option* option = flag.is_switch ? leaf->app->add_flag(spelling, flag.help)
                                           : leaf->app->add_option(spelling, flag.help);
      leaf->type_options.push_back(option->take_all());
    }
  }

  // --- Errors ------------------------------------------------------------------------

  void Fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }

  // CLI11's errors, in the words of the rest of vhostctl's messages where we know them.
  static std::string TranslateCliError(const CLI::ParseError& e) {
    const std::string what = e.what();
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr &&
        absl::StrContains(what, "required") && absl::StrContains(what, "missing")) {
      return absl::StrCat("flag ", what.substr(0, what.find(':')), " needs a value");
    }
    return what;
  }

  // The synopsis matching how far parsing got: the command, its group, or the general one.
  std::string Synopsis() const {
    if (leaf_ != nullptr) {
      return UsageLines({SynopsisItems(*leaf_->def, type_, type_flags_)});
    }
    if (group_ != nullptr) return GroupUsage(group_->get_name());
    return GeneralUsage();
  }

  std::string LeafName() const { return CommandName(*leaf_->def); }

  // A flag of some command given before the command words: say where it goes.
  std::string MisplacedFlag(const std::string& flag) const {
    for (const auto& leaf : leaves_) {
      if (leaf->flags.count(flag) > 0) {
        return absl::StrCat("flag ", flag, " must follow the command (e.g. '",
                            CommandWords(*leaf->def), " ", flag, " ...')");
      }
    }
    // Perhaps one of the port type's flags, which only the daemon knows.
    if (leaf_ != nullptr && leaf_->def->kind == CommandKind::kPortCreate) {
      return absl::StrCat("flag ", flag, " must follow the command (e.g. '",
                          CommandWords(*leaf_->def), " ", flag, " ...')");
    }
    return absl::StrCat("unknown flag ", flag);
  }

  // --- After parsing -----------------------------------------------------------------

  void FindCommand() {
    for (CLI::App* sub : root_.get_subcommands()) {
      if (sub == help_) {
        help_requested_ = true;
        return;
      }
      for (const auto& leaf : leaves_) {
        if (leaf->app == sub) leaf_ = leaf.get();
      }
      if (leaf_ == nullptr) {
        group_ = sub;
        for (CLI::App* verb : sub->get_subcommands()) {
          for (const auto& leaf : leaves_) {
            if (leaf->app == verb) leaf_ = leaf.get();
          }
        }
      }
    }
  }

  // Arguments nobody took, outermost level first (which is also how they came).
  void CheckLeftovers() {
    for (const std::string& arg : root_.remaining(false)) {
      if (IsFlagLike(arg)) return Fail(MisplacedFlag(FlagName(arg)));
      return Fail(absl::StrCat("unknown command ", Quoted(arg)));
    }
    if (group_ != nullptr) {
      std::vector<std::string> rest = group_->remaining(false);
      if (leaf_ == nullptr) {
        for (const std::string& arg : rest) {
          if (IsFlagLike(arg)) continue;
          return Fail(absl::StrCat("unknown ", group_->get_name(), " command ", Quoted(arg)));
        }
        return Fail(absl::StrCat("missing ", group_->get_name(), " command (",
                                 absl::StrJoin(GroupVerbs(group_->get_name()), ", "), ")"));
      }
      if (!rest.empty()) return LeafLeftover(rest.front());
    }
    if (leaf_ == nullptr) return Fail("missing command");
    const bool lenient = leaf_->def->kind == CommandKind::kPortCreate && type_flags_ == nullptr;
    if (lenient) return;  // the type's flags: parsed again once known
    std::vector<std::string> rest = leaf_->app->remaining(false);
    if (!rest.empty()) LeafLeftover(rest.front());
  }

  void LeafLeftover(const std::string& arg) {
    if (!IsFlagLike(arg)) {
      return Fail(absl::StrCat("unexpected argument ", Quoted(arg), " for '", LeafName(), "'"));
    }
    if (leaf_->def->kind == CommandKind::kPortCreate) {
      return Fail(absl::StrCat("unknown flag ", FlagName(arg), " for --type ", type_));
    }
    Fail(absl::StrCat("unknown flag ", FlagName(arg), " for '", LeafName(), "'"));
  }

  // The one value of a flag given at most once; nullopt when not given.
  std::optional<std::string> Single(const std::string& flag,
                                    const std::vector<std::string>& values) {
    if (values.size() > 1) Fail(absl::StrCat("flag ", flag, " given more than once"));
    if (values.empty()) return std::nullopt;
    return values.front();
  }

  std::optional<std::string> LeafValue(const std::string& flag) {
    return Single(flag, leaf_->flags.at(flag)->results());
  }

  // A switch: "--watch" (or "--watch=BOOL").
  bool LeafSwitch(const std::string& flag) {
    std::optional<std::string> value = LeafValue(flag);
    if (!value) return false;
    std::optional<bool> on = ParseBool(*value);
    if (!on) {
      Fail(absl::StrCat("invalid value ", Quoted(*value), " for ", flag,
                        ": expected true or false"));
      return false;
    }
    return *on;
  }

  void Finish(Command* command) {
    FindCommand();
    if (help_requested_) {
      command->kind = CommandKind::kHelp;
      return;
    }
    if (leaf_ != nullptr && leaf_->def->kind == CommandKind::kPortCreate) {
      // Early: messages about the type's flags name it.
      std::optional<std::string> type = LeafValue("--type");
      if (type) type_ = *type;
      command->port.type = type_;
    }
    CheckLeftovers();
    if (error_) return;
    command->kind = leaf_->def->kind;
    ApplyGlobalFlags(command);
    if (error_) return;
    // Help needs neither the name nor the required flags.
    if (help_mode_) return;
    if (leaf_->def->takes_name) {
      if (leaf_->name_option->count() == 0) {
        return Fail(absl::StrCat("'", LeafName(), "': missing ", leaf_->def->name_word));
      }
      if (leaf_->name.empty()) {
        return Fail(absl::StrCat("'", LeafName(), "': ", leaf_->def->name_word, " must not be empty"));
      }
      command->name = leaf_->name;
    }
    for (size_t i = 0; i < leaf_->extra_options.size(); ++i) {
      const char* word = leaf_->def->extra_args[i];
      if (leaf_->extra_options[i]->count() == 0) return Fail(absl::StrCat("'", LeafName(), "': missing ", word));
      if (leaf_->extra_values[i].empty()) {
        return Fail(absl::StrCat("'", LeafName(), "': ", word, " must not be empty"));
      }
      command->args.push_back(leaf_->extra_values[i]);
    }
    for (const FlagDef& flag : leaf_->def->flags) {
      if (flag.required && leaf_->flags.at(flag.name)->count() == 0) {
        return Fail(absl::StrCat("'", LeafName(), "': missing ", flag.name, " ", flag.value_name));
      }
    }
    ApplyCommandFlags(command);
  }

  void ApplyCommandFlags(Command* command) {
    switch (leaf_->def->kind) {
      case CommandKind::kPortCreate:
        return ApplyPortCreateFlags(command);
      case CommandKind::kPortDelete:
      case CommandKind::kXconnectDelete:
      case CommandKind::kBridgeDelete:
        command->allow_missing = LeafSwitch("--allow-missing");
        return;
      case CommandKind::kBridgeCreate:
        return ApplyBridgeCreateFlags(command);
      case CommandKind::kBridgeAddPort:
        return ApplyVlanFlags(command);
      case CommandKind::kXconnectCreate:
        return ApplyPortsFlag(command);
      case CommandKind::kPortList:
        command->label_selector = LeafValue("-l").value_or("");
        return;
      case CommandKind::kPortStats:
        command->watch = LeafSwitch("--watch");
        if (!command->watch) {
          for (const char* flag : {"--interval", "--count"}) {
            if (leaf_->flags.at(flag)->count() > 0) {
              return Fail(absl::StrCat("flag ", flag,
                                       " needs --watch ('port stats NAME --watch ", flag,
                                       " ...')"));
            }
          }
        }
        return ApplyLiveFlags(command);
      case CommandKind::kTop:
        return ApplyLiveFlags(command);
      case CommandKind::kEvents:
        return ApplyEventsFlags(command);
      case CommandKind::kCorePin:
      case CommandKind::kCoreUnpin:
        return ApplyQueueOperands(command);
      case CommandKind::kCoreRebalance:
        command->dry_run = LeafSwitch("--dry-run");
        return;
      case CommandKind::kCoreSettings:
        return ApplyCoreSettingsFlags(command);
      default:
        return;
    }
  }

  // Every level's values of the global flag kGlobalFlags[index].
  std::vector<std::string> GlobalValues(size_t index) const {
    std::vector<std::string> values;
    for (const GlobalOptions& level : globals_) {
      for (const std::string& value : level.options[index]->results()) values.push_back(value);
    }
    return values;
  }

  void ApplyGlobalFlags(Command* command) {
    if (std::optional<std::string> server = Single("--server", GlobalValues(0))) {
      command->server = *server;
    }
    if (std::optional<std::string> format = Single("-o", GlobalValues(1))) {
      if (*format == "table") {
        command->output = OutputFormat::kTable;
      } else if (*format == "json") {
        command->output = OutputFormat::kJson;
      } else {
        return Fail(
            absl::StrCat("invalid value ", Quoted(*format), " for -o: expected table or json"));
      }
    }
    if (std::optional<std::string> text = Single("--timeout", GlobalValues(2))) {
      std::optional<double> seconds = ParseFiniteDouble(*text);
      if (!seconds || *seconds <= 0) {
        return Fail(absl::StrCat("invalid value ", Quoted(*text),
                                 " for --timeout: expected a positive number of seconds"));
      }
      command->timeout = absl::Seconds(*seconds);
    }
    ApplyTlsFlags(command);
  }

  // --tls-*: all of them for a TCP target only; a certificate goes with its key.
  void ApplyTlsFlags(Command* command) {
    const char* names[] = {"--tls-ca", "--tls-cert", "--tls-key", "--tls-server-name"};
    std::optional<std::string>* fields[] = {&command->tls.ca, &command->tls.cert, &command->tls.key,
                                            &command->tls.server_name};
    for (size_t i = 0; i < 4; ++i) {
      *fields[i] = Single(names[i], GlobalValues(3 + i));
      if (error_) return;
      if (*fields[i] && command->server && absl::StartsWith(*command->server, "unix:")) {
        return Fail(absl::StrCat(names[i], ": TLS is for --server HOST:PORT, not a unix: socket"));
      }
    }
    if (command->tls.cert.has_value() != command->tls.key.has_value()) {
      return Fail(command->tls.cert ? "--tls-cert: needs --tls-key" : "--tls-key: needs --tls-cert");
    }
  }

  std::optional<uint32_t> PositiveNumberFlag(const std::string& flag, const std::string& text) {
    std::optional<uint64_t> value = ParseUint64(text, UINT32_MAX);
    if (!value || *value == 0) {
      Fail(absl::StrCat("invalid value ", Quoted(text), " for ", flag,
                        ": expected a whole number 1..4294967295"));
      return std::nullopt;
    }
    return static_cast<uint32_t>(*value);
  }

  // --interval, --count and --limit of the live views (where the command has them).
  void ApplyLiveFlags(Command* command) {
    if (std::optional<std::string> text = LeafValue("--interval")) {
      std::optional<double> seconds = ParseFiniteDouble(*text);
      if (!seconds || *seconds < absl::ToDoubleSeconds(kMinInterval) ||
          *seconds > absl::ToDoubleSeconds(kMaxInterval)) {
        return Fail(absl::StrCat("invalid value ", Quoted(*text), " for --interval: expected ",
                                 absl::ToDoubleSeconds(kMinInterval), " to ",
                                 absl::ToDoubleSeconds(kMaxInterval), " seconds"));
      }
      // At most 3600 s: the conversion cannot overflow. Round to whole microseconds so
      // that "0.1" is exactly 100ms.
      command->interval = absl::Microseconds(std::llround(*seconds * 1e6));
    }
    if (std::optional<std::string> text = LeafValue("--count")) {
      command->count = PositiveNumberFlag("--count", *text);
    }
    if (leaf_->flags.count("--limit") > 0) {
      if (std::optional<std::string> text = LeafValue("--limit")) {
        if (std::optional<uint32_t> limit = PositiveNumberFlag("--limit", *text)) {
          command->limit = *limit;
        }
      }
    }
  }

  void ApplyEventsFlags(Command* command) {
    command->follow = LeafSwitch("--follow");
    command->instance_id = LeafValue("--instance").value_or("");
    command->event_port = LeafValue("--port").value_or("");
    if (std::optional<std::string> text = LeafValue("--since")) {
      command->since = ParseUint64(*text, UINT64_MAX);
      if (!command->since) {
        return Fail(absl::StrCat("invalid value ", Quoted(*text), " for --since: expected a sequence number"));
      }
    }
    if (!command->instance_id.empty() && !command->since) return Fail("flag --instance needs --since");
  }

  // A whole number flag the daemon checks the range of; nullopt if not given.
  std::optional<uint32_t> NumberFlag(const std::string& flag) {
    std::optional<std::string> text = LeafValue(flag);
    if (!text) return std::nullopt;
    std::optional<uint64_t> value = ParseUint64(*text, UINT32_MAX);
    if (!value) Fail(absl::StrCat("invalid value ", Quoted(*text), " for ", flag, ": expected a whole number"));
    return value;
  }

  void ApplyBridgeCreateFlags(Command* command) {
    command->mac_table_size = NumberFlag("--mac-table-size");
    command->mac_aging_seconds = NumberFlag("--mac-aging");
  }

  void ApplyVlanFlags(Command* command) {
    command->access_vlan = NumberFlag("--vlan");
    if (std::optional<std::string> text = LeafValue("--trunk")) {
      if (command->access_vlan) return Fail("flags --vlan and --trunk exclude each other");
      command->trunk_vlans = ParseVlanList(*text);
      if (!command->trunk_vlans) {
        Fail(absl::StrCat("invalid value ", Quoted(*text), " for --trunk: expected VLAN IDs and ranges ",
                          "of 1..4094 separated by commas (10,20,100-199)"));
      }
    }
  }

  // A whole number 0..UINT32_MAX given for `what` (an operand or flag).
  std::optional<uint32_t> NumberArg(const std::string& what, const std::string& text) {
    std::optional<uint64_t> value = ParseUint64(text, UINT32_MAX);
    if (!value) Fail(absl::StrCat("invalid value ", Quoted(text), " for ", what, ": expected a whole number"));
    return value ? std::optional<uint32_t>(static_cast<uint32_t>(*value)) : std::nullopt;
  }

  // core pin PORT QUEUE LCORE, core unpin PORT QUEUE [--allow-missing].
  void ApplyQueueOperands(Command* command) {
    std::optional<uint32_t> queue = NumberArg("QUEUE", command->args.at(0));
    if (!queue) return;
    command->queue = *queue;
    if (leaf_->def->kind == CommandKind::kCoreUnpin) {
      command->allow_missing = LeafSwitch("--allow-missing");
      return;
    }
    if (std::optional<uint32_t> lcore = NumberArg("LCORE", command->args.at(1))) command->lcore = *lcore;
  }

  void ApplyCoreSettingsFlags(Command* command) {
    if (std::optional<std::string> mode = LeafValue("--assign")) {
      if (*mode != "cycles" && *mode != "group" && *mode != "roundrobin") {
        return Fail(absl::StrCat("invalid value ", Quoted(*mode), " for --assign: expected cycles, group or roundrobin"));
      }
      command->assign_mode = *mode;
    }
    if (leaf_->flags.at("--isolate-pinned")->count() > 0) command->isolate_pinned = LeafSwitch("--isolate-pinned");
    if (std::optional<std::string> text = LeafValue("--sleep-max-us")) {
      command->sleep_max_us = NumberArg("--sleep-max-us", *text);
    }
  }

  void ApplyPortsFlag(Command* command) {
    const std::string text = LeafValue("--ports").value_or("");
    std::vector<std::string> names = absl::StrSplit(text, ',');
    if (names.size() != 2 || names[0].empty() || names[1].empty()) {
      return Fail(absl::StrCat("invalid value ", Quoted(text),
                               " for --ports: expected two port names separated by a comma (A,B)"));
    }
    command->port_a = names[0];
    command->port_b = names[1];
  }

  // --label KEY=VALUE, each key once. The daemon checks what keys and values may be.
  void ApplyLabelFlags(PortCreateArgs* port) {
    for (const std::string& text : leaf_->flags.at("--label")->results()) {
      const size_t equals = text.find('=');
      if (equals == std::string::npos || equals == 0) {
        return Fail(absl::StrCat("invalid value ", Quoted(text), " for --label: expected KEY=VALUE"));
      }
      std::string key = text.substr(0, equals);
      if (!port->labels.emplace(key, text.substr(equals + 1)).second) {
        return Fail(absl::StrCat("flag --label: key ", Quoted(key), " given more than once"));
      }
    }
  }

  void ApplyPortCreateFlags(Command* command) {
    PortCreateArgs& port = command->port;
    port.type = type_;
    port.spec_json = LeafValue("--spec");
    ApplyLabelFlags(&port);
    if (error_ || type_flags_ == nullptr) return;
    port.type_flags_parsed = true;
    for (size_t i = 0; i < type_flags_->size(); ++i) {
      const std::vector<std::string>& values = leaf_->type_options[i]->results();
      if (values.empty()) continue;
      if (values.size() > 1 && !(*type_flags_)[i].repeated) {
        return Fail(absl::StrCat("flag ", (*type_flags_)[i].names.front(), " given more than once"));
      }
      port.type_flags.push_back({i, values});
    }
  }

  CLI::App root_{"vhostctl"};
  CLI::App* help_ = nullptr;
  std::vector<GlobalOptions> globals_;        // root, groups, commands
  std::vector<std::unique_ptr<Leaf>> leaves_;  // parallel to Commands()
  const std::vector<TypeFlag>* type_flags_;
  const bool help_mode_;

  CLI::App* group_ = nullptr;  // the group chosen, if any
  Leaf* leaf_ = nullptr;       // the command chosen, if any
  bool help_requested_ = false;
  std::string type_;           // port create --type
  std::optional<std::string> error_;
};

// With -h/--help: the type's flags for "port create --type TYPE --help" (which the
// caller asks the daemon for), else the full usage text.
ParseResult ParseHelp(const std::vector<std::string>& original_args,
                      const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  for (const std::string& arg : args) {
    if (arg != "-h" && arg != "--help") rest.push_back(arg);
  }
  ParseResult result;
  ParseResult parsed = Parser(nullptr, /*help_mode=*/true).Parse(original_args, rest);
  // Even after a usage error: the type's help is what was asked for.
  if (!parsed.command.port.type.empty()) {
    result.command = parsed.command;
    result.command.kind = CommandKind::kPortCreate;
    result.command.port.help = true;
  }
  return result;  // kHelp unless the above
}

std::string BuildUsageText() {
  std::string out;
  AppendWrapped("Usage: vhostctl ", GeneralSynopsis(), &out);
  absl::StrAppend(&out, "\nCommands:\n");
  for (const CommandDef& def : Commands()) {
    AppendWrapped("  ", SynopsisItems(def, "", nullptr), &out);
    AppendWrapped("      ", absl::StrSplit(def.help, ' '), &out, 0);
    for (const FlagDef& flag : def.flags) {
      std::vector<std::string> words = absl::StrSplit(flag.help, ' ');
      std::string head = absl::StrCat("      ", flag.name,
                                      flag.value_name ? absl::StrCat(" ", flag.value_name) : "");
      head.resize(std::max<size_t>(head.size() + 2, 26), ' ');
      AppendWrapped(head, words, &out, 0);
    }
  }
  absl::StrAppend(&out, "  help\n      Show this help.\n\nGlobal flags:\n");
  for (const FlagDef& flag : kGlobalFlags) {
    std::string head = absl::StrCat("  ", flag.name, " ", flag.value_name);
    head.resize(std::max<size_t>(head.size() + 2, 22), ' ');
    AppendWrapped(head, absl::StrSplit(flag.help, ' '), &out, 0);
  }
  absl::StrAppend(
      &out,
      "  -h, --help          show this help; 'port create --type TYPE --help' lists\n"
      "                      the flags of TYPE (which the daemon's plugin defines)\n"
      "\n"
      "Port type flags: one per field of the type's spec message, named after the\n"
      "field ('_' becomes '-'): '--socket-path PATH'. A field ending in _path or _name\n"
      "also goes without it ('--socket'); a bool is a switch ('--tso', '--tso=false',\n"
      "'--no-tso'), and 'disable_x' is also '--no-x'. Enum values are case-insensitive,\n"
      "with or without their common prefix ('--mode client'). A repeated field takes\n"
      "its flag again for each element. Messages and maps only go in --spec, which\n"
      "takes the whole spec in protobuf JSON ('{\"socketPath\": \"vm1.sock\"}').\n"
      "\n"
      "Live views: 'port stats NAME --watch' (per-queue rates of one port) and 'top'\n"
      "(busiest cores, and the --limit busiest ports, default 10) poll the daemon\n"
      "every --interval seconds (0.1 to 3600, default 1) until Ctrl-C, or --count N\n"
      "times. Rates are per second over the last interval (bps: bits per second;\n"
      "k, M, G: 10^3, 10^6, 10^9); the first refresh has no rates yet (\"-\"). On a\n"
      "terminal the view is redrawn in place; otherwise each refresh is printed as a\n"
      "block followed by a blank line, and with -o json as one JSON object per line\n"
      "(protobuf's JSON of vhostctl.v1.PortWatchFrame or vhostctl.v1.TopFrame).\n"
      "\n"
      "-o json prints protobuf's JSON mapping of the daemon's answer; a plugin's\n"
      "messages (google.protobuf.Any) show as {\"@type\": ..., fields}.\n"
      "Exit status: 0 on success, 1 if the daemon reported an error or could not be\n"
      "reached, 2 on a usage error.\n");
  return out;
}

}  // namespace

const std::string& UsageText() {
  static const auto* const text = new std::string(BuildUsageText());
  return *text;
}

std::string FormatUsageError(const UsageError& error) {
  return absl::StrCat("vhostctl: ", error.message, "\n", error.synopsis,
                      "Run 'vhostctl --help' for the full usage.\n");
}

ParseResult ParseArgs(const std::vector<std::string>& args,
                      const std::vector<TypeFlag>* type_flags) {
  const std::vector<std::string> normalized = NormalizeShortFlags(args);
  if (HasHelpFlag(normalized)) return ParseHelp(args, normalized);
  if (std::optional<std::string> flag = EmptyInlineValue(normalized)) {
    ParseResult result;
    result.error = UsageError{absl::StrCat("flag ", *flag, " needs a non-empty value"),
                              GeneralUsage()};
    return result;
  }
  return Parser(type_flags, /*help_mode=*/false).Parse(args, normalized);
}

std::string PortCreateSynopsis(const std::string& type, const std::vector<TypeFlag>* type_flags) {
  for (const CommandDef& def : Commands()) {
    if (def.kind == CommandKind::kPortCreate) return UsageLines({SynopsisItems(def, type, type_flags)});
  }
  return "";
}

bool IsPortCreateOwnFlag(const std::string& spelling) {
  if (spelling == "-h" || spelling == "--help") return true;
  for (const FlagDef& flag : kGlobalFlags) {
    if (spelling == flag.name) return true;
  }
  for (const CommandDef& def : Commands()) {
    if (def.kind != CommandKind::kPortCreate) continue;
    for (const FlagDef& flag : def.flags) {
      if (spelling == flag.name) return true;
    }
  }
  return false;
}

std::optional<std::vector<uint32_t>> ParseVlanList(const std::string& text) {
  std::vector<uint32_t> vlans;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> bounds = absl::StrSplit(item, absl::MaxSplits('-', 1));
    std::optional<uint64_t> first = ParseUint64(bounds[0], UINT32_MAX);
    if (!first) return std::nullopt;
    if (bounds.size() == 1) {
      vlans.push_back(static_cast<uint32_t>(*first));
      continue;
    }
    std::optional<uint64_t> last = ParseUint64(bounds[1], kMaxVlan);
    if (*first < 1 || !last || *last < *first) return std::nullopt;
    for (uint64_t v = *first; v <= *last; ++v) vlans.push_back(static_cast<uint32_t>(v));
  }
  return vlans;
}

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
