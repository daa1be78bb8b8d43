#include "client/cli_args.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using Args = std::vector<std::string>;

// Parses `args`, expecting success.
Command Parse(const Args& args) {
  ParseResult result = ParseArgs(args);
  EXPECT_TRUE(result.ok()) << "unexpected usage error: " << result.error->message;
  return result.command;
}

// Parses `args`, expecting a usage error.
UsageError ParseError(const Args& args) {
  ParseResult result = ParseArgs(args);
  EXPECT_FALSE(result.ok()) << "expected a usage error";
  return result.error.value_or(UsageError{});
}

// --- Every command ------------------------------------------------------------------

struct KindCase {
  Args args;
  CommandKind kind;
};

class CommandKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(CommandKindTest, ParsesToItsKind) {
  EXPECT_EQ(Parse(GetParam().args).kind, GetParam().kind);
}

INSTANTIATE_TEST_SUITE_P(
    AllCommands, CommandKindTest,
    ::testing::Values(
        KindCase{{"port", "create", "vm1", "--type", "vhost-user", "--socket", "/s"},
                 CommandKind::kPortCreate},
        KindCase{{"port", "create", "vm1", "--type", "vhost-kernel"}, CommandKind::kPortCreate},
        KindCase{{"port", "create", "vm1", "--type", "vdpa", "--device", "vdpa0"},
                 CommandKind::kPortCreate},
        KindCase{{"port", "get", "vm1"}, CommandKind::kPortGet},
        KindCase{{"port", "delete", "vm1"}, CommandKind::kPortDelete},
        KindCase{{"port", "list"}, CommandKind::kPortList},
        KindCase{{"port", "stats", "vm1"}, CommandKind::kPortStats},
        KindCase{{"xconnect", "create", "x1", "--ports", "a,b"}, CommandKind::kXconnectCreate},
        KindCase{{"xconnect", "list"}, CommandKind::kXconnectList},
        KindCase{{"xconnect", "delete", "x1"}, CommandKind::kXconnectDelete},
        KindCase{{"core", "list"}, CommandKind::kCoreList},
        KindCase{{"core", "pin", "vm1", "0", "2"}, CommandKind::kCorePin},
        KindCase{{"core", "unpin", "vm1", "0"}, CommandKind::kCoreUnpin},
        KindCase{{"core", "rebalance", "--dry-run"}, CommandKind::kCoreRebalance},
        KindCase{{"core", "settings"}, CommandKind::kCoreSettings},
        KindCase{{"plugin", "list"}, CommandKind::kPluginList},
        KindCase{{"port", "stats", "vm1", "--watch"}, CommandKind::kPortStats},
        KindCase{{"top"}, CommandKind::kTop},
        KindCase{{"top", "--help"}, CommandKind::kHelp},
        KindCase{{"help"}, CommandKind::kHelp},
        KindCase{{"--help"}, CommandKind::kHelp},
        KindCase{{"-h"}, CommandKind::kHelp},
        KindCase{{"help", "port"}, CommandKind::kHelp},
        KindCase{{"port", "create", "--help"}, CommandKind::kHelp},
        KindCase{{"port", "frob", "-h"}, CommandKind::kHelp},
        KindCase{{"--server", "unix:/s", "--help"}, CommandKind::kHelp}));

TEST(ParseArgsTest, NameCommandsKeepTheName) {
  EXPECT_EQ(Parse({"port", "get", "vm1"}).name, "vm1");
  EXPECT_EQ(Parse({"port", "delete", "vm2"}).name, "vm2");
  EXPECT_EQ(Parse({"port", "stats", "vm3"}).name, "vm3");
  EXPECT_EQ(Parse({"xconnect", "delete", "x1"}).name, "x1");
  EXPECT_EQ(Parse({"xconnect", "create", "x2", "--ports", "a,b"}).name, "x2");
  EXPECT_EQ(Parse({"port", "create", "vm4", "--type", "vdpa", "--device", "d"}).name, "vm4");
}

TEST(ParseArgsTest, DeleteAllowMissing) {
  EXPECT_FALSE(Parse({"port", "delete", "vm1"}).allow_missing);
  EXPECT_TRUE(Parse({"port", "delete", "vm1", "--allow-missing"}).allow_missing);
  EXPECT_TRUE(Parse({"port", "delete", "--allow-missing", "vm1"}).allow_missing);
  EXPECT_FALSE(Parse({"xconnect", "delete", "x1"}).allow_missing);
  EXPECT_TRUE(Parse({"xconnect", "delete", "x1", "--allow-missing"}).allow_missing);
}

TEST(ParseArgsTest, SwitchesTakeAnOptionalBool) {
  EXPECT_TRUE(Parse({"port", "delete", "vm1", "--allow-missing=true"}).allow_missing);
  EXPECT_FALSE(Parse({"port", "delete", "vm1", "--allow-missing=false"}).allow_missing);
  EXPECT_TRUE(Parse({"xconnect", "delete", "x1", "--allow-missing=yes"}).allow_missing);
  EXPECT_THAT(ParseError({"port", "delete", "vm1", "--allow-missing=maybe"}).message,
              AllOf(HasSubstr("--allow-missing"), HasSubstr("'maybe'"), HasSubstr("true or false")));
  EXPECT_THAT(ParseError({"port", "delete", "vm1", "--allow-missing", "--allow-missing"}).message,
              AllOf(HasSubstr("--allow-missing"), HasSubstr("more than once")));
}

