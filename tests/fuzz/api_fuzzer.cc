// Fuzzes every vhostd.v1 API method the way a client reaches it: each input is a
// sequence of calls (method, request bytes), each request parsed as that method's
// request message and handed to VhostdService over a fresh PortManager (fake plugin and
// engine, real state store in a temp dir). Oracle: nothing crashes (ASan/UBSan), and a
// call that returns an error leaves the persisted state byte for byte as it was.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "dataplane/plugin_registry.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_context.h"
#include "server/event_filter.h"
#include "server/event_log.h"
#include "server/port_manager.h"
#include "server/state_store.h"
#include "server/testing/fake_forwarding_engine.h"
#include "server/testing/fake_port_plugin.h"
#include "server/vhostd_service.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostd {
namespace {

using Call = std::function<grpc::Status(VhostdService&, const std::string&)>;

template <typename Request, typename Response>
Call Bind(grpc::Status (VhostdService::*method)(grpc::ServerContext*, const Request*, Response*)) {
  return [method](VhostdService& service, const std::string& bytes) {
    Request request;
    if (!request.ParseFromString(bytes)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "does not parse");
    Response response;
    grpc::ServerContext context;
    return (service.*method)(&context, &request, &response);
  };
}

// Every method of the service. A method missing here stops the fuzzer (and its
// regression test) at start, so a new RPC cannot go unfuzzed.
const std::map<std::string, Call>& Calls() {
  static const auto* calls = new std::map<std::string, Call>{
      {"CreatePort", Bind(&VhostdService::CreatePort)},
      {"GetPort", Bind(&VhostdService::GetPort)},
      {"ListPorts", Bind(&VhostdService::ListPorts)},
      {"DeletePort", Bind(&VhostdService::DeletePort)},
      {"GetPortStats", Bind(&VhostdService::GetPortStats)},
      {"CreateCrossConnect", Bind(&VhostdService::CreateCrossConnect)},
      {"DeleteCrossConnect", Bind(&VhostdService::DeleteCrossConnect)},
      {"ListCrossConnects", Bind(&VhostdService::ListCrossConnects)},
      {"CreateBridge", Bind(&VhostdService::CreateBridge)},
      {"GetBridge", Bind(&VhostdService::GetBridge)},
      {"ListBridges", Bind(&VhostdService::ListBridges)},
      {"DeleteBridge", Bind(&VhostdService::DeleteBridge)},
      {"AddBridgePort", Bind(&VhostdService::AddBridgePort)},
      {"DeleteBridgePort", Bind(&VhostdService::DeleteBridgePort)},
      {"ListPlugins", Bind(&VhostdService::ListPlugins)},
      {"ListCores", Bind(&VhostdService::ListCores)},
      {"PinQueue", Bind(&VhostdService::PinQueue)},
      {"UnpinQueue", Bind(&VhostdService::UnpinQueue)},
      {"RebalanceCores", Bind(&VhostdService::RebalanceCores)},
      {"GetCoreSettings", Bind(&VhostdService::GetCoreSettings)},
      {"UpdateCoreSettings", Bind(&VhostdService::UpdateCoreSettings)},
      // Server streaming: what the call checks before it streams (a follow watch
      // would never return).
      {"WatchEvents",
       [](VhostdService&, const std::string& bytes) {
         vhostd::v1::WatchEventsRequest request;
         if (!request.ParseFromString(bytes)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
         return ToGrpcStatus(ValidateWatchRequest(request));
       }},
  };
  return *calls;
}

// The service's methods in descriptor order (the fuzzer's method byte indexes them).
const std::vector<const Call*>& MethodTable() {
  static const auto* table = [] {
    auto* methods = new std::vector<const Call*>;
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("vhostd.v1.Vhostd");
    for (int i = 0; i < service->method_count(); ++i) {
      auto it = Calls().find(service->method(i)->name());
      if (it == Calls().end()) {
        fprintf(stderr, "api_fuzzer: method %s has no call here\n", service->method(i)->name().c_str());
        abort();
      }
      methods->push_back(&it->second);
    }
    return methods;
  }();
  return *table;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// One daemon's worth of API state, on files in its own directory.
struct Daemon {
  explicit Daemon(const std::string& dir)
      : state_path(dir + "/state.json"), store(state_path), engine(2), events(64, 4) {
    auto plugin = std::make_unique<fakes::FakePortPlugin>(std::make_shared<fakes::FakePluginLog>());
    if (!registry.Register(fakes::FakePortPlugin::Info(), std::move(plugin)).ok()) abort();
    manager = std::make_unique<PortManager>(&registry, &engine, &store, PluginContext{});
    manager->SetEventLog(&events);
    service = std::make_unique<VhostdService>(manager.get(), &events);
  }
  std::string Persisted() const { return ReadAll(state_path) + "\n--journal--\n" + ReadAll(state_path + ".journal"); }

  const std::string state_path;
  StateStore store;
  PluginRegistry registry;
  fakes::FakeForwardingEngine engine;
  EventLog events;
  std::unique_ptr<PortManager> manager;
  std::unique_ptr<VhostdService> service;
};

const std::string& WorkDir() {
  static const std::string* dir = [] {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/api_fuzzer_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) abort();
    return new std::string(pattern);
  }();
  return *dir;
}

}  // namespace
}  // namespace vhostd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vhostd::Daemon;
  const auto& methods = vhostd::MethodTable();
  static const bool trace = getenv("API_FUZZER_TRACE") != nullptr;  // to check what seeds do
  unlink((vhostd::WorkDir() + "/state.json").c_str());
  unlink((vhostd::WorkDir() + "/state.json.journal").c_str());
  Daemon daemon(vhostd::WorkDir());
  // Records: method (1 byte), length (2 bytes, little endian), request bytes.
  for (size_t pos = 0, calls = 0; pos + 3 <= size && calls < 16; ++calls) {
    const vhostd::Call& call = *methods[data[pos] % methods.size()];
    const size_t length = std::min<size_t>(data[pos + 1] | (data[pos + 2] << 8), size - pos - 3);
    const std::string request(reinterpret_cast<const char*>(data + pos + 3), length);
    pos += 3 + length;
    const std::string before = daemon.Persisted();
    const grpc::Status status = call(*daemon.service, request);
    if (trace) fprintf(stderr, "call %u: %d %s\n", data[pos - 3 - length], status.error_code(), status.error_message().c_str());
    if (!status.ok() && daemon.Persisted() != before) {
      fprintf(stderr, "api_fuzzer: a call failed (%s) but changed the persisted state\n",
              status.error_message().c_str());
      abort();
    }
  }
  return 0;
}
