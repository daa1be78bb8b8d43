#include "client/spec_flags.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/flag_values.h"
#include "google/protobuf/util/json_util.h"

namespace vhostctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Dashed(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// Flag spellings CLI11 takes: a letter or digit, then letters, digits and dashes.
bool IsFlagSpelling(absl::string_view name) {
  if (name.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// "SocketMode" -> "SOCKET_MODE".
std::string UpperSnake(absl::string_view camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(camel[i]);
    if (i > 0 && absl::ascii_isupper(c) &&
        !absl::ascii_isupper(static_cast<unsigned char>(camel[i - 1]))) {
      out.push_back('_');
    }
    out.push_back(absl::ascii_toupper(c));
  }
  return out;
}

// The prefix the enum's value names share by convention: "MODE_" for enum Mode
// (MODE_SERVER, ...), else the longest common prefix up to a '_'. "" for none.
std::string EnumPrefix(const EnumDescriptor* type) {
  const std::string by_name = UpperSnake(type->name()) + "_";
  bool all = type->value_count() > 0;
  for (int i = 0; i < type->value_count(); ++i) {
    all = all && absl::StartsWith(type->value(i)->name(), by_name) &&
          type->value(i)->name().size() > by_name.size();
  }
  if (all) return by_name;
  if (type->value_count() < 2) return "";
  std::string common = type->value(0)->name();
  for (int i = 1; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    size_t n = 0;
    while (n < common.size() && n < name.size() && common[n] == name[n]) ++n;
    common.resize(n);
  }
  const size_t underscore = common.rfind('_');
  return underscore == std::string::npos ? "" : common.substr(0, underscore + 1);
}

// What a flag takes for a value of `type`, as synopses and help show it.
std::string EnumValueName(const EnumValueDescriptor* value, const std::string& prefix) {
  return absl::AsciiStrToLower(Dashed(value->name().substr(prefix.size())));
}

bool IsUnspecifiedValue(const EnumValueDescriptor* value, const std::string& prefix) {
  return value->number() == 0 && absl::EndsWith(value->name().substr(prefix.size()), "UNSPECIFIED");
}

// "PATH" for socket_path, "N" for a number: the value in a synopsis.
std::string ValueName(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumChoices(field->enum_type());
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field->type() == FieldDescriptor::TYPE_BYTES) return "BASE64";
      std::vector<std::string> words = absl::StrSplit(field->name(), '_');
      return absl::AsciiStrToUpper(words.back());
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return "NUMBER";
    default:
      return "N";
  }
}

// "optional uint32 queues", "Mode mode": the field a flag sets, for its help.
std::string FieldSummary(const FieldDescriptor* field) {
  std::string type = field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM
                         ? field->enum_type()->name()
                         : field->type_name();
  std::string label = field->is_repeated() ? "repeated " : field->has_optional_keyword() ? "optional " : "";
  return absl::StrCat(label, type, " ", field->name());
}

std::string InvalidValue(const TypeFlag& flag, const std::string& text, absl::string_view expected) {
  return absl::StrCat("invalid value ", Quoted(text), " for ", flag.names.front(), ": expected ",
                      expected);
}

}  // namespace

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor* type, absl::string_view text) {
  const std::string wanted = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  if (wanted.empty()) return nullptr;
  if (const EnumValueDescriptor* value = type->FindValueByName(wanted)) return value;
  const std::string prefix = EnumPrefix(type);
  return prefix.empty() ? nullptr : type->FindValueByName(prefix + wanted);
}

std::string EnumChoices(const EnumDescriptor* type) {
  const std::string prefix = EnumPrefix(type);
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (!IsUnspecifiedValue(type->value(i), prefix)) {
      names.push_back(EnumValueName(type->value(i), prefix));
    }
  }
  return absl::StrJoin(names, "|");
}

SpecFlags::SpecFlags(const Descriptor* spec) : spec_(spec) {
  if (spec == nullptr) return;
  for (int i = 0; i < spec->field_count(); ++i) AddField(spec->field(i));
  DropSharedSpellings();
}

