"""Summary, table and plot of a bench_vswitch.py run.

Ratios are given two ways: the ratio of the medians, and the median of the paired
ratios (each round's sample over the reference's sample of the same round, taken
seconds apart), which cancels slow drift of the machine's speed.
"""

import os
import statistics
import subprocess
import tempfile

REFERENCES = ("testpmd", "ovs-p2p", "ovs-normal")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _good(samples, config, size):
    return [s for s in samples if s["config"] == config and s["size"] == size and "error" not in s]


def _ratios(samples, config, ref, size):
    mine = {s["round"]: s["mpps"] for s in _good(samples, config, size)}
    theirs = {s["round"]: s["mpps"] for s in _good(samples, ref, size)}
    paired = [mine[r] / theirs[r] for r in mine if r in theirs and theirs[r] > 0]
    m, t = _median(mine.values()), _median(theirs.values())
    return {"ratio_of_medians": m / t if m and t else None,
            "paired_median": _median(paired),
            "paired_min": min(paired) if paired else None,
            "paired_max": max(paired) if paired else None}


def summarize(samples, configs, sizes):
    rows = []
    for size in sizes:
        for config in configs:
            good = _good(samples, config, size)
            mpps = [s["mpps"] for s in good]
            row = {"config": config, "size": size, "n": len(good),
                   "fails": sum(1 for s in samples if s["config"] == config and s["size"] == size and "error" in s),
                   "lost": sum(s["lost"] + s["traffic_dropped"] for s in good),
                   "mpps_median": _median(mpps), "mpps_min": min(mpps) if mpps else None,
                   "mpps_max": max(mpps) if mpps else None,
                   "cycles_per_packet_median": _median(s["backend_cycles_per_packet"] for s in good),
                   "backend_busy_pct_median": _median(s["backend_busy_pct"] for s in good),
                   "traffic_busy_pct_median": _median(s["traffic_busy_pct"] for s in good),
                   "foreign_cpu_pct_median": _median(s["foreign_cpu_pct"] for s in good),
                   "foreign_cpu_pct_max": max((s["foreign_cpu_pct"] for s in good), default=None)}
            for ref in REFERENCES:
                if ref in configs:
                    row["vs_" + ref] = _ratios(samples, config, ref, size)
            rows.append(row)
    return rows


def _f(v, fmt):
    return fmt % v if v is not None else "na"


def _ratio_cell(row, ref):
    r = row.get("vs_" + ref)
    if r is None or r["paired_median"] is None:
        return "na"
    return "%.2f (%.2f..%.2f)" % (r["paired_median"], r["paired_min"], r["paired_max"])


def print_table(rows, header):
    refs = [r for r in REFERENCES if "vs_" + r in rows[0]] if rows else []
    print("\n# load average: start %s, end %s" % (header["load_start"], header["load_end"]))
    print("| configuration | frame | Mpps median (min..max) | %s | busy cycles/pkt | backend busy %% "
          "| traffic busy %% | foreign CPU %% median/max | n | lost |" % " | ".join("vs %s" % r for r in refs))
    print("|" + " --- |" * (9 + len(refs)))
    for row in rows:
        print("| %s | %d B | %s (%s..%s) | %s | %s | %s | %s | %s/%s | %d%s | %d |" % (
            row["config"], row["size"], _f(row["mpps_median"], "%.3f"), _f(row["mpps_min"], "%.2f"),
            _f(row["mpps_max"], "%.2f"), " | ".join(_ratio_cell(row, r) for r in refs),
            _f(row["cycles_per_packet_median"], "%.0f"), _f(row["backend_busy_pct_median"], "%.0f"),
            _f(row["traffic_busy_pct_median"], "%.0f"), _f(row["foreign_cpu_pct_median"], "%.0f"),
            _f(row["foreign_cpu_pct_max"], "%.0f"), row["n"],
            " (%d failed)" % row["fails"] if row["fails"] else "", row["lost"]))
    print("ratios: median of the per-round paired ratios (min..max)")


GNUPLOT = """
set terminal pngcairo size 1100,480 font ",10"
set output '{png}'
set multiplot layout 1,2 title "{title}"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set key top right
set grid ytics
set yrange [0:*]
set title "throughput, median and min..max of the rounds"
set ylabel "Mpps (both directions)"
plot for [c=2:{last}:3] '{data}' using c:c+1:c+2:xtic(1) title columnhead(c)
set style histogram clustered gap 1
set title "backend busy cycles per forwarded packet (median)"
set ylabel "TSC cycles / packet"
plot for [c=2:{ncfg}+1] '{cycles}' using c:xtic(1) title columnhead(c)
unset multiplot
"""


def plot_png(rows, configs, sizes, png, header):
    """Two panels: Mpps per configuration and frame size, busy cycles per packet
    (a value that was not measured is drawn as 0: gnuplot refuses an empty column)."""
    by = {(r["config"], r["size"]): r for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        data, cycles = os.path.join(tmp, "mpps.dat"), os.path.join(tmp, "cycles.dat")
        with open(data, "w") as f:
            f.write("size " + " ".join("%s min max" % c for c in configs) + "\n")
            for size in sizes:
                f.write("%dB" % size)
                for c in configs:
                    r = by[(c, size)]
                    f.write(" %s %s %s" % tuple(_f(r[k], "%.4f").replace("na", "0")
                                                for k in ("mpps_median", "mpps_min", "mpps_max")))
                f.write("\n")
        with open(cycles, "w") as f:
            f.write("size " + " ".join(configs) + "\n")
            for size in sizes:
                f.write("%dB " % size + " ".join(
                    _f(by[(c, size)]["cycles_per_packet_median"], "%.1f").replace("na", "0") for c in configs) + "\n")
        title = "vhost-user port to port, one polling core, %d rounds x %gs, population %d, load %s -> %s" % (
            header["rounds"], header["seconds"], header["population"],
            header["load_start"][0], header["load_end"][0])
        script = GNUPLOT.format(png=png, title=title, data=data, cycles=cycles,
                                last=3 * len(configs) - 1, ncfg=len(configs))
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
