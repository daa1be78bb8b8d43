// vhostd: serves virtio ports (vhost-user, vhost-kernel, vDPA) over a gRPC API and
// forwards packets between them on DPDK polling cores.
#include <pthread.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "dataplane/eal.h"
#include "dataplane/engine.h"
#include "dataplane/plugin_loader.h"
#include "dataplane/plugin_registry.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/api_access.h"
#include "server/capacity.h"
#include "server/daemon_metrics.h"
#include "server/dataplane_collector.h"
#include "server/event_log.h"
#include "server/file_lock.h"
#include "server/flag_spelling.h"
#include "server/log.h"
#include "server/metrics_exporter.h"
#include "server/process_collector.h"
#include "server/rpc_metrics_interceptor.h"
#include "server/socket_defaults.h"
#include "server/port_manager.h"
#include "server/state_store.h"
#include "server/vhostd_service.h"

ABSL_FLAG(std::string, grpc_socket, "/run/vhostd/vhostd.sock", "Unix socket the gRPC API listens on (mode 0660).");
ABSL_FLAG(std::string, socket_dir, "/run/vhostd/sockets",
          "Directory that every vhost-user socket path must resolve into.");
ABSL_FLAG(std::string, state_file, "/var/lib/vhostd/state.json",
          "Where desired ports and cross-connects are persisted and restored from.");
ABSL_FLAG(std::string, cores, "", "CPUs that run polling cores, e.g. 1 or 2-3 (default: the last CPU).");
ABSL_FLAG(std::string, pmd_rxq_assign, "cycles",
          "How rx queues are spread over the polling cores: cycles, group or roundrobin (as OVS's pmd-rxq-assign).");
ABSL_FLAG(bool, pmd_rxq_isolate, true, "Cores with a pinned rx queue poll pinned queues only.");
ABSL_FLAG(uint32_t, pmd_sleep_max_us, 0,
          "Up to how many microseconds (0..10000) an idle polling core sleeps between empty polls; 0: never.");
ABSL_FLAG(std::string, eal_args, "", "Extra DPDK EAL arguments, appended last (e.g. \"--file-prefix=x -m 512\").");
ABSL_FLAG(int, memory_mb, 1024, "EAL memory in MiB when no hugepages are mounted (--no-huge).");
ABSL_FLAG(int, mbufs, 16384, "Packet buffers in the shared mbuf pool.");
ABSL_FLAG(std::string, plugin_dir, "",
          "Directory whose *.so port-type plugins are loaded at start (default: plugins/ next to the binary).");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9477",
          "host:port serving Prometheus metrics at /metrics; empty disables it.");
ABSL_FLAG(int64_t, event_history, static_cast<int64_t>(vhostd::EventLog::kDefaultHistory),
          "Events kept for WatchEvents clients that resume or read slowly (1..262144).");
ABSL_FLAG(int64_t, max_event_watchers, static_cast<int64_t>(vhostd::EventLog::kDefaultMaxWatchers),
          "Concurrent WatchEvents streams (1..1024); more are refused with RESOURCE_EXHAUSTED.");

