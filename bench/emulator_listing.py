"""The emulator blow-up, reproduced in isolation: RSS of the emulator (moto through
flightdeck's launcher) after N x 4 MB PutObject into a versioned bucket, then after M
ListObjectVersions calls for one key each, with moto as shipped and with flightdeck's fixes.

Usage: emulator_listing.py LAUNCHER.py [N] [M]   (run with the emulator's own Python,
which has boto3). Prints one JSON line per variant.
"""

import json
import os
import sys
import time

from emulator_bench import MALLOC, rss_mb, start_emulator


def run(launcher, unpatched, n, m):
    if unpatched:
        proc, clients = start_emulator(launcher, FLIGHTDECK_EMULATOR_UNPATCHED="1")
    else:
        proc, clients = start_emulator(launcher, **MALLOC)
    try:
        s3 = clients("s3")
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_bucket_versioning(
            Bucket="bench-bucket", VersioningConfiguration={"Status": "Enabled"}
        )
        start = rss_mb(proc.pid)
        data = os.urandom(4 * 2**20)
        for i in range(n):
            s3.put_object(Bucket="bench-bucket", Key=f"uploads/{i}.mp4", Body=data)
        stored = rss_mb(proc.pid)
        began = time.time()
        for i in range(m):
            s3.list_object_versions(Bucket="bench-bucket", Prefix=f"uploads/{i % n}.mp4")
        listing_s = time.time() - began
        listed = rss_mb(proc.pid)
        return {
            "variant": "moto as shipped" if unpatched else "flightdeck's fixes",
            "puts": n,
            "listings": m,
            "rss_start_mb": start,
            "rss_after_puts_mb": stored,
            "rss_after_listings_mb": listed,
            "listing_ms_each": round(1000 * listing_s / max(m, 1), 1),
        }
    finally:
        proc.kill()
        proc.wait()


launcher = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
m = int(sys.argv[3]) if len(sys.argv) > 3 else 20
for unpatched in (True, False):
    print(json.dumps(run(launcher, unpatched, n, m)), flush=True)
