#include "server/port_manager.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/testing/files.h"
#include "server/state_store.h"
#include "server/stored_port.h"
#include "server/testing/fake_forwarding_engine.h"
#include "server/testing/fake_port_plugin.h"

namespace vhostd {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;
using fakes::FakeBackend;
using fakes::FakeForwardingEngine;
using fakes::FakePluginLog;
using fakes::FakePortPlugin;
using vhostd::v1::CrossConnect;
using vhostd::v1::Port;
using vhostd::v1::PortStatus;
using vhostd::plugins::vhost_user::v1::VhostUserSpec;

// --- helpers ---

using testing_files::Exists;
using testing_files::ReadFile;
using testing_files::WriteFile;

// The state file's content and inode (a snapshot replaces the file by rename, so any
// write shows), with the journal's content.
struct FileSnapshot {
  bool exists = false;
  std::string content;
  ino_t inode = 0;
  bool operator==(const FileSnapshot& o) const {
    return exists == o.exists && content == o.content && inode == o.inode;
  }
};

FileSnapshot Snapshot(const std::string& path) {
  FileSnapshot s;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    s.exists = true;
    s.inode = st.st_ino;
    s.content = ReadFile(path);
  }
  // While BreakPersistence() holds the journal's place, the journal is set aside.
  std::string journal = path + ".journal";
  if (stat(journal.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) journal += ".aside";
  if (stat(journal.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    s.exists = true;
    s.content += "\n--journal--\n" + ReadFile(journal);
  }
  return s;
}

// The port's vhost-user spec (empty if it has another or none).
VhostUserSpec SpecOf(const Port& port) {
  VhostUserSpec spec;
  port.spec().UnpackTo(&spec);
  return spec;
}

Port WithSpec(Port port, const VhostUserSpec& spec) {
  port.mutable_spec()->PackFrom(spec);
  return port;
}

// `port` with its spec changed by `edit`.
template <typename Edit>
Port Edited(Port port, Edit edit) {
  VhostUserSpec spec = SpecOf(port);
  edit(spec);
  return WithSpec(std::move(port), spec);
}

Port VhostUser(const std::string& name, const std::string& socket, std::optional<uint32_t> queues = std::nullopt) {
  Port port;
  port.set_name(name);
  port.set_type("vhost-user");
  VhostUserSpec spec;
  spec.set_socket_path(socket);
  if (queues) spec.set_queues(*queues);
  return WithSpec(std::move(port), spec);
}

CrossConnect XConnect(const std::string& name, const std::string& a, const std::string& b) {
  CrossConnect x;
  x.set_name(name);
  x.set_port_a(a);
  x.set_port_b(b);
  return x;
}

Port WithoutStatus(Port port) {
  port.clear_status();
  return port;
}

#define EXPECT_CODE(expr, expected_code)                                          \
  do {                                                                            \
    const absl::Status _s = (expr);                                               \
    EXPECT_EQ(_s.code(), (expected_code)) << #expr << " returned " << _s;         \
  } while (0)

// The status of an absl::StatusOr.
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

using EntryKey = std::tuple<int, int, int, int>;  // rx port, rx queue, tx port, tx queue

// The fake port id a FakeBackend puts in its PortIo.
int IdOf(const PortIo& io) { return static_cast<int>(reinterpret_cast<uintptr_t>(io.context)); }

std::multiset<EntryKey> EntriesOf(const std::vector<CoreProgram>& programs) {
  std::multiset<EntryKey> entries;
  for (const CoreProgram& program : programs) {
    EXPECT_EQ(program.entries.size(), program.labels.size());
    for (const PollEntry& e : program.entries) entries.insert({IdOf(e.rx_port), e.rx_queue, IdOf(e.tx_port), e.tx_queue});
  }
  return entries;
}

size_t EntryCount(const std::vector<CoreProgram>& programs) {
  size_t n = 0;
  for (const CoreProgram& p : programs) n += p.entries.size();
  return n;
}

// --- fixture ---

class PortManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(tmp ? tmp : "/tmp", "/port_manager_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << strerror(errno);
    dir_ = pattern;
    state_path_ = dir_ + "/state.json";
    Start(state_path_);
  }

  void TearDown() override {
    manager_.reset();
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // A fresh daemon (registry, plugin, engine, manager) on the state file `path`.
  void Start(const std::string& path, size_t cores = 2) {
    manager_.reset();
    log_ = std::make_shared<FakePluginLog>();
    store_ = std::make_unique<StateStore>(path);
    registry_ = std::make_unique<PluginRegistry>();
    auto plugin = std::make_unique<FakePortPlugin>(log_);
    plugin_ = plugin.get();
    ASSERT_TRUE(registry_->Register(FakePortPlugin::Info(), std::move(plugin)).ok());
    engine_ = std::make_unique<FakeForwardingEngine>(cores);
    manager_ = std::make_unique<PortManager>(registry_.get(), engine_.get(), store_.get(), PluginContext{});
  }

  // Simulates a daemon restart on the same state file (without calling Restore).
  void Restart(size_t cores = 2) { Start(state_path_, cores); }

  void CreateOk(const Port& port) {
    absl::StatusOr<Port> created = manager_->CreatePort(port);
    ASSERT_TRUE(created.ok()) << port.name() << ": " << created.status();
  }

  void CrossOk(const CrossConnect& x) {
    absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(x);
    ASSERT_TRUE(created.ok()) << x.name() << ": " << created.status();
  }

  std::vector<std::string> PortNames() {
    vhostd::v1::ListPortsRequest request;
    request.set_page_size(1000);
    absl::StatusOr<vhostd::v1::ListPortsResponse> response = manager_->ListPorts(request);
    EXPECT_TRUE(response.ok()) << response.status();
    std::vector<std::string> names;
    if (response.ok()) {
      for (const Port& p : response->ports()) names.push_back(p.name());
    }
    return names;
  }

  std::vector<std::string> XConnectNames() {
    absl::StatusOr<vhostd::v1::ListCrossConnectsResponse> response =
        manager_->ListCrossConnects(vhostd::v1::ListCrossConnectsRequest());
    EXPECT_TRUE(response.ok()) << response.status();
    std::vector<std::string> names;
    if (response.ok()) {
      for (const CrossConnect& x : response->cross_connects()) names.push_back(x.name());
    }
    return names;
  }

  vhostd::state::DesiredState SavedState() {
    absl::StatusOr<vhostd::state::DesiredState> state = StateStore(state_path_).Load();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : vhostd::state::DesiredState();
  }

  FakeBackend* Backend(const std::string& name) {
    auto it = log_->live.find(name);
    return it == log_->live.end() ? nullptr : it->second;
  }

  // Makes the next StateStore::Save fail (its temp file path is taken by a directory).
  // A directory where the journal (and a snapshot's temp file) must go: appends fail.
  void BreakPersistence() {
    const std::string journal = state_path_ + ".journal";
    if (Exists(journal)) ASSERT_EQ(rename(journal.c_str(), (journal + ".aside").c_str()), 0);
    ASSERT_EQ(mkdir(journal.c_str(), 0700), 0);
    ASSERT_EQ(mkdir((state_path_ + ".tmp").c_str(), 0700), 0);
  }
  void FixPersistence() {
    const std::string journal = state_path_ + ".journal";
    ASSERT_EQ(rmdir(journal.c_str()), 0);
    if (Exists(journal + ".aside")) ASSERT_EQ(rename((journal + ".aside").c_str(), journal.c_str()), 0);
    ASSERT_EQ(rmdir((state_path_ + ".tmp").c_str()), 0);
  }

  std::string dir_, state_path_;
  std::shared_ptr<FakePluginLog> log_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<PluginRegistry> registry_;
  FakePortPlugin* plugin_ = nullptr;  // owned by registry_
  std::unique_ptr<FakeForwardingEngine> engine_;
  std::unique_ptr<PortManager> manager_;  // declared last: destroyed first
};

// --- CreatePort validation ---

TEST_F(PortManagerTest, BadNameIsInvalidArgumentAndChangesNothing) {
  for (const std::string& name : {std::string(""), std::string("Vm1"), std::string("vm_1"), std::string("-vm"), std::string("vm-"), std::string(64, 'a')}) {
    absl::StatusOr<Port> created = manager_->CreatePort(VhostUser(name, "vm.sock"));
    ASSERT_FALSE(created.ok()) << "\"" << name << "\" accepted";
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(created.status()), StartsWith("port.name: "));
  }
  EXPECT_FALSE(Snapshot(state_path_).exists);
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_THAT(log_->open_attempts, IsEmpty());
}

TEST_F(PortManagerTest, MissingTypeAndSpecIsInvalidArgumentNamingTheType) {
  Port port;
  port.set_name("vm1");
  absl::StatusOr<Port> created = manager_->CreatePort(port);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(created.status()), StartsWith("port.type: required (one of vhost-user)"));
  EXPECT_FALSE(Snapshot(state_path_).exists);
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_THAT(log_->open_attempts, IsEmpty());
}

TEST_F(PortManagerTest, TypeComesFromTheSpecsMessageWhenLeftOut) {
  Port port = VhostUser("vm1", "vm1.sock");
  port.clear_type();
  absl::StatusOr<Port> created = manager_->CreatePort(port);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->type(), "vhost-user");
  EXPECT_EQ(created->spec().type_url(), "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec");
}

