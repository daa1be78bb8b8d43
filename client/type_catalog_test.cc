// vhostctl's pool of the API's and the plugins' messages: protobuf JSON of ports whose
// Any fields hold plugin messages known only from descriptor sets, ports of a plugin
// the daemon did not load, and descriptor sets that do not build.
#include "client/type_catalog.h"

#include <memory>
#include <string>
#include <vector>

#include "client/live_view.pb.h"
#include "client/testing/test_descriptors.h"
#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using vhostd::v1::ListPluginsResponse;
using vhostd::v1::Port;

constexpr char kVhostUserSpec[] = "vhostd.plugins.vhost_user.v1.VhostUserSpec";
constexpr char kVhostUserStatus[] = "vhostd.plugins.vhost_user.v1.VhostUserStatus";

Port VhostUserPort() {
  Port port;
  port.set_name("vm1");
  port.set_type("vhost-user");
  *port.mutable_spec() =
      test_data::PackText(kVhostUserSpec, R"pb(socket_path: "vm1.sock" mode: MODE_CLIENT queues: 2)pb");
  port.mutable_status()->set_state(vhostd::v1::PortStatus::UP);
  port.mutable_status()->set_negotiated_features(4294967296);
  port.mutable_status()->set_dataplane_port_id(-1);
  *port.mutable_status()->mutable_type_status() =
      test_data::PackText(kVhostUserStatus, "frontend_connections: 1");
  return port;
}

// The JSON as a Struct, to look at fields.
google::protobuf::Struct Parsed(const std::string& json) {
  google::protobuf::Struct object;
  auto status = google::protobuf::util::JsonStringToMessage(json, &object);
  EXPECT_TRUE(status.ok()) << status.ToString() << ": " << json;
  return object;
}

const google::protobuf::Value& Get(const google::protobuf::Struct& object, const std::string& key) {
  static const auto* const missing = new google::protobuf::Value();
  auto it = object.fields().find(key);
  EXPECT_NE(it, object.fields().end()) << "no field " << key;
  return it == object.fields().end() ? *missing : it->second;
}

TEST(TypeCatalogTest, PluginMessagesInJsonWithTheirType) {
  TypeCatalog catalog;
  catalog.AddPlugins(test_data::Plugins());
  EXPECT_THAT(catalog.problems(), IsEmpty());
  std::vector<std::string> warnings;
  absl::StatusOr<std::string> json = catalog.ToJson(VhostUserPort(), true, &warnings);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_THAT(*json, HasSubstr("\"@type\": \"type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec\""));
  EXPECT_THAT(*json, HasSubstr("\"socketPath\": \"vm1.sock\""));
  EXPECT_THAT(*json, HasSubstr("\"mode\": \"MODE_CLIENT\""));
  EXPECT_THAT(*json, HasSubstr("\"tso\": false"));  // defaults printed, in the Any too
  EXPECT_THAT(*json, Not(HasSubstr("\"checksum\"")));  // unset optional: omitted
  EXPECT_THAT(*json, HasSubstr("\"frontendConnections\": 1"));
  EXPECT_THAT(*json, HasSubstr("\"negotiatedFeatures\": \"4294967296\""));  // 64-bit: a string
  EXPECT_THAT(*json, HasSubstr("\"negotiatedFeatureNames\": []"));
  EXPECT_THAT(*json, HasSubstr("\"dataplanePortId\": -1"));
  EXPECT_THAT(*json, Not(HasSubstr("socket_path")));
  EXPECT_EQ(json->front(), '{');
  EXPECT_EQ(json->substr(json->size() - 2), "}\n");
  const google::protobuf::Struct spec = Get(Parsed(*json), "spec").struct_value();
  EXPECT_EQ(Get(spec, "queues").number_value(), 2);
}

TEST(TypeCatalogTest, OneLineJson) {
  TypeCatalog catalog;
  vhostctl::v1::TopFrame frame;  // compiled in: its files are copied into the pool
  frame.set_port_count(3);
  frame.add_ports()->set_name("p0");
  absl::StatusOr<std::string> json = catalog.ToJson(frame, false, nullptr);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, Not(HasSubstr("\n")));
  EXPECT_THAT(*json, HasSubstr("\"portCount\":3"));
  EXPECT_THAT(*json, HasSubstr("\"state\":\"STATE_UNSPECIFIED\""));
}

TEST(TypeCatalogTest, AnyOfAnUnloadedPluginShowsItsTypeOnly) {
  TypeCatalog catalog;  // no plugins: VhostUserSpec is not known
  std::vector<std::string> warnings;
  absl::StatusOr<std::string> json = catalog.ToJson(VhostUserPort(), true, &warnings);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"@type\": \"type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec\""));
  EXPECT_THAT(*json, Not(HasSubstr("socketPath")));
  EXPECT_THAT(warnings, ElementsAre(HasSubstr(kVhostUserSpec), HasSubstr(kVhostUserStatus)));
  EXPECT_THAT(warnings[0], HasSubstr("is its plugin loaded?"));
  // The stand-in is for JSON only: the message still counts as unknown.
  std::string why;
  EXPECT_EQ(catalog.Unpack(VhostUserPort().spec(), &why), nullptr);
  EXPECT_EQ(why, std::string("no plugin of the daemon describes ") + kVhostUserSpec);
  EXPECT_EQ(catalog.FindMessage(kVhostUserSpec), nullptr);
}

