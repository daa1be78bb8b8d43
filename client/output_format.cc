#include "client/output_format.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"

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

// The message of an Any, for a key/value block: its type name and fields, or why they
// cannot be shown.
void AppendAnyLines(const std::string& key, const google::protobuf::Any& any, const char* unset,
                    TypeCatalog& catalog, std::vector<std::pair<std::string, std::string>>* lines) {
  if (any.type_url().empty()) {
    lines->emplace_back(key, unset);
    return;
  }
  std::string why;
  std::unique_ptr<google::protobuf::Message> message = catalog.Unpack(any, &why);
  if (message == nullptr) {
    lines->emplace_back(key, absl::StrCat(any.type_url().substr(any.type_url().rfind('/') + 1),
                                          " (not shown: ", why, ")"));
    return;
  }
  lines->emplace_back(key, message->GetDescriptor()->full_name());
  AppendMessageFields(*message, "  ", lines);
}

// The text of one value of a scalar field (index -1: a singular field).
std::string ScalarText(const google::protobuf::Message& message,
                       const google::protobuf::FieldDescriptor* field, int index) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* r = message.GetReflection();
  const bool one = index < 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(one ? r->GetInt32(message, field) : r->GetRepeatedInt32(message, field, index));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(one ? r->GetInt64(message, field) : r->GetRepeatedInt64(message, field, index));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(one ? r->GetUInt32(message, field) : r->GetRepeatedUInt32(message, field, index));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(one ? r->GetUInt64(message, field) : r->GetRepeatedUInt64(message, field, index));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(one ? r->GetDouble(message, field) : r->GetRepeatedDouble(message, field, index));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(one ? r->GetFloat(message, field) : r->GetRepeatedFloat(message, field, index));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (one ? r->GetBool(message, field) : r->GetRepeatedBool(message, field, index)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number =
          one ? r->GetEnumValue(message, field) : r->GetRepeatedEnumValue(message, field, index);
      const auto* value = field->enum_type()->FindValueByNumber(number);
      return value != nullptr ? value->name() : absl::StrCat(number);  // a value newer than us
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string text = one ? r->GetString(message, field) : r->GetRepeatedString(message, field, index);
      if (field->type() == FieldDescriptor::TYPE_BYTES) text = absl::Base64Escape(text);
      return text.empty() ? "-" : text;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return "-";
}

// The spec's field `queues` (the queue pairs configured), if its type has one.
std::string ConfiguredQueues(const google::protobuf::Message* spec) {
  if (spec == nullptr) return "-";
  const google::protobuf::FieldDescriptor* field = spec->GetDescriptor()->FindFieldByName("queues");
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE ||
      (field->has_presence() && !spec->GetReflection()->HasField(*spec, field))) {
    return "-";
  }
  return ScalarText(*spec, field, -1);
}

void AppendFieldsAt(const google::protobuf::Message& message, const std::string& prefix,
                    std::vector<std::pair<std::string, std::string>>* lines) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    const std::string key = absl::StrCat(prefix, field->name());
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (field->is_repeated()) {
      const int size = r->FieldSize(message, field);
      if (size == 0) {
        lines->emplace_back(key, "-");
      } else if (is_message) {
        for (int k = 0; k < size; ++k) {
          AppendFieldsAt(r->GetRepeatedMessage(message, field, k), absl::StrCat(key, "[", k, "]."),
                         lines);
        }
      } else {
        std::vector<std::string> values;
        for (int k = 0; k < size; ++k) values.push_back(ScalarText(message, field, k));
        lines->emplace_back(key, absl::StrJoin(values, ", "));
      }
    } else if (field->has_presence() && !r->HasField(message, field)) {
      lines->emplace_back(key, "-");
    } else if (is_message) {
      AppendFieldsAt(r->GetMessage(message, field), key + ".", lines);
    } else {
      lines->emplace_back(key, ScalarText(message, field, -1));
    }
  }
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
// Any message, field by field.

void AppendMessageFields(const google::protobuf::Message& message, const std::string& indent,
                         std::vector<std::pair<std::string, std::string>>* lines) {
  AppendFieldsAt(message, indent, lines);
}