TEST_F(PortManagerTest, TypeWithoutSpecGetsTheTypesDefaults) {
  Port port;
  port.set_name("vm1");
  port.set_type("vhost-user");
  // The defaults reach the plugin, whose validation speaks (a socket path is required).
  absl::StatusOr<Port> created = manager_->CreatePort(port);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(created.status()), StartsWith("port.spec.socket_path: required"));
}

TEST_F(PortManagerTest, BadTypesAndSpecsAreInvalidArgumentNamingTheField) {
  struct Case {
    Port port;
    std::string prefix;
  };
  Port unknown_type = VhostUser("p1", "p1.sock");
  unknown_type.set_type("vhost-kernel");  // no such plugin here
  google::protobuf::Empty empty;
  Port foreign_spec = VhostUser("p1", "p1.sock");
  foreign_spec.mutable_spec()->PackFrom(empty);  // the spec of no plugin
  Port foreign_untyped = foreign_spec;
  foreign_untyped.clear_type();
  Port garbage = VhostUser("p1", "p1.sock");
  garbage.mutable_spec()->set_value("\xff\xff\xff");
  Port newer = VhostUser("p1", "p1.sock");
  newer.mutable_spec()->mutable_value()->append("\xa8\x1f\x01");  // field 501 = 1: not in VhostUserSpec
  Port no_url = VhostUser("p1", "p1.sock");
  no_url.mutable_spec()->set_type_url("");
  for (const Case& c : std::vector<Case>{
           {unknown_type, "port.type: unknown port type \"vhost-kernel\" (this vhostd serves vhost-user)"},
           {foreign_spec, "port.spec: is a google.protobuf.Empty; port type vhost-user takes a "
                          "vhostd.plugins.vhost_user.v1.VhostUserSpec"},
           {foreign_untyped, "port.spec: google.protobuf.Empty is the spec of no loaded plugin"},
           {garbage, "port.spec: not a valid vhostd.plugins.vhost_user.v1.VhostUserSpec"},
           {newer, "port.spec: has fields that vhostd.plugins.vhost_user.v1.VhostUserSpec does not define"},
           {no_url, "port.spec: type_url \"\" names no message"},
       }) {
    absl::StatusOr<Port> created = manager_->CreatePort(c.port);
    ASSERT_FALSE(created.ok()) << c.port.ShortDebugString();
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
    EXPECT_THAT(Message(created.status()), StartsWith(c.prefix));
  }
  EXPECT_FALSE(Snapshot(state_path_).exists);
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_THAT(log_->open_attempts, IsEmpty());
}

TEST_F(PortManagerTest, ClientInputInErrorsIsBounded) {
  Port port = VhostUser("p1", "p1.sock");
  port.set_type(std::string(5000, 'x'));
  absl::StatusOr<Port> created = manager_->CreatePort(port);
  ASSERT_FALSE(created.ok());
  EXPECT_LT(created.status().message().size(), 400u) << created.status();
}

TEST_F(PortManagerTest, PluginValidationErrorsNameTheField) {
  struct Case {
    Port port;
    std::string prefix;
  };
  const Port both_buffers = Edited(VhostUser("vm1", "vm.sock"), [](VhostUserSpec& spec) {
    spec.set_linear_buffer(true);
    spec.set_ext_buffer(true);
  });
  const Port bad_mode = Edited(VhostUser("vm1", "vm.sock"),
                               [](VhostUserSpec& spec) { spec.set_mode(static_cast<VhostUserSpec::Mode>(7)); });
  for (const Case& c : std::vector<Case>{
           {VhostUser("vm1", "vm.sock", 0), "port.spec.queues: "},
           {VhostUser("vm1", "vm.sock", 17), "port.spec.queues: "},
           {VhostUser("vm1", ""), "port.spec.socket_path: "},
           {VhostUser("vm1", "a,b.sock"), "port.spec.socket_path: "},
           {VhostUser("vm1", "../escape.sock"), "port.spec.socket_path: "},
           {both_buffers, "port.spec.ext_buffer: "},
           {bad_mode, "port.spec.mode: "},
       }) {
    absl::StatusOr<Port> created = manager_->CreatePort(c.port);
    ASSERT_FALSE(created.ok()) << c.port.ShortDebugString();
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(created.status()), StartsWith(c.prefix));
  }
  EXPECT_FALSE(Snapshot(state_path_).exists);
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_THAT(log_->open_attempts, IsEmpty());
}

TEST_F(PortManagerTest, UnavailableTypeIsFailedPrecondition) {
  plugin_->available = absl::UnavailableError("no /dev/something");
  absl::StatusOr<Port> created = manager_->CreatePort(VhostUser("vm1", "vm.sock"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(created.status()), HasSubstr("no /dev/something"));
  EXPECT_THAT(log_->open_attempts, IsEmpty());
  EXPECT_FALSE(Snapshot(state_path_).exists);
}

TEST_F(PortManagerTest, RejectedRequestsLeaveExistingStateAlone) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  const FileSnapshot before = Snapshot(state_path_);
  ASSERT_TRUE(before.exists);

  Port no_spec;
  no_spec.set_name("vm2");
  Port kernel;
  kernel.set_name("tap1");
  kernel.set_type("vhost-kernel");
  EXPECT_FALSE(manager_->CreatePort(VhostUser("Bad", "x.sock")).ok());
  EXPECT_FALSE(manager_->CreatePort(no_spec).ok());
  EXPECT_FALSE(manager_->CreatePort(kernel).ok());
  EXPECT_FALSE(manager_->CreatePort(VhostUser("vm2", "x.sock", 99)).ok());
  EXPECT_FALSE(manager_->CreatePort(VhostUser("vm1", "vm1.sock", 2)).ok());  // different spec
  EXPECT_FALSE(manager_->CreatePort(VhostUser("vm2", "vm1.sock")).ok());     // socket in use
  plugin_->open_error = absl::InternalError("boom");
  EXPECT_FALSE(manager_->CreatePort(VhostUser("vm3", "vm3.sock")).ok());     // Open fails
  EXPECT_FALSE(manager_->CreateCrossConnect(XConnect("x1", "vm1", "ghost")).ok());
  EXPECT_FALSE(manager_->DeletePort("ghost", false).ok());

  EXPECT_TRUE(Snapshot(state_path_) == before) << "state file was rewritten";
  EXPECT_THAT(PortNames(), ElementsAre("vm1"));
  EXPECT_THAT(log_->opened, ElementsAre("vm1"));
  EXPECT_THAT(log_->open_attempts, ElementsAre("vm1", "vm3"));
  EXPECT_EQ(log_->destroyed, 0);
  EXPECT_THAT(engine_->applied, IsEmpty());
}

// --- CreatePort ---

TEST_F(PortManagerTest, CreateReturnsNormalizedSpecWithStatusAndPersistsIt) {
  Port request = VhostUser("vm1", "vm1.sock");
  request.mutable_status()->set_state(PortStatus::ERROR);  // output only: ignored
  request.mutable_status()->set_message("client-supplied");
  absl::StatusOr<Port> created = manager_->CreatePort(request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->name(), "vm1");
  EXPECT_EQ(SpecOf(*created).socket_path(), "/fake/sockets/vm1.sock");
  EXPECT_EQ(SpecOf(*created).mode(), VhostUserSpec::MODE_SERVER);
  EXPECT_TRUE(SpecOf(*created).has_queues());
  EXPECT_EQ(SpecOf(*created).queues(), 1u);
  EXPECT_EQ(created->status().state(), PortStatus::UP);
  EXPECT_EQ(created->status().message(), "");
  EXPECT_EQ(created->status().dataplane_port_id(), 10);
  ASSERT_EQ(created->status().queues_size(), 1);
  EXPECT_EQ(created->status().queues(0).lcore(), -1) << "not polled: in no cross-connect";

  const vhostd::state::DesiredState saved = SavedState();
  ASSERT_EQ(saved.ports_size(), 1);
  EXPECT_FALSE(saved.ports(0).fields().count("status")) << "status must not be persisted";
  absl::StatusOr<Port> stored = ParseStoredPort(saved.ports(0));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*stored, WithoutStatus(*created))) << stored->ShortDebugString();
  EXPECT_FALSE(Exists(state_path_ + ".tmp"));

  absl::StatusOr<Port> got = manager_->GetPort("vm1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, *created));
}

TEST_F(PortManagerTest, CreateIsIdempotent) {
  absl::StatusOr<Port> first = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_TRUE(first.ok()) << first.status();
  const FileSnapshot saved = Snapshot(state_path_);
  absl::StatusOr<Port> second = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *second));
  // The same spec spelled out in canonical form is the same request too.
  const Port spelled = Edited(VhostUser("vm1", "/fake/sockets/vm1.sock", 1),
                              [](VhostUserSpec& spec) { spec.set_mode(VhostUserSpec::MODE_SERVER); });
  absl::StatusOr<Port> third = manager_->CreatePort(spelled);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *third));

  EXPECT_THAT(log_->open_attempts, ElementsAre("vm1"));
  EXPECT_EQ(log_->destroyed, 0);
  EXPECT_TRUE(Snapshot(state_path_) == saved) << "a retry must not rewrite the state";
}

