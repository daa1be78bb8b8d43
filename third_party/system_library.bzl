"""A repository rule that wraps a pkg-config module from the host as a cc_library.

Each -I directory is symlinked into the external repository so that the generated
cc_library can export it through `includes` (which must be relative); the libraries
come through `linkopts`.
"""

def _pkg_config(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config %s failed (install the Debian -dev package): %s" % (" ".join(args), result.stderr))
    return result.stdout.strip().split(" ") if result.stdout.strip() else []

def _system_library_impl(ctx):
    modules = ctx.attr.modules
    includes = []
    defines = []
    other_cflags = []
    flags = _pkg_config(ctx, ["--cflags"] + modules)
    skip_next = False
    for flag in flags:
        if skip_next:
            skip_next = False
            continue
        if flag == "-include":
            # DPDK's forced include: vhostd sources include <rte_config.h> themselves
            # (copts would not reach dependents anyway).
            skip_next = True
        elif flag.startswith("-march"):
            pass  # set once for the whole build in .bazelrc
        elif flag.startswith("-I"):
            path = flag[2:]
            link = "inc%d" % len(includes)
            ctx.symlink(path, link)
            includes.append(link)
        elif flag.startswith("-D"):
            defines.append(flag[2:])
        elif flag:
            other_cflags.append(flag)
    linkopts = [f for f in _pkg_config(ctx, ["--libs"] + modules) if f] + ctx.attr.extra_libs
    ctx.file("BUILD.bazel", """
cc_library(
    name = "{name}",
    hdrs = glob([{hdr_globs}], allow_empty = True),
    includes = {includes},
    defines = {defines},
    copts = {copts},
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)
""".format(
        name = ctx.attr.name,
        hdr_globs = ", ".join(['"%s/**/*.h"' % i for i in includes] + ['"%s/**/*.hpp"' % i for i in includes] + ['"%s/**/*.inc"' % i for i in includes]),
        includes = repr(includes),
        defines = repr(defines),
        copts = repr(other_cflags),
        linkopts = repr(linkopts),
    ))

system_library = repository_rule(
    implementation = _system_library_impl,
    attrs = {
        "modules": attr.string_list(mandatory = True),
        "extra_libs": attr.string_list(default = []),
    },
    local = True,
)