TEST(ParseArgsTest, AllowMissingOnlyOnDelete) {
  EXPECT_THAT(ParseError({"port", "get", "vm1", "--allow-missing"}).message,
              AllOf(HasSubstr("unknown flag --allow-missing"), HasSubstr("port get")));
}

// --- Global flags -----------------------------------------------------------------

TEST(GlobalFlagsTest, Defaults) {
  Command command = Parse({"port", "list"});
  EXPECT_FALSE(command.server.has_value());
  EXPECT_EQ(command.output, OutputFormat::kTable);
  EXPECT_EQ(command.timeout, absl::Seconds(10));
}

TEST(GlobalFlagsTest, BeforeTheCommand) {
  Command command =
      Parse({"--server", "unix:/tmp/v.sock", "-o", "json", "--timeout", "2.5", "port", "list"});
  EXPECT_EQ(command.server, "unix:/tmp/v.sock");
  EXPECT_EQ(command.output, OutputFormat::kJson);
  EXPECT_EQ(command.timeout, absl::Milliseconds(2500));
  EXPECT_EQ(command.kind, CommandKind::kPortList);
}

TEST(GlobalFlagsTest, TlsToATcpServer) {
  Command command = Parse({"--server", "10.0.0.1:50051", "--tls-ca", "ca.pem", "--tls-cert", "c.pem",
                           "--tls-key", "k.pem", "--tls-server-name", "node1", "port", "list"});
  EXPECT_EQ(command.tls.ca, "ca.pem");
  EXPECT_EQ(command.tls.cert, "c.pem");
  EXPECT_EQ(command.tls.key, "k.pem");
  EXPECT_EQ(command.tls.server_name, "node1");
  EXPECT_TRUE(command.tls.any());
  EXPECT_FALSE(Parse({"port", "list"}).tls.any());
}

TEST(GlobalFlagsTest, TlsFlagsThatDoNotFit) {
  EXPECT_THAT(ParseError({"--server", "unix:/a.sock", "--tls-ca", "ca.pem", "port", "list"}).message,
              HasSubstr("--tls-ca: TLS is for --server HOST:PORT, not a unix: socket"));
  EXPECT_THAT(ParseError({"--server", "h:1", "--tls-cert", "c.pem", "port", "list"}).message,
              HasSubstr("--tls-cert: needs --tls-key"));
  EXPECT_THAT(ParseError({"--server", "h:1", "--tls-key", "k.pem", "port", "list"}).message,
              HasSubstr("--tls-key: needs --tls-cert"));
}

TEST(GlobalFlagsTest, EqualsForm) {
  Command command = Parse({"--server=unix:/a=b.sock", "-o=json", "--timeout=3", "core", "list"});
  EXPECT_EQ(command.server, "unix:/a=b.sock");  // only the first '=' splits
  EXPECT_EQ(command.output, OutputFormat::kJson);
  EXPECT_EQ(command.timeout, absl::Seconds(3));
}

TEST(GlobalFlagsTest, AlsoAcceptedAfterTheCommand) {
  Command command = Parse({"port", "get", "vm1", "-o", "json", "--server", "unix:/x"});
  EXPECT_EQ(command.output, OutputFormat::kJson);
  EXPECT_EQ(command.server, "unix:/x");
  EXPECT_EQ(command.name, "vm1");
}

TEST(GlobalFlagsTest, TableOutput) {
  EXPECT_EQ(Parse({"-o", "table", "plugin", "list"}).output, OutputFormat::kTable);
}

TEST(GlobalFlagsTest, BadOutputFormat) {
  UsageError error = ParseError({"-o", "yaml", "port", "list"});
  EXPECT_THAT(error.message, AllOf(HasSubstr("-o"), HasSubstr("'yaml'")));
}

TEST(GlobalFlagsTest, BadTimeouts) {
  for (const char* bad : {"abc", "0", "-1", "inf", "nan", "1s", " 5", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError({"--timeout", bad, "port", "list"}).message, HasSubstr("--timeout"));
  }
}

TEST(GlobalFlagsTest, MissingValue) {
  EXPECT_THAT(ParseError({"port", "list", "--server"}).message,
              AllOf(HasSubstr("--server"), HasSubstr("needs a value")));
  EXPECT_THAT(ParseError({"--server=", "port", "list"}).message, HasSubstr("--server"));
  EXPECT_THAT(ParseError({"port", "list", "-o"}).message, HasSubstr("-o"));
}

TEST(GlobalFlagsTest, GivenTwice) {
  EXPECT_THAT(ParseError({"-o", "json", "port", "list", "-o", "table"}).message,
              AllOf(HasSubstr("-o"), HasSubstr("more than once")));
}

TEST(ServerTargetTest, FlagThenEnvironmentThenDefault) {
  Command command = Parse({"port", "list"});
  EXPECT_EQ(ServerTarget(command, nullptr), "unix:/run/vhostd/vhostd.sock");
  EXPECT_EQ(ServerTarget(command, ""), "unix:/run/vhostd/vhostd.sock");
  EXPECT_EQ(ServerTarget(command, "unix:/env.sock"), "unix:/env.sock");
  command = Parse({"--server", "unix:/flag.sock", "port", "list"});
  EXPECT_EQ(ServerTarget(command, "unix:/env.sock"), "unix:/flag.sock");
}

