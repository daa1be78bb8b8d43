#include "server/state_store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/json_util.h"
#include "server/stored_port.h"
#include "server/testing/files.h"

namespace vhostd {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using vhostd::state::DesiredState;

using testing_files::Exists;
using testing_files::ReadFile;
using testing_files::WriteFile;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(tmp ? tmp : "/tmp", "/state_store_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << strerror(errno);
    dir_ = pattern;
    path_ = dir_ + "/state.json";
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()); }

  static DesiredState Sample() {
    DesiredState state;
    *state.add_ports() = PortJson(R"({"name": "vm1", "type": "vhost-user", "spec": {
        "@type": "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec",
        "socket_path": "/run/vhostd/vm1.sock", "mode": "MODE_CLIENT", "queues": 4, "tso": true}})");
    *state.add_ports() = PortJson(R"({"name": "tap1", "type": "vhost-kernel", "spec": {
        "@type": "type.googleapis.com/vhostd.plugins.vhost_kernel.v1.VhostKernelSpec",
        "tap_name": "tap-x", "mtu": 9000}})");
    vhostd::v1::CrossConnect* x = state.add_cross_connects();
    x->set_name("x1");
    x->set_port_a("vm1");
    x->set_port_b("tap1");
    return state;
  }

  static google::protobuf::Struct PortJson(const std::string& json) {
    google::protobuf::Struct port;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &port).ok()) << json;
    return port;
  }

  std::string dir_, path_;
};

TEST_F(StateStoreTest, RoundTrip) {
  StateStore store(path_);
  EXPECT_EQ(store.path(), path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  absl::StatusOr<DesiredState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  DesiredState expected = Sample();
  expected.set_format_version(2);
  EXPECT_TRUE(MessageDifferencer::Equals(*loaded, expected)) << loaded->DebugString();
}

TEST_F(StateStoreTest, SaveReplacesThePreviousState) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  DesiredState smaller;
  *smaller.add_ports() = PortJson(R"({"name": "only"})");
  ASSERT_TRUE(store.Save(smaller).ok());
  absl::StatusOr<DesiredState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->ports_size(), 1);
  EXPECT_EQ(StoredString(loaded->ports(0), "name"), "only");
  EXPECT_EQ(loaded->cross_connects_size(), 0);
}

TEST_F(StateStoreTest, MissingFileIsEmptyState) {
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ports_size(), 0);
  EXPECT_EQ(loaded->cross_connects_size(), 0);
  EXPECT_FALSE(Exists(path_)) << "Load must not create the file";
}

TEST_F(StateStoreTest, EmptyStateRoundTrips) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(DesiredState()).ok());
  absl::StatusOr<DesiredState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->format_version(), 2u);
  EXPECT_EQ(loaded->ports_size(), 0);
}

TEST_F(StateStoreTest, TornFileIsDataLossAndLeftUntouched) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  const std::string full = ReadFile(path_);
  ASSERT_GT(full.size(), 20u);
  for (size_t cut : {full.size() / 2, full.size() / 3, full.size() - 2, size_t{1}}) {
    const std::string torn = full.substr(0, cut);
    WriteFile(path_, torn);
    absl::StatusOr<DesiredState> loaded = store.Load();
    ASSERT_FALSE(loaded.ok()) << "cut at " << cut << " loaded: " << loaded->DebugString();
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path_));
    EXPECT_EQ(ReadFile(path_), torn) << "the file must be left byte-identical";
    EXPECT_FALSE(Exists(path_ + ".tmp"));
  }
}

TEST_F(StateStoreTest, EmptyFileIsAnError) {
  WriteFile(path_, "");
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path_));
  EXPECT_TRUE(Exists(path_));
}

TEST_F(StateStoreTest, GarbageIsDataLoss) {
  for (const std::string& garbage : {std::string("hello"), std::string("\x00\x01\x02\xff", 4), std::string("[1,2]"),
                                    std::string("{\"ports\": 7}")}) {
    WriteFile(path_, garbage);
    absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
    ASSERT_FALSE(loaded.ok()) << "garbage accepted";
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path_));
    EXPECT_EQ(ReadFile(path_), garbage);
  }
}

TEST_F(StateStoreTest, UnknownFieldIsDataLoss) {
  WriteFile(path_, R"({"format_version": 2, "colour": "blue", "ports": [{"name": "a"}]})");
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
}

TEST_F(StateStoreTest, WrongFormatVersionIsRefused) {
  for (const std::string text : {R"({"format_version": 3})", R"({"format_version": 0})", "{}"}) {
    WriteFile(path_, text);
    absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path_));
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("format_version"));
    EXPECT_EQ(ReadFile(path_), text);
  }
}

