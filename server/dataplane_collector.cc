#include "server/dataplane_collector.h"

#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "server/metric_families.h"

namespace vhostd {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using vhostd::v1::PortStatus;

// Names follow node_exporter's network device metrics (receive/transmit, _total,
// _drop_total, _errs_total); "receive" is what vhostd receives from the port's
// frontend, "transmit" what it delivers to it.
struct PortFamilies {
  MetricFamily rx_packets = MakeFamily("vhostd_port_receive_packets_total",
                                       "Packets vhostd received from the port's frontend, per queue.", MetricType::Counter);
  MetricFamily rx_bytes = MakeFamily("vhostd_port_receive_bytes_total",
                                     "Bytes vhostd received from the port's frontend, per queue.", MetricType::Counter);
  MetricFamily tx_packets = MakeFamily("vhostd_port_transmit_packets_total",
                                       "Packets vhostd delivered to the port's frontend, per queue.", MetricType::Counter);
  MetricFamily tx_bytes = MakeFamily("vhostd_port_transmit_bytes_total",
                                     "Bytes vhostd delivered to the port's frontend, per queue.", MetricType::Counter);
  MetricFamily tx_drop = MakeFamily(
      "vhostd_port_transmit_drop_total",
      "Packets vhostd could not deliver and freed, per queue and reason (queue_full: the frontend's ring was full or "
      "no frontend was attached).",
      MetricType::Counter);
  MetricFamily rx_drop = MakeFamily("vhostd_port_receive_drop_total",
                                    "Packets the port's driver could not receive, by reason (no_mbuf: no packet buffer).",
                                    MetricType::Counter);
  MetricFamily rx_errs = MakeFamily("vhostd_port_receive_errs_total", "Receive errors reported by the port's driver.",
                                    MetricType::Counter);
  MetricFamily tx_errs = MakeFamily("vhostd_port_transmit_errs_total", "Transmit errors reported by the port's driver.",
                                    MetricType::Counter);
  MetricFamily up = MakeFamily("vhostd_port_up", "1 if the port's frontend is attached and packets can flow.",
                               MetricType::Gauge);
  MetricFamily state = MakeFamily("vhostd_port_state", "The port's state: 1 for the current state, 0 for the others.",
                                  MetricType::Gauge);
  MetricFamily queues = MakeFamily("vhostd_port_queues", "Queue pairs of the port.", MetricType::Gauge);
  MetricFamily features = MakeFamily("vhostd_port_negotiated_features",
                                     "Virtio feature bits the frontend acknowledged, as a number (0 when detached).",
                                     MetricType::Gauge);
  MetricFamily connects = MakeFamily("vhostd_port_frontend_connects_total", "Times a frontend attached to the port.",
                                     MetricType::Counter);
  MetricFamily disconnects = MakeFamily("vhostd_port_frontend_disconnects_total",
                                        "Times the port's frontend detached.", MetricType::Counter);
};

struct CoreFamilies {
  MetricFamily busy = MakeFamily("vhostd_core_busy_seconds_total",
                                 "Wall-clock time (TSC) of the polling core's loop iterations that moved packets.",
                                 MetricType::Counter);
  MetricFamily idle = MakeFamily("vhostd_core_idle_seconds_total",
                                 "Wall-clock time (TSC) of the polling core's loop iterations that found no packet; "
                                 "time the CPU was taken by another process counts here too.",
                                 MetricType::Counter);
  MetricFamily packets = MakeFamily("vhostd_core_packets_total", "Packets the polling core received.", MetricType::Counter);
  MetricFamily polled = MakeFamily("vhostd_core_polled_queues", "Receive queues the polling core polls.", MetricType::Gauge);
  MetricFamily batch = MakeFamily("vhostd_core_batch_packets",
                                  "Packets per non-empty receive call on the polling core.", MetricType::Histogram);
};

void CollectPort(const PortCounterSnapshot& port, PortFamilies& f) {
  const Labels labels = {{"port", port.name}, {"type", port.type}};
  const auto with = [&labels](std::initializer_list<prometheus::ClientMetric::Label> more) {
    Labels out = labels;
    out.insert(out.end(), more.begin(), more.end());
    return out;
  };
  for (const vhostd::v1::QueueStats& q : port.stats.queues()) {
    const std::string queue = absl::StrCat(q.queue());
    AddSample(f.rx_packets, with({{"queue", queue}}), q.rx_packets());
    AddSample(f.rx_bytes, with({{"queue", queue}}), q.rx_bytes());
    AddSample(f.tx_packets, with({{"queue", queue}}), q.tx_packets());
    AddSample(f.tx_bytes, with({{"queue", queue}}), q.tx_bytes());
    AddSample(f.tx_drop, with({{"queue", queue}, {"reason", "queue_full"}}), q.tx_dropped());
  }
  AddSample(f.rx_drop, with({{"reason", "no_mbuf"}}), port.stats.rx_no_mbuf());
  AddSample(f.rx_errs, labels, port.stats.rx_errors());
  AddSample(f.tx_errs, labels, port.stats.tx_errors());
  AddSample(f.up, labels, port.status.state() == PortStatus::UP ? 1 : 0);
  for (int s = PortStatus::WAITING_FOR_PEER; s <= PortStatus::ERROR; ++s) {
    AddSample(f.state, with({{"state", PortStatus::State_Name(s)}}), port.status.state() == s ? 1 : 0);
  }
  AddSample(f.queues, labels, port.status.queues_size());
  AddSample(f.features, labels, static_cast<double>(port.status.negotiated_features()));
  AddSample(f.connects, labels, port.status.frontend_connects());
  AddSample(f.disconnects, labels, port.status.frontend_disconnects());
}

void CollectCore(const CoreInfo& core, double tsc_hz, CoreFamilies& f) {
  const Labels labels = {{"lcore", absl::StrCat(core.lcore)}, {"cpu", absl::StrCat(core.cpu)}};
  AddSample(f.busy, labels, core.busy_cycles / tsc_hz);
  AddSample(f.idle, labels, core.idle_cycles / tsc_hz);
  AddSample(f.packets, labels, core.packets);
  AddSample(f.polled, labels, core.queues.size());
  // Power-of-two buckets up to the burst size, from the exact per-size counts.
  prometheus::ClientMetric metric;
  metric.label = labels;
  uint64_t cumulative = 0;
  size_t size = 1;
  const size_t max_batch = core.batch_sizes.empty() ? 0 : core.batch_sizes.size() - 1;
  for (size_t bound = 1; bound <= max_batch; bound *= 2) {
    for (; size <= bound && size < core.batch_sizes.size(); ++size) cumulative += core.batch_sizes[size];
    metric.histogram.bucket.push_back({cumulative, static_cast<double>(bound)});
  }
  for (; size < core.batch_sizes.size(); ++size) cumulative += core.batch_sizes[size];
  metric.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = static_cast<double>(core.packets);
  f.batch.metric.push_back(std::move(metric));
}

void Append(std::vector<MetricFamily>& out, std::initializer_list<MetricFamily*> families) {
  for (MetricFamily* family : families) out.push_back(std::move(*family));
}

}  // namespace