TEST_F(PortManagerTest, DifferentSpecUnderSameNameIsAlreadyExists) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  for (const Port& other : {VhostUser("vm1", "vm1.sock", 2), VhostUser("vm1", "other.sock")}) {
    absl::StatusOr<Port> created = manager_->CreatePort(other);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists) << created.status();
    EXPECT_THAT(Message(created.status()), StartsWith("port.name: "));
  }
  EXPECT_THAT(log_->open_attempts, ElementsAre("vm1"));
  EXPECT_EQ(SpecOf(*manager_->GetPort("vm1")).queues(), 1u);
}

TEST_F(PortManagerTest, TwoPortsCannotClaimTheSameExclusiveResource) {
  CreateOk(VhostUser("vm1", "shared.sock"));
  for (const Port& port : {VhostUser("vm2", "shared.sock"), VhostUser("vm3", "/fake/sockets/shared.sock", 4)}) {
    absl::StatusOr<Port> created = manager_->CreatePort(port);
    ASSERT_FALSE(created.ok()) << port.name();
    EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition) << created.status();
    EXPECT_THAT(Message(created.status()), HasSubstr("/fake/sockets/shared.sock"));
    EXPECT_THAT(Message(created.status()), HasSubstr("vm1"));
  }
  EXPECT_THAT(log_->open_attempts, ElementsAre("vm1"));
  EXPECT_THAT(PortNames(), ElementsAre("vm1"));
  // Once the holder is gone, the resource is free again.
  ASSERT_TRUE(manager_->DeletePort("vm1", false).ok());
  CreateOk(VhostUser("vm2", "shared.sock"));
}

TEST_F(PortManagerTest, OpenFailureIsReturnedAndNothingIsKept) {
  plugin_->open_error = absl::ResourceExhaustedError("fake: out of ports");
  absl::StatusOr<Port> created = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(created.status()), HasSubstr("fake: out of ports"));
  EXPECT_FALSE(Snapshot(state_path_).exists);
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_CODE(StatusOf(manager_->GetPort("vm1")), absl::StatusCode::kNotFound);
  EXPECT_CODE(StatusOf(manager_->GetPortStats("vm1")), absl::StatusCode::kNotFound);
  // The failure left nothing behind that blocks a later attempt.
  plugin_->open_error = absl::OkStatus();
  CreateOk(VhostUser("vm1", "vm1.sock"));
  EXPECT_THAT(log_->opened, ElementsAre("vm1"));
}

TEST_F(PortManagerTest, PersistenceFailureIsUnavailableAndClosesThePort) {
  Start(dir_ + "/no-such-dir/state.json");
  absl::StatusOr<Port> created = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_THAT(log_->opened, ElementsAre("vm1"));
  EXPECT_EQ(log_->destroyed, 1) << "the opened backend must be closed again";
  EXPECT_THAT(log_->live, IsEmpty());
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_CODE(StatusOf(manager_->GetPort("vm1")), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(dir_ + "/no-such-dir"));
}

TEST_F(PortManagerTest, PersistenceFailureKeepsPreviouslySavedState) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  const FileSnapshot before = Snapshot(state_path_);
  BreakPersistence();
  EXPECT_CODE(StatusOf(manager_->CreatePort(VhostUser("vm2", "vm2.sock"))), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Snapshot(state_path_) == before);
  EXPECT_THAT(PortNames(), ElementsAre("vm1"));
  EXPECT_EQ(log_->destroyed, 1);
  ASSERT_NE(Backend("vm1"), nullptr);
  FixPersistence();
  CreateOk(VhostUser("vm2", "vm2.sock"));
}

// --- GetPort / DeletePort ---

TEST_F(PortManagerTest, GetPortErrors) {
  EXPECT_CODE(StatusOf(manager_->GetPort("ghost")), absl::StatusCode::kNotFound);
  absl::StatusOr<Port> bad = manager_->GetPort("Bad_Name");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad.status()), StartsWith("name: "));
}

TEST_F(PortManagerTest, DeleteMissingPort) {
  absl::Status deleted = manager_->DeletePort("ghost", false);
  EXPECT_EQ(deleted.code(), absl::StatusCode::kNotFound) << deleted;
  EXPECT_THAT(Message(deleted), HasSubstr("ghost"));
  EXPECT_TRUE(manager_->DeletePort("ghost", true).ok());
  EXPECT_CODE(manager_->DeletePort("Bad_Name", true), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Snapshot(state_path_).exists);
}

TEST_F(PortManagerTest, DeleteClosesThePortAndPersists) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  ASSERT_TRUE(manager_->DeletePort("vm1", false).ok());
  EXPECT_EQ(log_->destroyed, 1);
  EXPECT_EQ(Backend("vm1"), nullptr);
  EXPECT_NE(Backend("vm2"), nullptr);
  EXPECT_THAT(PortNames(), ElementsAre("vm2"));
  EXPECT_CODE(StatusOf(manager_->GetPort("vm1")), absl::StatusCode::kNotFound);
  const vhostd::state::DesiredState saved = SavedState();
  ASSERT_EQ(saved.ports_size(), 1);
  EXPECT_EQ(StoredString(saved.ports(0), "name"), "vm2");
  // Deleting again: NOT_FOUND, or OK with allow_missing.
  EXPECT_CODE(manager_->DeletePort("vm1", false), absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager_->DeletePort("vm1", true).ok());
}

TEST_F(PortManagerTest, DeleteWhileCrossConnectedIsFailedPrecondition) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const FileSnapshot before = Snapshot(state_path_);
  for (const std::string name : {"vm1", "vm2"}) {
    absl::Status deleted = manager_->DeletePort(name, false);
    EXPECT_EQ(deleted.code(), absl::StatusCode::kFailedPrecondition) << deleted;
    EXPECT_THAT(Message(deleted), HasSubstr("x1"));
    // allow_missing does not excuse a port that exists.
    EXPECT_CODE(manager_->DeletePort(name, true), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(log_->destroyed, 0);
  EXPECT_TRUE(Snapshot(state_path_) == before);
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  EXPECT_TRUE(manager_->DeletePort("vm1", false).ok());
  EXPECT_TRUE(manager_->DeletePort("vm2", false).ok());
  EXPECT_EQ(log_->destroyed, 2);
  EXPECT_EQ(SavedState().ports_size(), 0);
}

TEST_F(PortManagerTest, DeletePersistenceFailureKeepsThePort) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  const FileSnapshot before = Snapshot(state_path_);
  BreakPersistence();
  EXPECT_CODE(manager_->DeletePort("vm1", false), absl::StatusCode::kUnavailable);
  EXPECT_EQ(log_->destroyed, 0);
  EXPECT_NE(Backend("vm1"), nullptr);
  EXPECT_THAT(PortNames(), ElementsAre("vm1"));
  EXPECT_TRUE(Snapshot(state_path_) == before);
}

// --- cross-connects ---

class CrossConnectTest : public PortManagerTest {
 protected:
  void SetUp() override {
    PortManagerTest::SetUp();
    CreateOk(VhostUser("vm1", "vm1.sock", 2));  // port id 10
    CreateOk(VhostUser("vm2", "vm2.sock", 2));  // port id 11
    CreateOk(VhostUser("vm3", "vm3.sock", 1));  // port id 12
  }
};

TEST_F(CrossConnectTest, ValidationErrors) {
  const FileSnapshot before = Snapshot(state_path_);
  struct Case {
    CrossConnect x;
    absl::StatusCode code;
    std::string prefix;
  };
  for (const Case& c : std::vector<Case>{
           {XConnect("X1", "vm1", "vm2"), absl::StatusCode::kInvalidArgument, "cross_connect.name: "},
           {XConnect("", "vm1", "vm2"), absl::StatusCode::kInvalidArgument, "cross_connect.name: "},
           {XConnect("x1", "", "vm2"), absl::StatusCode::kInvalidArgument, "cross_connect.port_a: "},
           {XConnect("x1", "vm1", "VM2"), absl::StatusCode::kInvalidArgument, "cross_connect.port_b: "},
           {XConnect("x1", "vm1", "vm1"), absl::StatusCode::kInvalidArgument, "cross_connect.port_b: "},
           {XConnect("x1", "ghost", "vm2"), absl::StatusCode::kNotFound, "cross_connect.port_a: "},
           {XConnect("x1", "vm1", "ghost"), absl::StatusCode::kNotFound, "cross_connect.port_b: "},
       }) {
    absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(c.x);
    ASSERT_FALSE(created.ok()) << c.x.ShortDebugString();
    EXPECT_EQ(created.status().code(), c.code) << created.status();
    EXPECT_THAT(Message(created.status()), StartsWith(c.prefix));
  }
  EXPECT_THAT(XConnectNames(), IsEmpty());
  EXPECT_THAT(engine_->applied, IsEmpty());
  EXPECT_TRUE(Snapshot(state_path_) == before);
}

TEST_F(CrossConnectTest, PortsCanBeInOnlyOneCrossConnect) {
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const size_t applies = engine_->applied.size();
  const FileSnapshot before = Snapshot(state_path_);
  for (const CrossConnect& x : {XConnect("x2", "vm2", "vm3"), XConnect("x2", "vm3", "vm1")}) {
    absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(x);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition) << created.status();
    EXPECT_THAT(Message(created.status()), HasSubstr("x1"));
  }
  EXPECT_EQ(engine_->applied.size(), applies);
  EXPECT_TRUE(Snapshot(state_path_) == before);
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
}

