#include "plugins/uplink/interface_info.h"

#include <dirent.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <string>

namespace vhostd {
namespace {

constexpr unsigned kIffUp = 0x1;

// The first line of a sysfs attribute, or "" if it can't be read (a carrier of a
// device that is down reads as an error, for example).
std::string ReadAttribute(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

uint64_t ReadNumber(const std::string& path, int base = 10) {
  const std::string text = ReadAttribute(path);
  if (text.empty()) return 0;
  try {
    return std::stoull(text, nullptr, base);
  } catch (...) {
    return 0;
  }
}

}  // namespace

InterfaceInfo ReadInterfaceInfo(const std::string& name, const std::string& sysfs_net) {
  InterfaceInfo info;
  if (!ValidInterfaceName(name)) return info;
  const std::string dir = sysfs_net + "/" + name;
  const std::string ifindex = ReadAttribute(dir + "/ifindex");
  if (ifindex.empty()) return info;
  info.exists = true;
  info.ifindex = static_cast<int>(ReadNumber(dir + "/ifindex"));
  info.admin_up = (ReadNumber(dir + "/flags", 16) & kIffUp) != 0;
  info.carrier = ReadAttribute(dir + "/carrier") == "1";
  info.mtu = static_cast<uint32_t>(ReadNumber(dir + "/mtu"));
  info.mac = ReadAttribute(dir + "/address");
  info.rx_packets = ReadNumber(dir + "/statistics/rx_packets");
  info.tx_packets = ReadNumber(dir + "/statistics/tx_packets");
  info.rx_dropped = ReadNumber(dir + "/statistics/rx_dropped");
  info.tx_dropped = ReadNumber(dir + "/statistics/tx_dropped");
  return info;
}

int CountRxQueues(const std::string& name, const std::string& sysfs_net) {
  if (!ValidInterfaceName(name)) return 0;
  DIR* dir = opendir((sysfs_net + "/" + name + "/queues").c_str());
  if (dir == nullptr) return 0;
  int count = 0;
  while (dirent* entry = readdir(dir)) count += strncmp(entry->d_name, "rx-", 3) == 0;
  closedir(dir);
  return count;
}

bool ValidInterfaceName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || std::isspace(c) || !std::isprint(c)) return false;
  }
  return true;
}

}  // namespace vhostd
