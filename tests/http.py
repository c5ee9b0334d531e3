"""The tests' HTTP client: requests, on a Session with retries off and an explicit timeout per call.

A retry would hide a server that drops a request; a redirect followed would hide what the server
answered. URLs go out as written: requests normally re-quotes them (``%2e`` becomes ``.``), which
would change what an encoded-junk test sends (urllib3 still writes escapes in upper case: the same
URI by RFC 3986).
"""

import requests
from requests.adapters import HTTPAdapter, Retry

NO_RETRIES = Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_redirect=False)


def session() -> requests.Session:
    """A Session that never retries (connection pool per host, as a client would keep)."""
    client = requests.Session()
    for scheme in ("http://", "https://"):
        client.mount(scheme, HTTPAdapter(max_retries=NO_RETRIES))
    return client


def send(client: requests.Session, method: str, url: str, *, timeout: float) -> requests.Response:
    """One request to ``url`` as written (no re-quoting by requests), no redirect followed."""
    prepared = client.prepare_request(requests.Request(method, url))
    prepared.url = url
    return client.send(prepared, timeout=timeout, allow_redirects=False)
