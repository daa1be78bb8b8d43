#include "client/output_format.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace vhostctl {
namespace {

using vhostd::v1::Core;
using vhostd::v1::CrossConnect;
using vhostd::v1::ListCoresResponse;
using vhostd::v1::ListCrossConnectsResponse;
using vhostd::v1::ListPluginsResponse;
using vhostd::v1::ListPortsResponse;
using vhostd::v1::Plugin;
using vhostd::v1::PolledQueue;
using vhostd::v1::Port;
using vhostd::v1::PortStats;
using vhostd::v1::PortStatus;
using vhostd::v1::QueueStats;
using vhostd::v1::QueueStatus;
using vhostd::v1::VhostUserSpec;

// Control characters would break a table row or a key/value line.
std::string Sanitize(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string YesNo(bool value) { return value ? "yes" : "no"; }

// Queue pairs configured in a port's spec; the proto's "unset means 1".
std::string ConfiguredQueues(const Port& port) {
  switch (port.spec_case()) {
    case Port::kVhostUser:
      return absl::StrCat(port.vhost_user().has_queues() ? port.vhost_user().queues() : 1);
    case Port::kVhostKernel:
      return absl::StrCat(port.vhost_kernel().has_queues() ? port.vhost_kernel().queues() : 1);
    case Port::kVdpa:
      return absl::StrCat(port.vdpa().has_queues() ? port.vdpa().queues() : 1);
    case Port::SPEC_NOT_SET:
      break;
  }
  return "-";
}

std::string SocketModeName(VhostUserSpec::Mode mode) {
  switch (mode) {
    case VhostUserSpec::MODE_SERVER:
      return "server";
    case VhostUserSpec::MODE_CLIENT:
      return "client";
    case VhostUserSpec::MODE_UNSPECIFIED:
      return "server (default)";
    default:
      return absl::StrCat("mode ", static_cast<int>(mode));
  }
}

// The tap interface; the proto's "default: the port's name".
std::string TapName(const Port& port) {
  return port.vhost_kernel().tap_name().empty() ? port.name() : port.vhost_kernel().tap_name();
}

// The DETAIL column of "port list".
std::string PortDetail(const Port& port) {
  switch (port.spec_case()) {
    case Port::kVhostUser: {
      const VhostUserSpec& spec = port.vhost_user();
      std::string mode = spec.mode() == VhostUserSpec::MODE_CLIENT ? "client" : "server";
      return absl::StrCat("socket=", spec.socket_path(), " mode=", mode);
    }
    case Port::kVhostKernel: {
      std::string detail = absl::StrCat("tap=", TapName(port));
      if (!port.vhost_kernel().netns().empty()) {
        absl::StrAppend(&detail, " netns=", port.vhost_kernel().netns());
      }
      return detail;
    }
    case Port::kVdpa:
      return absl::StrCat("device=", port.vdpa().device());
    case Port::SPEC_NOT_SET:
      break;
  }
  return "-";
}

std::string QueueStatusText(const QueueStatus& queue) {
  return absl::StrCat("rx ", queue.rx_enabled() ? "enabled" : "disabled", ", tx ",
                      queue.tx_enabled() ? "enabled" : "disabled", ", lcore ",
                      queue.lcore() < 0 ? "none" : absl::StrCat(queue.lcore()));
}

}  // namespace

// ---------------------------------------------------------------------------------
// Table and key/value rendering.

size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;  // skip continuation bytes
  }
  return width;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::string& cell : cells) cell = Sanitize(cell);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  std::vector<std::string> headers;
  for (const Column& column : columns_) {
    headers.push_back(Sanitize(column.header));
    widths.push_back(DisplayWidth(headers.back()));
  }
  for (const std::vector<std::string>& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }

  std::string out;
  auto render_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line.append(kColumnGap, ' ');
      std::string padding(widths[i] - DisplayWidth(cells[i]), ' ');
      if (columns_[i].align == Align::kRight) {
        absl::StrAppend(&line, padding, cells[i]);
      } else {
        absl::StrAppend(&line, cells[i], padding);
      }
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  };
  render_line(headers);
  for (const std::vector<std::string>& row : rows_) render_line(row);
  return out;
}

std::string RenderKeyValues(const std::vector<std::pair<std::string, std::string>>& pairs) {
  size_t key_width = 0;
  for (const auto& [key, value] : pairs) key_width = std::max(key_width, DisplayWidth(key) + 1);
  std::string out;
  for (const auto& [key, value] : pairs) {
    std::string label = absl::StrCat(Sanitize(key), ":");
    std::string line = absl::StrCat(label, std::string(key_width - DisplayWidth(label) + 1, ' '),
                                    Sanitize(value));
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// ---------------------------------------------------------------------------------
// JSON.

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only possible for messages with unresolvable Any fields; the API has none.
    return absl::StrCat("{\"error\": \"cannot convert to JSON: ", status.ToString(), "\"}\n");
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  json.push_back('\n');
  return json;
}

// ---------------------------------------------------------------------------------
// Names.

std::string PortTypeName(const Port& port) {
  switch (port.spec_case()) {
    case Port::kVhostUser:
      return "vhost-user";
    case Port::kVhostKernel:
      return "vhost-kernel";
    case Port::kVdpa:
      return "vdpa";
    case Port::SPEC_NOT_SET:
      break;
  }
  return "-";
}

std::string PortStateName(const PortStatus& status) {
  if (status.state() == PortStatus::STATE_UNSPECIFIED) return "-";
  std::string name = PortStatus::State_Name(status.state());
  // An enum value newer than this client: show its number.
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(status.state())) : name;
}