TEST_F(CrossConnectTest, CreateIsIdempotentAndDifferentPortsAreAlreadyExists) {
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const size_t applies = engine_->applied.size();
  const FileSnapshot before = Snapshot(state_path_);
  absl::StatusOr<CrossConnect> retry = manager_->CreateCrossConnect(XConnect("x1", "vm1", "vm2"));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*retry, XConnect("x1", "vm1", "vm2")));
  EXPECT_EQ(engine_->applied.size(), applies) << "a retry must not reprogram";
  EXPECT_TRUE(Snapshot(state_path_) == before) << "a retry must not rewrite the state";

  absl::StatusOr<CrossConnect> other = manager_->CreateCrossConnect(XConnect("x1", "vm1", "vm3"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists) << other.status();
  EXPECT_THAT(Message(other.status()), StartsWith("cross_connect.name: "));
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
}

TEST_F(CrossConnectTest, ApplyGetsProgramsForBothDirections) {
  ASSERT_THAT(engine_->applied, IsEmpty());
  absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(XConnect("x1", "vm1", "vm2"));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_THAT(engine_->applied, SizeIs(1));
  const std::vector<CoreProgram>& programs = engine_->applied.back();
  ASSERT_THAT(programs, SizeIs(2)) << "one program per core";
  EXPECT_EQ(EntriesOf(programs),
            (std::multiset<EntryKey>{{10, 0, 11, 0}, {10, 1, 11, 1}, {11, 0, 10, 0}, {11, 1, 10, 1}}));
  // Two units (one per queue index), one per core.
  EXPECT_THAT(programs[0].entries, SizeIs(2));
  EXPECT_THAT(programs[1].entries, SizeIs(2));
  // Entries carry the backends' own counters and the ports' names.
  FakeBackend* vm1 = Backend("vm1");
  FakeBackend* vm2 = Backend("vm2");
  ASSERT_NE(vm1, nullptr);
  ASSERT_NE(vm2, nullptr);
  for (const CoreProgram& program : programs) {
    for (size_t i = 0; i < program.entries.size(); ++i) {
      const PollEntry& e = program.entries[i];
      FakeBackend* rx = IdOf(e.rx_port) == 10 ? vm1 : vm2;
      FakeBackend* tx = IdOf(e.tx_port) == 10 ? vm1 : vm2;
      EXPECT_EQ(e.rx_counters, &rx->counter(e.rx_queue));
      EXPECT_EQ(e.tx_counters, &tx->counter(e.tx_queue));
      EXPECT_EQ(program.labels[i].rx_port, IdOf(e.rx_port) == 10 ? "vm1" : "vm2");
      EXPECT_EQ(program.labels[i].tx_port, IdOf(e.tx_port) == 10 ? "vm1" : "vm2");
    }
  }
  // The ports now show which core polls each queue.
  absl::StatusOr<Port> port = manager_->GetPort("vm1");
  ASSERT_TRUE(port.ok());
  ASSERT_EQ(port->status().queues_size(), 2);
  std::set<int> lcores;
  for (const auto& q : port->status().queues()) lcores.insert(q.lcore());
  EXPECT_EQ(lcores, (std::set<int>{1, 2}));
  // And the cores list them.
  vhostd::v1::ListCoresResponse cores = manager_->ListCores();
  ASSERT_EQ(cores.cores_size(), 2);
  int polled = 0;
  for (const auto& core : cores.cores()) {
    for (const auto& q : core.queues()) {
      ++polled;
      EXPECT_EQ(q.forwards_to(), q.port() == "vm1" ? "vm2" : "vm1");
    }
  }
  EXPECT_EQ(polled, 4);
  // Persisted.
  const vhostd::state::DesiredState saved = SavedState();
  ASSERT_EQ(saved.cross_connects_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(saved.cross_connects(0), XConnect("x1", "vm1", "vm2")));
}

TEST_F(CrossConnectTest, UnequalQueueCounts) {
  CrossOk(XConnect("x1", "vm1", "vm3"));  // 2 queues <-> 1 queue
  ASSERT_THAT(engine_->applied, SizeIs(1));
  EXPECT_EQ(EntriesOf(engine_->applied.back()),
            (std::multiset<EntryKey>{{10, 0, 12, 0}, {10, 1, 12, 0}, {12, 0, 10, 0}}));
}

TEST_F(CrossConnectTest, DeleteCrossConnectStopsForwarding) {
  CrossOk(XConnect("x1", "vm1", "vm2"));
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  ASSERT_THAT(engine_->applied, SizeIs(2));
  EXPECT_EQ(EntryCount(engine_->applied.back()), 0u);
  EXPECT_THAT(XConnectNames(), IsEmpty());
  EXPECT_EQ(SavedState().cross_connects_size(), 0);
  EXPECT_EQ(manager_->GetPort("vm1")->status().queues(0).lcore(), -1);
  EXPECT_EQ(log_->destroyed, 0) << "deleting a cross-connect keeps its ports";

  EXPECT_CODE(manager_->DeleteCrossConnect("x1", false), absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager_->DeleteCrossConnect("x1", true).ok());
  EXPECT_CODE(manager_->DeleteCrossConnect("X1", true), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine_->applied, SizeIs(2)) << "failed or no-op deletes must not reprogram";
  // The ports are free for a new cross-connect.
  CrossOk(XConnect("x2", "vm2", "vm1"));
}

TEST_F(CrossConnectTest, CreateTheDataplaneDoesNotTakeIsRolledBack) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const std::vector<CoreProgram> x1_plan = engine_->applied.back();
  const FileSnapshot before = Snapshot(state_path_);
  engine_->apply_error = absl::DeadlineExceededError("polling lcore 1 did not take its new program in time");
  absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(XConnect("x2", "vm3", "vm4"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_THAT(Message(created.status()), StartsWith("cross-connect not created: "));
  EXPECT_THAT(Message(created.status()), HasSubstr("polling lcore 1 did not take its new program"));
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
  EXPECT_TRUE(Snapshot(state_path_) == before) << "a change the data plane did not take must not be saved";
  // The new plan was tried, then the previous one installed again.
  ASSERT_THAT(engine_->applied, SizeIs(3));
  EXPECT_EQ(EntryCount(engine_->applied[1]), 6u);
  EXPECT_EQ(EntriesOf(engine_->applied[2]), EntriesOf(x1_plan));
  // Nothing of x2 was kept: its ports are free once the data plane works again.
  engine_->apply_error = absl::OkStatus();
  CrossOk(XConnect("x2", "vm4", "vm3"));
  EXPECT_EQ(SavedState().cross_connects_size(), 2);
}

TEST_F(CrossConnectTest, DeleteTheDataplaneDoesNotTakeKeepsTheCrossConnect) {
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const std::vector<CoreProgram> x1_plan = engine_->applied.back();
  const FileSnapshot before = Snapshot(state_path_);
  engine_->apply_error = absl::DeadlineExceededError("polling lcore 2 did not take its new program in time");
  absl::Status deleted = manager_->DeleteCrossConnect("x1", false);
  EXPECT_EQ(deleted.code(), absl::StatusCode::kUnavailable) << deleted;
  EXPECT_THAT(Message(deleted), StartsWith("cross-connect not deleted: "));
  EXPECT_THAT(Message(deleted), HasSubstr("polling lcore 2"));
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
  EXPECT_TRUE(Snapshot(state_path_) == before);
  ASSERT_THAT(engine_->applied, SizeIs(3));
  EXPECT_EQ(EntryCount(engine_->applied[1]), 0u) << "the plan without x1 was tried";
  EXPECT_EQ(EntriesOf(engine_->applied[2]), EntriesOf(x1_plan)) << "then x1's plan was installed again";
  EXPECT_CODE(manager_->DeletePort("vm1", false), absl::StatusCode::kFailedPrecondition);
  engine_->apply_error = absl::OkStatus();
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  EXPECT_EQ(SavedState().cross_connects_size(), 0);
}

TEST_F(CrossConnectTest, PortStaysOpenWhileACoreMayStillPollIt) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  // A core misses the handshake for x2's plan, and again for the previous plan: it may
  // take x2's program (with vm3 and vm4) any time, and still runs x1's (vm1, vm2).
  engine_->apply_error = absl::DeadlineExceededError("lcore 1 did not take its new program");
  EXPECT_CODE(StatusOf(manager_->CreateCrossConnect(XConnect("x2", "vm3", "vm4"))), absl::StatusCode::kUnavailable);
  EXPECT_CODE(manager_->DeletePort("vm3", false), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log_->destroyed, 0) << "a port a core may still poll must not be closed";
  // Once a later reprogramming is acknowledged, the ports it does not use can go.
  engine_->apply_error = absl::OkStatus();
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  EXPECT_TRUE(manager_->DeletePort("vm3", false).ok());
  EXPECT_TRUE(manager_->DeletePort("vm1", false).ok());
}

TEST_F(CrossConnectTest, PortsOfARefusedPlanAreFreeOnceThePreviousPlanIsBack) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  // The new plan times out, re-installing the previous (empty) one is acknowledged: no
  // core can still hold a program with vm3 or vm4.
  engine_->results = {absl::DeadlineExceededError("lcore 1 did not take its new program"), absl::OkStatus()};
  EXPECT_CODE(StatusOf(manager_->CreateCrossConnect(XConnect("x2", "vm3", "vm4"))), absl::StatusCode::kUnavailable);
  EXPECT_THAT(XConnectNames(), IsEmpty());
  EXPECT_TRUE(manager_->DeletePort("vm3", false).ok());
}

