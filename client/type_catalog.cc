#include "client/type_catalog.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace vhostctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kAnyType[] = "google.protobuf.Any";
// Anys inside Anys deeper than this are not looked into (a guard, not a limit anyone
// should meet: protobuf's own parser stops at 100 levels of nesting).
constexpr int kMaxAnyDepth = 32;

// Keeps the pool's complaints about a file instead of logging them.
class Collector final : public DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name, const Message*,
                ErrorLocation, const std::string& message) override {
    errors.push_back(absl::StrCat(filename, ": ", element_name, ": ", message));
  }
  std::vector<std::string> errors;
};

// The message name in "type.googleapis.com/pkg.Name".
std::string TypeNameOfUrl(const std::string& url) {
  const size_t slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

// type_url and value of an Any, generated or dynamic.
void ReadAny(const Message& any, std::string* type_url, std::string* value) {
  const Descriptor* d = any.GetDescriptor();
  const Reflection* r = any.GetReflection();
  *type_url = r->GetString(any, d->FindFieldByNumber(1));
  *value = r->GetString(any, d->FindFieldByNumber(2));
}

}  // namespace

TypeCatalog::TypeCatalog()
    : factory_(&pool_),
      resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, &pool_)) {
  AddGeneratedFile(vhostd::v1::ListPluginsResponse::descriptor()->file());
}

TypeCatalog::~TypeCatalog() = default;

void TypeCatalog::AddGeneratedFile(const FileDescriptor* file) {
  if (pool_.FindFileByName(file->name()) != nullptr) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddGeneratedFile(file->dependency(i));
  FileDescriptorProto proto;
  file->CopyTo(&proto);
  file->CopyJsonNameTo(&proto);
  Collector collector;
  if (pool_.BuildFileCollectingErrors(proto, &collector) == nullptr) {
    problems_.push_back(absl::StrJoin(collector.errors, "; "));
  }
}

void TypeCatalog::AddPlugins(const vhostd::v1::ListPluginsResponse& response) {
  plugins_ = response;
  has_plugins_ = true;
  std::vector<std::string> names;
  for (const vhostd::v1::Plugin& plugin : response.plugins()) {
    for (const FileDescriptorProto& file : plugin.descriptors().file()) {
      if (pool_.FindFileByName(file.name()) != nullptr || pending_.count(file.name()) > 0) continue;
      pending_[file.name()] = file;
      names.push_back(file.name());
    }
  }
  for (const std::string& name : names) {
    std::set<std::string> building;
    BuildFile(name, &building);
  }
  pending_.clear();
}

// Builds a pending file after its imports; false when it (or an import) cannot be built.
bool TypeCatalog::BuildFile(const std::string& name, std::set<std::string>* building) {
  if (pool_.FindFileByName(name) != nullptr) return true;
  if (failed_files_.count(name) > 0) return false;
  auto it = pending_.find(name);
  if (it == pending_.end() || !building->insert(name).second) {
    failed_files_.insert(name);
    problems_.push_back(absl::StrCat(
        name, it == pending_.end() ? ": in no plugin's descriptors" : ": imports itself"));
    return false;
  }
  const FileDescriptorProto& proto = it->second;
  for (const std::string& dependency : proto.dependency()) {
    if (!BuildFile(dependency, building)) {
      failed_files_.insert(name);
      problems_.push_back(absl::StrCat(name, ": its import ", dependency, " is unusable"));
      return false;
    }
  }
  Collector collector;
  if (pool_.BuildFileCollectingErrors(proto, &collector) == nullptr) {
    failed_files_.insert(name);
    problems_.push_back(absl::StrJoin(collector.errors, "; "));
    return false;
  }
  return true;
}

const vhostd::v1::Plugin* TypeCatalog::FindPlugin(const std::string& type) const {
  for (const vhostd::v1::Plugin& plugin : plugins_.plugins()) {
    if (plugin.port_type() == type) return &plugin;
  }
  return nullptr;
}

std::string TypeCatalog::TypeNames() const {
  std::vector<std::string> names;
  for (const vhostd::v1::Plugin& plugin : plugins_.plugins()) names.push_back(plugin.port_type());
  std::sort(names.begin(), names.end());
  return absl::StrJoin(names, ", ");
}

