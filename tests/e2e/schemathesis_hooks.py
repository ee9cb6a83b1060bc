"""schemathesis hooks for tests/e2e/tests/conformance.rs.

Each request names a different client address (CF-Connecting-IP, which wrangler dev
passes through), so schemathesis's deliberate wrong-credential probes do not add up to
the per-address failure limits: those limits have their own tests (boundaries.rs), and
here every operation should be checked against its schema, not against a 429.

Three rules of the API cannot be stated in JSON Schema, and /openapi.json states them in
words: an expiry must be in the future (and at most 10 years ahead), a CIDR must have no
host bits set, and a webhook endpoint must not be on a private address. `before_call` makes
generated values meet them, touching only values of the right type and form, so that
schema-invalid data stays invalid for the negative checks. Webhook URLs get a host that
needs no DNS lookup (see `_public_host`).
"""
import datetime
import ipaddress
import random
import re

import schemathesis

ADDRESSES = random.SystemRandom()


@schemathesis.hook
def before_call(context, case, **kwargs):
    case.headers = case.headers or {}
    # SystemRandom: hypothesis seeds the `random` module, which repeated the addresses.
    case.headers["CF-Connecting-IP"] = "10.{}.{}.{}".format(
        ADDRESSES.randrange(256), ADDRESSES.randrange(256), ADDRESSES.randrange(1, 255)
    )
    # Here rather than in map_body: every phase (examples, coverage, fuzzing, stateful)
    # goes through before_call.
    if isinstance(case.body, dict):
        case.body = _meet_unstated_rules(case.body)


DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _future(value):
    """A date-time string becomes one an hour ahead; anything else is left alone."""
    if isinstance(value, str) and DATE_TIME.match(value):
        ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return ahead.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


def _network(value):
    """A CIDR with host bits becomes its network (10.0.0.1/8 -> 10.0.0.0/8)."""
    if not isinstance(value, str):
        return value
    try:
        return str(ipaddress.ip_network(value, strict=False)) if "/" in value else value
    except ValueError:
        return value


def _public_host(value):
    """An https URL gets the host 192.0.2.1 instead of its own, path and port kept.

    A local or private host would be refused (the rule no pattern states). And every
    endpoint schemathesis creates gets deliveries: a made-up name would be looked up, and
    without a network each lookup waits for the resolver's timeout (5 s) inside workerd,
    enough failing lookups at once that wrangler dev restarts the runtime mid-request.
    192.0.2.1 is a public address that names no host (TEST-NET-1, RFC 5737): a delivery to
    it fails at once, with no lookup, and the URL stays one the server must accept.
    """
    if not isinstance(value, str) or not value.startswith("https://"):
        return value
    authority_end = min([i for i in (value.find("/", 8), value.find("?", 8)) if i >= 0] or [len(value)])
    authority, tail = value[8:authority_end], value[authority_end:]
    if authority.startswith("["):
        port = authority[authority.find("]") + 1 :]
    else:
        _, _, port = authority.partition(":")
        port = ":" + port if port else ""
    replaced = "https://192.0.2.1" + port + tail
    # Still within the 2048 characters the schema allows.
    return replaced[:2048]


def _meet_unstated_rules(body):
    if not isinstance(body, dict):
        return body
    if "expires_at" in body:
        body["expires_at"] = _future(body["expires_at"])
    if isinstance(body.get("allowed_ips"), list):
        body["allowed_ips"] = [_network(ip) for ip in body["allowed_ips"]]
    if "url" in body:
        body["url"] = _public_host(body["url"])
    return body