TEST_F(CrossConnectTest, DataplaneHealthFollowsTheLastApply) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  std::vector<bool> reported;
  manager_->SetHealthListener([&](bool healthy) { reported.push_back(healthy); });
  EXPECT_TRUE(manager_->DataplaneHealthy());
  EXPECT_THAT(reported, ElementsAre(true)) << "the listener learns the current state at once";
  CrossOk(XConnect("x1", "vm1", "vm2"));
  EXPECT_THAT(reported, ElementsAre(true)) << "only changes are reported";
  // A core misses the new plan and the previous one: broken until an Apply succeeds.
  engine_->apply_error = absl::DeadlineExceededError("lcore 1 did not take its new program");
  EXPECT_CODE(StatusOf(manager_->CreateCrossConnect(XConnect("x2", "vm3", "vm4"))), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(manager_->DataplaneHealthy());
  EXPECT_THAT(reported, ElementsAre(true, false));
  engine_->apply_error = absl::OkStatus();
  CrossOk(XConnect("x2", "vm3", "vm4"));
  EXPECT_TRUE(manager_->DataplaneHealthy());
  EXPECT_THAT(reported, ElementsAre(true, false, true));
  // A refused plan whose predecessor goes back in: healthy again at the end.
  engine_->results = {absl::DeadlineExceededError("lcore 2 did not take its new program"), absl::OkStatus()};
  EXPECT_CODE(manager_->DeleteCrossConnect("x2", false), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(manager_->DataplaneHealthy());
  EXPECT_THAT(reported, ElementsAre(true, false, true, false, true));
  // A removed listener hears nothing more.
  manager_->SetHealthListener(nullptr);
  engine_->apply_error = absl::DeadlineExceededError("lcore 1 did not take its new program");
  EXPECT_CODE(manager_->DeleteCrossConnect("x2", false), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(manager_->DataplaneHealthy());
  EXPECT_THAT(reported, SizeIs(5));
}

TEST_F(PortManagerTest, RestoreWhoseApplyFailsIsUnhealthyUntilTheReconcilerSucceeds) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  Restart();
  engine_->apply_error = absl::DeadlineExceededError("lcore 1 did not take its new program");
  ASSERT_TRUE(manager_->Restore().ok()) << "the desired state is loaded even if the cores lag";
  EXPECT_FALSE(manager_->DataplaneHealthy());
  manager_->Reconcile();
  EXPECT_FALSE(manager_->DataplaneHealthy()) << "the retry failed too";
  engine_->apply_error = absl::OkStatus();
  manager_->Reconcile();
  EXPECT_TRUE(manager_->DataplaneHealthy());
}

TEST_F(CrossConnectTest, DeletingOneCrossConnectKeepsTheOther) {
  CreateOk(VhostUser("vm4", "vm4.sock", 1));  // port id 13
  CrossOk(XConnect("x1", "vm1", "vm2"));
  CrossOk(XConnect("x2", "vm3", "vm4"));
  EXPECT_EQ(EntryCount(engine_->applied.back()), 6u);
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  EXPECT_EQ(EntriesOf(engine_->applied.back()), (std::multiset<EntryKey>{{12, 0, 13, 0}, {13, 0, 12, 0}}));
}

TEST_F(CrossConnectTest, PersistenceFailuresChangeNothing) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const std::vector<CoreProgram> x1_plan = engine_->applied.back();
  const size_t applies = engine_->applied.size();
  const FileSnapshot before = Snapshot(state_path_);
  BreakPersistence();
  absl::StatusOr<CrossConnect> created = manager_->CreateCrossConnect(XConnect("x2", "vm3", "vm4"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_THAT(Message(created.status()), StartsWith("cross-connect not created: saving state failed: "));
  // The data plane took x2, then went back to x1 alone.
  ASSERT_EQ(engine_->applied.size(), applies + 2);
  EXPECT_EQ(EntryCount(engine_->applied[applies]), 6u);
  EXPECT_EQ(EntriesOf(engine_->applied.back()), EntriesOf(x1_plan));
  EXPECT_CODE(manager_->DeleteCrossConnect("x1", false), absl::StatusCode::kUnavailable);
  ASSERT_EQ(engine_->applied.size(), applies + 4);
  EXPECT_EQ(EntryCount(engine_->applied[applies + 2]), 0u);
  EXPECT_EQ(EntriesOf(engine_->applied.back()), EntriesOf(x1_plan));
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
  EXPECT_TRUE(Snapshot(state_path_) == before);
  // x2 was not kept: its ports are still free once saving works again.
  FixPersistence();
  CrossOk(XConnect("x3", "vm4", "vm3"));
}

TEST_F(CrossConnectTest, ListCrossConnectsPaginates) {
  CreateOk(VhostUser("vm4", "vm4.sock"));
  CreateOk(VhostUser("vm5", "vm5.sock"));
  CreateOk(VhostUser("vm6", "vm6.sock"));
  CrossOk(XConnect("xc", "vm5", "vm6"));
  CrossOk(XConnect("xa", "vm1", "vm2"));
  CrossOk(XConnect("xb", "vm3", "vm4"));
  vhostd::v1::ListCrossConnectsRequest request;
  request.set_page_size(2);
  absl::StatusOr<vhostd::v1::ListCrossConnectsResponse> page = manager_->ListCrossConnects(request);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->cross_connects_size(), 2);
  EXPECT_EQ(page->cross_connects(0).name(), "xa");
  EXPECT_EQ(page->cross_connects(1).name(), "xb");
  ASSERT_FALSE(page->next_page_token().empty());
  request.set_page_token(page->next_page_token());
  page = manager_->ListCrossConnects(request);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->cross_connects_size(), 1);
  EXPECT_EQ(page->cross_connects(0).name(), "xc");
  EXPECT_TRUE(page->next_page_token().empty());
  request.set_page_token("garbage!");
  EXPECT_CODE(StatusOf(manager_->ListCrossConnects(request)), absl::StatusCode::kInvalidArgument);
}

// --- Restore ---

TEST_F(PortManagerTest, RestoreWithoutStateFileStartsEmpty) {
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), IsEmpty());
  EXPECT_THAT(XConnectNames(), IsEmpty());
  EXPECT_THAT(log_->open_attempts, IsEmpty());
  EXPECT_FALSE(Snapshot(state_path_).exists);
  for (const auto& programs : engine_->applied) EXPECT_EQ(EntryCount(programs), 0u);
}

TEST_F(PortManagerTest, RestoreRecreatesPortsAndCrossConnects) {
  CreateOk(VhostUser("vm1", "vm1.sock", 2));
  CreateOk(VhostUser("vm2", "vm2.sock", 2));
  CreateOk(VhostUser("vm3", "vm3.sock", 3));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  std::map<std::string, Port> specs;
  for (const std::string name : {"vm1", "vm2", "vm3"}) specs[name] = WithoutStatus(*manager_->GetPort(name));
  Restart();  // a clean stop: one snapshot, an empty journal
  const FileSnapshot saved = Snapshot(state_path_);
  EXPECT_THAT(PortNames(), IsEmpty()) << "nothing before Restore";
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), ElementsAre("vm1", "vm2", "vm3"));
  for (const auto& [name, spec] : specs) {
    absl::StatusOr<Port> port = manager_->GetPort(name);
    ASSERT_TRUE(port.ok()) << port.status();
    EXPECT_TRUE(MessageDifferencer::Equals(WithoutStatus(*port), spec)) << port->ShortDebugString();
    EXPECT_EQ(port->status().state(), PortStatus::UP);
  }
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
  EXPECT_THAT(log_->opened, ElementsAre("vm1", "vm2", "vm3"));
  ASSERT_FALSE(engine_->applied.empty());
  const std::vector<CoreProgram>& programs = engine_->applied.back();
  EXPECT_EQ(EntriesOf(programs),
            (std::multiset<EntryKey>{{10, 0, 11, 0}, {10, 1, 11, 1}, {11, 0, 10, 0}, {11, 1, 10, 1}}));
  for (const CoreProgram& program : programs) {
    for (const PollEntry& e : program.entries) {
      FakeBackend* rx = Backend(IdOf(e.rx_port) == 10 ? "vm1" : "vm2");
      ASSERT_NE(rx, nullptr);
      EXPECT_EQ(e.rx_counters, &rx->counter(e.rx_queue)) << "counters of the new backends";
    }
  }
  EXPECT_TRUE(Snapshot(state_path_) == saved) << "Restore must not rewrite the state";
  // The restored state is live: the cross-connect still protects its ports.
  EXPECT_CODE(manager_->DeletePort("vm1", false), absl::StatusCode::kFailedPrecondition);
  EXPECT_CODE(StatusOf(manager_->CreatePort(VhostUser("vm9", "vm3.sock"))), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PortManagerTest, PortThatFailsToOpenOnRestoreIsShownInError) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  Restart();  // a clean stop: one snapshot, an empty journal
  const FileSnapshot saved = Snapshot(state_path_);
  plugin_->fail_open_for = {"vm2"};
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), ElementsAre("vm1", "vm2"));
  EXPECT_THAT(XConnectNames(), ElementsAre("x1"));
  absl::StatusOr<Port> vm2 = manager_->GetPort("vm2");
  ASSERT_TRUE(vm2.ok()) << vm2.status();
  EXPECT_EQ(vm2->status().state(), PortStatus::ERROR);
  EXPECT_THAT(vm2->status().message(), HasSubstr("fake: cannot open vm2"));
  EXPECT_THAT(vm2->status().message(), HasSubstr(state_path_));
  EXPECT_EQ(vm2->status().dataplane_port_id(), -1);
  EXPECT_EQ(SpecOf(*vm2).socket_path(), "/fake/sockets/vm2.sock") << "spec is kept";
  EXPECT_EQ(manager_->GetPort("vm1")->status().state(), PortStatus::UP);
  // Stats of a port without backend: just the name.
  absl::StatusOr<vhostd::v1::PortStats> stats = manager_->GetPortStats("vm2");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->name(), "vm2");
  EXPECT_EQ(stats->queues_size(), 0);
  // Nothing forwards to or from a port in ERROR.
  for (const auto& programs : engine_->applied) EXPECT_EQ(EntryCount(programs), 0u);
  // It stays in the desired state.
  EXPECT_TRUE(Snapshot(state_path_) == saved);
  // Its socket stays claimed, and it can be deleted the normal way.
  EXPECT_CODE(StatusOf(manager_->CreatePort(VhostUser("vm3", "vm2.sock"))), absl::StatusCode::kFailedPrecondition);
  EXPECT_CODE(manager_->DeletePort("vm2", false), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  ASSERT_TRUE(manager_->DeletePort("vm2", false).ok());
  EXPECT_THAT(PortNames(), ElementsAre("vm1"));
  EXPECT_EQ(SavedState().ports_size(), 1);
  EXPECT_EQ(log_->destroyed, 0) << "vm2 had no backend to close";
}

