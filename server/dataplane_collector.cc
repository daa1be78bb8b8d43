#include "server/dataplane_collector.h"

#include <functional>
#include <limits>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/bridge_metrics.h"
#include "server/port_labels.h"
#include "server/text_exposition.h"

namespace vhostd {
namespace {

using vhostd::v1::PortStatus;
using vhostd::v1::QueueStats;

// A port's snapshot with its label lists rendered once.
struct PortRow {
  const PortCounterSnapshot* port;
  std::string labels;                     // port="..",type=".."
  std::vector<std::string> queue_labels;  // port="..",type="..",queue="N"
};

std::vector<PortRow> MakeRows(const std::vector<PortCounterSnapshot>& ports) {
  std::vector<PortRow> rows;
  rows.reserve(ports.size());
  for (const PortCounterSnapshot& port : ports) {
    PortRow row{&port, absl::StrCat(TextExposition::Label("port", port.name), ",",
                                    TextExposition::Label("type", port.type)), {}};
    for (const QueueStats& q : port.stats.queues()) row.queue_labels.push_back(absl::StrCat(row.labels, ",queue=\"", q.queue(), "\""));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Names follow node_exporter's network device metrics (receive/transmit, _total,
// _drop_total, _errs_total); "receive" is what vhostd receives from the port's
// frontend, "transmit" what it delivers to it.
void PerQueue(TextExposition& text, const std::vector<PortRow>& rows, absl::string_view name, absl::string_view help,
              const std::function<uint64_t(const QueueStats&)>& value, absl::string_view extra_label = "") {
  text.Family(name, help, "counter");
  for (const PortRow& row : rows) {
    const auto& queues = row.port->stats.queues();
    for (int i = 0; i < queues.size(); ++i) {
      text.Sample(name, extra_label.empty() ? row.queue_labels[i] : absl::StrCat(row.queue_labels[i], ",", extra_label),
                  value(queues[i]));
    }
  }
}

void PerPort(TextExposition& text, const std::vector<PortRow>& rows, absl::string_view name, absl::string_view help,
             absl::string_view type, const std::function<uint64_t(const PortCounterSnapshot&)>& value,
             absl::string_view extra_label = "") {
  text.Family(name, help, type);
  for (const PortRow& row : rows) {
    text.Sample(name, extra_label.empty() ? row.labels : absl::StrCat(row.labels, ",", extra_label), value(*row.port));
  }
}

void PortStates(TextExposition& text, const std::vector<PortRow>& rows) {
  constexpr char kName[] = "vhostd_port_state";
  text.Family(kName, "The port's state: 1 for the current state, 0 for the others.", "gauge");
  for (const PortRow& row : rows) {
    for (int s = PortStatus::WAITING_FOR_PEER; s <= PortStatus::State_MAX; ++s) {
      text.Sample(kName, absl::StrCat(row.labels, ",state=\"", PortStatus::State_Name(s), "\""),
                  uint64_t{row.port->status.state() == s});
    }
  }
}

// One series per port with the well-known labels it has (kInfoMetricLabels: pod,
// namespace, container_id, interface), so that dashboards join the per-port and
// per-queue series to pods (`* on(port) group_left(pod, namespace) vhostd_port_info`)
// and those series need not carry them.
void PortInfo(TextExposition& text, const std::vector<PortRow>& rows) {
  constexpr char kName[] = "vhostd_port_info";
  text.Family(kName, "1 for every port, with its orchestrator metadata (pod, namespace, container_id, interface).",
              "gauge");
  for (const PortRow& row : rows) {
    std::string labels = row.labels;
    for (const InfoMetricLabel& known : kInfoMetricLabels) {
      auto it = row.port->labels.find(known.key);
      if (it != row.port->labels.end()) absl::StrAppend(&labels, ",", TextExposition::Label(known.metric_label, it->second));
    }
    text.Sample(kName, labels, uint64_t{1});
  }
}

void Cores(TextExposition& text, const std::vector<CoreInfo>& cores, double tsc_hz) {
  std::vector<std::string> labels;
  for (const CoreInfo& core : cores) labels.push_back(absl::StrCat("lcore=\"", core.lcore, "\",cpu=\"", core.cpu, "\""));
  text.Family("vhostd_core_busy_seconds_total",
              "Wall-clock time (TSC) of the polling core's loop iterations that moved packets.", "counter");
  for (size_t i = 0; i < cores.size(); ++i) text.Sample("vhostd_core_busy_seconds_total", labels[i], cores[i].busy_cycles / tsc_hz);
  text.Family("vhostd_core_idle_seconds_total",
              "Wall-clock time (TSC) of the polling core's loop iterations that found no packet; time the CPU was "
              "taken by another process counts here too.",
              "counter");
  for (size_t i = 0; i < cores.size(); ++i) text.Sample("vhostd_core_idle_seconds_total", labels[i], cores[i].idle_cycles / tsc_hz);
  text.Family("vhostd_core_sleep_seconds_total",
              "Time (TSC) the polling core slept because its polls came back empty (sleep_max_us).", "counter");
  for (size_t i = 0; i < cores.size(); ++i) text.Sample("vhostd_core_sleep_seconds_total", labels[i], cores[i].sleep_cycles / tsc_hz);
  text.Family("vhostd_core_packets_total", "Packets the polling core received.", "counter");
  for (size_t i = 0; i < cores.size(); ++i) text.Sample("vhostd_core_packets_total", labels[i], cores[i].packets);
  text.Family("vhostd_core_polled_queues", "Receive queues the polling core polls.", "gauge");
  for (size_t i = 0; i < cores.size(); ++i) text.Sample("vhostd_core_polled_queues", labels[i], uint64_t{cores[i].queues.size()});

  // Power-of-two buckets up to the burst size, from the exact per-size counts.
  text.Family("vhostd_core_batch_packets", "Packets per non-empty receive call on the polling core.", "histogram");
  for (size_t i = 0; i < cores.size(); ++i) {
    const std::vector<uint64_t>& sizes = cores[i].batch_sizes;
    uint64_t cumulative = 0;
    size_t size = 1;
    const size_t max_batch = sizes.empty() ? 0 : sizes.size() - 1;
    for (size_t bound = 1; bound <= max_batch; bound *= 2) {
      for (; size <= bound; ++size) cumulative += sizes[size];
      text.Sample("vhostd_core_batch_packets_bucket", absl::StrCat(labels[i], ",le=\"", bound, "\""), cumulative);
    }
    for (; size < sizes.size(); ++size) cumulative += sizes[size];
    text.Sample("vhostd_core_batch_packets_bucket", absl::StrCat(labels[i], ",le=\"+Inf\""), cumulative);
    text.Sample("vhostd_core_batch_packets_sum", labels[i], cores[i].packets);
    text.Sample("vhostd_core_batch_packets_count", labels[i], cumulative);
  }
}

}  // namespace

void DataplaneCollector::AppendText(std::string* out) const {
  const std::vector<PortCounterSnapshot> ports = manager_->SnapshotPorts();
  const std::vector<PortRow> rows = MakeRows(ports);
  out->reserve(out->size() + rows.size() * 2500);
  TextExposition text(out);

  PerQueue(text, rows, "vhostd_port_receive_packets_total", "Packets vhostd received from the port's frontend, per queue.",
           [](const QueueStats& q) { return q.rx_packets(); });
  PerQueue(text, rows, "vhostd_port_receive_bytes_total", "Bytes vhostd received from the port's frontend, per queue.",
           [](const QueueStats& q) { return q.rx_bytes(); });
  PerQueue(text, rows, "vhostd_port_transmit_packets_total", "Packets vhostd delivered to the port's frontend, per queue.",
           [](const QueueStats& q) { return q.tx_packets(); });
  PerQueue(text, rows, "vhostd_port_transmit_bytes_total", "Bytes vhostd delivered to the port's frontend, per queue.",
           [](const QueueStats& q) { return q.tx_bytes(); });
  PerQueue(text, rows, "vhostd_port_transmit_drop_total",
           "Packets vhostd could not deliver and freed, per queue and reason (queue_full: the frontend's ring was full "
           "or no frontend was attached).",
           [](const QueueStats& q) { return q.tx_dropped(); }, "reason=\"queue_full\"");
  PerPort(text, rows, "vhostd_port_receive_drop_total",
          "Packets the port's driver could not receive, by reason (no_mbuf: no packet buffer).", "counter",
          [](const PortCounterSnapshot& p) { return p.stats.rx_no_mbuf(); }, "reason=\"no_mbuf\"");
  PerPort(text, rows, "vhostd_port_receive_errs_total", "Receive errors reported by the port's driver.", "counter",
          [](const PortCounterSnapshot& p) { return p.stats.rx_errors(); });
  PerPort(text, rows, "vhostd_port_transmit_errs_total", "Transmit errors reported by the port's driver.", "counter",
          [](const PortCounterSnapshot& p) { return p.stats.tx_errors(); });
  PerPort(text, rows, "vhostd_port_up", "1 if the port's frontend is attached and packets can flow.", "gauge",
          [](const PortCounterSnapshot& p) { return uint64_t{p.status.state() == PortStatus::UP}; });
  PortStates(text, rows);
  PortInfo(text, rows);
  PerPort(text, rows, "vhostd_port_queues", "Queue pairs of the port.", "gauge",
          [](const PortCounterSnapshot& p) { return uint64_t(p.stats.queues_size()); });
  PerPort(text, rows, "vhostd_port_active_queues",
          "Queue pairs polled now (vhost-user: the ones the frontend set up and enabled).", "gauge",
          [](const PortCounterSnapshot& p) { return uint64_t{p.status.active_queues()}; });
  PerPort(text, rows, "vhostd_port_negotiated_features",
          "Virtio feature bits the frontend acknowledged, as a number (0 when detached).", "gauge",
          [](const PortCounterSnapshot& p) { return p.status.negotiated_features(); });
  PerPort(text, rows, "vhostd_port_frontend_connects_total", "Times a frontend attached to the port.", "counter",
          [](const PortCounterSnapshot& p) { return p.status.frontend_connects(); });
  PerPort(text, rows, "vhostd_port_frontend_disconnects_total", "Times the port's frontend detached.", "counter",
          [](const PortCounterSnapshot& p) { return p.status.frontend_disconnects(); });

  Cores(text, engine_->Cores(), static_cast<double>(engine_->tsc_hz()));

  // Every served type appears, with 0 when it has no port.
  std::map<std::string, uint64_t> by_type;
  const vhostd::v1::ListPluginsResponse plugins = manager_->ListPlugins();
  for (const vhostd::v1::Plugin& plugin : plugins.plugins()) by_type[plugin.port_type()] = 0;
  for (const PortCounterSnapshot& port : ports) ++by_type[port.type];
  text.Family("vhostd_ports", "Ports by type.", "gauge");
  for (const auto& [type, count] : by_type) text.Sample("vhostd_ports", TextExposition::Label("type", type), count);
  text.Family("vhostd_mbufs_in_use", "Packet buffers of the shared pool not free now (in flight or cached).", "gauge");
  text.Sample("vhostd_mbufs_in_use", "", engine_->mbufs_in_use());
  text.Family("vhostd_cross_connects", "Cross-connects.", "gauge");
  text.Sample("vhostd_cross_connects", "", uint64_t{manager_->CrossConnectCount()});
  AppendBridgeFamilies(text, manager_->SnapshotBridges());
}

}  // namespace vhostd