namespace vhostd {
namespace {

// The port types this vhostd serves: every plugin in --plugin-dir. Loaded before EAL
// starts, like a plugin's DPDK libraries would be if they were linked in (their
// constructors register drivers and log types), and so that a bad plugin stops start-up
// before anything is set up.
absl::Status LoadPlugins(const std::string& socket_dir, PluginRegistry* registry) {
  std::string dir = absl::GetFlag(FLAGS_plugin_dir);
  if (dir.empty()) dir = DefaultPluginDir();
  absl::StatusOr<SocketDefaults> sockets = SocketDefaultsFromFlags();
  if (!sockets.ok()) return sockets.status();
  const vhostd_plugin_config config{socket_dir.c_str(), sockets->mode, sockets->owner.c_str(), sockets->group.c_str()};
  if (absl::Status s = LoadPluginDir(dir, config, registry); !s.ok()) return s;
  for (const RegisteredPlugin& plugin : registry->All()) {
    VHOSTD_LOG_INFO("plugin ", plugin.info.port_type, " ", plugin.info.version, " from ", plugin.info.file);
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  VHOSTD_LOG_ERROR(status.message());
  return 1;
}

absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  std::string path;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create directory ", path, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// Checks the flags that name files and prepares their directories.
absl::Status PrepareFiles(const std::string& grpc_socket, const std::string& socket_dir,
                          const std::string& state_file) {
  if (grpc_socket.empty() || grpc_socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-socket: must be a path shorter than ", sizeof(sockaddr_un{}.sun_path), " bytes"));
  }
  if (socket_dir.empty()) return absl::InvalidArgumentError("--socket-dir: required");
  if (state_file.empty()) return absl::InvalidArgumentError("--state-file: required");
  for (const std::string& dir : {DirOf(grpc_socket), socket_dir, DirOf(state_file)}) {
    if (absl::Status s = MakeDirs(dir, 0755); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> EalArguments() {
  EalOptions options;
  options.online_cpus = OnlineCpus();
  if (options.online_cpus.empty()) return absl::InternalError("no CPU in this process's affinity mask");
  const std::string cores = absl::GetFlag(FLAGS_cores);
  if (cores.empty()) {
    options.poll_cpus = {options.online_cpus.back()};
  } else {
    absl::StatusOr<std::vector<int>> cpus = ParseCpuList(cores, "--cores");
    if (!cpus.ok()) return cpus.status();
    options.poll_cpus = *cpus;
  }
  options.hugepages_available = HugepagesAvailable();
  options.memory_mb = absl::GetFlag(FLAGS_memory_mb);
  if (options.memory_mb < 64) return absl::InvalidArgumentError("--memory-mb: at least 64");
  options.extra_args = absl::GetFlag(FLAGS_eal_args);
  return BuildEalArgs(options);
}

constexpr int64_t kMaxEventHistory = 262144;
constexpr int64_t kMaxEventWatchers = 1024;

// The event stream's bounds, from --event-history and --max-event-watchers.
absl::StatusOr<std::unique_ptr<EventLog>> EventLogFromFlags() {
  const int64_t history = absl::GetFlag(FLAGS_event_history);
  if (history < 1 || history > kMaxEventHistory) {
    return absl::InvalidArgumentError(
        absl::StrCat("--event-history: ", history, " is not in 1..", kMaxEventHistory));
  }
  const int64_t watchers = absl::GetFlag(FLAGS_max_event_watchers);
  if (watchers < 1 || watchers > kMaxEventWatchers) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-event-watchers: ", watchers, " is not in 1..", kMaxEventWatchers));
  }
  return std::make_unique<EventLog>(static_cast<size_t>(history), static_cast<size_t>(watchers));
}

absl::StatusOr<vhostd::v1::CoreSettings> CoreSettingsFromFlags() {
  vhostd::v1::CoreSettings settings;
  const std::string mode = absl::GetFlag(FLAGS_pmd_rxq_assign);
  if (mode == "cycles") {
    settings.set_assign_mode(vhostd::v1::ASSIGN_MODE_CYCLES);
  } else if (mode == "group") {
    settings.set_assign_mode(vhostd::v1::ASSIGN_MODE_GROUP);
  } else if (mode == "roundrobin") {
    settings.set_assign_mode(vhostd::v1::ASSIGN_MODE_ROUNDROBIN);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--pmd-rxq-assign: '", mode, "' is not one of cycles, group, roundrobin"));
  }
  settings.set_isolate_pinned(absl::GetFlag(FLAGS_pmd_rxq_isolate));
  const uint32_t sleep = absl::GetFlag(FLAGS_pmd_sleep_max_us);
  if (sleep > kMaxIdleSleepUs) {
    return absl::InvalidArgumentError(absl::StrCat("--pmd-sleep-max-us: at most ", kMaxIdleSleepUs));
  }
  settings.set_sleep_max_us(sleep);
  return settings;
}

// SIGTERM and SIGINT are taken by a thread that shuts the gRPC server down; every other
// thread (EAL's included) inherits a mask that blocks them.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// EAL leaves its runtime directory (/var/run/dpdk/<file-prefix>) behind; a daemon that
// stopped cleanly removes it so restarts and other DPDK processes find no stale files.
void RemoveRuntimeDir(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

int Run() {
  const std::string grpc_socket = absl::GetFlag(FLAGS_grpc_socket);
  const std::string socket_dir = absl::GetFlag(FLAGS_socket_dir);
  StateStore store(absl::GetFlag(FLAGS_state_file));
  absl::StatusOr<Capacity> capacity = CapacityFromFlags();
  if (!capacity.ok()) return Fail(capacity.status());
  absl::StatusOr<std::string> fitted = FitToOpenFileLimit(&*capacity);
  if (!fitted.ok()) return Fail(fitted.status());
  if (!fitted->empty()) VHOSTD_LOG_ERROR(*fitted);
  if (absl::Status s = PrepareFiles(grpc_socket, socket_dir, store.path()); !s.ok()) return Fail(s);
  // One daemon per state file and per API socket: a second one stops here, before EAL.
  absl::StatusOr<FileLock> state_lock =
      FileLock::Acquire(store.path() + ".lock", "--state-file", absl::StrCat("the state file ", store.path()));
  if (!state_lock.ok()) return Fail(state_lock.status());
  absl::StatusOr<std::unique_ptr<ApiAccess>> api = ApiAccess::Open(grpc_socket);
  if (!api.ok()) return Fail(api.status());
  // Read the state before starting anything, so a bad file stops us at once.
  if (absl::StatusOr<vhostd::state::DesiredState> state = store.Load(); !state.ok()) return Fail(state.status());
  if (absl::GetFlag(FLAGS_mbufs) < 1024) return Fail(absl::InvalidArgumentError("--mbufs: at least 1024"));
  // Outlives the manager (which publishes to it) and the gRPC server (whose watches read it).
  absl::StatusOr<std::unique_ptr<EventLog>> events = EventLogFromFlags();
  if (!events.ok()) return Fail(events.status());
  // Before plugins load: threads they start must inherit the blocked mask, or SIGTERM
  // may land in one of them and kill the process with the default action.
  const sigset_t shutdown_signals = BlockShutdownSignals();
  PluginRegistry plugins;  // outlives the port manager: its ports run plugin code
  if (absl::Status s = LoadPlugins(socket_dir, &plugins); !s.ok()) return Fail(s);

  absl::StatusOr<std::vector<std::string>> eal_args = EalArguments();
  if (!eal_args.ok()) return Fail(eal_args.status());
  if (absl::Status s = InitEal(*eal_args); !s.ok()) return Fail(s);

  int exit_code = 0;
  {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Start(absl::GetFlag(FLAGS_mbufs));
    if (!engine.ok()) return Fail(engine.status());
    PortManager manager(&plugins, engine->get(), &store, PluginContext{(*engine)->mbuf_pool(), engine->get()});
    absl::StatusOr<vhostd::v1::CoreSettings> core_settings = CoreSettingsFromFlags();
    if (!core_settings.ok()) return Fail(core_settings.status());
    manager.SetCoreDefaults(*core_settings);
    manager.SetCapacity(*capacity);
    manager.SetEventLog(events->get());
    if (absl::Status s = manager.Restore(); !s.ok()) return Fail(s);
    manager.StartReconciler();

    DaemonMetrics daemon_metrics;
    const DataplaneCollector dataplane_collector(&manager, engine->get());
    std::unique_ptr<MetricsExporter> exporter;
    if (const std::string address = absl::GetFlag(FLAGS_metrics_address); !address.empty()) {
      absl::StatusOr<std::unique_ptr<MetricsExporter>> started = MetricsExporter::Start(
          address, &dataplane_collector, {std::make_shared<ProcessCollector>(), daemon_metrics.registry()});
      if (!started.ok()) return Fail(started.status());
      exporter = std::move(*started);
      VHOSTD_LOG_INFO("serving Prometheus metrics on http://", address, "/metrics");
    }

    VhostdService service(&manager, events->get());
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    (*api)->AddListeningPorts(&builder);  // TCP, if any; the Unix socket's connections come from *api
    builder.RegisterService(&service);
    ApplyApiLimits(*capacity, &builder);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::make_unique<RpcMetricsInterceptorFactory>(&daemon_metrics));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) return Fail(absl::UnavailableError(absl::StrCat("cannot serve the API on ", (*api)->Describe())));
    (*api)->Serve(server.get(), daemon_metrics.registry().get());
    // grpc.health.v1 says NOT_SERVING while a polling core did not take its program.
    if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
      manager.SetHealthListener([health](bool healthy) { health->SetServingStatus(healthy); });
    }
    VHOSTD_LOG_INFO("serving the vhostd.v1 API on ", (*api)->Describe(), " with ", (*engine)->core_count(),
                    " polling core(s)");

    std::thread signal_thread([&server, &api, &events, shutdown_signals] {
      int signo = 0;
      sigwait(&shutdown_signals, &signo);
      VHOSTD_LOG_INFO("signal ", signo, ": shutting down");
      (*api)->StopAccepting();
      (*events)->Close();  // ends the watches, which would otherwise hold Shutdown up
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    });
    server->Wait();
    manager.SetHealthListener(nullptr);  // the reconciler may replan until the manager goes
    signal_thread.join();
    api->reset();  // removes the API socket, if it is still the one this daemon bound
  }  // ports close (manager), then cores stop (engine)
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  RemoveRuntimeDir(runtime_dir);
  VHOSTD_LOG_INFO("stopped");
  return exit_code;
}

}  // namespace
}  // namespace vhostd

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vhostd --grpc-socket=PATH --socket-dir=DIR --state-file=FILE [--cores=CPUS] [--plugin-dir=DIR]");
  std::vector<std::string> args =
      vhostd::DashedFlagsToAbsl(std::vector<std::string>(argv, argv + argc), vhostd::RegisteredFlagTakesValue);
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  return vhostd::Run();
}
