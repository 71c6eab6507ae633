"""The lakeFS backend's HTTP transport: every request gets a (connect, read) timeout and a urllib3 retry policy.

Imported with the SDK on first use (urllib3 alone takes ~80 ms to import). The policy depends on what
repeating the request could do:

- Idempotent calls (GET, HEAD, PUT, DELETE, and the object upload `POST .../branches/{b}/objects`, which
  replaces whatever the path holds) are retried on 429/500/502/503/504, connection resets and read timeouts.
- Every other POST (commit, merge, create branch/tag/repository) is retried only on 429 and 503, which
  lakeFS answers without applying the request. After a 500/502/504, a reset or a read timeout the change may
  have been applied, so the error goes to the caller instead of committing or merging twice.
- Connection failures (refused, connect timeout) are retried for every call: nothing reached the server.

After the last retry the final response is handed to the SDK, which raises it with its status.
"""

import re
from typing import Any
from urllib.parse import urlsplit

import urllib3

NOT_APPLIED_STATUSES = frozenset({429, 503})
MAYBE_APPLIED_STATUSES = frozenset({500, 502, 504})
RETRYABLE_STATUSES = NOT_APPLIED_STATUSES | MAYBE_APPLIED_STATUSES
# A Retry-After larger than this is cut down: urllib3 would otherwise sleep for hours if the server asked.
MAX_RETRY_AFTER_S = 10.0
MAX_BACKOFF_S = 10.0
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_OBJECT_UPLOAD_PATH = re.compile(r"/branches/[^/]+/objects$")


class _BoundedRetry(urllib3.Retry):
    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER_S)


def is_idempotent(method: str, url: str) -> bool:
    """Whether sending this request twice leaves lakeFS as sending it once would."""
    method = method.upper()
    if method in _IDEMPOTENT_METHODS:
        return True
    return method == "POST" and _OBJECT_UPLOAD_PATH.search(urlsplit(url).path) is not None


def retry_policy(idempotent: bool, retries: int, backoff_s: float) -> urllib3.Retry:
    """The urllib3 `Retry` for one kind of call; `retries` repeats after the first attempt at most."""
    common: dict[str, Any] = {
        "total": retries,
        # Which methods may retry is decided per request here, so urllib3's own method list is switched off.
        "allowed_methods": None,
        "backoff_factor": backoff_s,
        # Jitter spreads the retries of parallel workers hit by the same 429/503.
        "backoff_jitter": backoff_s,
        "backoff_max": MAX_BACKOFF_S,
        "respect_retry_after_header": True,
        # Return the last error response so the SDK raises it with its status and message.
        "raise_on_status": False,
    }
    if idempotent:
        return _BoundedRetry(status_forcelist=RETRYABLE_STATUSES, **common)
    # read=False re-raises a reset or read timeout at once; other=0 ends on any further unknown error.
    return _BoundedRetry(status_forcelist=NOT_APPLIED_STATUSES, read=False, other=0, **common)


class TimeoutRetryPoolManager:
    """Wraps the SDK's urllib3 pool so every request without its own timeout/retries gets ours.

    The generated client passes `timeout=None` (meaning "wait forever") unless each call sets
    `_request_timeout`, and the SDK's direct upload and presigned PUT bypass that parameter altogether.
    """

    def __init__(self, inner: Any, timeout_s: tuple[float, float], retries: int, backoff_s: float) -> None:
        self._inner = inner
        self._timeout = urllib3.Timeout(connect=timeout_s[0], read=timeout_s[1])
        self._idempotent_retry = retry_policy(True, retries, backoff_s)
        self._non_idempotent_retry = retry_policy(False, retries, backoff_s)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if kwargs.get("retries") is None:
            idempotent = is_idempotent(method, url)
            kwargs["retries"] = self._idempotent_retry if idempotent else self._non_idempotent_retry
        return self._inner.request(method, url, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
