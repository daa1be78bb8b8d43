"""A port-type plugin: a shared object that the daemon dlopen()s (see dataplane/plugin_abi.h)."""

def vhostd_plugin(name, srcs, deps, local_defines = [], visibility = None, testonly = False):
    """Links `srcs` and `deps` into `name` (ending in .so), exporting only the entry point.

    `deps` must reach the daemon's code through //dataplane:plugin_sdk (headers only):
    whatever they link in is a private copy inside the plugin. DPDK, Abseil, protobuf and
    libstdc++ are the system's shared libraries, shared with the daemon.
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps,
        local_defines = local_defines,
        linkshared = True,
        linkopts = ["-Wl,--version-script=$(location //plugins:plugin.lds)"],
        additional_linker_inputs = ["//plugins:plugin.lds"],
        visibility = visibility,
        testonly = testonly,
    )
