"""A parsed Prometheus text exposition (one scrape of /metrics), for tests."""

import re

from prometheus_client.parser import text_string_to_metric_families


class Exposition:
    """One scrape: the raw text, its # HELP / # TYPE lines and every sample."""

    def __init__(self, text):
        self.text = text
        self.help = {}
        self.type = {}
        for line in text.splitlines():
            m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)$", line)
            if m:
                (self.help if m.group(1) == "HELP" else self.type)[m.group(2)] = m.group(3)
        # The parser raises ValueError on malformed text. Note that it renames counter
        # families (drops "_total"), so names are checked on the raw lines above.
        self.families = list(text_string_to_metric_families(text))
        self.samples = {}
        for family in self.families:
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name, **labels):
        return self.samples[(name, frozenset(labels.items()))]

    def find(self, name, **labels):
        """{frozenset(labels): value} of the samples called `name` whose labels include `labels`."""
        want = set(labels.items())
        return {k[1]: v for k, v in self.samples.items() if k[0] == name and want <= k[1]}

    def monotonic_samples(self):
        """Samples that must never decrease: counters, and histogram/summary count, sum, buckets."""
        out = {}
        for (name, labels), value in self.samples.items():
            base = name
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix) and self.type.get(name[:-len(suffix)]) in ("histogram", "summary"):
                    base = name[:-len(suffix)]
            if self.type.get(base) in ("counter", "histogram", "summary") and "quantile" not in dict(labels):
                out[(name, labels)] = value
        return out