// --- port create ----------------------------------------------------------------------
// The type's own flags come from its spec message: client/spec_flags_test.cc.

TEST(PortCreateTest, FirstParseKeepsTheArgumentsForTheTypesFlags) {
  const Args args = {"port", "create", "vm1", "--type", "vhost-user", "--socket", "vm1.sock",
                     "--tso", "-o", "json"};
  Command command = Parse(args);
  EXPECT_EQ(command.kind, CommandKind::kPortCreate);
  EXPECT_EQ(command.name, "vm1");
  EXPECT_EQ(command.port.type, "vhost-user");
  EXPECT_FALSE(command.port.spec_json.has_value());
  EXPECT_FALSE(command.port.help);
  EXPECT_FALSE(command.port.type_flags_parsed);
  EXPECT_EQ(command.port.args, args);
  EXPECT_EQ(command.output, OutputFormat::kJson);  // the global flags are parsed already
}

TEST(PortCreateTest, EqualsFormAndFlagsBeforeName) {
  Command command = Parse({"port", "create", "--type=vdpa", "--spec={\"device\": \"d\"}", "vm1"});
  EXPECT_EQ(command.name, "vm1");
  EXPECT_EQ(command.port.type, "vdpa");
  EXPECT_EQ(command.port.spec_json, "{\"device\": \"d\"}");
}

TEST(PortCreateTest, SecondParseWithTheTypesFlags) {
  std::vector<TypeFlag> flags(3);
  flags[0].names = {"--socket-path", "--socket"};
  flags[0].value_name = "PATH";
  flags[1].names = {"--tso"};
  flags[1].false_names = {"--no-tso"};
  flags[1].is_switch = true;
  flags[2].names = {"--tag"};
  flags[2].value_name = "TAG";
  flags[2].repeated = true;
  ParseResult result = ParseArgs({"-o", "json", "port", "create", "--socket", "s.sock", "vm1",
                                  "--type", "t", "--no-tso", "--tag", "a", "--tag=b"},
                                 &flags);
  ASSERT_TRUE(result.ok()) << result.error->message;
  const PortCreateArgs& port = result.command.port;
  EXPECT_EQ(result.command.name, "vm1");  // not "s.sock": --socket takes a value now
  EXPECT_TRUE(port.type_flags_parsed);
  ASSERT_EQ(port.type_flags.size(), 3u);
  EXPECT_EQ(port.type_flags[0].flag, 0u);
  EXPECT_THAT(port.type_flags[0].values, ElementsAre("s.sock"));
  EXPECT_EQ(port.type_flags[1].flag, 1u);
  EXPECT_THAT(port.type_flags[1].values, ElementsAre("false"));
  EXPECT_EQ(port.type_flags[2].flag, 2u);
  EXPECT_THAT(port.type_flags[2].values, ElementsAre("a", "b"));

  EXPECT_EQ(ParseArgs({"port", "create", "vm1", "--type", "t", "--bogus"}, &flags).error->message,
            "unknown flag --bogus for --type t");
  EXPECT_EQ(ParseArgs({"port", "create", "vm1", "--type", "t", "--bogus"}, &flags).error->synopsis,
            "usage: vhostctl port create NAME --type t [--spec JSON] [--label KEY=VALUE]\n"
            "                    [--socket-path PATH] [--[no-]tso] [--tag TAG...]\n");
}

TEST(PortCreateTest, LabelsInBothParses) {
  const std::vector<TypeFlag> flags = {{{"--socket-path"}, {}, false, false, "PATH", "socket_path"}};
  for (const std::vector<TypeFlag>* type_flags : {static_cast<const std::vector<TypeFlag>*>(nullptr), &flags}) {
    ParseResult parsed = ParseArgs({"port", "create", "vm1", "--type", "t", "--label", "k8s.pod.name=web-0",
                                    "--label=cni.ifname=net1", "--label", "empty="},
                                   type_flags);
    ASSERT_TRUE(parsed.ok()) << parsed.error->message;
    EXPECT_THAT(parsed.command.port.labels,
                ElementsAre(Pair("cni.ifname", "net1"), Pair("empty", ""), Pair("k8s.pod.name", "web-0")));
  }
  EXPECT_EQ(ParseError({"port", "create", "vm1", "--type", "t", "--label", "novalue"}).message,
            "invalid value 'novalue' for --label: expected KEY=VALUE");
  EXPECT_EQ(ParseError({"port", "create", "vm1", "--type", "t", "--label", "=v"}).message,
            "invalid value '=v' for --label: expected KEY=VALUE");
  EXPECT_EQ(ParseError({"port", "create", "vm1", "--type", "t", "--label", "a=1", "--label", "a=2"}).message,
            "flag --label: key 'a' given more than once");
  EXPECT_TRUE(IsPortCreateOwnFlag("--label"));
}