void SpecFlags::AddField(const FieldDescriptor* field) {
  const std::string name = Dashed(field->name());
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    json_only_.push_back(absl::StrCat(field->name(), field->is_map() ? " (a map)" : " (a message)"));
    return;
  }
  if (!IsFlagSpelling(name)) {
    json_only_.push_back(absl::StrCat(field->name(), " (no flag can spell it)"));
    return;
  }
  const std::string canonical = "--" + name;
  if (IsPortCreateOwnFlag(canonical)) {
    json_only_.push_back(absl::StrCat(field->name(), " (", canonical, " is vhostctl's own)"));
    return;
  }
  TypeFlag flag;
  flag.names.push_back(canonical);
  for (absl::string_view suffix : {"-path", "-name"}) {
    if (absl::EndsWith(name, suffix) && name.size() > suffix.size()) {
      flag.names.push_back("--" + name.substr(0, name.size() - suffix.size()));
    }
  }
  flag.is_switch = field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL;
  if (flag.is_switch && !field->is_repeated()) {
    if (absl::StartsWith(name, "disable-") && name.size() > 8) {
      flag.names.push_back("--no-" + name.substr(8));
    } else if (!absl::StartsWith(name, "no-")) {
      flag.false_names.push_back("--no-" + name);
    }
  } else {
    // A repeated bool takes values like any list: --flag true --flag false.
    flag.is_switch = false;
    flag.value_name = field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL ? "true|false" : ValueName(field);
  }
  flag.repeated = field->is_repeated();
  flag.help = FieldSummary(field);
  flags_.push_back(flag);
  fields_.push_back(field);
}

// An alias or negation is only kept when it names one flag and is nobody else's name.
void SpecFlags::DropSharedSpellings() {
  std::map<std::string, int> uses;
  std::set<std::string> canonical;
  for (const TypeFlag& flag : flags_) {
    canonical.insert(flag.names.front());
    for (const std::string& name : flag.names) ++uses[name];
    for (const std::string& name : flag.false_names) ++uses[name];
  }
  auto keep = [&](const std::string& name) {
    return uses[name] == 1 && !IsPortCreateOwnFlag(name);
  };
  for (TypeFlag& flag : flags_) {
    std::vector<std::string> names = {flag.names.front()};
    for (size_t i = 1; i < flag.names.size(); ++i) {
      if (keep(flag.names[i]) && canonical.count(flag.names[i]) == 0) names.push_back(flag.names[i]);
    }
    flag.names = names;
    std::vector<std::string> false_names;
    for (const std::string& name : flag.false_names) {
      if (keep(name) && canonical.count(name) == 0) false_names.push_back(name);
    }
    flag.false_names = false_names;
  }
}

