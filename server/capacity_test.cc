#include "server/capacity.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

// A port type's spec with a `queues` field, as every shipped plugin's has.
class SpecWithQueues {
 public:
  SpecWithQueues() {
    google::protobuf::FileDescriptorProto file;
    file.set_name("test_spec.proto");
    file.set_syntax("proto3");
    google::protobuf::DescriptorProto* message = file.add_message_type();
    message->set_name("TestSpec");
    google::protobuf::FieldDescriptorProto* field = message->add_field();
    field->set_name("queues");
    field->set_number(1);
    field->set_type(google::protobuf::FieldDescriptorProto::TYPE_UINT32);
    field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    descriptor_ = pool_.BuildFile(file)->message_type(0);
  }

  std::unique_ptr<google::protobuf::Message> With(uint32_t queues) {
    std::unique_ptr<google::protobuf::Message> spec(factory_.GetPrototype(descriptor_)->New());
    spec->GetReflection()->SetUInt32(spec.get(), descriptor_->FindFieldByName("queues"), queues);
    return spec;
  }

 private:
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  const google::protobuf::Descriptor* descriptor_ = nullptr;
};

TEST(CapacityTest, PortLimitIsResourceExhaustedNamingTheFlag) {
  Capacity capacity;
  capacity.max_ports = 3;
  capacity.max_ports_source = "--max-ports=3";
  const google::protobuf::Struct no_queues;
  EXPECT_TRUE(CheckRoomForPort(capacity, 2, no_queues).ok());
  const absl::Status full = CheckRoomForPort(capacity, 3, no_queues);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.message(), "port: 3 ports exist, the most this vhostd serves (--max-ports=3)");
}

TEST(CapacityTest, QueuesBeyondTheLimitAreRefusedNamingTheField) {
  Capacity capacity;
  capacity.max_queues_per_port = 4;
  SpecWithQueues specs;
  EXPECT_TRUE(CheckRoomForPort(capacity, 0, *specs.With(4)).ok());
  EXPECT_TRUE(CheckRoomForPort(capacity, 0, *specs.With(0)).ok());  // unset: one queue
  const absl::Status many = CheckRoomForPort(capacity, 0, *specs.With(5));
  EXPECT_EQ(many.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(many.message(), "port.spec.queues: 5 queues, more than this vhostd serves per port "
                            "(--max-queues-per-port=4)");
}

TEST(CapacityTest, OpenFilesNearTheLimitRefuseAPort) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = OpenFileCount() + 10;  // room for a port of one queue (16), not
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  SpecWithQueues specs;
  const absl::Status status = CheckRoomForPort(Capacity{}, 0, *specs.With(1));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("open files (RLIMIT_NOFILE) in use; this port may need 16 more"),
            absl::string_view::npos)
      << status.message();
}

TEST(CapacityTest, DescriptorTableSizeBoundsTheOpenFiles) {
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) fds.push_back(dup(STDERR_FILENO));
  const size_t open = OpenFileCount(), table = DescriptorTableSize();
  for (int fd : fds) close(fd);
  EXPECT_GE(open, 300u);
  EXPECT_GE(table, open);
  EXPECT_GT(table, static_cast<size_t>(*std::max_element(fds.begin(), fds.end())));
}

TEST(CapacityTest, OpenFileLimitRaisedToTheHardLimitThenMaxPortsFittedToIt) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 512;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Capacity capacity;
  capacity.max_ports = 10;
  absl::StatusOr<std::string> fitted = FitToOpenFileLimit(&capacity);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(*fitted, "");
  EXPECT_EQ(capacity.max_ports, 10u);
  rlimit raised{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &raised), 0);
  EXPECT_EQ(raised.rlim_cur, saved.rlim_max);
  // A hard limit of 1024 (a container runtime's default) holds 96 ports.
  rlimit tight = {1024, 1024};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  capacity.max_ports = 256;
  capacity.max_ports_source = "--max-ports=256";
  fitted = FitToOpenFileLimit(&capacity);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(*fitted, "--max-ports: 256 ports need about 2304 open files, the limit (RLIMIT_NOFILE) is 1024: serving "
                     "at most 96 ports; raise the limit (ulimit -n, LimitNOFILE=) for more");
  EXPECT_EQ(capacity.max_ports, 96u);
  EXPECT_EQ(CheckRoomForPort(capacity, 96, google::protobuf::Struct()).message(),
            "port: 96 ports exist, the most this vhostd serves (--max-ports=256, lowered to 96 by RLIMIT_NOFILE 1024)");
  // Lowering a hard limit cannot be undone without CAP_SYS_RESOURCE, which the test may
  // lack: the rest of this process keeps 1024, which is plenty for the tests after it.
  rlimit none = {200, 200};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
  EXPECT_EQ(FitToOpenFileLimit(&capacity).status().code(), absl::StatusCode::kResourceExhausted);
  setrlimit(RLIMIT_NOFILE, &saved);
}

}  // namespace
}  // namespace vhostd
