// Plugin descriptors for vhostctl's tests, as a daemon's ListPlugins carries them: the
// descriptor sets of the plugins vhostd ships (built by Bazel from their .proto files)
// and of client/testing/test_spec.proto. The tests compile no plugin message in: they
// make and read plugin messages through these descriptors, as vhostctl does.
#ifndef VHOSTD_CLIENT_TESTING_TEST_DESCRIPTORS_H_
#define VHOSTD_CLIENT_TESTING_TEST_DESCRIPTORS_H_

#include <string>

#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {
namespace test_data {

// A descriptor set from the test's data files (path from the workspace root, e.g.
// "plugins/vdpa/vdpa_proto.desc"). Fails the test when it cannot be read.
google::protobuf::FileDescriptorSet ReadDescriptorSet(const std::string& path);

// The plugins vhostd ships, as ListPlugins answers: vdpa, vhost-kernel, vhost-user
// (type, version, file, ABI, spec and status types, descriptors), and "test-type", whose
// messages are vhostctl.testing.v1.TestSpec / TestStatus.
vhostd::v1::ListPluginsResponse Plugins();

// A descriptor of the messages of Plugins(), from a pool of the tests' own (not
// vhostctl's): for building a plugin message the way a daemon would.
const google::protobuf::Descriptor* FindMessage(const std::string& full_name);

// A message of type `full_name` written in protobuf text format, packed in an Any as a
// daemon would send it. Fails the test when the text does not parse.
google::protobuf::Any PackText(const std::string& full_name, const std::string& text);

// The text format of the message an Any holds ("" when it cannot be unpacked).
std::string UnpackToText(const google::protobuf::Any& any);

}  // namespace test_data
}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_TESTING_TEST_DESCRIPTORS_H_
