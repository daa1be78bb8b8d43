#ifndef VHOSTD_SERVER_VERSION_H_
#define VHOSTD_SERVER_VERSION_H_

namespace vhostd {
inline constexpr char kVhostdVersion[] = "0.1.0";
}  // namespace vhostd

#endif  // VHOSTD_SERVER_VERSION_H_
