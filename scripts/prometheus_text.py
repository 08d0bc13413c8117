"""Reading the server's /metrics (Prometheus text format) for scripts/bench.sh's summaries."""
import re

_SAMPLE = re.compile(r'([a-zA-Z_:]+)(\{[^}]*\})?\s+([0-9.eE+-]+|[+-]Inf|NaN)')


def samples(text, name):
    """(labels, value) for each sample of metric `name` (exactly that name: a histogram's buckets are
    NAME_bucket)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = _SAMPLE.match(line)
        if m and m.group(1) == name:
            yield dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")), float(m.group(3))


def metric_sum(text, family, **labels):
    """The sum of `family`'s samples whose labels fully match the given regular expressions."""
    return sum(v for lab, v in samples(text, family)
               if all(re.fullmatch(p, lab.get(k, "")) for k, p in labels.items()))


def histogram(text, family):
    """Cumulative buckets {le: count}, sum and count of an unlabelled histogram (series with other labels are
    left out)."""
    buckets = {float(lab["le"]): v for lab, v in samples(text, family + "_bucket") if list(lab) == ["le"]}
    total = sum(v for lab, v in samples(text, family + "_sum") if not lab)
    count = sum(v for lab, v in samples(text, family + "_count") if not lab)
    return buckets, total, count
