#include "server/stored_port.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "plugins/vhost_user/vhost_user.pb.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using vhostd::plugins::vhost_user::v1::VhostUserSpec;

google::protobuf::Struct Json(const std::string& json) {
  google::protobuf::Struct stored;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &stored).ok()) << json;
  return stored;
}

vhostd::v1::Port SamplePort() {
  vhostd::v1::Port port;
  port.set_name("vm1");
  port.set_type("vhost-user");
  VhostUserSpec spec;
  spec.set_socket_path("/run/vm1.sock");
  spec.set_queues(0);  // explicit zero of an `optional` field: must come back as set
  spec.set_checksum(false);
  port.mutable_spec()->PackFrom(spec);
  return port;
}

TEST(StoredPortTest, RoundTripKeepsEveryFieldAndPresence) {
  absl::StatusOr<google::protobuf::Struct> stored = StorePort(SamplePort());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(StoredString(*stored, "name"), "vm1");
  EXPECT_EQ(StoredString(*stored, "type"), "vhost-user");
  EXPECT_EQ(StoredSpecType(*stored), "vhostd.plugins.vhost_user.v1.VhostUserSpec");
  EXPECT_TRUE(StoredSpecTypeKnown(*stored));
  absl::StatusOr<vhostd::v1::Port> parsed = ParseStoredPort(*stored);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*parsed, SamplePort()));
  VhostUserSpec spec;
  ASSERT_TRUE(parsed->spec().UnpackTo(&spec));
  EXPECT_TRUE(spec.has_queues());
  EXPECT_TRUE(spec.has_checksum());
}

TEST(StoredPortTest, AnUnknownSpecTypeIsReportedNotParsed) {
  const google::protobuf::Struct stored = Json(R"({"name": "u", "type": "uplink",
      "spec": {"@type": "type.googleapis.com/vhostd.plugins.uplink.v1.UplinkSpec", "interface": "eth0"}})");
  EXPECT_EQ(StoredSpecType(stored), "vhostd.plugins.uplink.v1.UplinkSpec");
  EXPECT_FALSE(StoredSpecTypeKnown(stored));
  EXPECT_FALSE(ParseStoredPort(stored).ok());
}

TEST(StoredPortTest, UnknownFieldsAreDataLoss) {
  for (const char* json : {R"({"name": "a", "colour": "blue"})",
                           R"({"name": "a", "type": "vhost-user", "spec": {
                                "@type": "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec",
                                "colour": "blue"}})"}) {
    absl::StatusOr<vhostd::v1::Port> parsed = ParseStoredPort(Json(json));
    ASSERT_FALSE(parsed.ok()) << json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("colour"));
  }
}

TEST(StoredPortTest, Version1MigrationLeavesTodaysPortsAlone) {
  google::protobuf::Struct today = *StorePort(SamplePort());
  const google::protobuf::Struct before = today;
  MigrateStoredPortFromVersion1(today);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(today, before));
}

TEST(StoredPortTest, Version1PortParsesAfterMigration) {
  google::protobuf::Struct old = Json(R"({"name": "vm1", "vhost_user": {"socket_path": "/run/vm1.sock",
                                          "queues": 0, "checksum": false}})");
  MigrateStoredPortFromVersion1(old);
  absl::StatusOr<vhostd::v1::Port> parsed = ParseStoredPort(old);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*parsed, SamplePort())) << parsed->DebugString();
}

}  // namespace
}  // namespace vhostd