TEST_F(StateStoreTest, HandWrittenVersion1Loads) {
  WriteFile(path_, R"({"format_version": 1, "ports": [{"name": "a", "vhost_user": {"socket_path": "a.sock"}}],
                       "cross_connects": []})");
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->ports_size(), 1);
  // Migrated to today's form: a type and an Any spec with the same fields.
  EXPECT_EQ(loaded->format_version(), 2u);
  const google::protobuf::Struct& port = loaded->ports(0);
  EXPECT_EQ(StoredString(port, "type"), "vhost-user");
  EXPECT_FALSE(port.fields().count("vhost_user"));
  EXPECT_EQ(StoredSpecType(port), "vhostd.plugins.vhost_user.v1.VhostUserSpec");
  EXPECT_EQ(StoredString(port.fields().at("spec").struct_value(), "socket_path"), "a.sock");
}

TEST_F(StateStoreTest, Version1OfEveryTypeMigrates) {
  WriteFile(path_, R"({"format_version": 1, "ports": [
      {"name": "a", "vhost_user": {"socket_path": "a.sock"}},
      {"name": "b", "vhost_kernel": {}},
      {"name": "c", "vdpa": {"device": "vdpa0", "queues": 2}}]})");
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->ports_size(), 3);
  EXPECT_EQ(StoredString(loaded->ports(1), "type"), "vhost-kernel");
  EXPECT_EQ(StoredSpecType(loaded->ports(1)), "vhostd.plugins.vhost_kernel.v1.VhostKernelSpec");
  EXPECT_EQ(StoredString(loaded->ports(2), "type"), "vdpa");
  EXPECT_EQ(StoredSpecType(loaded->ports(2)), "vhostd.plugins.vdpa.v1.VdpaSpec");
  EXPECT_EQ(loaded->ports(2).fields().at("spec").struct_value().fields().at("queues").number_value(), 2);
}

TEST_F(StateStoreTest, SaveLeavesNoTempFileAndIsPrivate) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  EXPECT_FALSE(Exists(path_ + ".tmp"));
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "state file readable by others: " << std::oct << st.st_mode;
}

TEST_F(StateStoreTest, SaveReplacesByRename) {
  // Atomic replacement: a new inode is renamed over the old file, never rewritten in place.
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  struct stat before, after;
  ASSERT_EQ(stat(path_.c_str(), &before), 0);
  // Keep the old inode alive so the new file cannot reuse its number.
  const std::string keep = dir_ + "/old-link";
  ASSERT_EQ(link(path_.c_str(), keep.c_str()), 0);
  ASSERT_TRUE(store.Save(DesiredState()).ok());
  ASSERT_EQ(stat(path_.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  // The old content is intact under the old inode.
  EXPECT_THAT(ReadFile(keep), HasSubstr("vm1"));
}

TEST_F(StateStoreTest, SaveIntoMissingDirectoryFails) {
  StateStore store(dir_ + "/no-such-dir/state.json");
  absl::Status saved = store.Save(Sample());
  EXPECT_FALSE(saved.ok());
  EXPECT_FALSE(Exists(dir_ + "/no-such-dir"));
}

TEST_F(StateStoreTest, FailedSaveLeavesOldFileIntact) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  const std::string before = ReadFile(path_);
  // Tests run as root, so permissions cannot make the write fail; a directory where the
  // temp file must go does.
  ASSERT_EQ(mkdir((path_ + ".tmp").c_str(), 0700), 0);
  DesiredState other;
  *other.add_ports() = PortJson(R"({"name": "other"})");
  absl::Status saved = store.Save(other);
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(std::string(saved.message()), HasSubstr(path_ + ".tmp"));
  EXPECT_EQ(ReadFile(path_), before);
  absl::StatusOr<DesiredState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ports_size(), 2);
}

TEST_F(StateStoreTest, LeftoverTempFileFromACrashIsOverwritten) {
  WriteFile(path_ + ".tmp", "half a write from a crash");
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  EXPECT_FALSE(Exists(path_ + ".tmp"));
  EXPECT_TRUE(store.Load().ok());
}

// --- the journal ---

vhostd::state::JournalRecord PutPort(const std::string& name, const std::string& socket) {
  vhostd::state::JournalRecord change;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                  absl::StrCat(R"({"name": ")", name, R"(", "type": "vhost-user", "spec": {"socket_path": ")", socket,
                               R"("}})"),
                  change.mutable_put_port())
                  .ok());
  return change;
}