TEST(PortListTest, LabelSelector) {
  ParseResult parsed = ParseArgs({"port", "list", "-l", "k8s.pod.namespace=prod,!cni.ifname"});
  ASSERT_TRUE(parsed.ok()) << parsed.error->message;
  EXPECT_EQ(parsed.command.label_selector, "k8s.pod.namespace=prod,!cni.ifname");
  EXPECT_EQ(ParseArgs({"port", "list", "-l=a=b"}).command.label_selector, "a=b");
  EXPECT_EQ(ParseArgs({"port", "list"}).command.label_selector, "");
  EXPECT_EQ(ParseError({"port", "list", "-l", "a", "-l", "b"}).message, "flag -l given more than once");
}

TEST(PortCreateTest, MissingType) {
  EXPECT_THAT(ParseError({"port", "create", "vm1", "--socket", "/s"}).message,
              HasSubstr("'port create': missing --type TYPE"));
}

TEST(PortCreateTest, MissingName) {
  UsageError error = ParseError({"port", "create", "--type", "vdpa"});
  EXPECT_THAT(error.message, HasSubstr("missing NAME"));
  EXPECT_THAT(error.synopsis, HasSubstr("port create NAME --type TYPE"));
}

TEST(PortCreateTest, TypeAndSpecAtMostOnce) {
  EXPECT_THAT(ParseError({"port", "create", "p", "--type", "a", "--type", "b"}).message,
              HasSubstr("flag --type given more than once"));
  EXPECT_THAT(ParseError({"port", "create", "p", "--type", "a", "--spec", "{}", "--spec", "{}"}).message,
              HasSubstr("flag --spec given more than once"));
}

TEST(PortCreateTest, HelpWithATypeAsksForTheTypesFlags) {
  Command command = Parse({"--server", "unix:/x", "port", "create", "--type", "vhost-user", "--help"});
  EXPECT_EQ(command.kind, CommandKind::kPortCreate);
  EXPECT_TRUE(command.port.help);
  EXPECT_EQ(command.port.type, "vhost-user");
  EXPECT_EQ(command.server, "unix:/x");  // the daemon to ask
  // Without --type, or for another command: the usage text.
  EXPECT_EQ(Parse({"port", "create", "vm1", "-h"}).kind, CommandKind::kHelp);
  EXPECT_EQ(Parse({"port", "get", "vm1", "--type", "x", "-h"}).kind, CommandKind::kHelp);
}

TEST(PortCreateTest, OwnFlagsAreReserved) {
  for (const char* flag : {"--type", "--spec", "--server", "-o", "--timeout", "--help", "-h"}) {
    EXPECT_TRUE(IsPortCreateOwnFlag(flag)) << flag;
  }
  EXPECT_FALSE(IsPortCreateOwnFlag("--socket"));
  EXPECT_FALSE(IsPortCreateOwnFlag("--watch"));
}

// --- Names and positionals ------------------------------------------------------------

TEST(ParseArgsTest, MissingName) {
  for (const Args& args : std::vector<Args>{{"port", "get"},
                                            {"port", "delete"},
                                            {"port", "stats"},
                                            {"port", "delete", "--allow-missing"},
                                            {"xconnect", "create", "--ports", "a,b"},
                                            {"xconnect", "delete"}}) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    EXPECT_THAT(ParseError(args).message, HasSubstr("missing NAME"));
  }
}

TEST(ParseArgsTest, EmptyName) {
  EXPECT_THAT(ParseError({"port", "get", ""}).message, HasSubstr("NAME must not be empty"));
}

TEST(ParseArgsTest, ExtraArgument) {
  EXPECT_THAT(ParseError({"port", "get", "vm1", "vm2"}).message,
              AllOf(HasSubstr("unexpected argument 'vm2'"), HasSubstr("port get")));
  EXPECT_THAT(ParseError({"port", "list", "vm1"}).message,
              HasSubstr("unexpected argument 'vm1'"));
  EXPECT_THAT(ParseError({"core", "list", "all"}).message, HasSubstr("'all'"));
}

TEST(ParseArgsTest, NoCommand) {
  UsageError error = ParseError({});
  EXPECT_THAT(error.message, HasSubstr("missing command"));
  EXPECT_THAT(error.synopsis, HasSubstr("usage: vhostctl [--server unix:PATH|HOST:PORT]\n"));
  EXPECT_THAT(ParseError({"-o", "json"}).message, HasSubstr("missing command"));
}

TEST(ParseArgsTest, UnknownCommand) {
  UsageError error = ParseError({"frob"});
  EXPECT_THAT(error.message, HasSubstr("unknown command 'frob'"));
  EXPECT_THAT(error.synopsis, HasSubstr("COMMAND ..."));
  EXPECT_THAT(error.synopsis, Not(HasSubstr("vhostctl vhostctl")));
  EXPECT_THAT(ParseError({"ports", "list"}).message, HasSubstr("'ports'"));
}

TEST(ParseArgsTest, UnknownVerb) {
  UsageError error = ParseError({"port", "frob", "vm1"});
  EXPECT_THAT(error.message, HasSubstr("unknown port command 'frob'"));
  EXPECT_THAT(error.synopsis, AllOf(HasSubstr("port get NAME"), HasSubstr("port list"),
                                    Not(HasSubstr("xconnect"))));
  EXPECT_THAT(ParseError({"core", "get"}).message, HasSubstr("unknown core command 'get'"));
  EXPECT_THAT(ParseError({"plugin", "create"}).message, HasSubstr("'create'"));
}

