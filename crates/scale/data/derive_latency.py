#!/usr/bin/env python3
"""Derives do_latency_ms.csv: the median latency, in milliseconds, of a request from a
Cloudflare location in region A to a Durable Object in region B.

Source: the measurements behind where.durableobjects.live, as shipped in the crates.io
package cf-colo-hint 0.1.1166 (MIT), file where.durableobjects.live.json: for each colo,
its measured latency to a Durable Object in each region and its nearest region. A colo
belongs to the region nearest to it (apac-ne and apac-se, which are not location hints,
are counted as apac); the cell is the median over the colos of region A.

    python3 crates/scale/data/derive_latency.py > crates/scale/data/do_latency_ms.csv
"""
import glob, json, os, statistics, sys

HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"]
paths = glob.glob(os.path.expanduser(
    "~/.cargo/registry/src/*/cf-colo-hint-0.1.1166/where.durableobjects.live.json"))
if not paths:
    sys.exit("fetch it first: cargo fetch in crates/scale (cf-colo-hint is a dev-dependency)")
colos = json.load(open(paths[0]))["colos"]
fold = lambda region: "apac" if region.startswith("apac") else region
print("from\\to," + ",".join(HINTS))
for a in HINTS:
    row = []
    for b in HINTS:
        values = [c["regions"][b] for c in colos.values()
                  if fold(c["nearestRegion"]) == a and b in c["regions"]]
        row.append(f"{statistics.median(values):.1f}")
    print(a + "," + ",".join(row))
colo_counts = {a: sum(1 for c in colos.values() if fold(c["nearestRegion"]) == a) for a in HINTS}
print("# colos per region: " + ", ".join(f"{a} {n}" for a, n in colo_counts.items()), file=sys.stderr)
