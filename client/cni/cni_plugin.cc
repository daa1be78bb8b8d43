#include "client/cni/cni_plugin.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cni/cni_attachment.h"
#include "client/cni/cni_device_info.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_files.h"
#include "client/cni/cni_ipam.h"
#include "client/cni/cni_netns.h"
#include "client/cni/cni_port_spec.h"
#include "client/cni/cni_result.h"
#include "client/cni/cni_version.h"
#include "client/type_catalog.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

using nlohmann::json;
using vhostd::v1::CrossConnect;
using vhostd::v1::Port;
using vhostd::v1::PortStatus;

inline constexpr char kLabelXconnect[] = "cni.xconnect";

// Steps to take back when an ADD fails half-way, run newest first.
class UndoList {
 public:
  ~UndoList() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void Add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void Dismiss() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

// The first error of several (GC, DEL go on after one), with the others in the details.
class Errors {
 public:
  void Note(const absl::Status& status) {
    if (!status.ok()) list_.push_back(status);
  }
  absl::Status First() const {
    if (list_.empty()) return absl::OkStatus();
    std::vector<std::string> rest;
    for (size_t i = 1; i < list_.size(); ++i) rest.push_back(std::string(list_[i].message()));
    std::string details = CniDetailsOf(list_[0]);
    if (!rest.empty()) details = absl::StrCat(details, details.empty() ? "" : "; ", "also: ", absl::StrJoin(rest, "; "));
    return CniError(CniCodeOf(list_[0]), list_[0].message(), details);
  }

 private:
  std::vector<absl::Status> list_;
};

class Plugin {
 public:
  Plugin(const Environment& env, NetConf net, std::unique_ptr<Daemon> daemon, std::ostream& log)
      : env_(env), net_(std::move(net)), daemon_(std::move(daemon)), ipam_(net_, env_), log_(log) {}

  absl::StatusOr<json> Add();
  absl::Status Del();
  absl::Status Check();
  absl::Status Status();
  absl::Status Gc();

 private:
  absl::Status LoadPlugins();
  absl::StatusOr<std::optional<Result>> CachedResult(const AttachmentNames& names);
  absl::Status RemoveLeftover(const AttachmentNames& names);
  absl::StatusOr<std::string> PickVdpaDevice(const AttachmentNames& names);
  absl::StatusOr<Port> CreatePort(const AttachmentNames& names, const std::string& vdpa_device, UndoList* undo);
  absl::Status Attach(const Port& port, UndoList* undo);
  absl::Status JoinBridge(const Port& port, UndoList* undo);
  absl::StatusOr<Result> Assemble(const Port& port, const AttachmentNames& names, const Result& ipam);
  absl::Status WriteDeviceInfo(const AttachmentNames& names, const Port& port, const std::string& vdpa_device,
                               UndoList* undo);
  // The attachment (container ID, ifname) is known from the environment or a cached
  // result; without it (GC of a port whose cache is gone) no IPAM lease is released.
  absl::Status DeleteAttachment(const std::string& port_name, const std::optional<Attachment>& attachment);
  std::map<std::string, Attachment> CachedAttachments();
  absl::Status DetachPort(const std::string& port_name);
  absl::Status CheckPort(const Port& port, const AttachmentNames& names);
  absl::Status CheckContainerSide(const Result& prev);