vhostd::state::JournalRecord DeletePort(const std::string& name) {
  vhostd::state::JournalRecord change;
  change.set_delete_port(name);
  return change;
}

std::vector<std::string> Names(const DesiredState& state) {
  std::vector<std::string> names;
  for (const auto& port : state.ports()) {
    names.push_back(StoredString(port, "name") + "=" +
                    StoredString(port.fields().at("spec").struct_value(), "socket_path"));
  }
  return names;
}

DesiredState Unused() {
  ADD_FAILURE() << "compaction was not expected";
  return DesiredState();
}

TEST_F(StateStoreTest, AppendedChangesComeBackOnLoadWithoutRewritingTheSnapshot) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  const std::string snapshot = ReadFile(path_);
  ASSERT_TRUE(store.Append(PutPort("vm2", "a.sock"), Unused).ok());
  ASSERT_TRUE(store.Append(PutPort("vm2", "b.sock"), Unused).ok());  // replaces
  ASSERT_TRUE(store.Append(DeletePort("tap1"), Unused).ok());
  vhostd::state::JournalRecord x;
  x.set_delete_cross_connect("x1");
  ASSERT_TRUE(store.Append(x, Unused).ok());
  EXPECT_EQ(ReadFile(path_), snapshot);
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded), ::testing::ElementsAre("vm1=/run/vhostd/vm1.sock", "vm2=b.sock"));
  EXPECT_EQ(loaded->cross_connects_size(), 0);
}

TEST_F(StateStoreTest, ATornLastRecordIsDroppedAndOverwritten) {
  StateStore store(path_);
  ASSERT_TRUE(store.Append(PutPort("vm1", "a.sock"), Unused).ok());
  const std::string complete = ReadFile(store.journal_path());
  WriteFile(store.journal_path(), complete + R"({"put_port": {"name": "vm2", "ty)");  // a crash mid-append
  StateStore reopened(path_);
  absl::StatusOr<DesiredState> loaded = reopened.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded), ::testing::ElementsAre("vm1=a.sock"));
  ASSERT_TRUE(reopened.Append(PutPort("vm3", "c.sock"), Unused).ok());
  loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded), ::testing::ElementsAre("vm1=a.sock", "vm3=c.sock"));
}

TEST_F(StateStoreTest, ACorruptJournalLineIsDataLossNamingTheLine) {
  StateStore store(path_);
  ASSERT_TRUE(store.Append(PutPort("vm1", "a.sock"), Unused).ok());
  const std::string text = ReadFile(store.journal_path()) + "garbage\n" + R"({"delete_port": "vm1"})" + "\n";
  WriteFile(store.journal_path(), text);
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(store.journal_path() + " line 2"));
  EXPECT_EQ(ReadFile(store.journal_path()), text) << "left untouched";
}

TEST_F(StateStoreTest, AFailedAppendChangesNoFile) {
  StateStore store(path_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  ASSERT_TRUE(store.Append(PutPort("vm2", "a.sock"), Unused).ok());
  const std::string journal = ReadFile(store.journal_path());
  ASSERT_EQ(rename(store.journal_path().c_str(), (dir_ + "/aside").c_str()), 0);
  ASSERT_EQ(mkdir(store.journal_path().c_str(), 0700), 0);
  EXPECT_FALSE(store.Append(PutPort("vm3", "b.sock"), Unused).ok());
  ASSERT_EQ(rmdir(store.journal_path().c_str()), 0);
  ASSERT_EQ(rename((dir_ + "/aside").c_str(), store.journal_path().c_str()), 0);
  EXPECT_EQ(ReadFile(store.journal_path()), journal);
  ASSERT_TRUE(store.Append(PutPort("vm4", "c.sock"), Unused).ok());
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded),
              ::testing::ElementsAre("vm1=/run/vhostd/vm1.sock", "tap1=", "vm2=a.sock", "vm4=c.sock"));
}

TEST_F(StateStoreTest, TheJournalIsFoldedIntoASnapshotAfterEnoughRecords) {
  StateStore store(path_);
  DesiredState memory;  // what the caller holds
  int compactions = 0;
  for (int i = 0; i < 600; ++i) {
    const vhostd::state::JournalRecord change = PutPort(absl::StrCat("p", i), "s.sock");
    ASSERT_TRUE(store.Append(change, [&] { ++compactions; return memory; }).ok());
    StateStore::ApplyChange(change, memory);
  }
  EXPECT_GE(compactions, 1);
  EXPECT_LE(compactions, 3);  // at 256 records, then once per as many records as the snapshot holds
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ports_size(), 600);
  EXPECT_LT(ReadFile(store.journal_path()).size(), ReadFile(path_).size()) << "the journal was emptied";
}

