"""The port types vhostd ships: the one list to edit when adding one (its folder under
plugins/ holds everything else). Each entry NAME has //plugins/NAME with the targets
vhostd_plugin_NAME.so and NAME_proto_py."""

SHIPPED_PLUGINS = [
    "uplink",
    "vdpa",
    "vhost_kernel",
    "vhost_user",
]

def plugin_shared_objects():
    return ["//plugins/%s:vhostd_plugin_%s.so" % (p, p) for p in SHIPPED_PLUGINS]

def plugin_python_modules():
    return ["//plugins/%s:%s_proto_py" % (p, p) for p in SHIPPED_PLUGINS]

def plugin_sources():
    return ["//plugins/%s:sources" % p for p in SHIPPED_PLUGINS]
