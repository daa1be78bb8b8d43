// The flags vhostctl derives from a port type's spec message: with the real descriptor
// sets of the plugins vhostd ships (the spellings scripts use), and with a test message
// that has every kind of field. Parsing goes through ParseArgs, as "port create" does.
#include "client/spec_flags.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "client/cli_args.h"
#include "client/testing/test_descriptors.h"
#include "client/type_catalog.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace vhostctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kVhostUser[] = "vhostd.plugins.vhost_user.v1.VhostUserSpec";
constexpr char kVhostKernel[] = "vhostd.plugins.vhost_kernel.v1.VhostKernelSpec";
constexpr char kVdpa[] = "vhostd.plugins.vdpa.v1.VdpaSpec";
constexpr char kTestSpec[] = "vhostctl.testing.v1.TestSpec";

std::string ShortText(const google::protobuf::Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  printer.PrintToString(message, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

class SpecFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.AddPlugins(test_data::Plugins());
    EXPECT_THAT(catalog_.problems(), IsEmpty());
  }

  const google::protobuf::Descriptor* Spec(const std::string& full_name) {
    const google::protobuf::Descriptor* spec = catalog_.FindMessage(full_name);
    EXPECT_NE(spec, nullptr) << full_name;
    return spec;
  }

  struct Outcome {
    std::string spec;      // text format of the spec made, when no error
    std::string error;     // the usage error or the error of Apply/ParseSpecJson
    std::string synopsis;  // of a usage error
  };

  // "port create p0 --type TYPE ARGS..." with the flags of `full_name`: the spec made.
  Outcome Create(const std::string& full_name, const std::vector<std::string>& args) {
    const SpecFlags flags(Spec(full_name));
    std::vector<std::string> argv = {"port", "create", "p0", "--type", "t"};
    argv.insert(argv.end(), args.begin(), args.end());
    ParseResult first = ParseArgs(argv);  // as vhostctl's main parses it
    if (!first.ok()) return {"", first.error->message, first.error->synopsis};
    ParseResult parsed = ParseArgs(argv, &flags.flags());
    if (!parsed.ok()) return {"", parsed.error->message, parsed.error->synopsis};
    EXPECT_TRUE(parsed.command.port.type_flags_parsed);
    std::unique_ptr<google::protobuf::Message> spec = catalog_.New(flags.spec());
    if (parsed.command.port.spec_json) {
      absl::Status status = ParseSpecJson(*parsed.command.port.spec_json, spec.get());
      if (!status.ok()) return {"", std::string(status.message()), ""};
    }
    absl::Status status = flags.Apply(parsed.command.port.type_flags, spec.get());
    if (!status.ok()) return {"", std::string(status.message()), ""};
    return {ShortText(*spec), "", ""};
  }

  std::string Made(const std::string& full_name, const std::vector<std::string>& args) {
    Outcome outcome = Create(full_name, args);
    EXPECT_EQ(outcome.error, "") << absl::StrJoin(args, " ");
    return outcome.spec;
  }

  std::string Error(const std::string& full_name, const std::vector<std::string>& args) {
    Outcome outcome = Create(full_name, args);
    EXPECT_NE(outcome.error, "") << "made: " << outcome.spec;
    return outcome.error;
  }

  // The spellings of the flag setting field `field` of `full_name`.
  std::vector<std::string> Names(const std::string& full_name, const std::string& field) {
    const SpecFlags flags(Spec(full_name));
    for (size_t i = 0; i < flags.flags().size(); ++i) {
      if (flags.fields()[i]->name() == field) {
        std::vector<std::string> names = flags.flags()[i].names;
        for (const std::string& name : flags.flags()[i].false_names) names.push_back("!" + name);
        return names;
      }
    }
    return {};
  }

  TypeCatalog catalog_;
};

// --- The plugins vhostd ships: the spellings tests and scripts use ---------------------

