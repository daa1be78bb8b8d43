// Port labels: orchestrators' metadata on a port (pod, namespace, container ID,
// interface, ...), Kubernetes-style, and the well-known keys vhostd gives meaning to.
#ifndef VHOSTD_SERVER_PORT_LABELS_H_
#define VHOSTD_SERVER_PORT_LABELS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"

namespace vhostd {

using LabelMap = google::protobuf::Map<std::string, std::string>;

inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelNameLength = 63;     // the part after the prefix's '/'
inline constexpr size_t kMaxLabelPrefixLength = 253;  // a DNS subdomain
inline constexpr size_t kMaxLabelValueLength = 63;

// What is wrong with a label key ("" if nothing): an optional prefix (a DNS subdomain:
// dot-separated RFC 1123 labels, at most 253 characters) and '/', then a name of 1-63
// characters of [A-Za-z0-9._-] that starts and ends with a letter or digit.
std::string LabelKeyProblem(absl::string_view key);
// What is wrong with a label value ("" if nothing): empty, or 1-63 characters like a
// key's name.
std::string LabelValueProblem(absl::string_view value);

// `field`["KEY"], the key escaped and cut to a bounded length: how errors name a label.
std::string LabelField(const std::string& field, const std::string& key);

// Checks every key and value and their number. INVALID_ARGUMENT naming the label
// (`field`["KEY"]: ...) or `field` (too many).
absl::Status ValidateLabels(const LabelMap& labels, const std::string& field);

bool SameLabels(const LabelMap& a, const LabelMap& b);

// A well-known label key and the Prometheus label vhostd_port_info carries it as.
struct InfoMetricLabel {
  const char* key;
  const char* metric_label;
};
// Keys the CNI plugin sets, so that dashboards can join per-port and per-queue series
// to pods through vhostd_port_info without every series carrying them.
inline constexpr InfoMetricLabel kInfoMetricLabels[] = {
    {"k8s.pod.name", "pod"},
    {"k8s.pod.namespace", "namespace"},
    {"cni.container_id", "container_id"},
    {"cni.ifname", "interface"},
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PORT_LABELS_H_
