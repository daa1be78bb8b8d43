// Small builders for prometheus-cpp MetricFamily values assembled at scrape time.
#ifndef VHOSTD_SERVER_METRIC_FAMILIES_H_
#define VHOSTD_SERVER_METRIC_FAMILIES_H_

#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace vhostd {

using Labels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily MakeFamily(const std::string& name, const std::string& help, prometheus::MetricType type);

// Appends one sample; `value` goes to the field that matches the family's type.
void AddSample(prometheus::MetricFamily& family, Labels labels, double value);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_METRIC_FAMILIES_H_