std::string SpecSummary(const google::protobuf::Message& spec) {
  const google::protobuf::Reflection* r = spec.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(spec, &fields);  // the set ones, by number
  std::vector<std::string> parts;
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (parts.size() == 2) break;
    if (field->is_repeated() || field->name() == "queues" ||
        field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    parts.push_back(absl::StrCat(field->name(), "=", ScalarText(spec, field, -1)));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

// ---------------------------------------------------------------------------------
// Names.

std::string PortTypeName(const Port& port) { return OrDash(port.type()); }

std::string PortStateName(const PortStatus& status) {
  if (status.state() == PortStatus::STATE_UNSPECIFIED) return "-";
  std::string name = PortStatus::State_Name(status.state());
  // An enum value newer than this client: show its number.
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(status.state())) : name;
}

std::string BusyPercent(const Core& core) {
  // Sum in floating point: the two counters may each be near UINT64_MAX.
  double total = static_cast<double>(core.busy_cycles()) + static_cast<double>(core.idle_cycles()) +
                 static_cast<double>(core.sleep_cycles());
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

std::string FormatPortTable(const ListPortsResponse& response, TypeCatalog& catalog) {
  Table table({{"NAME"}, {"TYPE"}, {"STATE"}, {"QUEUES", Align::kRight}, {"DETAIL"}});
  for (const Port& port : response.ports()) {
    std::string why;
    std::unique_ptr<google::protobuf::Message> spec;
    if (port.has_spec()) spec = catalog.Unpack(port.spec(), &why);
    table.AddRow({port.name(), PortTypeName(port), PortStateName(port.status()),
                  ConfiguredQueues(spec.get()), spec ? SpecSummary(*spec) : "-"});
  }
  return table.Render();
}

std::string PortLabelsText(const Port& port) {
  if (port.labels().empty()) return "-";
  const std::map<std::string, std::string> sorted(port.labels().begin(), port.labels().end());
  return absl::StrJoin(sorted, ", ", absl::PairFormatter("="));
}

std::string FormatPortDetails(const Port& port, TypeCatalog& catalog) {
  std::vector<std::pair<std::string, std::string>> lines;
  lines.emplace_back("name", port.name());
  lines.emplace_back("type", PortTypeName(port));
  lines.emplace_back("labels", PortLabelsText(port));
  AppendAnyLines("spec", port.spec(), "- (the type's defaults)", catalog, &lines);

  const PortStatus& status = port.status();
  lines.emplace_back("state", PortStateName(status));
  lines.emplace_back("backend", OrDash(status.backend()));
  if (status.mtu() != 0) lines.emplace_back("current mtu", absl::StrCat(status.mtu()));
  lines.emplace_back("message", OrDash(status.message()));
  lines.emplace_back("mac", OrDash(status.mac()));
  lines.emplace_back("features", absl::StrFormat("0x%016x", status.negotiated_features()));
  lines.emplace_back("feature names", status.negotiated_feature_names().empty()
                                          ? "-"
                                          : absl::StrJoin(status.negotiated_feature_names(), ", "));
  lines.emplace_back("active queues", absl::StrCat(status.active_queues()));
  lines.emplace_back("frontend connects", absl::StrCat(status.frontend_connects()));
  lines.emplace_back("frontend disconnects", absl::StrCat(status.frontend_disconnects()));
  lines.emplace_back("dataplane port id", status.dataplane_port_id() < 0
                                              ? "none"
                                              : absl::StrCat(status.dataplane_port_id()));
  AppendAnyLines("type status", status.type_status(), "-", catalog, &lines);
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

std::string AssignModeName(vhostd::v1::AssignMode mode) {
  switch (mode) {
    case vhostd::v1::ASSIGN_MODE_CYCLES:
      return "cycles";
    case vhostd::v1::ASSIGN_MODE_GROUP:
      return "group";
    case vhostd::v1::ASSIGN_MODE_ROUNDROBIN:
      return "roundrobin";
    default:
      return "-";
  }
}

// One row per polled rx queue, like OVS's pmd-rxq-show (a core's own columns on its
// first row), then the placement settings.
std::string FormatCoreTable(const ListCoresResponse& response) {
  Table table({{"LCORE", Align::kRight},
               {"CPU", Align::kRight},
               {"ISOLATED"},
               {"BUSY%", Align::kRight},
               {"PACKETS", Align::kRight},
               {"QUEUE"},
               {"PINNED"},
               {"USAGE%", Align::kRight}});
  for (const Core& core : response.cores()) {
    std::vector<std::string> first = {absl::StrCat(core.lcore()), absl::StrCat(core.cpu()), YesNo(core.isolated()),
                                      BusyPercent(core), absl::StrCat(core.packets())};
    if (core.queues().empty()) {
      table.AddRow({first[0], first[1], first[2], first[3], first[4], "-", "-", "-"});
      continue;
    }
    for (int i = 0; i < core.queues_size(); ++i) {
      const PolledQueue& queue = core.queues(i);
      std::vector<std::string> row = i == 0 ? first : std::vector<std::string>{first[0], "", "", "", ""};
      row.push_back(absl::StrCat(queue.port(), "/", queue.queue(), "->", OrDash(queue.forwards_to())));
      row.push_back(YesNo(queue.pinned()));
      row.push_back(queue.has_share_percent() ? absl::StrFormat("%.1f", queue.share_percent()) : "-");
      table.AddRow(row);
    }
  }
  return absl::StrCat(table.Render(), FormatCoreSettings(response.settings()));
}

std::string FormatCoreSettings(const vhostd::v1::CoreSettings& settings) {
  return absl::StrCat("assign: ", AssignModeName(settings.assign_mode()), "   isolate pinned: ",
                      YesNo(settings.isolate_pinned()), "   sleep max: ", settings.sleep_max_us(), " us\n");
}

std::string FormatRebalance(const vhostd::v1::RebalanceCoresResponse& response) {
  if (response.moves().empty()) return "no rx queue moves\n";
  Table table({{"PORT"}, {"QUEUE", Align::kRight}, {"FROM", Align::kRight}, {"TO", Align::kRight}});
  for (const vhostd::v1::QueueMove& move : response.moves()) {
    table.AddRow({move.port(), absl::StrCat(move.queue()), absl::StrCat(move.from_lcore()),
                  absl::StrCat(move.to_lcore())});
  }
  return absl::StrCat(table.Render(), response.moves_size(), " rx queue", response.moves_size() == 1 ? "" : "s",
                      response.applied() ? " moved\n" : " would move (dry run)\n");
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
