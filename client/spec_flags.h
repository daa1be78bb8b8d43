// The flags of "vhostctl port create --type TYPE": one per field of the type's spec
// message, made from its descriptor (which the daemon's ListPlugins carries), so that
// vhostctl knows no port type and a new plugin needs no change here.
//
// Names, for a field `socket_path`:
//   --socket-path     the field's name, '_' -> '-' (always)
//   --socket          a field ending in _path or _name: also without it
// A bool field is a switch: --tso (true), --tso=true|false, --no-tso (false); a field
// `disable_x` is also --no-x (true), a field `no_x` has no negation. An alias or
// negation that two fields would share, or that vhostctl's own flags use, is dropped;
// a field whose own name is taken (--type, --spec, --timeout, ...) has no flag.
// Values: numbers in decimal within the field's range; enums by value name, any case,
// '-' for '_', with or without the values' common prefix (MODE_CLIENT, client); bytes
// in base64 (as in protobuf JSON). A repeated field takes its flag once per element.
// Message and map fields have no flags: they go in --spec (protobuf JSON).
#ifndef VHOSTD_CLIENT_SPEC_FLAGS_H_
#define VHOSTD_CLIENT_SPEC_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "client/cli_args.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace vhostctl {

class SpecFlags {
 public:
  // `spec` may be null: a type without a spec message, which has no flags.
  explicit SpecFlags(const google::protobuf::Descriptor* spec);

  const google::protobuf::Descriptor* spec() const { return spec_; }
  // For ParseArgs(args, &flags()).
  const std::vector<TypeFlag>& flags() const { return flags_; }
  // The field each flag sets (parallel to flags()).
  const std::vector<const google::protobuf::FieldDescriptor*>& fields() const { return fields_; }
  // Fields without a flag, as "name (why)".
  const std::vector<std::string>& json_only() const { return json_only_; }

  // Sets the fields of `spec` (a message of spec()) from the flags' values, replacing
  // what --spec set (a repeated field's whole list). INVALID_ARGUMENT naming the flag
  // for a value that does not fit the field, or two flags of one oneof.
  absl::Status Apply(const std::vector<TypeFlagValues>& values,
                     google::protobuf::Message* spec) const;

  // The flag list of "port create --type TYPE --help".
  std::string Help(const std::string& type) const;

 private:
  void AddField(const google::protobuf::FieldDescriptor* field);
  void DropSharedSpellings();
  absl::Status SetValue(const TypeFlag& flag, const google::protobuf::FieldDescriptor* field,
                        const std::string& text, google::protobuf::Message* spec) const;

  const google::protobuf::Descriptor* spec_;
  std::vector<TypeFlag> flags_;
  std::vector<const google::protobuf::FieldDescriptor*> fields_;
  std::vector<std::string> json_only_;
};

// Parses `json`, protobuf's JSON of spec's message type, into `spec` (--spec).
// INVALID_ARGUMENT starting "--spec: " when it is not that.
absl::Status ParseSpecJson(const std::string& json, google::protobuf::Message* spec);

// The value of `type` that `text` names (see above), or null.
const google::protobuf::EnumValueDescriptor* FindEnumValue(const google::protobuf::EnumDescriptor* type,
                                                           absl::string_view text);
// "server|client": the values as a flag takes them, short and lower-case (without a
// zero value named *_UNSPECIFIED, which means "not given").
std::string EnumChoices(const google::protobuf::EnumDescriptor* type);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_SPEC_FLAGS_H_