const Descriptor* TypeCatalog::FindMessage(const std::string& full_name) const {
  if (placeholders_.count(full_name) > 0) return nullptr;
  return pool_.FindMessageTypeByName(full_name);
}

std::unique_ptr<Message> TypeCatalog::New(const Descriptor* type) {
  return std::unique_ptr<Message>(factory_.GetPrototype(type)->New());
}

std::unique_ptr<Message> TypeCatalog::Unpack(const Message& any, std::string* why) {
  std::string type_url;
  std::string value;
  ReadAny(any, &type_url, &value);
  const std::string name = TypeNameOfUrl(type_url);
  const Descriptor* type = FindMessage(name);
  if (type == nullptr) {
    *why = absl::StrCat("no plugin of the daemon describes ", name);
    return nullptr;
  }
  std::unique_ptr<Message> message = New(type);
  if (!message->ParseFromString(value)) {
    *why = absl::StrCat("its ", value.size(), " bytes are no ", name);
    return nullptr;
  }
  return message;
}

// An empty message named `full_name`, so that protobuf's JSON can print an Any of a
// type nobody described (with its @type, and no fields) instead of failing.
bool TypeCatalog::AddPlaceholder(const std::string& full_name) {
  FileDescriptorProto file;
  file.set_name(absl::StrCat("vhostctl/undescribed/", full_name, ".proto"));
  file.set_syntax("proto3");
  const size_t dot = full_name.rfind('.');
  if (dot != std::string::npos) file.set_package(full_name.substr(0, dot));
  file.add_message_type()->set_name(dot == std::string::npos ? full_name : full_name.substr(dot + 1));
  Collector collector;
  if (pool_.BuildFileCollectingErrors(file, &collector) == nullptr) return false;
  placeholders_.insert(full_name);
  return true;
}

void TypeCatalog::EnsureAnyTypes(const Message& message, std::vector<std::string>* warnings,
                                 int depth) {
  if (depth > kMaxAnyDepth) return;
  if (message.GetDescriptor()->full_name() == kAnyType) {
    std::string type_url;
    std::string value;
    ReadAny(message, &type_url, &value);
    const std::string name = TypeNameOfUrl(type_url);
    if (name.empty()) return;  // an unset Any: protobuf prints {}
    if (pool_.FindMessageTypeByName(name) == nullptr && AddPlaceholder(name) && warnings) {
      warnings->push_back(absl::StrCat(
          name, " is not described by the daemon's plugins (is its plugin loaded?): "
                "shown with its @type only"));
    }
    std::string why;
    if (std::unique_ptr<Message> inner = Unpack(message, &why)) {
      EnsureAnyTypes(*inner, warnings, depth + 1);
    }
    return;
  }
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < r->FieldSize(message, field); ++i) {
        EnsureAnyTypes(r->GetRepeatedMessage(message, field, i), warnings, depth);
      }
    } else {
      EnsureAnyTypes(r->GetMessage(message, field), warnings, depth);
    }
  }
}

absl::StatusOr<std::string> TypeCatalog::ToJson(const Message& message, bool multiline,
                                                std::vector<std::string>* warnings) {
  const Descriptor* type = message.GetDescriptor();
  if (type->file()->pool() == DescriptorPool::generated_pool()) {
    AddGeneratedFile(type->file());
  }
  if (pool_.FindMessageTypeByName(type->full_name()) == nullptr) {
    return absl::InternalError(absl::StrCat(type->full_name(), " is not in vhostctl's pool"));
  }
  EnsureAnyTypes(message, warnings, 0);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = multiline;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  auto status = google::protobuf::util::BinaryToJsonString(
      resolver_.get(), absl::StrCat(kTypeUrlPrefix, "/", type->full_name()),
      message.SerializeAsString(), &json, options);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.code()),
                        absl::StrCat("cannot print ", type->full_name(), " as JSON: ",
                                     std::string(status.message())));
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  if (multiline) json.push_back('\n');
  return json;
}

}  // namespace vhostctl