  const Environment& env_;
  NetConf net_;
  std::unique_ptr<Daemon> daemon_;
  Ipam ipam_;
  vhostctl::TypeCatalog catalog_;
  std::ostream& log_;
};

std::map<std::string, std::string> ArgsOf(const Environment& env) {
  absl::StatusOr<std::map<std::string, std::string>> args = ParseCniArgs(env.args);
  return args.ok() ? *args : std::map<std::string, std::string>();
}

absl::Status Plugin::LoadPlugins() {
  absl::StatusOr<vhostd::v1::ListPluginsResponse> plugins = daemon_->ListPlugins();
  if (!plugins.ok()) return ToCniError(plugins.status(), "vhostd ListPlugins");
  catalog_.AddPlugins(*plugins);
  return absl::OkStatus();
}

// The result of an earlier ADD of this attachment whose port still exists.
absl::StatusOr<std::optional<Result>> Plugin::CachedResult(const AttachmentNames& names) {
  absl::StatusOr<std::optional<std::string>> text = ReadFileIfExists(names.cache_file);
  if (!text.ok()) return text.status();
  if (!*text) return std::optional<Result>();
  const json cache = json::parse(**text, nullptr, false);
  if (!cache.is_object() || cache.value("containerID", "") != env_.container_id ||
      cache.value("ifname", "") != env_.ifname || cache.value("network", "") != net_.name ||
      !cache.contains("result")) {
    return std::optional<Result>();  // not ours (or torn): redo the ADD
  }
  absl::StatusOr<Port> port = daemon_->GetPort(names.port);
  if (!port.ok()) {
    if (port.status().code() == absl::StatusCode::kNotFound) return std::optional<Result>();
    return ToCniError(port.status(), "vhostd GetPort");
  }
  absl::StatusOr<Result> result = ParseResult(cache["result"], names.cache_file);
  if (!result.ok()) return std::optional<Result>();
  return std::optional<Result>(*result);
}

// What a failed or interrupted ADD of this attachment may have left (a port, its
// socket directory, an IPAM lease), removed before this ADD starts again.
absl::Status Plugin::RemoveLeftover(const AttachmentNames& names) {
  absl::StatusOr<Port> port = daemon_->GetPort(names.port);
  if (port.ok()) {
    log_ << "vhostd-cni: removing port " << names.port << " left by an earlier ADD of this attachment\n";
    return DeleteAttachment(names.port, Attachment{env_.container_id, env_.ifname});
  }
  if (port.status().code() != absl::StatusCode::kNotFound) return ToCniError(port.status(), "vhostd GetPort");
  return absl::OkStatus();
}

absl::StatusOr<std::string> Plugin::PickVdpaDevice(const AttachmentNames& names) {
  absl::StatusOr<std::vector<Port>> ports = daemon_->ListPorts();
  if (!ports.ok()) return ToCniError(ports.status(), "vhostd ListPorts");
  std::set<std::string> used;
  for (const Port& port : *ports) {
    if (port.type() == "vdpa" && port.name() != names.port) used.insert(SpecString(catalog_, port, "device"));
  }
  return PickDevice(net_.vdpa_devices, used);
}

absl::StatusOr<Port> Plugin::CreatePort(const AttachmentNames& names, const std::string& vdpa_device,
                                        UndoList* undo) {
  absl::StatusOr<Port> port = BuildPort(net_, env_, names, vdpa_device, catalog_);
  if (!port.ok()) return port.status();
  for (const auto& [key, value] : LabelsFor(net_, env_, ArgsOf(env_))) (*port->mutable_labels())[key] = value;
  if (net_.xconnect && net_.xconnect->peer.empty()) (*port->mutable_labels())[kLabelXconnect] = LabelValue(net_.xconnect->name);
  if (!names.socket_dir.empty()) {
    if (absl::Status s = MakeSocketDir(names.socket_dir, net_.vhost_user); !s.ok()) return s;
    undo->Add([dir = names.socket_dir] { (void)RemoveSocketDir(dir); });
  }
  absl::StatusOr<Port> created = daemon_->CreatePort(*port);
  if (!created.ok()) return ToCniError(created.status(), "vhostd CreatePort");
  undo->Add([this, name = names.port] { (void)daemon_->DeletePort(name); });
  if (!names.socket_path.empty() && net_.vhost_user.vhostd_is_server) {
    if (absl::Status s = SetSocketOwnership(names.socket_path, net_.vhost_user); !s.ok()) return s;
  }
  return created;
}

// Joins the port to its cross-connect: with a peer, to that port; without, to the one
// other attachment of this network that names the same cross-connect (the first of the
// two waits alone until the second comes).
absl::Status Plugin::Attach(const Port& port, UndoList* undo) {
  if (net_.bridge) return JoinBridge(port, undo);
  if (!net_.xconnect) return absl::OkStatus();
  CrossConnect xconnect;
  xconnect.set_name(net_.xconnect->name);
  if (!net_.xconnect->peer.empty()) {
    xconnect.set_port_a(port.name());
    xconnect.set_port_b(net_.xconnect->peer);
  } else {
    absl::StatusOr<std::vector<Port>> members = daemon_->ListPorts(
        absl::StrCat(kLabelNetwork, "=", LabelValue(net_.name), ",", kLabelXconnect, "=",
                     LabelValue(net_.xconnect->name)));
    if (!members.ok()) return ToCniError(members.status(), "vhostd ListPorts");
    std::vector<std::string> others;
    for (const Port& member : *members) {
      if (member.name() != port.name()) others.push_back(member.name());
    }
    if (others.empty()) return absl::OkStatus();
    if (others.size() > 1) {
      return CniError(kResourceExhausted, absl::StrCat("xconnect.name: cross-connect ", net_.xconnect->name,
                                                       " joins two attachments already"),
                      absl::StrCat("ports: ", absl::StrJoin(others, ", ")));
    }
    const auto [a, b] = std::minmax(port.name(), others[0]);
    xconnect.set_port_a(a);
    xconnect.set_port_b(b);
  }
  absl::StatusOr<CrossConnect> created = daemon_->CreateCrossConnect(xconnect);
  if (!created.ok()) return WithPrefix(ToCniError(created.status(), "vhostd CreateCrossConnect"), "xconnect: ");
  undo->Add([this, name = xconnect.name()] { (void)daemon_->DeleteCrossConnect(name); });
  return absl::OkStatus();
}

// Adds the port to the config's bridge, made first when vhostd has none of that name.
absl::Status Plugin::JoinBridge(const Port& port, UndoList* undo) {
  const std::string& name = net_.bridge->name;
  absl::StatusOr<vhostd::v1::Bridge> bridge = daemon_->GetBridge(name);
  if (!bridge.ok() && bridge.status().code() == absl::StatusCode::kNotFound) {
    vhostd::v1::Bridge wanted;
    wanted.set_name(name);
    bridge = daemon_->CreateBridge(wanted);
    // Another attachment may have made it meanwhile (another network's plugin: no lock).
    if (!bridge.ok() && bridge.status().code() == absl::StatusCode::kAlreadyExists) bridge = daemon_->GetBridge(name);
  }
  if (!bridge.ok()) return WithPrefix(ToCniError(bridge.status(), "vhostd CreateBridge"), "bridge.name: ");
  vhostd::v1::BridgePort member;
  member.set_port(port.name());
  if (net_.bridge->access_vlan != 0) member.set_access_vlan(net_.bridge->access_vlan);
  for (uint32_t vlan : net_.bridge->trunk_vlans) member.mutable_trunk()->add_vlans(vlan);
  if (absl::Status s = daemon_->AddBridgePort(name, member); !s.ok()) {
    return WithPrefix(ToCniError(s, "vhostd AddBridgePort"), "bridge: ");
  }
  undo->Add([this, name, port = port.name()] { (void)daemon_->DeleteBridgePort(name, port); });
  return absl::OkStatus();
}

// prevResult (if any) with this attachment's interface, IPs, routes and DNS added.
absl::StatusOr<Result> Plugin::Assemble(const Port& port, const AttachmentNames& names, const Result& ipam) {
  Result result;
  if (net_.prev_result) {
    absl::StatusOr<Result> prev = ParseResult(*net_.prev_result, "prevResult");
    if (!prev.ok()) return prev.status();
    result = *prev;
  }
  Interface interface;
  interface.name = env_.ifname;
  interface.sandbox = env_.netns;
  interface.mac = port.status().mac();
  interface.mtu = port.status().mtu();
  interface.socket_path = names.socket_path;
  if (net_.port_type == "vhost-kernel") {
    absl::StatusOr<json> link = NetnsLink(env_.netns, env_.ifname, net_.timeout_ms).Show();
    if (!link.ok()) return link.status();
    interface.mac = link->value("address", interface.mac);
    interface.mtu = link->value("mtu", interface.mtu);
  }
  const int index = static_cast<int>(result.interfaces.size());
  result.interfaces.push_back(interface);
  for (IpConfig ip : ipam.ips) {
    ip.interface = index;
    result.ips.push_back(ip);
  }
  result.routes.insert(result.routes.end(), ipam.routes.begin(), ipam.routes.end());
  if (!ipam.dns.is_null()) {
    result.dns = ipam.dns;
  } else if (net_.raw.contains("dns") && net_.raw["dns"].is_object()) {
    result.dns = net_.raw["dns"];
  }
  return result;
}

absl::Status Plugin::WriteDeviceInfo(const AttachmentNames& names, const Port& port,
                                     const std::string& vdpa_device, UndoList* undo) {
  if (net_.device_info_file.empty()) return absl::OkStatus();
  json info;
  if (net_.port_type == "vhost-user") {
    info = VhostUserDeviceInfo(names.socket_path, net_.vhost_user.vhostd_is_server);
  } else if (net_.port_type == "vdpa") {
    std::string why;
    std::string char_device;
    if (std::unique_ptr<google::protobuf::Message> status = catalog_.Unpack(port.status().type_status(), &why)) {
      char_device = StringField(*status, "devicePath");
    }
    info = VdpaDeviceInfo(vdpa_device, char_device);
  } else {
    return absl::OkStatus();  // the spec has no device-info type for a tap
  }
  if (absl::Status s = WriteFileAtomically(net_.device_info_file, info.dump(), 0644); !s.ok()) return s;
  undo->Add([file = net_.device_info_file] { (void)RemoveFile(file); });
  return absl::OkStatus();
}

absl::StatusOr<json> Plugin::Add() {
  absl::StatusOr<AttachmentNames> names = NamesFor(net_, env_.container_id, env_.ifname);
  if (!names.ok()) return names.status();
  absl::StatusOr<HostLock> lock = HostLock::Acquire(net_.state_dir, net_.timeout_ms);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::optional<Result>> cached = CachedResult(*names);
  if (!cached.ok()) return cached.status();
  if (*cached) return FormatResult(**cached, net_.cni_version);  // ADD again: the same result
  if (absl::Status s = LoadPlugins(); !s.ok()) return s;
  if (absl::Status s = RemoveLeftover(*names); !s.ok()) return s;
  if (net_.port_type == "vhost-kernel") {
    absl::StatusOr<bool> exists = NetnsLink(env_.netns, env_.ifname, net_.timeout_ms).Exists();
    if (!exists.ok()) return exists.status();
    if (*exists) {
      return CniError(kInterfaceExists, absl::StrCat("CNI_IFNAME: interface ", env_.ifname, " exists in ", env_.netns));
    }
  }
  std::string vdpa_device;
  if (net_.port_type == "vdpa") {
    absl::StatusOr<std::string> device = PickVdpaDevice(*names);
    if (!device.ok()) return device.status();
    vdpa_device = *device;
  }
  // Everything the daemon can refuse is checked before IPAM allocates anything.
  if (absl::StatusOr<Port> check = BuildPort(net_, env_, *names, vdpa_device, catalog_); !check.ok()) {
    return check.status();
  }
  UndoList undo;
  Result ipam;
  if (ipam_.configured()) {
    // A lease an interrupted ADD of this attachment left would make host-local refuse
    // ("duplicate allocation"): an ADD that is not a repeat starts from a clean slate.
    if (absl::Status s = ipam_.Del(); !s.ok()) return s;
    absl::StatusOr<Result> allocated = ipam_.Add();
    if (!allocated.ok()) {
      (void)ipam_.Del();  // the spec: a failed delegated ADD is followed by its DEL
      return allocated.status();
    }
    ipam = *allocated;
    undo.Add([this] { (void)ipam_.Del(); });
  }
  absl::StatusOr<Port> port = CreatePort(*names, vdpa_device, &undo);
  if (!port.ok()) return port.status();
  absl::StatusOr<Result> result = Assemble(*port, *names, ipam);
  if (!result.ok()) return result.status();
  if (net_.port_type == "vhost-kernel") {
    const int index = static_cast<int>(result->interfaces.size()) - 1;
    if (absl::Status s = NetnsLink(env_.netns, env_.ifname, net_.timeout_ms).Configure(*result, index); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = Attach(*port, &undo); !s.ok()) return s;
  if (absl::Status s = WriteDeviceInfo(*names, *port, vdpa_device, &undo); !s.ok()) return s;
  const json cache = {{"network", net_.name},
                      {"containerID", env_.container_id},
                      {"ifname", env_.ifname},
                      {"result", FormatResult(*result, kLatestVersion)}};
  if (absl::Status s = WriteFileAtomically(names->cache_file, cache.dump()); !s.ok()) return s;
  undo.Dismiss();
  return FormatResult(*result, net_.cni_version);
}

// Takes the port out of its bridge and deletes the cross-connects it is part of (the
// bridge stays: other attachments may use it).
absl::Status Plugin::DetachPort(const std::string& port_name) {
  absl::StatusOr<std::vector<vhostd::v1::Bridge>> bridges = daemon_->ListBridges();
  if (!bridges.ok()) return ToCniError(bridges.status(), "vhostd ListBridges");
  for (const vhostd::v1::Bridge& bridge : *bridges) {
    for (const vhostd::v1::BridgePort& member : bridge.ports()) {
      if (member.port() != port_name) continue;
      if (absl::Status s = daemon_->DeleteBridgePort(bridge.name(), port_name);
          !s.ok() && s.code() != absl::StatusCode::kNotFound) {
        return ToCniError(s, "vhostd DeleteBridgePort");
      }
    }
  }
  absl::StatusOr<std::vector<CrossConnect>> xconnects = daemon_->ListCrossConnects();
  if (!xconnects.ok()) return ToCniError(xconnects.status(), "vhostd ListCrossConnects");
  for (const CrossConnect& xconnect : *xconnects) {
    if (xconnect.port_a() != port_name && xconnect.port_b() != port_name) continue;
    if (absl::Status s = daemon_->DeleteCrossConnect(xconnect.name()); !s.ok()) {
      return ToCniError(s, "vhostd DeleteCrossConnect");
    }
  }
  return absl::OkStatus();
}

// Removes everything of one attachment: cross-connects, port, IPAM lease, socket
// directory, cached result. Goes on after an error and reports the first; the local
// files stay while the port could not be deleted, so that a retried DEL finds them.
absl::Status Plugin::DeleteAttachment(const std::string& port_name, const std::optional<Attachment>& attachment) {
  Errors errors;
  absl::Status daemon = DetachPort(port_name);
  if (daemon.ok()) {
    if (absl::Status s = daemon_->DeletePort(port_name); !s.ok()) daemon = ToCniError(s, "vhostd DeletePort");
  }
  errors.Note(daemon);
  if (attachment && ipam_.configured()) errors.Note(ipam_.Del(attachment->container_id, attachment->ifname));
  if (daemon.ok()) {
    const std::string socket_dir = SocketDirOf(net_, port_name);
    if (!socket_dir.empty()) errors.Note(RemoveSocketDir(socket_dir));
    errors.Note(RemoveFile(CacheFileOf(net_, port_name)));
  }
  return errors.First();
}

absl::Status Plugin::Del() {
  absl::StatusOr<AttachmentNames> names = NamesFor(net_, env_.container_id, env_.ifname);
  if (!names.ok()) return names.status();
  absl::StatusOr<HostLock> lock = HostLock::Acquire(net_.state_dir, net_.timeout_ms);
  if (!lock.ok()) return lock.status();
  Errors errors;
  errors.Note(DeleteAttachment(names->port, Attachment{env_.container_id, env_.ifname}));
  if (!net_.device_info_file.empty()) errors.Note(RemoveFile(net_.device_info_file));
  return errors.First();
}

absl::Status Plugin::CheckPort(const Port& port, const AttachmentNames& names) {
  const auto label = [&](const char* key) {
    auto it = port.labels().find(key);
    return it == port.labels().end() ? std::string() : it->second;
  };
  if (label(kLabelContainerId) != LabelValue(env_.container_id) || label(kLabelIfname) != LabelValue(env_.ifname)) {
    return CniError(kCheckFailed, absl::StrCat("port ", port.name(), " belongs to another attachment (",
                                               label(kLabelContainerId), ", ", label(kLabelIfname), ")"));
  }
  const PortStatus& status = port.status();
  if (status.state() != PortStatus::UP) {
    return CniError(kCheckFailed, absl::StrCat("port ", port.name(), " is ", PortStatus::State_Name(status.state()),
                                               status.message().empty() ? "" : ": ", status.message()));
  }
  const bool queue_enabled = std::any_of(status.queues().begin(), status.queues().end(),
                                         [](const auto& q) { return q.rx_enabled() && q.tx_enabled(); });
  if (!queue_enabled) {
    return CniError(kCheckFailed, absl::StrCat("port ", port.name(), " has no queue the peer enabled"));
  }
  if (!names.socket_path.empty() && net_.vhost_user.vhostd_is_server) {
    struct stat st;
    if (stat(names.socket_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      return CniError(kCheckFailed, absl::StrCat("socket ", names.socket_path, " is missing"));
    }
  }
  if (net_.bridge) {
    absl::StatusOr<vhostd::v1::Bridge> bridge = daemon_->GetBridge(net_.bridge->name);
    if (!bridge.ok() && bridge.status().code() != absl::StatusCode::kNotFound) {
      return ToCniError(bridge.status(), "vhostd GetBridge");
    }
    const bool member = bridge.ok() && std::any_of(bridge->ports().begin(), bridge->ports().end(),
                                                   [&](const auto& m) { return m.port() == port.name(); });
    if (!member) {
      return CniError(kCheckFailed, absl::StrCat("port ", port.name(), " is not in bridge ", net_.bridge->name));
    }
  }
  if (net_.xconnect) {
    absl::StatusOr<std::vector<CrossConnect>> xconnects = daemon_->ListCrossConnects();
    if (!xconnects.ok()) return ToCniError(xconnects.status(), "vhostd ListCrossConnects");
    const bool attached = std::any_of(xconnects->begin(), xconnects->end(), [&](const CrossConnect& x) {
      return x.name() == net_.xconnect->name && (x.port_a() == port.name() || x.port_b() == port.name());
    });
    if (!attached) {
      return CniError(kCheckFailed, absl::StrCat("port ", port.name(), " is not in cross-connect ",
                                                 net_.xconnect->name, net_.xconnect->peer.empty()
                                                     ? " (the other attachment is missing)" : ""));
    }
  }
  return absl::OkStatus();
}

// The interface in the container: present, up, with the addresses prevResult lists.
absl::Status Plugin::CheckContainerSide(const Result& prev) {
  if (net_.port_type != "vhost-kernel") return absl::OkStatus();
  for (size_t i = 0; i < prev.interfaces.size(); ++i) {
    if (prev.interfaces[i].name == env_.ifname && prev.interfaces[i].sandbox == env_.netns) {
      return NetnsLink(env_.netns, env_.ifname, net_.timeout_ms).Check(prev, static_cast<int>(i));
    }
  }
  return CniError(kCheckFailed, absl::StrCat("prevResult lists no interface ", env_.ifname, " in ", env_.netns));
}

absl::Status Plugin::Check() {
  if (!net_.prev_result) return CniError(kInvalidConfig, "prevResult: missing (CHECK needs the ADD result)");
  absl::StatusOr<Result> prev = ParseResult(*net_.prev_result, "prevResult");
  if (!prev.ok()) return prev.status();
  absl::StatusOr<AttachmentNames> names = NamesFor(net_, env_.container_id, env_.ifname);
  if (!names.ok()) return names.status();
  absl::StatusOr<Port> port = daemon_->GetPort(names->port);
  if (!port.ok()) {
    if (port.status().code() == absl::StatusCode::kNotFound) {
      return CniError(kCheckFailed, absl::StrCat("vhostd has no port ", names->port, " for this attachment"));
    }
    return ToCniError(port.status(), "vhostd GetPort");
  }
  if (absl::Status s = CheckPort(*port, *names); !s.ok()) return s;
  if (absl::Status s = CheckContainerSide(*prev); !s.ok()) return s;
  if (ipam_.configured()) return ipam_.Check();
  return absl::OkStatus();
}

absl::Status Plugin::Status() {
  absl::StatusOr<vhostd::v1::ListPluginsResponse> plugins = daemon_->ListPlugins();
  if (!plugins.ok()) {
    if (Unreachable(plugins.status())) {
      return CniError(kNotAvailableDegraded, absl::StrCat("vhostd at ", daemon_->target(), " is not reachable"),
                      absl::StrCat("vhostd moves the attachments' packets: without it they carry no traffic (",
                                   plugins.status().message(), ")"));
    }
    return CniError(kNotAvailable, absl::StrCat("vhostd ListPlugins: ", plugins.status().message()));
  }
  catalog_.AddPlugins(*plugins);
  const vhostd::v1::Plugin* plugin = catalog_.FindPlugin(net_.port_type);
  if (plugin == nullptr) {
    return CniError(kNotAvailable, absl::StrCat("vhostd serves no port type \"", net_.port_type, "\""),
                    absl::StrCat("it serves: ", catalog_.TypeNames()));
  }
  if (!plugin->available()) {
    return CniError(kNotAvailable, absl::StrCat(net_.port_type, " ports are unavailable on this host: ",
                                                plugin->unavailable_reason()));
  }
  if (!ipam_.configured()) return absl::OkStatus();
  bool forwarded = false;
  absl::Status ipam = ipam_.Status(&forwarded);
  if (!forwarded && ipam.ok()) log_ << "vhostd-cni: ipam " << net_.ipam_type << " has no STATUS (before CNI 1.1.0)\n";
  return ipam;
}

// The attachments of this network that have a cached ADD result, by port name.
std::map<std::string, Attachment> Plugin::CachedAttachments() {
  std::map<std::string, Attachment> cached;
  DIR* dir = opendir(CacheDirOf(net_).c_str());
  if (dir == nullptr) return cached;
  while (dirent* entry = readdir(dir)) {
    const std::string file = entry->d_name;
    if (!absl::EndsWith(file, ".json")) continue;
    absl::StatusOr<std::optional<std::string>> text = ReadFileIfExists(absl::StrCat(CacheDirOf(net_), "/", file));
    if (!text.ok() || !*text) continue;
    const json cache = json::parse(**text, nullptr, false);
    if (!cache.is_object() || cache.value("network", "") != net_.name) continue;
    cached[file.substr(0, file.size() - 5)] = {cache.value("containerID", ""), cache.value("ifname", "")};
  }
  closedir(dir);
  return cached;
}

// Removes the attachments of this network that the runtime does not list as valid:
// the ports labelled with the network, and those with only a cached result left (their
// IPAM lease). A port is stale when its name is no valid attachment's port name.
absl::Status Plugin::Gc() {
  absl::StatusOr<HostLock> lock = HostLock::Acquire(net_.state_dir, net_.timeout_ms);
  if (!lock.ok()) return lock.status();
  std::set<std::string> valid;
  for (const Attachment& a : net_.valid_attachments) {
    absl::StatusOr<AttachmentNames> names = NamesFor(net_, a.container_id, a.ifname);
    if (names.ok()) valid.insert(names->port);
  }
  absl::StatusOr<std::vector<Port>> ports = daemon_->ListPorts(absl::StrCat(kLabelNetwork, "=", LabelValue(net_.name)));
  if (!ports.ok()) return ToCniError(ports.status(), "vhostd ListPorts");
  const std::map<std::string, Attachment> cached = CachedAttachments();
  std::set<std::string> stale;
  for (const Port& port : *ports) {
    if (port.labels().count(kLabelIfname) && !valid.count(port.name())) stale.insert(port.name());
  }
  for (const auto& [port, attachment] : cached) {
    if (!valid.count(port)) stale.insert(port);
  }
  Errors errors;
  for (const std::string& port : stale) {
    auto it = cached.find(port);
    std::optional<Attachment> attachment;
    if (it != cached.end()) attachment = it->second;
    log_ << "vhostd-cni: GC removes the attachment of port " << port << "\n";
    errors.Note(DeleteAttachment(port, attachment));
  }
  if (ipam_.configured()) {
    bool forwarded = false;
    errors.Note(ipam_.Gc(&forwarded));
  }
  return errors.First();
}

void Print(std::ostream& out, const json& document) {
  out << document.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

// The cniVersion to write an error in: the config's if it has a supported one.
std::string ErrorVersion(const std::string& stdin_data) {
  const json conf = json::parse(stdin_data, nullptr, false);
  if (conf.is_object() && conf.contains("cniVersion") && conf["cniVersion"].is_string() &&
      CheckSupported(conf["cniVersion"].get<std::string>()).ok()) {
    return conf["cniVersion"].get<std::string>();
  }
  return kLatestVersion;
}

absl::StatusOr<json> RunCommand(const Environment& env, const std::string& stdin_data,
                                const DaemonFactory& daemons, std::ostream& log) {
  if (absl::Status s = ValidateEnvironment(env); !s.ok()) return s;
  if (env.command == "VERSION") {
    absl::StatusOr<std::string> version = ParseVersionRequest(stdin_data);
    if (!version.ok()) return version.status();
    return json{{"cniVersion", version->empty() ? kLatestVersion : *version}, {"supportedVersions", SupportedVersions()}};
  }
  absl::StatusOr<NetConf> net = ParseNetConf(stdin_data, env.command);
  if (!net.ok()) return net.status();
  std::unique_ptr<Daemon> daemon = daemons(*net);
  Plugin plugin(env, *std::move(net), std::move(daemon), log);
  if (env.command == "ADD") return plugin.Add();
  absl::Status status;
  if (env.command == "DEL") status = plugin.Del();
  else if (env.command == "CHECK") status = plugin.Check();
  else if (env.command == "STATUS") status = plugin.Status();
  else status = plugin.Gc();
  if (!status.ok()) return status;
  return json();  // no output
}

}  // namespace

int RunCni(const Environment& env, const std::string& stdin_data, const DaemonFactory& daemons, std::ostream& out,
           std::ostream& log) {
  absl::StatusOr<json> result = RunCommand(env, stdin_data, daemons, log);
  if (!result.ok()) {
    out << ErrorJson(result.status(), ErrorVersion(stdin_data)) << "\n";
    log << "vhostd-cni " << env.command << ": " << result.status().message() << "\n";
    return 1;
  }
  if (!result->is_null()) Print(out, *result);
  return 0;
}

}  // namespace vhostd_cni