TEST_F(SpecFlagsTest, VhostUserSpellings) {
  EXPECT_THAT(Names(kVhostUser, "socket_path"), ElementsAre("--socket-path", "--socket"));
  EXPECT_THAT(Names(kVhostUser, "mode"), ElementsAre("--mode"));
  EXPECT_THAT(Names(kVhostUser, "queues"), ElementsAre("--queues"));
  EXPECT_THAT(Names(kVhostUser, "tso"), ElementsAre("--tso", "!--no-tso"));
  EXPECT_THAT(Names(kVhostUser, "disable_mrg_rxbuf"),
              ElementsAre("--disable-mrg-rxbuf", "--no-mrg-rxbuf"));
  EXPECT_THAT(Names(kVhostUser, "checksum"), ElementsAre("--checksum", "!--no-checksum"));
  EXPECT_THAT(Names(kVhostUser, "no_reconnect"), ElementsAre("--no-reconnect"));
  EXPECT_THAT(Names(kVhostKernel, "tap_name"), ElementsAre("--tap-name", "--tap"));
  EXPECT_THAT(Names(kVdpa, "device"), ElementsAre("--device"));
}

TEST_F(SpecFlagsTest, VhostUserEveryFlag) {
  EXPECT_EQ(Made(kVhostUser, {"--socket", "/s.sock", "--mode", "client", "--queues", "4", "--tso",
                              "--iommu-support", "--postcopy-support", "--linear-buffer",
                              "--ext-buffer", "--no-mrg-rxbuf", "--no-checksum", "--no-reconnect"}),
            "socket_path: \"/s.sock\" mode: MODE_CLIENT queues: 4 tso: true iommu_support: true "
            "postcopy_support: true linear_buffer: true ext_buffer: true disable_mrg_rxbuf: true "
            "checksum: false no_reconnect: true");
}

TEST_F(SpecFlagsTest, VhostUserAsTheOldCliWroteIt) {
  // tests/integration, tests/perf and deploy/demo.sh.
  EXPECT_EQ(Made(kVhostUser, {"--socket", "p0.sock", "--mode", "server", "--queues", "2"}),
            "socket_path: \"p0.sock\" mode: MODE_SERVER queues: 2");
  EXPECT_EQ(Made(kVhostUser, {"--socket-path=p0.sock"}), "socket_path: \"p0.sock\"");
  EXPECT_EQ(Made(kVhostUser, {"--socket=/s", "--mode=server", "--queues=2"}),
            "socket_path: \"/s\" mode: MODE_SERVER queues: 2");
}

TEST_F(SpecFlagsTest, QueuesZeroIsKeptForTheDaemonToReject) {
  EXPECT_EQ(Made(kVhostUser, {"--socket", "s", "--queues", "0"}), "socket_path: \"s\" queues: 0");
  EXPECT_EQ(Made(kVhostUser, {"--socket", "s"}), "socket_path: \"s\"");  // unset: absent
}

TEST_F(SpecFlagsTest, VhostKernelAndVdpa) {
  EXPECT_EQ(Made(kVhostKernel, {"--tap", "tap-k1", "--netns", "/var/run/netns/blue", "--queues",
                                "2", "--mac", "52:54:00:12:34:56", "--mtu", "9000",
                                "--allow-plain-tap"}),
            "tap_name: \"tap-k1\" netns: \"/var/run/netns/blue\" queues: 2 mac: "
            "\"52:54:00:12:34:56\" mtu: 9000 allow_plain_tap: true");
  EXPECT_EQ(Made(kVhostKernel, {}), "");
  EXPECT_EQ(Made(kVdpa, {"--device", "/dev/vhost-vdpa-0", "--queues", "8"}),
            "device: \"/dev/vhost-vdpa-0\" queues: 8");
}