TEST_F(PortManagerTest, RestoreShowsPortsOfUnservedTypesInError) {
  WriteFile(state_path_, R"({"format_version": 1, "ports": [
      {"name": "tap1", "vhost_kernel": {"tap_name": "tap1"}},
      {"name": "vm1", "vhost_user": {"socket_path": "vm1.sock", "queues": 99}},
      {"name": "vm2", "vhost_user": {"socket_path": "vm2.sock"}}]})");
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), ElementsAre("tap1", "vm1", "vm2"));
  absl::StatusOr<Port> tap = manager_->GetPort("tap1");
  ASSERT_TRUE(tap.ok());
  EXPECT_EQ(tap->status().state(), PortStatus::ERROR);
  EXPECT_THAT(tap->status().message(), HasSubstr("plugin vhost-kernel not loaded"));
  EXPECT_EQ(tap->type(), "vhost-kernel");
  absl::StatusOr<Port> vm1 = manager_->GetPort("vm1");
  ASSERT_TRUE(vm1.ok());
  EXPECT_EQ(vm1->status().state(), PortStatus::ERROR);
  EXPECT_THAT(vm1->status().message(), HasSubstr("port.spec.queues"));
  absl::StatusOr<Port> vm2 = manager_->GetPort("vm2");
  EXPECT_EQ(vm2->status().state(), PortStatus::UP);
  EXPECT_EQ(vm2->type(), "vhost-user") << "migrated from format 1";
  EXPECT_EQ(SpecOf(*vm2).socket_path(), "/fake/sockets/vm2.sock");
  EXPECT_THAT(log_->open_attempts, ElementsAre("vm2"));
  // Migrated, and written back at once in today's format, the unserved port included.
  EXPECT_THAT(ReadFile(state_path_), HasSubstr("\"format_version\": 2"));
  EXPECT_THAT(ReadFile(state_path_), HasSubstr("vhostd.plugins.vhost_kernel.v1.VhostKernelSpec"));
  // The reconciler leaves the unserved port alone (no plugin to retry with).
  manager_->Reconcile();
  EXPECT_THAT(manager_->GetPort("tap1")->status().message(), HasSubstr("plugin vhost-kernel not loaded"));
}

TEST_F(PortManagerTest, PortsOfAPluginNotLoadedStayInTheStateFileUnchanged) {
  WriteFile(state_path_, R"({"format_version": 2, "ports": [
      {"name": "up1", "type": "uplink", "spec": {"@type": "type.googleapis.com/vhostd.plugins.uplink.v1.UplinkSpec",
                                                 "interface": "eth0", "queues": 2}},
      {"name": "vm1", "type": "vhost-user", "spec": {
          "@type": "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec", "socket_path": "vm1.sock"}}],
      "cross_connects": [{"name": "x1", "port_a": "up1", "port_b": "vm1"}]})");
  ASSERT_TRUE(manager_->Restore().ok());
  absl::StatusOr<Port> up = manager_->GetPort("up1");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->status().state(), PortStatus::ERROR);
  EXPECT_THAT(up->status().message(), HasSubstr("plugin uplink not loaded"));
  EXPECT_EQ(manager_->GetPort("vm1")->status().state(), PortStatus::UP);
  // Everything else is served: a new port, and the desired state keeps the unknown one.
  CreateOk(VhostUser("vm2", "vm2.sock"));
  const vhostd::state::DesiredState saved = SavedState();
  ASSERT_EQ(saved.ports_size(), 3);
  EXPECT_EQ(StoredString(saved.ports(0), "name"), "up1");
  EXPECT_EQ(StoredSpecType(saved.ports(0)), "vhostd.plugins.uplink.v1.UplinkSpec");
  EXPECT_EQ(StoredString(saved.ports(0).fields().at("spec").struct_value(), "interface"), "eth0");
  EXPECT_EQ(saved.cross_connects_size(), 1);
  // A port of that type can't be created here, and its name stays taken.
  EXPECT_CODE(StatusOf(manager_->CreatePort(VhostUser("up1", "up1.sock"))), absl::StatusCode::kAlreadyExists);
  // It can be deleted (once its cross-connect is).
  ASSERT_TRUE(manager_->DeleteCrossConnect("x1", false).ok());
  ASSERT_TRUE(manager_->DeletePort("up1", false).ok());
  EXPECT_EQ(SavedState().ports_size(), 2);
}

TEST_F(PortManagerTest, InconsistentStateFileIsDataLossAndOpensNothing) {
  const std::string port = R"({"name": "vm1", "vhost_user": {"socket_path": "vm1.sock"}})";
  const std::string port2 = R"({"name": "vm2", "vhost_user": {"socket_path": "vm2.sock"}})";
  const std::string port3 = R"({"name": "vm3", "vhost_user": {"socket_path": "vm3.sock"}})";
  for (const std::string& text : std::vector<std::string>{
           // A cross-connect naming a missing port.
           absl::StrCat(R"({"format_version": 1, "ports": [)", port,
                        R"(], "cross_connects": [{"name": "x1", "port_a": "vm1", "port_b": "ghost"}]})"),
           // The same port twice.
           absl::StrCat(R"({"format_version": 1, "ports": [)", port, ",", port, "]}"),
           // A port in two cross-connects.
           absl::StrCat(R"({"format_version": 1, "ports": [)", port, ",", port2, ",", port3,
                        R"(], "cross_connects": [{"name": "x1", "port_a": "vm1", "port_b": "vm2"},)",
                        R"({"name": "x2", "port_a": "vm3", "port_b": "vm1"}]})"),
           // A port cross-connected to itself.
           absl::StrCat(R"({"format_version": 1, "ports": [)", port,
                        R"(], "cross_connects": [{"name": "x1", "port_a": "vm1", "port_b": "vm1"}]})"),
       }) {
    Restart();
    WriteFile(state_path_, text);
    absl::Status restored = manager_->Restore();
    EXPECT_EQ(restored.code(), absl::StatusCode::kDataLoss) << restored << "\n" << text;
    EXPECT_THAT(Message(restored), HasSubstr(state_path_));
    EXPECT_THAT(log_->open_attempts, IsEmpty());
    EXPECT_THAT(PortNames(), IsEmpty());
    EXPECT_THAT(XConnectNames(), IsEmpty());
    EXPECT_EQ(ReadFile(state_path_), text) << "the file must be left untouched";
  }
}

TEST_F(PortManagerTest, CorruptStateFileFailsRestore) {
  WriteFile(state_path_, "{\"format_version\": 1, \"ports\": [");
  absl::Status restored = manager_->Restore();
  EXPECT_EQ(restored.code(), absl::StatusCode::kDataLoss) << restored;
  EXPECT_THAT(log_->open_attempts, IsEmpty());
  EXPECT_THAT(PortNames(), IsEmpty());
}

// --- listing, stats, plugins ---

TEST_F(PortManagerTest, ListPortsPaginatesInNameOrder) {
  for (const std::string name : {"p3", "p1", "p5", "p2", "p4"}) CreateOk(VhostUser(name, name + ".sock"));
  vhostd::v1::ListPortsRequest request;
  request.set_page_size(2);
  std::vector<std::vector<std::string>> pages;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<vhostd::v1::ListPortsResponse> response = manager_->ListPorts(request);
    ASSERT_TRUE(response.ok()) << response.status();
    std::vector<std::string> names;
    for (const Port& p : response->ports()) {
      names.push_back(p.name());
      EXPECT_EQ(p.status().state(), PortStatus::UP) << "listed ports carry their status";
    }
    pages.push_back(names);
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
  }
  EXPECT_EQ(pages, (std::vector<std::vector<std::string>>{{"p1", "p2"}, {"p3", "p4"}, {"p5"}}));

  request.set_page_token("not-a-token");
  EXPECT_CODE(StatusOf(manager_->ListPorts(request)), absl::StatusCode::kInvalidArgument);
  request.set_page_token("");
  request.set_page_size(-1);
  EXPECT_CODE(StatusOf(manager_->ListPorts(request)), absl::StatusCode::kInvalidArgument);
  request.set_page_size(0);
  EXPECT_EQ(manager_->ListPorts(request)->ports_size(), 5);
}

