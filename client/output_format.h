// Output formatting for vhostctl: aligned tables and key/value blocks for people, and
// protobuf's canonical JSON mapping for programs.
#ifndef VHOSTD_CLIENT_OUTPUT_FORMAT_H_
#define VHOSTD_CLIENT_OUTPUT_FORMAT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "client/type_catalog.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {

enum class Align { kLeft, kRight };

// A table with a header row and columns padded to their widest cell, separated by
// kColumnGap spaces. Lines carry no trailing spaces. Control characters in cells
// (a newline in a server message) are shown as spaces so rows stay one line each.
class Table {
 public:
  static constexpr int kColumnGap = 3;

  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns);

  // Adds a row; missing trailing cells are blank, extra cells are dropped.
  void AddRow(std::vector<std::string> cells);

  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:  value" lines with the values aligned after the longest key.
std::string RenderKeyValues(const std::vector<std::pair<std::string, std::string>>& pairs);

// Width of `text` on a terminal, counting UTF-8 code points (not bytes).
size_t DisplayWidth(const std::string& text);

// Table-mode renderings of the daemon's responses. A port's spec and type status are
// plugin messages: `catalog` (with the daemon's plugins added) decodes them.
std::string FormatPortTable(const vhostd::v1::ListPortsResponse& response, TypeCatalog& catalog);
std::string FormatPortDetails(const vhostd::v1::Port& port, TypeCatalog& catalog);
std::string FormatPortStats(const vhostd::v1::PortStats& stats);
std::string FormatCrossConnectTable(const vhostd::v1::ListCrossConnectsResponse& response);
std::string FormatCrossConnectDetails(const vhostd::v1::CrossConnect& cross_connect);
std::string FormatCoreTable(const vhostd::v1::ListCoresResponse& response);
std::string FormatCoreSettings(const vhostd::v1::CoreSettings& settings);  // one line
std::string FormatRebalance(const vhostd::v1::RebalanceCoresResponse& response);
std::string FormatPluginTable(const vhostd::v1::ListPluginsResponse& response);

// Pieces of the above, exposed for tests.
std::string PortTypeName(const vhostd::v1::Port& port);  // "vhost-user", ..., "-"
std::string PortLabelsText(const vhostd::v1::Port& port);  // "k=v, k2=v2" by key, "-" if none
// Every field of `message`, in declaration order, as "INDENT name" / value pairs: nested
// messages as "a.b", repeated ones as "a[0].b", repeated scalars joined by ", ". Unset
// (a field with presence, or a message) and empty values show as "-"; enums by name,
// bytes in base64.
void AppendMessageFields(const google::protobuf::Message& message, const std::string& indent,
                         std::vector<std::pair<std::string, std::string>>* lines);
// "socket_path=vm1.sock mode=MODE_CLIENT": the first two scalar fields of `spec` that
// are set (but `queues`, which has a column of its own), for a table's DETAIL.
std::string SpecSummary(const google::protobuf::Message& spec);
std::string PortStateName(const vhostd::v1::PortStatus& status);  // "UP", ..., "-"
std::string BusyPercent(const vhostd::v1::Core& core);   // "12.5", "-" when never polled

// The canonical name of a gRPC status code ("INVALID_ARGUMENT"), from its number.
std::string StatusCodeName(int code);

// "error: CODE_NAME: message\n" for a failed RPC to the daemon at `target`, explaining
// connection failures and deadlines: `channel_ready` says whether the channel was
// connected, `timeout` is the --timeout the deadline came from.
std::string FormatRpcError(const grpc::Status& status, const std::string& target,
                           bool channel_ready, absl::Duration timeout);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_OUTPUT_FORMAT_H_