std::string BusyPercent(const Core& core) {
  // Sum in floating point: the two counters may each be near UINT64_MAX.
  double total = static_cast<double>(core.busy_cycles()) + static_cast<double>(core.idle_cycles());
  if (total <= 0) return "-";
  return absl::StrFormat("%.1f", 100.0 * static_cast<double>(core.busy_cycles()) / total);
}

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code >= 0 && code < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) {
    return kNames[code];
  }
  return absl::StrCat("CODE_", code);
}

std::string FormatRpcError(const grpc::Status& status, const std::string& target,
                           bool channel_ready, absl::Duration timeout) {
  std::string message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (!channel_ready) {
        message = absl::StrCat("cannot connect to vhostd at ", target,
                               " (is the daemon running?)", message.empty() ? "" : ": ",
                               message);
      }
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      message = absl::StrCat(channel_ready ? "no answer from vhostd at "
                                           : "cannot connect to vhostd at ",
                             target, " within ", absl::FormatDuration(timeout),
                             " (--timeout)", message.empty() ? "" : ": ", message);
      break;
    default:
      break;
  }
  return absl::StrCat("error: ", StatusCodeName(status.error_code()),
                      message.empty() ? "" : ": ", message, "\n");
}

// ---------------------------------------------------------------------------------
// Responses.

std::string FormatPortTable(const ListPortsResponse& response) {
  Table table({{"NAME"}, {"TYPE"}, {"STATE"}, {"QUEUES", Align::kRight}, {"DETAIL"}});
  for (const Port& port : response.ports()) {
    table.AddRow({port.name(), PortTypeName(port), PortStateName(port.status()),
                  ConfiguredQueues(port), PortDetail(port)});
  }
  return table.Render();
}

std::string FormatPortDetails(const Port& port) {
  std::vector<std::pair<std::string, std::string>> lines;
  lines.emplace_back("name", port.name());
  lines.emplace_back("type", PortTypeName(port));
  switch (port.spec_case()) {
    case Port::kVhostUser: {
      const VhostUserSpec& spec = port.vhost_user();
      lines.emplace_back("socket", spec.socket_path());
      lines.emplace_back("mode", SocketModeName(spec.mode()));
      lines.emplace_back("queues", ConfiguredQueues(port));
      std::vector<std::string> options;
      if (spec.has_checksum() && !spec.checksum()) options.push_back("no-checksum");
      if (spec.tso()) options.push_back("tso");
      if (spec.iommu_support()) options.push_back("iommu-support");
      if (spec.postcopy_support()) options.push_back("postcopy-support");
      if (spec.linear_buffer()) options.push_back("linear-buffer");
      if (spec.ext_buffer()) options.push_back("ext-buffer");
      if (spec.disable_mrg_rxbuf()) options.push_back("no-mrg-rxbuf");
      lines.emplace_back("options", options.empty() ? "none" : absl::StrJoin(options, ", "));
      break;
    }
    case Port::kVhostKernel: {
      const auto& spec = port.vhost_kernel();
      lines.emplace_back("tap", TapName(port));
      lines.emplace_back("netns", OrDash(spec.netns()));
      lines.emplace_back("queues", ConfiguredQueues(port));
      lines.emplace_back("requested mac", spec.mac().empty() ? "-" : spec.mac());
      lines.emplace_back("mtu", spec.mtu() == 0 ? "default" : absl::StrCat(spec.mtu()));
      lines.emplace_back("allow plain tap", spec.allow_plain_tap() ? "yes" : "no");
      break;
    }
    case Port::kVdpa:
      lines.emplace_back("device", port.vdpa().device());
      lines.emplace_back("queues", ConfiguredQueues(port));
      break;
    case Port::SPEC_NOT_SET:
      break;
  }

  const PortStatus& status = port.status();
  lines.emplace_back("state", PortStateName(status));
  lines.emplace_back("backend", OrDash(status.backend()));
  if (!status.interface().empty()) lines.emplace_back("interface", status.interface());
  if (!status.netns().empty()) lines.emplace_back("in netns", status.netns());
  if (!status.device_path().empty()) lines.emplace_back("device path", status.device_path());
  if (status.mtu() != 0) lines.emplace_back("current mtu", absl::StrCat(status.mtu()));
  lines.emplace_back("message", OrDash(status.message()));
  lines.emplace_back("mac", OrDash(status.mac()));
  lines.emplace_back("features", absl::StrFormat("0x%016x", status.negotiated_features()));
  lines.emplace_back("feature names", status.negotiated_feature_names().empty()
                                          ? "-"
                                          : absl::StrJoin(status.negotiated_feature_names(), ", "));
  lines.emplace_back("active queues", absl::StrCat(status.active_queues()));
  if (port.has_vhost_user()) {
    lines.emplace_back("frontend connections", absl::StrCat(status.frontend_connections()));
    lines.emplace_back("dirty logging", status.dirty_logging() ? "on (live migration)" : "off");
    lines.emplace_back("feature changes", absl::StrCat(status.feature_changes()));
  }
  lines.emplace_back("frontend connects", absl::StrCat(status.frontend_connects()));
  lines.emplace_back("frontend disconnects", absl::StrCat(status.frontend_disconnects()));
  lines.emplace_back("dataplane port id", status.dataplane_port_id() < 0
                                              ? "none"
                                              : absl::StrCat(status.dataplane_port_id()));
  for (const QueueStatus& queue : status.queues()) {
    lines.emplace_back(absl::StrCat("queue ", queue.queue()), QueueStatusText(queue));
  }
  return RenderKeyValues(lines);
}