std::vector<MetricFamily> DataplaneCollector::Collect() const {
  PortFamilies ports;
  std::map<std::string, int> ports_by_type;
  // Every served type appears, with 0 when it has no port.
  const vhostd::v1::ListPluginsResponse plugins = manager_->ListPlugins();
  for (const vhostd::v1::Plugin& plugin : plugins.plugins()) ports_by_type[plugin.port_type()] = 0;
  for (const PortCounterSnapshot& port : manager_->SnapshotPorts()) {
    CollectPort(port, ports);
    ++ports_by_type[port.type];
  }
  CoreFamilies cores;
  const double tsc_hz = static_cast<double>(engine_->tsc_hz());
  for (const CoreInfo& core : engine_->Cores()) CollectCore(core, tsc_hz, cores);

  MetricFamily by_type = MakeFamily("vhostd_ports", "Ports by type.", MetricType::Gauge);
  for (const auto& [type, count] : ports_by_type) AddSample(by_type, {{"type", type}}, count);
  MetricFamily xconnects = MakeFamily("vhostd_cross_connects", "Cross-connects.", MetricType::Gauge);
  AddSample(xconnects, {}, manager_->CrossConnectCount());

  std::vector<MetricFamily> out;
  Append(out, {&ports.rx_packets, &ports.rx_bytes, &ports.tx_packets, &ports.tx_bytes, &ports.tx_drop,
               &ports.rx_drop, &ports.rx_errs, &ports.tx_errs, &ports.up, &ports.state, &ports.queues,
               &ports.features, &ports.connects, &ports.disconnects, &cores.busy, &cores.idle, &cores.packets,
               &cores.polled, &cores.batch, &by_type, &xconnects});
  return out;
}

}  // namespace vhostd