TEST_F(PortManagerTest, GetPortStatsSumsQueueCounters) {
  CreateOk(VhostUser("vm1", "vm1.sock", 3));
  FakeBackend* backend = Backend("vm1");
  ASSERT_NE(backend, nullptr);
  for (uint16_t q = 0; q < 3; ++q) {
    QueueCounters& c = backend->counter(q);
    CounterAdd(c.rx_packets, 1 + q);
    CounterAdd(c.rx_bytes, 100 * (1 + q));
    CounterAdd(c.tx_packets, 10 + q);
    CounterAdd(c.tx_bytes, 1000 * (1 + q));
    CounterAdd(c.tx_dropped, q);
  }
  backend->driver_stats = DriverStats{7, 8, 9};
  absl::StatusOr<vhostd::v1::PortStats> stats = manager_->GetPortStats("vm1");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->name(), "vm1");
  ASSERT_EQ(stats->queues_size(), 3);
  for (uint32_t q = 0; q < 3; ++q) {
    const vhostd::v1::QueueStats& qs = stats->queues(q);
    EXPECT_EQ(qs.queue(), q);
    EXPECT_EQ(qs.rx_packets(), 1 + q);
    EXPECT_EQ(qs.rx_bytes(), 100 * (1 + q));
    EXPECT_EQ(qs.tx_packets(), 10 + q);
    EXPECT_EQ(qs.tx_bytes(), 1000 * (1 + q));
    EXPECT_EQ(qs.tx_dropped(), q);
  }
  EXPECT_EQ(stats->rx_packets(), 1u + 2 + 3);
  EXPECT_EQ(stats->rx_bytes(), 600u);
  EXPECT_EQ(stats->tx_packets(), 10u + 11 + 12);
  EXPECT_EQ(stats->tx_bytes(), 6000u);
  EXPECT_EQ(stats->tx_dropped(), 0u + 1 + 2);
  EXPECT_EQ(stats->rx_errors(), 7u);
  EXPECT_EQ(stats->tx_errors(), 8u);
  EXPECT_EQ(stats->rx_no_mbuf(), 9u);

  EXPECT_CODE(StatusOf(manager_->GetPortStats("ghost")), absl::StatusCode::kNotFound);
  EXPECT_CODE(StatusOf(manager_->GetPortStats("Bad")), absl::StatusCode::kInvalidArgument);

  // The exporters' snapshot agrees.
  std::vector<PortCounterSnapshot> snapshot = manager_->SnapshotPorts();
  ASSERT_THAT(snapshot, SizeIs(1));
  EXPECT_EQ(snapshot[0].name, "vm1");
  EXPECT_EQ(snapshot[0].type, "vhost-user");
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot[0].stats, *stats));
  EXPECT_EQ(snapshot[0].status.state(), PortStatus::UP);
}

TEST_F(PortManagerTest, ListPluginsDescribesEachPluginsMessages) {
  const vhostd::v1::ListPluginsResponse plugins = manager_->ListPlugins();
  ASSERT_EQ(plugins.plugins_size(), 1);
  const vhostd::v1::Plugin& plugin = plugins.plugins(0);
  EXPECT_EQ(plugin.spec_type(), "vhostd.plugins.vhost_user.v1.VhostUserSpec");
  EXPECT_EQ(plugin.status_type(), "vhostd.plugins.vhost_user.v1.VhostUserStatus");
  // A client builds the messages from the descriptors alone.
  google::protobuf::DescriptorPool pool;
  for (const google::protobuf::FileDescriptorProto& file : plugin.descriptors().file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  const google::protobuf::Descriptor* spec = pool.FindMessageTypeByName(plugin.spec_type());
  ASSERT_NE(spec, nullptr);
  EXPECT_NE(spec->FindFieldByName("socket_path"), nullptr);
  EXPECT_NE(pool.FindMessageTypeByName(plugin.status_type()), nullptr);
}

TEST_F(PortManagerTest, StatusCarriesThePluginsOwnStatusMessage) {
  absl::StatusOr<Port> created = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_TRUE(created.ok()) << created.status();
  vhostd::plugins::vhost_user::v1::VhostUserStatus status;
  ASSERT_TRUE(created->status().type_status().UnpackTo(&status)) << created->status().ShortDebugString();
  EXPECT_EQ(status.frontend_connections(), 1u);
  EXPECT_EQ(created->status().backend(), "fake");
  EXPECT_EQ(created->status().active_queues(), 1u);
}

TEST_F(PortManagerTest, ListPluginsReportsAvailability) {
  vhostd::v1::ListPluginsResponse plugins = manager_->ListPlugins();
  ASSERT_EQ(plugins.plugins_size(), 1);
  EXPECT_EQ(plugins.plugins(0).port_type(), "vhost-user");
  EXPECT_EQ(plugins.plugins(0).file(), "fake_vhost_user.so");
  EXPECT_EQ(plugins.plugins(0).abi_version(), VHOSTD_PLUGIN_ABI_VERSION);
  EXPECT_TRUE(plugins.plugins(0).available());
  EXPECT_EQ(plugins.plugins(0).unavailable_reason(), "");
  plugin_->available = absl::UnavailableError("missing thing");
  plugins = manager_->ListPlugins();
  EXPECT_FALSE(plugins.plugins(0).available());
  EXPECT_EQ(plugins.plugins(0).unavailable_reason(), "missing thing");
}

// --- shutdown ---

TEST_F(PortManagerTest, DestructorStopsForwardingBeforeClosingPorts) {
  CreateOk(VhostUser("vm1", "vm1.sock", 2));
  CreateOk(VhostUser("vm2", "vm2.sock", 2));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const vhostd::state::DesiredState saved = SavedState();
  size_t live_at_stop = 0;
  engine_->on_apply = [&](const std::vector<CoreProgram>&) { live_at_stop = log_->live.size(); };
  const size_t applies = engine_->applied.size();
  manager_.reset();
  ASSERT_EQ(engine_->applied.size(), applies + 1);
  EXPECT_EQ(EntryCount(engine_->applied.back()), 0u);
  EXPECT_EQ(live_at_stop, 2u) << "cores must stop polling while the ports are still open";
  EXPECT_THAT(log_->live, IsEmpty());
  EXPECT_EQ(log_->destroyed, 2);
  EXPECT_TRUE(MessageDifferencer::Equals(SavedState(), saved)) << "shutdown keeps the desired state";
  EXPECT_EQ(ReadFile(state_path_ + ".journal"), "") << "folded into one snapshot";
}

// --- the reconciler ---

TEST_F(PortManagerTest, ReconcileReplansOnlyWhenAFrontendChangesItsQueues) {
  CreateOk(VhostUser("vm1", "vm1.sock", 2));
  CreateOk(VhostUser("vm2", "vm2.sock", 2));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  const size_t applies = engine_->applied.size();
  EXPECT_EQ(EntryCount(engine_->applied.back()), 4u);
  manager_->Reconcile();
  EXPECT_EQ(engine_->applied.size(), applies) << "nothing changed: no new plan";

  Backend("vm1")->active_queues = 1;  // the guest ran `ethtool -L eth0 combined 1`
  manager_->Reconcile();
  ASSERT_EQ(engine_->applied.size(), applies + 1);
  // vm1 rx q0 -> vm2 q0; vm2 rx q0 and q1 -> vm1 q0 (its only queue).
  EXPECT_EQ(EntriesOf(engine_->applied.back()),
            (std::multiset<EntryKey>{{10, 0, 11, 0}, {11, 0, 10, 0}, {11, 1, 10, 0}}));
  absl::StatusOr<Port> vm1 = manager_->GetPort("vm1");
  ASSERT_TRUE(vm1.ok());
  EXPECT_EQ(vm1->status().active_queues(), 1u);

  Backend("vm1")->active_queues = 0;  // the frontend went away or enabled nothing
  manager_->Reconcile();
  EXPECT_EQ(EntryCount(engine_->applied.back()), 0u);

  Backend("vm1")->active_queues = 3;  // more queues than configured: all are polled
  manager_->Reconcile();
  EXPECT_EQ(EntryCount(engine_->applied.back()), 5u);
  EXPECT_EQ(manager_->GetPortStats("vm1")->queues_size(), 3);
}

TEST_F(PortManagerTest, ReconcileRetriesAFailedPlanUntilItTakes) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  engine_->apply_error = absl::DeadlineExceededError("core 1 stuck");
  Backend("vm1")->active_queues = 0;
  manager_->Reconcile();
  const size_t applies = engine_->applied.size();
  manager_->Reconcile();
  EXPECT_EQ(engine_->applied.size(), applies + 1) << "a plan that did not take is tried again";
  engine_->apply_error = absl::OkStatus();
  manager_->Reconcile();
  manager_->Reconcile();
  EXPECT_EQ(engine_->applied.size(), applies + 2) << "and no more once it took";
}