TEST(ParseArgsTest, MissingVerb) {
  EXPECT_THAT(ParseError({"port"}).message,
              AllOf(HasSubstr("missing port command"), HasSubstr("create"), HasSubstr("stats")));
  EXPECT_THAT(ParseError({"xconnect"}).message, HasSubstr("missing xconnect command"));
  EXPECT_THAT(ParseError({"core"}).message,
              HasSubstr("missing core command (list, pin, unpin, rebalance, settings)"));
}

TEST(ParseArgsTest, CoreCommands) {
  Command pin = Parse({"core", "pin", "vm1", "3", "2"});
  EXPECT_EQ(pin.name, "vm1");
  EXPECT_EQ(pin.queue, 3u);
  EXPECT_EQ(pin.lcore, 2u);
  Command unpin = Parse({"core", "unpin", "vm1", "1", "--allow-missing"});
  EXPECT_EQ(unpin.queue, 1u);
  EXPECT_TRUE(unpin.allow_missing);
  EXPECT_TRUE(Parse({"core", "rebalance", "--dry-run"}).dry_run);
  EXPECT_FALSE(Parse({"core", "rebalance"}).dry_run);
  Command settings = Parse({"core", "settings", "--assign", "group", "--isolate-pinned=false", "--sleep-max-us", "50"});
  EXPECT_EQ(settings.assign_mode, "group");
  EXPECT_EQ(settings.isolate_pinned, false);
  EXPECT_EQ(settings.sleep_max_us, 50u);
  Command show = Parse({"core", "settings"});
  EXPECT_FALSE(show.assign_mode || show.isolate_pinned || show.sleep_max_us);

  EXPECT_THAT(ParseError({"core", "pin", "vm1", "0"}).message, HasSubstr("'core pin': missing LCORE"));
  EXPECT_THAT(ParseError({"core", "pin", "vm1"}).message, HasSubstr("missing QUEUE"));
  EXPECT_THAT(ParseError({"core", "pin", "vm1", "x", "1"}).message, HasSubstr("invalid value 'x' for QUEUE"));
  EXPECT_THAT(ParseError({"core", "pin", "vm1", "0", "-1"}).message, HasSubstr("-1"));
  EXPECT_THAT(ParseError({"core", "pin", "vm1", "0", "1", "2"}).message, HasSubstr("unexpected argument '2'"));
  EXPECT_THAT(ParseError({"core", "settings", "--assign", "fast"}).message,
              HasSubstr("invalid value 'fast' for --assign"));
  EXPECT_THAT(ParseError({"core", "pin", "vm1", "0"}).synopsis, HasSubstr("core pin PORT QUEUE LCORE"));
}

