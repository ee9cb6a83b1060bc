"""schemathesis hooks for tests/e2e/tests/conformance.rs.

Each request names a different client address (CF-Connecting-IP, which wrangler dev
passes through), so schemathesis's deliberate wrong-credential probes do not add up to
the per-address failure limits: those limits have their own tests (boundaries.rs), and
here every operation should be checked against its schema, not against a 429.
"""
import random

import schemathesis


@schemathesis.hook
def before_call(context, case, **kwargs):
    case.headers = case.headers or {}
    case.headers["CF-Connecting-IP"] = "10.{}.{}.{}".format(
        random.randrange(256), random.randrange(256), random.randrange(1, 255)
    )