TEST_F(StateStoreTest, ReplayOntoASnapshotThatHasTheChangesAlreadyIsHarmless) {
  // A crash after a new snapshot's rename but before the journal was emptied.
  StateStore store(path_);
  DesiredState memory;
  for (const vhostd::state::JournalRecord& change :
       {PutPort("a", "1.sock"), PutPort("b", "2.sock"), DeletePort("a"), PutPort("a", "3.sock")}) {
    ASSERT_TRUE(store.Append(change, Unused).ok());
    StateStore::ApplyChange(change, memory);
  }
  const std::string journal = ReadFile(store.journal_path());
  ASSERT_TRUE(store.Save(memory).ok());
  WriteFile(store.journal_path(), journal);
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded), ::testing::ElementsAre("b=2.sock", "a=3.sock"));
}

}  // namespace
}  // namespace vhostd

namespace vhostd {
namespace {

// Group commit: records written while a sync is in progress are made durable by one
// more sync, whatever the order in which their waiters arrive.
TEST_F(StateStoreTest, RecordsWrittenDuringASyncShareTheNextOne) {
  StateStore store(path_);
  absl::Mutex mu;
  int syncs = 0;
  bool release = false;
  store.SetSyncFunction([&](int fd) {
    absl::MutexLock lock(&mu);
    if (++syncs == 1) mu.Await(absl::Condition(&release));  // the first sync is slow
    return fdatasync(fd);
  });
  const absl::StatusOr<uint64_t> first = store.Write(PutPort("a", "1.sock"), Unused);
  ASSERT_TRUE(first.ok()) << first.status();
  std::thread leader([&] { EXPECT_TRUE(store.WaitDurable(*first).ok()); });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* n) { return *n == 1; }, &syncs));
  }
  std::vector<std::thread> waiters;
  for (int i = 0; i < 8; ++i) {
    const absl::StatusOr<uint64_t> seq = store.Write(PutPort(absl::StrCat("p", i), "s.sock"), Unused);
    ASSERT_TRUE(seq.ok()) << seq.status();
    waiters.emplace_back([&store, seq = *seq] { EXPECT_TRUE(store.WaitDurable(seq).ok()); });
  }
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  leader.join();
  for (std::thread& t : waiters) t.join();
  EXPECT_EQ(syncs, 2) << "one sync for the first record, one for the eight written during it";
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ports_size(), 9);
}

TEST_F(StateStoreTest, AFailedSyncFailsEveryRecordNotYetDurableUntilASnapshotIsSaved) {
  StateStore store(path_);
  bool fail = false;
  int syncs = 0;
  store.SetSyncFunction([&](int fd) {
    ++syncs;
    if (!fail) return fdatasync(fd);
    errno = EIO;
    return -1;
  });
  const absl::StatusOr<uint64_t> a = store.Write(PutPort("a", "1.sock"), Unused);
  ASSERT_TRUE(a.ok() && store.WaitDurable(*a).ok());
  fail = true;
  const absl::StatusOr<uint64_t> b = store.Write(PutPort("b", "2.sock"), Unused);
  const absl::StatusOr<uint64_t> c = store.Write(PutPort("c", "3.sock"), Unused);
  ASSERT_TRUE(b.ok() && c.ok());
  const absl::Status failed = store.WaitDurable(*b);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.message()), HasSubstr("fdatasync " + store.journal_path()));
  EXPECT_FALSE(store.WaitDurable(*c).ok()) << "written before the failure: it failed with it";
  EXPECT_EQ(syncs, 2) << "c is not synced again: the journal is no longer trusted";
  EXPECT_TRUE(store.WaitDurable(*a).ok()) << "what was durable stays so";
  EXPECT_TRUE(store.NeedsRecovery());
  const absl::StatusOr<uint64_t> refused = store.Write(PutPort("d", "4.sock"), Unused);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  fail = false;
  DesiredState without_failed;
  StateStore::ApplyChange(PutPort("a", "1.sock"), without_failed);
  ASSERT_TRUE(store.Recover(without_failed).ok());
  EXPECT_FALSE(store.NeedsRecovery());
  ASSERT_TRUE(store.Append(PutPort("e", "5.sock"), Unused).ok());
  absl::StatusOr<DesiredState> loaded = StateStore(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(Names(*loaded), ::testing::ElementsAre("a=1.sock", "e=5.sock"));
}

}  // namespace
}  // namespace vhostd