TEST(TypeCatalogTest, Unpack) {
  TypeCatalog catalog;
  catalog.AddPlugins(test_data::Plugins());
  std::string why;
  std::unique_ptr<google::protobuf::Message> spec = catalog.Unpack(VhostUserPort().spec(), &why);
  ASSERT_NE(spec, nullptr) << why;
  EXPECT_EQ(spec->GetDescriptor()->full_name(), kVhostUserSpec);
  EXPECT_EQ(spec->ShortDebugString(), "socket_path: \"vm1.sock\" mode: MODE_CLIENT queues: 2");

  google::protobuf::Any garbage;
  garbage.set_type_url(std::string("type.googleapis.com/") + kVhostUserSpec);
  garbage.set_value("\xff\xff\xff");
  EXPECT_EQ(catalog.Unpack(garbage, &why), nullptr);
  EXPECT_THAT(why, HasSubstr("3 bytes are no vhostd.plugins.vhost_user.v1.VhostUserSpec"));
}

TEST(TypeCatalogTest, FindPluginAndTypeNames) {
  TypeCatalog catalog;
  EXPECT_FALSE(catalog.has_plugins());
  catalog.AddPlugins(test_data::Plugins());
  EXPECT_TRUE(catalog.has_plugins());
  ASSERT_NE(catalog.FindPlugin("vdpa"), nullptr);
  EXPECT_EQ(catalog.FindPlugin("vdpa")->spec_type(), "vhostd.plugins.vdpa.v1.VdpaSpec");
  EXPECT_EQ(catalog.FindPlugin("vhost-net"), nullptr);
  EXPECT_EQ(catalog.TypeNames(), "test-type, vdpa, vhost-kernel, vhost-user");
}

TEST(TypeCatalogTest, ABrokenDescriptorSetSpoilsOnlyItsOwnTypes) {
  ListPluginsResponse plugins = test_data::Plugins();
  // An import nobody provides, and a message that names a type that does not exist.
  vhostd::v1::Plugin* broken = plugins.add_plugins();
  broken->set_port_type("broken");
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    file { name: "broken/a.proto" package: "broken.v1" dependency: "broken/missing.proto"
           message_type { name: "ASpec" } }
    file { name: "broken/b.proto" package: "broken.v1" syntax: "proto3"
           message_type { name: "BSpec"
                          field { name: "x" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
                                  type_name: ".broken.v1.Nowhere" } } }
  )pb", broken->mutable_descriptors()));
  TypeCatalog catalog;
  catalog.AddPlugins(plugins);
  EXPECT_THAT(catalog.problems(), SizeIs(3));
  EXPECT_THAT(catalog.problems()[0], HasSubstr("broken/missing.proto: in no plugin's descriptors"));
  EXPECT_THAT(catalog.problems()[1], HasSubstr("broken/a.proto: its import broken/missing.proto"));
  EXPECT_THAT(catalog.problems()[2], AllOf(HasSubstr("broken/b.proto"), HasSubstr("Nowhere")));
  EXPECT_EQ(catalog.FindMessage("broken.v1.ASpec"), nullptr);
  EXPECT_EQ(catalog.FindMessage("broken.v1.BSpec"), nullptr);
  EXPECT_NE(catalog.FindMessage(kVhostUserSpec), nullptr);
}

TEST(TypeCatalogTest, AFileTwiceIsTakenOnce) {
  ListPluginsResponse plugins = test_data::Plugins();
  // A second plugin shipping vhost_user.proto (the same file) builds nothing twice.
  *plugins.add_plugins() = plugins.plugins(2);
  plugins.mutable_plugins()->rbegin()->set_port_type("vhost-user-2");
  // A plugin's copy of an API file is ignored: vhostctl's own is kept.
  google::protobuf::FileDescriptorProto* api = plugins.mutable_plugins(0)->mutable_descriptors()->add_file();
  api->set_name("vhostd/v1/port.proto");
  api->set_package("vhostd.v1");
  TypeCatalog catalog;
  catalog.AddPlugins(plugins);
  EXPECT_THAT(catalog.problems(), IsEmpty());
  EXPECT_NE(catalog.FindMessage("vhostd.v1.QueueStats"), nullptr);
}

TEST(TypeCatalogTest, PluginListJsonCarriesTheDescriptors) {
  TypeCatalog catalog;
  absl::StatusOr<std::string> json = catalog.ToJson(test_data::Plugins(), true, nullptr);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"specType\": \"vhostd.plugins.vdpa.v1.VdpaSpec\""));
  EXPECT_THAT(*json, HasSubstr("\"name\": \"plugins/vdpa/vdpa.proto\""));
}

TEST(TypeCatalogTest, Empty) {
  TypeCatalog catalog;
  EXPECT_EQ(*catalog.ToJson(google::protobuf::Empty(), true, nullptr), "{}\n");
  EXPECT_EQ(*catalog.ToJson(google::protobuf::Empty(), false, nullptr), "{}");
}

}  // namespace
}  // namespace vhostctl