TEST(ParseArgsTest, UnknownFlag) {
  EXPECT_THAT(ParseError({"port", "get", "vm1", "--bogus"}).message,
              HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(ParseError({"--bogus", "port", "list"}).message, HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(ParseError({"port", "list", "-x"}).message, HasSubstr("unknown flag -x"));
  EXPECT_THAT(ParseError({"port", "list", "--tso"}).message, HasSubstr("unknown flag --tso"));
}

TEST(ParseArgsTest, CommandFlagBeforeTheCommand) {
  EXPECT_THAT(ParseError({"--tso", "port", "create", "vm1"}).message,
              AllOf(HasSubstr("--tso"), HasSubstr("must follow the command")));
}

// --- xconnect create --------------------------------------------------------------------

TEST(XconnectCreateTest, Ports) {
  Command command = Parse({"xconnect", "create", "x1", "--ports", "vm1,vm2"});
  EXPECT_EQ(command.port_a, "vm1");
  EXPECT_EQ(command.port_b, "vm2");
  command = Parse({"xconnect", "create", "--ports=a,b", "x1"});
  EXPECT_EQ(command.name, "x1");
  EXPECT_EQ(command.port_a, "a");
  EXPECT_EQ(command.port_b, "b");
}

TEST(XconnectCreateTest, NeedsExactlyTwoPorts) {
  for (const char* bad : {"vm1", "vm1,", ",vm2", "a,b,c", ",", "a,,b"}) {
    SCOPED_TRACE(bad);
    UsageError error = ParseError({"xconnect", "create", "x1", "--ports", bad});
    EXPECT_THAT(error.message, AllOf(HasSubstr("--ports"), HasSubstr(std::string("'") + bad)));
    EXPECT_THAT(error.synopsis, HasSubstr("xconnect create NAME --ports A,B"));
  }
}

TEST(XconnectCreateTest, MissingPorts) {
  EXPECT_THAT(ParseError({"xconnect", "create", "x1"}).message, HasSubstr("missing --ports"));
}

// --- Live views: port stats --watch, top --------------------------------------------------

TEST(LiveViewArgsTest, PortStatsWithoutWatchIsNotLive) {
  Command command = Parse({"port", "stats", "vm1"});
  EXPECT_FALSE(command.watch);
  EXPECT_FALSE(IsLiveView(command));
  EXPECT_EQ(command.interval, absl::Seconds(1));
  EXPECT_FALSE(command.count.has_value());
}

TEST(LiveViewArgsTest, WatchDefaults) {
  Command command = Parse({"port", "stats", "vm1", "--watch"});
  EXPECT_TRUE(command.watch);
  EXPECT_TRUE(IsLiveView(command));
  EXPECT_EQ(command.name, "vm1");
  EXPECT_EQ(command.interval, absl::Seconds(1));
  EXPECT_FALSE(command.count.has_value());
}

TEST(LiveViewArgsTest, WatchWithIntervalAndCount) {
  Command command =
      Parse({"port", "stats", "--watch", "--interval", "2.5", "--count=3", "vm1", "-o", "json"});
  EXPECT_EQ(command.name, "vm1");
  EXPECT_EQ(command.interval, absl::Milliseconds(2500));
  EXPECT_EQ(command.count, 3u);
  EXPECT_EQ(command.output, OutputFormat::kJson);
}

TEST(LiveViewArgsTest, IntervalLimitsAreAccepted) {
  EXPECT_EQ(Parse({"top", "--interval", "0.1"}).interval, absl::Milliseconds(100));
  EXPECT_EQ(Parse({"top", "--interval=3600"}).interval, absl::Hours(1));
  EXPECT_EQ(Parse({"top", "--interval", "1e1"}).interval, absl::Seconds(10));
  EXPECT_EQ(Parse({"port", "stats", "p", "--watch", "--interval", "0.25"}).interval,
            absl::Milliseconds(250));
}

TEST(LiveViewArgsTest, BadIntervals) {
  for (const char* bad :
       {"0", "0.09", "0.0999", "-1", "3600.5", "7200", "abc", "nan", "inf", "1s", " 1", "1 "}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError({"top", "--interval", bad}).message,
                AllOf(HasSubstr("--interval"), HasSubstr(std::string("'") + bad + "'"),
                      HasSubstr("0.1 to 3600 seconds")));
    EXPECT_THAT(ParseError({"port", "stats", "p", "--watch", "--interval", bad}).message,
                HasSubstr("--interval"));
  }
  EXPECT_THAT(ParseError({"top", "--interval="}).message,
              AllOf(HasSubstr("--interval"), HasSubstr("non-empty")));
  EXPECT_THAT(ParseError({"top", "--interval"}).message,
              AllOf(HasSubstr("--interval"), HasSubstr("needs a value")));
}

TEST(LiveViewArgsTest, BadCounts) {
  for (const char* bad : {"0", "-1", "abc", "1.5", "4294967296", "+2", " 2"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError({"port", "stats", "p", "--watch", "--count", bad}).message,
                AllOf(HasSubstr("--count"), HasSubstr(std::string("'") + bad + "'"),
                      HasSubstr("1..4294967295")));
    EXPECT_THAT(ParseError({"top", "--count", bad}).message, HasSubstr("--count"));
  }
  EXPECT_EQ(Parse({"top", "--count", "4294967295"}).count, 4294967295u);
}

TEST(LiveViewArgsTest, IntervalAndCountNeedWatch) {
  for (const char* flag : {"--interval", "--count"}) {
    SCOPED_TRACE(flag);
    UsageError error = ParseError({"port", "stats", "vm1", flag, "2"});
    EXPECT_THAT(error.message, AllOf(HasSubstr(flag), HasSubstr("needs --watch")));
    EXPECT_THAT(error.synopsis, HasSubstr("port stats NAME [--watch"));
  }
}

TEST(LiveViewArgsTest, WatchTakesAnOptionalBool) {
  EXPECT_TRUE(Parse({"port", "stats", "vm1", "--watch=yes"}).watch);
  EXPECT_FALSE(Parse({"port", "stats", "vm1", "--watch=false"}).watch);
  EXPECT_THAT(ParseError({"port", "stats", "vm1", "--watch=often"}).message,
              AllOf(HasSubstr("--watch"), HasSubstr("'often'")));
}

TEST(LiveViewArgsTest, TopDefaults) {
  Command command = Parse({"top"});
  EXPECT_EQ(command.kind, CommandKind::kTop);
  EXPECT_TRUE(IsLiveView(command));
  EXPECT_EQ(command.interval, absl::Seconds(1));
  EXPECT_FALSE(command.count.has_value());
  EXPECT_EQ(command.limit, 10u);
}

TEST(LiveViewArgsTest, TopFlags) {
  Command command = Parse({"--server", "unix:/s", "top", "--interval", "0.5", "--count", "2",
                           "--limit=3", "-o", "json"});
  EXPECT_EQ(command.kind, CommandKind::kTop);
  EXPECT_EQ(command.interval, absl::Milliseconds(500));
  EXPECT_EQ(command.count, 2u);
  EXPECT_EQ(command.limit, 3u);
  EXPECT_EQ(command.output, OutputFormat::kJson);
  EXPECT_EQ(command.server, "unix:/s");
}

TEST(LiveViewArgsTest, BadLimits) {
  for (const char* bad : {"0", "-3", "ten", "1.5"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError({"top", "--limit", bad}).message,
                AllOf(HasSubstr("--limit"), HasSubstr(std::string("'") + bad + "'")));
  }
}

TEST(LiveViewArgsTest, TopTakesNoArgumentsAndNoWatch) {
  UsageError error = ParseError({"top", "p0"});
  EXPECT_THAT(error.message, HasSubstr("unexpected argument 'p0' for 'top'"));
  EXPECT_EQ(error.synopsis, "usage: vhostctl top [--interval SECONDS] [--count N] [--limit K]\n");
  EXPECT_THAT(ParseError({"top", "--watch"}).message, HasSubstr("unknown flag --watch for 'top'"));
}

TEST(LiveViewArgsTest, LiveFlagsAreRejectedWhereTheyDoNotBelong) {
  const std::vector<std::pair<Args, std::string>> cases = {
      {{"port", "get", "vm1", "--watch"}, "--watch"},
      {{"port", "list", "--watch"}, "--watch"},
      {{"port", "list", "--interval", "1"}, "--interval"},
      {{"core", "list", "--count", "1"}, "--count"},
      {{"xconnect", "list", "--limit", "1"}, "--limit"},
      {{"port", "stats", "vm1", "--watch", "--limit", "3"}, "--limit"},
  };
  for (const auto& [args, flag] : cases) {
    SCOPED_TRACE(args[0] + " " + args[1] + " " + flag);
    EXPECT_THAT(ParseError(args).message, HasSubstr("unknown flag " + flag + " for '"));
  }
  // port create: once the type's flags are known.
  const std::vector<TypeFlag> no_flags;
  EXPECT_EQ(ParseArgs({"port", "create", "v", "--type", "vdpa", "--watch"}, &no_flags).error->message,
            "unknown flag --watch for --type vdpa");
}

TEST(LiveViewArgsTest, LiveFlagBeforeTheCommandSuggestsWhereItGoes) {
  EXPECT_THAT(ParseError({"--limit", "3", "top"}).message,
              AllOf(HasSubstr("--limit"), HasSubstr("must follow the command"),
                    HasSubstr("'top --limit ...'")));
  EXPECT_THAT(ParseError({"--watch", "port", "stats", "vm1"}).message,
              HasSubstr("'port stats NAME --watch ...'"));
  EXPECT_THAT(ParseError({"--tso", "port", "create", "vm1"}).message,
              HasSubstr("'port create NAME --tso ...'"));
}

// --- Usage text -------------------------------------------------------------------------

TEST(UsageTextTest, ListsEveryCommandAndGlobalFlag) {
  const std::string& usage = UsageText();
  for (const char* text :
       {"port create NAME --type TYPE [--spec JSON] [--label KEY=VALUE] [TYPE FLAGS...]",
        "port create --type TYPE --help", "port get NAME", "port delete NAME [--allow-missing]",
        "port list [-l SELECTOR]", "port stats NAME", "xconnect create NAME --ports A,B", "xconnect list",
        "xconnect delete NAME", "core list", "plugin list", "help", "--server unix:PATH",
        "-o table|json", "--timeout SECONDS", "VHOSTD_SERVER", "unix:/run/vhostd/vhostd.sock",
        "port stats NAME [--watch] [--interval SECONDS] [--count N]",
        "top [--interval SECONDS] [--count N] [--limit K]", "0.1 to 3600", "Ctrl-C",
        "one JSON object per line", "vhostctl.v1.PortWatchFrame", "'--socket-path PATH'",
        "'--no-tso'", "protobuf JSON"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
}

void ExpectLinesFitATerminal(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    EXPECT_LE(end - start, 80u) << text.substr(start, end - start);
    start = end + 1;
  }
}

TEST(UsageTextTest, LinesFitATerminal) {
  ExpectLinesFitATerminal(UsageText());
  ExpectLinesFitATerminal(ParseError({}).synopsis);
  ExpectLinesFitATerminal(ParseError({"port"}).synopsis);
  ExpectLinesFitATerminal(ParseError({"xconnect"}).synopsis);
  ExpectLinesFitATerminal(ParseError({"top", "x"}).synopsis);
}

TEST(UsageTextTest, SynopsisContinuationLinesAreIndented) {
  EXPECT_EQ(ParseError({"port", "create", "vm1"}).synopsis,
            "usage: vhostctl port create NAME --type TYPE [--spec JSON] [--label KEY=VALUE]\n"
            "                    [TYPE FLAGS...]\n");
  EXPECT_EQ(ParseError({"port"}).synopsis,
            "usage: vhostctl port create NAME --type TYPE [--spec JSON] [--label KEY=VALUE]\n"
            "                    [TYPE FLAGS...]\n"
            "       vhostctl port get NAME\n"
            "       vhostctl port delete NAME [--allow-missing]\n"
            "       vhostctl port list [-l SELECTOR]\n"
            "       vhostctl port stats NAME [--watch] [--interval SECONDS] [--count N]\n");
  EXPECT_EQ(PortCreateSynopsis("vhost-user", nullptr),
            "usage: vhostctl port create NAME --type TYPE [--spec JSON] [--label KEY=VALUE]\n"
            "                    [TYPE FLAGS...]\n");
  EXPECT_EQ(ParseError({"port", "get"}).synopsis, "usage: vhostctl port get NAME\n");
}

TEST(UsageErrorTest, Format) {
  EXPECT_EQ(FormatUsageError({"missing command", "usage: vhostctl X\n"}),
            "vhostctl: missing command\nusage: vhostctl X\nRun 'vhostctl --help' for the full usage.\n");
}

TEST(ParseArgsTest, PortNamesThatAreCommandWords) {
  EXPECT_EQ(Parse({"port", "get", "top"}).name, "top");
  EXPECT_EQ(Parse({"port", "delete", "list"}).name, "list");
  EXPECT_EQ(Parse({"xconnect", "create", "port", "--ports", "a,b"}).name, "port");
  EXPECT_THAT(ParseError({"port", "get", "a", "list"}).message,
              HasSubstr("unexpected argument 'list' for 'port get'"));
}

TEST(ParseArgsTest, ShortFlagForms) {
  EXPECT_EQ(Parse({"-ojson", "port", "list"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"port", "list", "-o=json"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"port", "-o", "json", "list"}).output, OutputFormat::kJson);  // between words
}

}  // namespace
}  // namespace vhostctl