TEST_F(SpecFlagsTest, EnumValuesAnyCaseWithOrWithoutPrefix) {
  for (const char* value : {"client", "CLIENT", "Client", "MODE_CLIENT", "mode_client", "mode-client"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(Made(kVhostUser, {"--mode", value}), "mode: MODE_CLIENT");
  }
  EXPECT_THAT(Error(kVhostUser, {"--mode", "both"}),
              AllOf(HasSubstr("--mode"), HasSubstr("'both'"), HasSubstr("server, client")));
  EXPECT_THAT(Error(kVhostUser, {"--mode", ""}), HasSubstr("--mode"));
}

TEST_F(SpecFlagsTest, BadNumbersNameTheFlagAndTheValue) {
  for (const char* bad : {"abc", "4294967296", "99999999999", "-1", "+1", " 1", "1 ", "1.5",
                          "0x10", "1e3"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(Error(kVdpa, {"--device", "d", "--queues", bad}),
                AllOf(HasSubstr("--queues"), HasSubstr(std::string("'") + bad + "'"),
                      HasSubstr("0..4294967295")));
  }
  EXPECT_EQ(Made(kVdpa, {"--queues", "4294967295"}), "queues: 4294967295");
  EXPECT_THAT(Error(kVhostKernel, {"--mtu", "big"}), AllOf(HasSubstr("--mtu"), HasSubstr("'big'")));
}

TEST_F(SpecFlagsTest, ValueMayStartWithADash) {
  // The word after a value flag is its value: a negative number is a bad --queues.
  EXPECT_THAT(Error(kVdpa, {"--device", "d", "--queues", "-1"}),
              AllOf(HasSubstr("--queues"), HasSubstr("'-1'")));
}

TEST_F(SpecFlagsTest, FlagOfAnotherTypeIsUnknownAndTheSynopsisListsTheTypesFlags) {
  Outcome outcome = Create(kVdpa, {"--device", "d", "--socket", "/s"});
  EXPECT_EQ(outcome.error, "unknown flag --socket for --type t");
  EXPECT_THAT(outcome.synopsis, AllOf(HasSubstr("port create NAME --type t"),
                                      HasSubstr("[--device DEVICE]"), HasSubstr("[--queues N]")));
  EXPECT_EQ(Error(kVhostKernel, {"--tso"}), "unknown flag --tso for --type t");
  EXPECT_EQ(Error(kVhostUser, {"--socket", "/s", "--tap=t"}), "unknown flag --tap for --type t");
  EXPECT_EQ(Error(kVhostUser, {"--socket", "/s", "extra"}),
            "unexpected argument 'extra' for 'port create'");
}

TEST_F(SpecFlagsTest, FlagGivenTwice) {
  EXPECT_EQ(Error(kVdpa, {"--queues", "1", "--queues", "2"}), "flag --queues given more than once");
  // Two spellings of one flag are still one flag.
  EXPECT_EQ(Error(kVhostUser, {"--socket", "a", "--socket-path", "b"}),
            "flag --socket-path given more than once");
}

TEST_F(SpecFlagsTest, ValueFlagAtTheEnd) {
  EXPECT_THAT(Error(kVhostUser, {"--socket"}), AllOf(HasSubstr("--socket"), HasSubstr("needs a value")));
}

TEST_F(SpecFlagsTest, Switches) {
  EXPECT_EQ(Made(kVhostUser, {"--tso=false"}), "");  // false: proto3's default, not sent
  EXPECT_EQ(Made(kVhostUser, {"--checksum=false"}), "checksum: false");
  EXPECT_EQ(Made(kVhostUser, {"--checksum"}), "checksum: true");
  EXPECT_EQ(Made(kVhostUser, {"--no-checksum=false"}), "checksum: true");
  EXPECT_EQ(Made(kVhostUser, {"--tso=yes"}), "tso: true");
  EXPECT_EQ(Made(kVhostUser, {"--no-mrg-rxbuf"}), "disable_mrg_rxbuf: true");
  EXPECT_THAT(Error(kVhostUser, {"--tso=maybe"}),
              AllOf(HasSubstr("--tso"), HasSubstr("'maybe'"), HasSubstr("true or false")));
  EXPECT_EQ(Error(kVhostUser, {"--tso", "--no-tso"}), "flag --tso given more than once");
}

TEST_F(SpecFlagsTest, EmptyInlineValue) {
  EXPECT_EQ(Error(kVhostUser, {"--socket="}), "flag --socket needs a non-empty value");
}

// --- Every kind of field ------------------------------------------------------------

TEST_F(SpecFlagsTest, EveryScalarKind) {
  EXPECT_EQ(Made(kTestSpec, {"--offset", "-2147483648", "--big", "-9223372036854775808",
                             "--counter", "18446744073709551615", "--ratio", "0.25", "--scale",
                             "1e3", "--delta", "-5", "--f64", "7", "--sf32", "-3", "--key",
                             "aGk=", "--color", "dark-blue"}),
            "offset: -2147483648 big: -9223372036854775808 counter: 18446744073709551615 "
            "ratio: 0.25 scale: 1000 color: COLOR_DARK_BLUE key: \"hi\" delta: -5 f64: 7 sf32: -3");
}

TEST_F(SpecFlagsTest, Ranges) {
  EXPECT_THAT(Error(kTestSpec, {"--offset", "2147483648"}),
              AllOf(HasSubstr("--offset"), HasSubstr("-2147483648..2147483647")));
  EXPECT_THAT(Error(kTestSpec, {"--counter", "18446744073709551616"}), HasSubstr("--counter"));
  EXPECT_THAT(Error(kTestSpec, {"--counter", "-1"}), HasSubstr("'-1'"));
  EXPECT_THAT(Error(kTestSpec, {"--ratio", "inf"}), AllOf(HasSubstr("--ratio"), HasSubstr("a number")));
  EXPECT_THAT(Error(kTestSpec, {"--scale", "1e39"}), HasSubstr("float"));
  EXPECT_THAT(Error(kTestSpec, {"--key", "not base64!"}), AllOf(HasSubstr("--key"), HasSubstr("base64")));
  EXPECT_THAT(Error(kTestSpec, {"--tap", "caf\xc3"}), AllOf(HasSubstr("--tap-name"), HasSubstr("UTF-8")));
}

TEST_F(SpecFlagsTest, RepeatedFieldsTakeTheFlagPerElement) {
  EXPECT_EQ(Made(kTestSpec, {"--tags", "a", "--ports", "1", "--tags=b", "--ports", "2",
                             "--bits", "true", "--bits", "false"}),
            "tags: \"a\" tags: \"b\" ports: 1 ports: 2 bits: true bits: false");
  EXPECT_THAT(Error(kTestSpec, {"--ports", "1", "--ports", "x"}), HasSubstr("'x'"));
}

TEST_F(SpecFlagsTest, OneofTakesOneMember) {
  EXPECT_EQ(Made(kTestSpec, {"--host", "h1"}), "host: \"h1\"");
  EXPECT_EQ(Made(kTestSpec, {"--host-index", "3"}), "host_index: 3");
  EXPECT_THAT(Error(kTestSpec, {"--host", "h1", "--host-index", "3"}),
              AllOf(HasSubstr("--host"), HasSubstr("--host-index"), HasSubstr("oneof (target)")));
}

TEST_F(SpecFlagsTest, SharedAndTakenSpellingsAreDropped) {
  // --no-offload would be disable_offload's alias and offload's negation.
  EXPECT_THAT(Names(kTestSpec, "disable_offload"), ElementsAre("--disable-offload"));
  EXPECT_THAT(Names(kTestSpec, "offload"), ElementsAre("--offload"));
  // --file is field file's own name.
  EXPECT_THAT(Names(kTestSpec, "file_path"), ElementsAre("--file-path"));
  EXPECT_THAT(Names(kTestSpec, "file"), ElementsAre("--file"));
  EXPECT_THAT(Error(kTestSpec, {"--no-offload"}), HasSubstr("unknown flag --no-offload"));
  // vhostctl's own flags keep their meaning: --timeout stays the global one.
  EXPECT_THAT(Names(kTestSpec, "timeout"), IsEmpty());
  EXPECT_THAT(Names(kTestSpec, "type"), IsEmpty());
}

TEST_F(SpecFlagsTest, MessagesMapsAndTakenNamesAreJsonOnly) {
  const SpecFlags flags(Spec(kTestSpec));
  EXPECT_THAT(flags.json_only(),
              ElementsAre("inner (a message)", "labels (a map)", "timeout (--timeout is vhostctl's own)",
                          "type (--type is vhostctl's own)", "wait (a message)"));
  EXPECT_THAT(Error(kTestSpec, {"--inner", "x"}), HasSubstr("unknown flag --inner"));
}

// --- --spec ---------------------------------------------------------------------------

TEST_F(SpecFlagsTest, SpecJsonAlone) {
  EXPECT_EQ(Made(kVhostUser, {"--spec", R"({"socketPath": "a.sock", "mode": "MODE_CLIENT", "queues": 2})"}),
            "socket_path: \"a.sock\" mode: MODE_CLIENT queues: 2");
  EXPECT_EQ(Made(kTestSpec, {"--spec", R"({"inner": {"label": "x"}, "labels": {"k": "v"}, "wait": "1.5s", "timeout": 3})"}),
            "inner { label: \"x\" } labels { key: \"k\" value: \"v\" } timeout: 3 wait { seconds: 1 nanos: 500000000 }");
}

TEST_F(SpecFlagsTest, FlagsOverrideTheSpec) {
  EXPECT_EQ(Made(kVhostUser, {"--spec", R"({"socketPath": "a.sock", "queues": 2})", "--queues", "4"}),
            "socket_path: \"a.sock\" queues: 4");
  // A repeated field's flags replace the whole list; a oneof member the other.
  EXPECT_EQ(Made(kTestSpec, {"--spec", R"({"tags": ["x", "y"], "host": "h"})", "--tags", "z",
                             "--host-index", "1"}),
            "tags: \"z\" host_index: 1");
}

TEST_F(SpecFlagsTest, BadSpecJsonNamesSpec) {
  EXPECT_THAT(Error(kVhostUser, {"--spec", R"({"socketPat": "a"})"}),
              AllOf(HasSubstr("--spec: not vhostd.plugins.vhost_user.v1.VhostUserSpec"),
                    HasSubstr("socketPat")));
  EXPECT_THAT(Error(kVhostUser, {"--spec", "{"}), HasSubstr("--spec"));
  EXPECT_THAT(Error(kVhostUser, {"--spec", R"({"queues": "many"})"}), HasSubstr("--spec"));
  EXPECT_EQ(Error(kVhostUser, {"--spec", "{}", "--spec", "{}"}), "flag --spec given more than once");
}

// --- Help and enums -------------------------------------------------------------------

TEST_F(SpecFlagsTest, Help) {
  const std::string help = SpecFlags(Spec(kVhostUser)).Help("vhost-user");
  EXPECT_THAT(help, HasSubstr("Flags of --type vhost-user (fields of vhostd.plugins.vhost_user.v1.VhostUserSpec):\n"));
  EXPECT_THAT(help, HasSubstr("  --socket-path, --socket PATH "));
  EXPECT_THAT(help, HasSubstr("string socket_path\n"));
  EXPECT_THAT(help, HasSubstr("  --mode server|client "));
  EXPECT_THAT(help, HasSubstr("optional uint32 queues\n"));
  EXPECT_THAT(help, HasSubstr("  --tso, --no-tso "));
  EXPECT_THAT(help, HasSubstr("  --disable-mrg-rxbuf, --no-mrg-rxbuf "));
  EXPECT_THAT(help, HasSubstr("  --spec JSON "));
  EXPECT_THAT(help, Not(HasSubstr("Only in --spec")));
  const std::string test_help = SpecFlags(Spec(kTestSpec)).Help("test-type");
  EXPECT_THAT(test_help, HasSubstr("--tags TAGS (repeatable)"));
  EXPECT_THAT(test_help, HasSubstr("Only in --spec: inner (a message), labels (a map)"));
  EXPECT_THAT(SpecFlags(nullptr).Help("bare"), HasSubstr("no spec message"));
}

TEST_F(SpecFlagsTest, EnumNames) {
  const google::protobuf::EnumDescriptor* color = Spec(kTestSpec)->FindEnumTypeByName("Color");
  ASSERT_NE(color, nullptr);
  EXPECT_EQ(EnumChoices(color), "red|dark-blue");
  EXPECT_EQ(FindEnumValue(color, "Dark_Blue")->name(), "COLOR_DARK_BLUE");
  EXPECT_EQ(FindEnumValue(color, "COLOR_UNSPECIFIED")->number(), 0);
  EXPECT_EQ(FindEnumValue(color, "blue"), nullptr);
  EXPECT_EQ(FindEnumValue(color, ""), nullptr);
  const google::protobuf::EnumDescriptor* mode = Spec(kVhostUser)->FindEnumTypeByName("Mode");
  EXPECT_EQ(EnumChoices(mode), "server|client");
}

TEST_F(SpecFlagsTest, NoSpecMessageNoFlags) {
  const SpecFlags flags(nullptr);
  EXPECT_THAT(flags.flags(), IsEmpty());
  ParseResult parsed = ParseArgs({"port", "create", "p", "--type", "bare", "--x"}, &flags.flags());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error->message, "unknown flag --x for --type bare");
}

}  // namespace
}  // namespace vhostctl
