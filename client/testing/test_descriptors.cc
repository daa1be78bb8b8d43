#include "client/testing/test_descriptors.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"

namespace vhostctl {
namespace test_data {
namespace {

struct ShippedPlugin {
  const char* type;
  const char* desc;
  const char* spec;
  const char* status;
};

const ShippedPlugin kPlugins[] = {
    {"vdpa", "plugins/vdpa/vdpa_proto.desc", "vhostd.plugins.vdpa.v1.VdpaSpec",
     "vhostd.plugins.vdpa.v1.VdpaStatus"},
    {"vhost-kernel", "plugins/vhost_kernel/vhost_kernel_proto.desc",
     "vhostd.plugins.vhost_kernel.v1.VhostKernelSpec",
     "vhostd.plugins.vhost_kernel.v1.VhostKernelStatus"},
    {"vhost-user", "plugins/vhost_user/vhost_user_proto.desc",
     "vhostd.plugins.vhost_user.v1.VhostUserSpec",
     "vhostd.plugins.vhost_user.v1.VhostUserStatus"},
    {"test-type", "client/testing/test_spec.desc", "vhostctl.testing.v1.TestSpec",
     "vhostctl.testing.v1.TestStatus"},
};

std::string DataPath(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "vhostd", "/", path);
}

// The tests' pool of every plugin's messages, and a factory for them.
struct TestPool {
  TestPool() : factory(&pool) {
    for (const ShippedPlugin& plugin : kPlugins) {
      const google::protobuf::FileDescriptorSet set = ReadDescriptorSet(plugin.desc);
      for (const auto& file : set.file()) {
        if (pool.FindFileByName(file.name()) == nullptr) {
          EXPECT_NE(pool.BuildFile(file), nullptr) << file.name();
        }
      }
    }
  }
  google::protobuf::DescriptorPool pool;
  google::protobuf::DynamicMessageFactory factory;
};

TestPool& Pool() {
  static auto* const pool = new TestPool();
  return *pool;
}

}  // namespace

google::protobuf::FileDescriptorSet ReadDescriptorSet(const std::string& path) {
  std::ifstream in(DataPath(path), std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  EXPECT_TRUE(in.good() || in.eof()) << "cannot read " << DataPath(path);
  EXPECT_TRUE(set.ParseFromString(bytes.str()) && set.file_size() > 0)
      << "not a descriptor set: " << DataPath(path);
  return set;
}

vhostd::v1::ListPluginsResponse Plugins() {
  vhostd::v1::ListPluginsResponse response;
  for (const ShippedPlugin& plugin : kPlugins) {
    vhostd::v1::Plugin* entry = response.add_plugins();
    entry->set_port_type(plugin.type);
    entry->set_version("1.0");
    entry->set_description(absl::StrCat(plugin.type, " ports"));
    entry->set_available(true);
    entry->set_file(absl::StrCat("/usr/lib/vhostd/plugins/", plugin.type, ".so"));
    entry->set_abi_version(2);
    entry->set_spec_type(plugin.spec);
    entry->set_status_type(plugin.status);
    *entry->mutable_descriptors() = ReadDescriptorSet(plugin.desc);
  }
  return response;
}

const google::protobuf::Descriptor* FindMessage(const std::string& full_name) {
  return Pool().pool.FindMessageTypeByName(full_name);
}

google::protobuf::Any PackText(const std::string& full_name, const std::string& text) {
  google::protobuf::Any any;
  const google::protobuf::Descriptor* type = FindMessage(full_name);
  EXPECT_NE(type, nullptr) << full_name;
  if (type == nullptr) return any;
  std::unique_ptr<google::protobuf::Message> message(Pool().factory.GetPrototype(type)->New());
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, message.get())) << text;
  any.set_type_url(absl::StrCat("type.googleapis.com/", full_name));
  any.set_value(message->SerializeAsString());
  return any;
}

std::string UnpackToText(const google::protobuf::Any& any) {
  const std::string name = any.type_url().substr(any.type_url().rfind('/') + 1);
  const google::protobuf::Descriptor* type = FindMessage(name);
  if (type == nullptr) return "";
  std::unique_ptr<google::protobuf::Message> message(Pool().factory.GetPrototype(type)->New());
  if (!message->ParseFromString(any.value())) return "";
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(*message, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace test_data
}  // namespace vhostctl
