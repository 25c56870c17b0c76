#include "sandbox/init_plan.h"

#include <algorithm>
#include <cstring>

namespace baleen::sandbox {

namespace {

// The plan's fields in one order, for both directions: `field(x)` visits each member.
template <typename Plan, typename Visit>
void visit_plan(Plan& plan, Visit&& field) {
  for (auto* text : {&plan.mnt, &plan.tmpfs_options, &plan.upper, &plan.work, &plan.root,
                     &plan.overlay_options, &plan.root_proc, &plan.root_proc_sys, &plan.root_sysrq,
                     &plan.root_dev, &plan.dev_options, &plan.workspace, &plan.root_workspace,
                     &plan.workspace_upper, &plan.workspace_work, &plan.workspace_options}) {
    field(*text);
  }
  field(plan.lowers);
  field(plan.dev_nodes);
  field(plan.dev_numbers);
  field(plan.cap_last);
  field(plan.die_with_parent);
  field(plan.user_namespace);
  field(plan.host_root_id);
  field(plan.seccomp);
}

void put_bytes(std::string& out, const void* data, size_t size) {
  auto length = static_cast<uint32_t>(size);
  out.append(reinterpret_cast<const char*>(&length), sizeof(length));
  out.append(static_cast<const char*>(data), size);
}

struct Encoder {
  std::string& out;
  void operator()(const std::string& text) { put_bytes(out, text.data(), text.size()); }
  void operator()(const std::vector<std::string>& texts) {
    uint32_t count = static_cast<uint32_t>(texts.size());
    out.append(reinterpret_cast<const char*>(&count), sizeof(count));
    for (const std::string& text : texts) (*this)(text);
  }
  template <typename T>
  void operator()(const std::vector<T>& items) {
    put_bytes(out, items.data(), items.size() * sizeof(T));
  }
  template <typename T>
  void operator()(const T& value) {
    put_bytes(out, &value, sizeof(value));
  }
};

struct Decoder {
  std::string_view in;
  bool ok = true;
  std::string_view take(size_t size) {
    if (!ok || in.size() < size) {
      ok = false;
      return {};
    }
    std::string_view part = in.substr(0, size);
    in.remove_prefix(size);
    return part;
  }
  uint32_t length() {
    uint32_t value = 0;
    std::string_view bytes = take(sizeof(value));
    if (ok) std::memcpy(&value, bytes.data(), sizeof(value));
    return value;
  }
  void operator()(std::string& text) {
    std::string_view bytes = take(length());
    text.assign(bytes.data(), bytes.size());
  }
  void operator()(std::vector<std::string>& texts) {
    texts.resize(std::min<uint32_t>(length(), 64));
    for (std::string& text : texts) (*this)(text);
  }
  template <typename T>
  void operator()(std::vector<T>& items) {
    std::string_view bytes = take(length());
    ok = ok && bytes.size() % sizeof(T) == 0;
    if (!ok) return;
    items.resize(bytes.size() / sizeof(T));
    std::memcpy(items.data(), bytes.data(), bytes.size());
  }
  template <typename T>
  void operator()(T& value) {
    std::string_view bytes = take(length());
    ok = ok && bytes.size() == sizeof(T);
    if (ok) std::memcpy(&value, bytes.data(), sizeof(T));
  }
};

}  // namespace

std::string encode_init_plan(const InitPlan& plan) {
  std::string out;
  visit_plan(plan, Encoder{out});
  return out;
}

bool decode_init_plan(std::string_view bytes, InitPlan* plan) {
  Decoder decoder{bytes};
  visit_plan(*plan, [&](auto& field) { decoder(field); });
  return decoder.ok && decoder.in.empty() && plan->dev_nodes.size() == plan->dev_numbers.size();
}

const char* init_step_name(int step) {
  static constexpr const char* kNames[] = {"ready",
                                           "receiving the plan",
                                           "making mounts private",
                                           "mounting the tmpfs quota",
                                           "creating overlay directories",
                                           "mounting overlayfs",
                                           "mounting /proc",
                                           "making /proc/sys read-only",
                                           "masking /proc/sysrq-trigger",
                                           "populating /dev",
                                           "pivot_root",
                                           "bringing up loopback",
                                           "blocking signals",
                                           "opening descriptors",
                                           "mounting the image's layers idmapped to the sandbox's ids",
                                           "entering the user namespace",
                                           "dropping the bounding set and installing the seccomp filter",
                                           "mounting the workspace at /work",
                                           "starting the init program (baleen-sandbox-init)"};
  return step >= 0 && step < static_cast<int>(std::size(kNames)) ? kNames[step] : "unknown step";
}

}  // namespace baleen::sandbox