namespace vhostctl {
namespace {

TEST(BridgeArgsTest, AddPortTakesBridgePortAndOneVlanRule) {
  Command c = Parse({"bridge", "add-port", "br0", "vm1", "--vlan", "10"});
  EXPECT_EQ(c.kind, CommandKind::kBridgeAddPort);
  EXPECT_EQ(c.name, "br0");
  EXPECT_EQ(c.args, std::vector<std::string>({"vm1"}));
  EXPECT_EQ(c.access_vlan, 10u);
  EXPECT_FALSE(c.trunk_vlans.has_value());
  c = Parse({"bridge", "add-port", "br0", "vm1", "--trunk", "10,20-22,7"});
  EXPECT_EQ(*c.trunk_vlans, std::vector<uint32_t>({10, 20, 21, 22, 7}));
  c = Parse({"bridge", "add-port", "br0", "vm1"});
  EXPECT_FALSE(c.access_vlan || c.trunk_vlans);
  // The daemon checks the range of single IDs (and names the field).
  EXPECT_EQ(Parse({"bridge", "add-port", "br0", "vm1", "--vlan", "5000"}).access_vlan, 5000u);
}

TEST(BridgeArgsTest, BadVlanFlagsAndMissingWordsAreUsageErrors) {
  EXPECT_THAT(ParseError({"bridge", "add-port", "br0"}).message, HasSubstr("missing PORT"));
  EXPECT_THAT(ParseError({"bridge", "add-port"}).message, HasSubstr("missing BRIDGE"));
  EXPECT_THAT(ParseError({"bridge", "add-port", "br0", "vm1", "--vlan", "ten"}).message,
              HasSubstr("for --vlan"));
  EXPECT_THAT(ParseError({"bridge", "add-port", "br0", "vm1", "--vlan", "1", "--trunk", "2"}).message,
              HasSubstr("--vlan and --trunk exclude each other"));
  for (const char* bad : {"", "10,", "x", "10-", "20-10", "0-5", "1-4095", "1,,2"}) {
    EXPECT_THAT(ParseError({"bridge", "add-port", "br0", "vm1", "--trunk", bad}).message, HasSubstr("for --trunk"))
        << bad;
  }
  EXPECT_THAT(ParseError({"bridge", "del-port", "br0"}).message, HasSubstr("missing PORT"));
  EXPECT_THAT(ParseError({"bridge", "macs"}).message, HasSubstr("missing BRIDGE"));
}

TEST(BridgeArgsTest, CreateTakesTableSettings) {
  Command c = Parse({"bridge", "create", "br0", "--mac-table-size", "100", "--mac-aging", "30"});
  EXPECT_EQ(c.kind, CommandKind::kBridgeCreate);
  EXPECT_EQ(c.mac_table_size, 100u);
  EXPECT_EQ(c.mac_aging_seconds, 30u);
  EXPECT_FALSE(Parse({"bridge", "create", "br0"}).mac_table_size.has_value());
  EXPECT_EQ(Parse({"bridge", "list"}).kind, CommandKind::kBridgeList);
  EXPECT_EQ(Parse({"bridge", "delete", "br0", "--allow-missing"}).allow_missing, true);
}

TEST(EventsArgsTest, DefaultsAndFlags) {
  Command plain = Parse({"events"});
  EXPECT_EQ(plain.kind, CommandKind::kEvents);
  EXPECT_FALSE(plain.follow);
  EXPECT_FALSE(plain.since.has_value());
  EXPECT_FALSE(IsLiveView(plain));

  Command command = Parse({"events", "--follow", "--since=42", "--instance", "ab", "--port", "vm1", "-o", "json"});
  EXPECT_TRUE(command.follow);
  EXPECT_EQ(command.since, 42u);
  EXPECT_EQ(command.instance_id, "ab");
  EXPECT_EQ(command.event_port, "vm1");
  EXPECT_EQ(command.output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"events", "--since", "0"}).since, 0u);
}

TEST(EventsArgsTest, BadFlags) {
  for (const char* bad : {"-1", "ten", "1.5"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError({"events", "--since", bad}).message,
                AllOf(HasSubstr("--since"), HasSubstr(std::string("'") + bad + "'")));
  }
  EXPECT_THAT(ParseError({"events", "--instance", "ab"}).message, HasSubstr("--instance needs --since"));
  EXPECT_THAT(ParseError({"events", "vm1"}).message, HasSubstr("unexpected argument 'vm1'"));
}

}  // namespace
}  // namespace vhostctl