TEST_F(PortManagerTest, PortInErrorIsReopenedWithBackoff) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  CreateOk(VhostUser("vm2", "vm2.sock"));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  Restart();
  plugin_->fail_open_for = {"vm2"};
  ASSERT_TRUE(manager_->Restore().ok());
  manager_->Reconcile();
  EXPECT_EQ(std::count(log_->open_attempts.begin(), log_->open_attempts.end(), "vm2"), 1) << "backoff: not yet";
  absl::SleepFor(absl::Milliseconds(1100));
  manager_->Reconcile();
  EXPECT_EQ(std::count(log_->open_attempts.begin(), log_->open_attempts.end(), "vm2"), 2);
  EXPECT_THAT(manager_->GetPort("vm2")->status().message(), HasSubstr("2 attempts"));
  manager_->Reconcile();
  EXPECT_EQ(std::count(log_->open_attempts.begin(), log_->open_attempts.end(), "vm2"), 2) << "backoff doubled";

  plugin_->fail_open_for.clear();
  absl::SleepFor(absl::Milliseconds(2100));
  manager_->Reconcile();
  EXPECT_EQ(manager_->GetPort("vm2")->status().state(), PortStatus::UP);
  EXPECT_EQ(EntryCount(engine_->applied.back()), 2u) << "the cross-connect forwards again";
}

TEST_F(PortManagerTest, IdenticalCreateRetriesAPortInError) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  Restart();
  plugin_->fail_open_for = {"vm1"};
  ASSERT_TRUE(manager_->Restore().ok());
  absl::StatusOr<Port> again = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  EXPECT_CODE(StatusOf(again), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(again.status()), HasSubstr("fake: cannot open vm1"));
  plugin_->fail_open_for.clear();
  again = manager_->CreatePort(VhostUser("vm1", "vm1.sock"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status().state(), PortStatus::UP);
}

TEST_F(PortManagerTest, TransmitStallIsReportedAndClears) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  QueueCounters& c = Backend("vm1")->counter(0);
  manager_->Reconcile();
  CounterAdd(c.tx_dropped, 32);  // dropping, delivering nothing
  manager_->Reconcile();
  EXPECT_EQ(manager_->GetPort("vm1")->status().state(), PortStatus::UP) << "not for a moment";
  absl::SleepFor(absl::Milliseconds(2100));
  CounterAdd(c.tx_dropped, 32);
  manager_->Reconcile();
  absl::StatusOr<Port> vm1 = manager_->GetPort("vm1");
  EXPECT_EQ(vm1->status().state(), PortStatus::STALLED);
  EXPECT_THAT(vm1->status().message(), HasSubstr("transmit stalled"));
  CounterAdd(c.tx_packets, 1);  // it consumes again
  manager_->Reconcile();
  EXPECT_EQ(manager_->GetPort("vm1")->status().state(), PortStatus::UP);
}

TEST_F(PortManagerTest, NoPerQueueDropsMeansNoStall) {
  CreateOk(VhostUser("vm1", "vm1.sock"));
  QueueCounters& c = Backend("vm1")->counter(0);
  for (int i = 0; i < 3; ++i) {
    CounterAdd(c.tx_packets, 5);
    CounterAdd(c.tx_dropped, 5);  // a busy ring drops some but delivers too
    manager_->Reconcile();
    absl::SleepFor(absl::Milliseconds(1000));
  }
  EXPECT_EQ(manager_->GetPort("vm1")->status().state(), PortStatus::UP);
}

TEST_F(PortManagerTest, ReconcilerThreadReactsToPortChanged) {
  CreateOk(VhostUser("vm1", "vm1.sock", 2));
  CreateOk(VhostUser("vm2", "vm2.sock", 2));
  CrossOk(XConnect("x1", "vm1", "vm2"));
  manager_->StartReconciler(absl::Hours(1));  // only events wake it
  const size_t applies = engine_->applied.size();
  Backend("vm2")->active_queues = 1;
  manager_->PortChanged();
  for (int i = 0; i < 200 && engine_->applied.size() == applies; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(engine_->applied.size(), applies + 1);
}

}  // namespace
}  // namespace vhostd

namespace vhostd {
namespace {

// Group commit: CreatePort and DeletePort wait for the journal's sync without the
// manager's lock. The journal's first sync is held until the test lets it go.
class GroupCommitTest : public PortManagerTest {
 protected:
  void HoldFirstSync(bool then_fail) {
    store_->SetSyncFunction([this, then_fail](int fd) {
      absl::MutexLock lock(&mu_);
      if (++syncs_ > 1) return fdatasync(fd);
      mu_.Await(absl::Condition(&released_));
      if (!then_fail) return fdatasync(fd);
      errno = EIO;
      return -1;
    });
  }
  void AwaitFirstSync() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](int* n) { return *n >= 1; }, &syncs_));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  // Waits until the journal holds `n` records: changes written, waiting for their sync.
  void AwaitJournalRecords(size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (JournalRecords() >= n) return;
      absl::SleepFor(absl::Milliseconds(1));
    }
    ADD_FAILURE() << "the journal never held " << n << " records";
  }
  size_t JournalRecords() {
    std::ifstream journal(store_->journal_path());
    const std::string text((std::istreambuf_iterator<char>(journal)), std::istreambuf_iterator<char>());
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  absl::Mutex mu_;
  int syncs_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(GroupCommitTest, ChangesWrittenDuringASyncShareOneAndNothingIsShownBeforeItIsDurable) {
  CreateOk(VhostUser("vm0", "vm0.sock"));
  CreateOk(VhostUser("vm9", "vm9.sock"));
  HoldFirstSync(/*then_fail=*/false);
  std::thread deleter([&] { EXPECT_TRUE(manager_->DeletePort("vm0", false).ok()); });
  AwaitFirstSync();
  // vm0's deletion is written, not durable: it still exists, and nothing may change it.
  EXPECT_TRUE(manager_->GetPort("vm0").ok());
  for (const absl::Status& s :
       {manager_->DeletePort("vm0", false), StatusOf(manager_->CreateCrossConnect(XConnect("x", "vm0", "vm9")))}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(Message(s), HasSubstr("port vm0 is being deleted"));
  }
  const size_t before_creates = JournalRecords();
  std::vector<std::thread> creators;
  for (int i = 1; i <= 4; ++i) {
    creators.emplace_back([this, i] { CreateOk(VhostUser(absl::StrCat("vm", i), absl::StrCat("vm", i, ".sock"))); });
  }
  AwaitJournalRecords(before_creates + 4);
  for (int i = 1; i <= 4; ++i) {
    const std::string name = absl::StrCat("vm", i);
    const absl::Status again = StatusOf(manager_->CreatePort(VhostUser(name, name + ".sock")));
    EXPECT_EQ(again.code(), absl::StatusCode::kUnavailable) << again;
    EXPECT_THAT(Message(again), HasSubstr("port.name: port " + name + " is being created"));
    EXPECT_CODE(StatusOf(manager_->GetPort(name)), absl::StatusCode::kNotFound);  // not durable yet
  }
  EXPECT_THAT(PortNames(), ElementsAre("vm0", "vm9"));
  const absl::Status same_socket = StatusOf(manager_->CreatePort(VhostUser("vm5", "vm1.sock")));
  EXPECT_EQ(same_socket.code(), absl::StatusCode::kFailedPrecondition) << same_socket;
  EXPECT_THAT(Message(same_socket), HasSubstr("vm1 (being created)"));
  Release();
  deleter.join();
  for (std::thread& t : creators) t.join();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(syncs_, 2) << "the four creates written during the first sync share the second";
  }
  EXPECT_THAT(PortNames(), ElementsAre("vm1", "vm2", "vm3", "vm4", "vm9"));
  Restart();
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), ElementsAre("vm1", "vm2", "vm3", "vm4", "vm9"));
}

TEST_F(GroupCommitTest, AFailedSyncUndoesEveryChangeInItAndTheFileHoldsOnlyWhatWasAcknowledged) {
  CreateOk(VhostUser("vm0", "vm0.sock"));
  HoldFirstSync(/*then_fail=*/true);
  auto expect_unavailable = [](const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(Message(s), HasSubstr("saving state failed"));
  };
  std::thread first([&] { expect_unavailable(StatusOf(manager_->CreatePort(VhostUser("vm1", "vm1.sock")))); });
  AwaitFirstSync();
  const size_t written_first = JournalRecords();
  std::thread deleter([&] { expect_unavailable(manager_->DeletePort("vm0", false)); });
  std::thread second([&] { expect_unavailable(StatusOf(manager_->CreatePort(VhostUser("vm2", "vm2.sock")))); });
  AwaitJournalRecords(written_first + 2);
  EXPECT_THAT(Message(manager_->DeletePort("vm0", false)), HasSubstr("port vm0 is being deleted"));
  EXPECT_THAT(Message(StatusOf(manager_->CreatePort(VhostUser("vm2", "vm2.sock")))), HasSubstr("vm2 is being created"));
  Release();
  first.join();
  deleter.join();
  second.join();
  EXPECT_THAT(PortNames(), ElementsAre("vm0"));
  EXPECT_THAT(log_->live, ElementsAre(::testing::Key("vm0"))) << "the backends of the failed creates are closed";
  CreateOk(VhostUser("vm3", "vm3.sock"));
  Restart();
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_THAT(PortNames(), ElementsAre("vm0", "vm3"));
}

}  // namespace
}  // namespace vhostd
