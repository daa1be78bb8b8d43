// The messages vhostctl can read and print: the API's own (compiled in) and every
// plugin's spec and status messages, which it only knows from the descriptor sets of
// ListPlugins. One DescriptorPool holds both, so that protobuf's JSON mapping, through a
// TypeResolver over that pool, prints a port's google.protobuf.Any fields as
// {"@type": ..., fields}, and DynamicMessages make and show a plugin's messages.
#ifndef VHOSTD_CLIENT_TYPE_CATALOG_H_
#define VHOSTD_CLIENT_TYPE_CATALOG_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/type_resolver.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {

inline constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

class TypeCatalog {
 public:
  TypeCatalog();  // the API's messages only
  ~TypeCatalog();
  TypeCatalog(const TypeCatalog&) = delete;
  TypeCatalog& operator=(const TypeCatalog&) = delete;

  // Takes the daemon's plugins and the files of their descriptor sets. A file whose
  // name is known already is taken as the same file (the first one wins); one that does
  // not build (an import missing, a name defined twice) is left out, noted in
  // problems(), and the messages that need it stay unknown.
  void AddPlugins(const vhostd::v1::ListPluginsResponse& response);

  bool has_plugins() const { return has_plugins_; }
  const vhostd::v1::ListPluginsResponse& plugins() const { return plugins_; }
  // The plugin serving port type `type`, or null.
  const vhostd::v1::Plugin* FindPlugin(const std::string& type) const;
  // "vdpa, vhost-kernel, vhost-user".
  std::string TypeNames() const;

  // A message type of the pool, or null.
  const google::protobuf::Descriptor* FindMessage(const std::string& full_name) const;
  // A new, empty message of `type` (from FindMessage).
  std::unique_ptr<google::protobuf::Message> New(const google::protobuf::Descriptor* type);

  // The message an Any holds, or null with `*why` set: its type is not described (its
  // plugin is not loaded), or its bytes do not parse as that type.
  std::unique_ptr<google::protobuf::Message> Unpack(const google::protobuf::Message& any,
                                                    std::string* why);

  // `message` in protobuf's JSON mapping (lowerCamelCase names, fields with default
  // values included): indented and ending in a newline when `multiline`, else on one
  // line without one. An Any of a type no plugin describes is shown with its @type
  // only; `warnings` gets a line about each such type.
  absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool multiline,
                                     std::vector<std::string>* warnings);

  // Descriptor files of the plugins that could not be used, with why.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void AddGeneratedFile(const google::protobuf::FileDescriptor* file);
  bool BuildFile(const std::string& name, std::set<std::string>* building);
  void EnsureAnyTypes(const google::protobuf::Message& message, std::vector<std::string>* warnings,
                      int depth);
  bool AddPlaceholder(const std::string& full_name);

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  // Files given by the plugins, not built yet (built on first need, imports first).
  std::map<std::string, google::protobuf::FileDescriptorProto> pending_;
  std::set<std::string> failed_files_;
  std::set<std::string> placeholders_;  // types AddPlaceholder made up
  vhostd::v1::ListPluginsResponse plugins_;
  bool has_plugins_ = false;
  std::vector<std::string> problems_;
};

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_TYPE_CATALOG_H_