std::string FormatPortStats(const PortStats& stats) {
  Table table({{"QUEUE"},
               {"RX_PKTS", Align::kRight},
               {"RX_BYTES", Align::kRight},
               {"TX_PKTS", Align::kRight},
               {"TX_BYTES", Align::kRight},
               {"TX_DROPPED", Align::kRight}});
  for (const QueueStats& queue : stats.queues()) {
    table.AddRow({absl::StrCat(queue.queue()), absl::StrCat(queue.rx_packets()),
                  absl::StrCat(queue.rx_bytes()), absl::StrCat(queue.tx_packets()),
                  absl::StrCat(queue.tx_bytes()), absl::StrCat(queue.tx_dropped())});
  }
  table.AddRow({"total", absl::StrCat(stats.rx_packets()), absl::StrCat(stats.rx_bytes()),
                absl::StrCat(stats.tx_packets()), absl::StrCat(stats.tx_bytes()),
                absl::StrCat(stats.tx_dropped())});
  return absl::StrCat(table.Render(), "\n",
                      RenderKeyValues({{"rx errors", absl::StrCat(stats.rx_errors())},
                                       {"tx errors", absl::StrCat(stats.tx_errors())},
                                       {"rx no mbuf", absl::StrCat(stats.rx_no_mbuf())}}));
}

std::string FormatCrossConnectTable(const ListCrossConnectsResponse& response) {
  Table table({{"NAME"}, {"PORT_A"}, {"PORT_B"}});
  for (const CrossConnect& xc : response.cross_connects()) {
    table.AddRow({xc.name(), xc.port_a(), xc.port_b()});
  }
  return table.Render();
}

std::string FormatCrossConnectDetails(const CrossConnect& cross_connect) {
  return RenderKeyValues({{"name", cross_connect.name()},
                          {"port a", cross_connect.port_a()},
                          {"port b", cross_connect.port_b()}});
}

std::string FormatCoreTable(const ListCoresResponse& response) {
  Table table({{"LCORE", Align::kRight},
               {"CPU", Align::kRight},
               {"BUSY%", Align::kRight},
               {"PACKETS", Align::kRight},
               {"QUEUES"}});
  for (const Core& core : response.cores()) {
    std::vector<std::string> queues;
    for (const PolledQueue& queue : core.queues()) {
      queues.push_back(absl::StrCat(queue.port(), "/", queue.queue(), "->",
                                    OrDash(queue.forwards_to())));
    }
    table.AddRow({absl::StrCat(core.lcore()), absl::StrCat(core.cpu()), BusyPercent(core),
                  absl::StrCat(core.packets()), queues.empty() ? "-" : absl::StrJoin(queues, ",")});
  }
  return table.Render();
}

std::string FormatPluginTable(const ListPluginsResponse& response) {
  Table table({{"TYPE"}, {"FILE"}, {"VERSION"}, {"ABI", Align::kRight}, {"AVAILABLE"}, {"DESCRIPTION"}});
  for (const Plugin& plugin : response.plugins()) {
    std::string description = plugin.description();
    if (!plugin.available() && !plugin.unavailable_reason().empty()) {
      description = absl::StrCat(description, description.empty() ? "" : " ",
                                 "(unavailable: ", plugin.unavailable_reason(), ")");
    }
    table.AddRow({plugin.port_type(), OrDash(plugin.file()), OrDash(plugin.version()),
                  plugin.abi_version() == 0 ? "-" : absl::StrCat(plugin.abi_version()), YesNo(plugin.available()),
                  OrDash(description)});
  }
  return table.Render();
}

}  // namespace vhostctl