absl::Status SpecFlags::SetValue(const TypeFlag& flag, const FieldDescriptor* field,
                                 const std::string& text, Message* spec) const {
  const Reflection* r = spec->GetReflection();
  const bool repeated = field->is_repeated();
  auto bad = [&](absl::string_view expected) {
    return absl::InvalidArgumentError(InvalidValue(flag, text, expected));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      auto v = ParseInt64(text, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      if (!v) return bad("a whole number -2147483648..2147483647");
      repeated ? r->AddInt32(spec, field, *v) : r->SetInt32(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      auto v = ParseInt64(text, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      if (!v) return bad("a whole number -9223372036854775808..9223372036854775807");
      repeated ? r->AddInt64(spec, field, *v) : r->SetInt64(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      auto v = ParseUint64(text, std::numeric_limits<uint32_t>::max());
      if (!v) return bad("a whole number 0..4294967295");
      repeated ? r->AddUInt32(spec, field, *v) : r->SetUInt32(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      auto v = ParseUint64(text, std::numeric_limits<uint64_t>::max());
      if (!v) return bad("a whole number 0..18446744073709551615");
      repeated ? r->AddUInt64(spec, field, *v) : r->SetUInt64(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      auto v = ParseFiniteDouble(text);
      if (!v) return bad("a number");
      repeated ? r->AddDouble(spec, field, *v) : r->SetDouble(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      auto v = ParseFiniteDouble(text);
      if (!v || !std::isfinite(static_cast<float>(*v))) return bad("a number (float)");
      const float f = static_cast<float>(*v);
      repeated ? r->AddFloat(spec, field, f) : r->SetFloat(spec, field, f);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      auto v = ParseBool(text);
      if (!v) return bad("true or false");
      repeated ? r->AddBool(spec, field, *v) : r->SetBool(spec, field, *v);
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* v = FindEnumValue(field->enum_type(), text);
      if (v == nullptr) {
        return bad(absl::StrJoin(absl::StrSplit(EnumChoices(field->enum_type()), '|'), ", "));
      }
      repeated ? r->AddEnum(spec, field, v) : r->SetEnum(spec, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value = text;
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        if (!absl::Base64Unescape(text, &value) && !absl::WebSafeBase64Unescape(text, &value)) {
          return bad("base64");
        }
      } else if (!IsValidUtf8(text)) {
        return bad("UTF-8 text");
      }
      repeated ? r->AddString(spec, field, value) : r->SetString(spec, field, value);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InternalError(absl::StrCat(flag.names.front(), " sets a message"));
  }
  return absl::OkStatus();
}

absl::Status SpecFlags::Apply(const std::vector<TypeFlagValues>& values, Message* spec) const {
  std::map<const google::protobuf::OneofDescriptor*, std::string> oneofs;
  for (const TypeFlagValues& given : values) {
    const TypeFlag& flag = flags_.at(given.flag);
    const FieldDescriptor* field = fields_.at(given.flag);
    if (const auto* oneof = field->real_containing_oneof()) {
      auto [it, first] = oneofs.emplace(oneof, flag.names.front());
      if (!first) {
        return absl::InvalidArgumentError(absl::StrCat(
            "flags ", it->second, " and ", flag.names.front(), " set fields of one oneof (",
            oneof->name(), "): give one of them"));
      }
    }
    if (field->is_repeated()) spec->GetReflection()->ClearField(spec, field);
    for (const std::string& text : given.values) {
      absl::Status status = SetValue(flag, field, text, spec);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

std::string SpecFlags::Help(const std::string& type) const {
  if (spec_ == nullptr) {
    return absl::StrCat("--type ", type, " has no spec message: it takes no flags and no --spec.\n");
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (const TypeFlag& flag : flags_) {
    std::vector<std::string> names = flag.names;
    names.insert(names.end(), flag.false_names.begin(), flag.false_names.end());
    rows.emplace_back(absl::StrCat(absl::StrJoin(names, ", "),
                                   flag.is_switch ? "" : absl::StrCat(" ", flag.value_name),
                                   flag.repeated ? " (repeatable)" : ""),
                      flag.help);
  }
  rows.emplace_back("--spec JSON", "the whole spec in protobuf JSON");
  size_t width = 0;
  for (const auto& [left, right] : rows) width = std::max(width, left.size());
  width = std::min<size_t>(width, 40);
  std::string out = absl::StrCat("Flags of --type ", type, " (fields of ", spec_->full_name(), "):\n");
  for (const auto& [left, right] : rows) {
    if (left.size() > width) {
      absl::StrAppend(&out, "  ", left, "\n", std::string(width + 5, ' '), right, "\n");
    } else {
      absl::StrAppend(&out, "  ", left, std::string(width - left.size() + 3, ' '), right, "\n");
    }
  }
  if (!json_only_.empty()) {
    absl::StrAppend(&out, "Only in --spec: ", absl::StrJoin(json_only_, ", "), "\n");
  }
  absl::StrAppend(&out,
                  "A switch also takes =true or =false. The flags override what --spec sets\n"
                  "(a repeated field's whole list).\n");
  return out;
}

absl::Status ParseSpecJson(const std::string& json, Message* spec) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field must not vanish
  auto status = google::protobuf::util::JsonStringToMessage(json, spec, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--spec: not ", spec->GetDescriptor()->full_name(), " in protobuf JSON: ",
        std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace vhostctl
