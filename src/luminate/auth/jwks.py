"""Public keys of RS/ES tokens: a JWKS document read from a file or fetched from a URL.

A key source answers `get(kid)` quickly and without network I/O on the caller's thread: the
verifier runs on the event loop. The file source rereads its file when the file changes; the URL
source refreshes in a background thread (when its keys expire, or early when a token names a key
it does not know) and keeps the last good keys when a fetch fails.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from luminate import __version__

log = logging.getLogger("luminate.auth")

# The key type (and curve) each algorithm verifies with; a key of another type never does.
KEY_TYPES: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
}
MAX_DOCUMENT_BYTES = 1024 * 1024
MIN_RSA_BITS = 2048
FETCH_TIMEOUT_S = 5.0
REFRESH_COOLDOWN_S = 5.0
UNKNOWN_KID_WAIT_S = 0.5


@dataclass(frozen=True)
class PublicKey:
    """One JWKS entry, bound to each configured algorithm it may verify."""

    kid: str
    kind: str
    by_algorithm: Mapping[str, PyJWK]


@dataclass(frozen=True)
class KeySet:
    keys: Mapping[str, PublicKey] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


class KeySource(Protocol):
    """Where the verifier finds the public key a token names. `get` must not block on I/O for
    longer than a fraction of a second: it is called on the event loop."""

    def get(self, kid: str) -> PublicKey | None: ...


def parse_jwks(data: bytes, algorithms: Collection[str]) -> KeySet:
    """The usable signing keys of a JWKS document. Entries that cannot verify any of
    `algorithms` are left out and named in `skipped`; a document without usable keys is a
    ValueError (an empty publication is treated as a broken one, not as "revoke everything")."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"JWKS larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"JWKS is not JSON: {exc}") from None
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValueError('JWKS must be an object with a "keys" list')
    keys: dict[str, PublicKey] = {}
    skipped: list[str] = []
    for index, entry in enumerate(entries):
        try:
            key = _public_key(entry, algorithms)
        except ValueError as exc:
            skipped.append(f"keys[{index}]: {exc}")
            continue
        if key.kid in keys:
            skipped.append(f"keys[{index}]: duplicate kid {key.kid!r}")
            continue
        keys[key.kid] = key
    if not keys:
        reasons = "; ".join(skipped) or "the list is empty"
        raise ValueError(f"JWKS has no key usable for {', '.join(sorted(algorithms))} ({reasons})")
    return KeySet(keys, tuple(skipped))


def _public_key(entry: Any, algorithms: Collection[str]) -> PublicKey:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("no kid (tokens find their key by kid)")
    if entry.get("use", "sig") != "sig":
        raise ValueError(f"kid {kid!r} is for {entry.get('use')!r}, not signatures")
    if "d" in entry:
        raise ValueError(f"kid {kid!r} contains private key material; publish public keys only")
    kty, crv = entry.get("kty"), entry.get("crv")
    usable = [a for a in algorithms if KEY_TYPES.get(a) in ((kty, crv), (kty, None))]
    if "alg" in entry:
        usable = [a for a in usable if a == entry["alg"]]
    kind = f"{kty} {crv}" if crv else str(kty)
    if not usable:
        raise ValueError(f"kid {kid!r} ({kind}) verifies none of {', '.join(sorted(algorithms))}")
    bound: dict[str, PyJWK] = {}
    for alg in usable:
        try:
            jwk = PyJWK(entry, algorithm=alg)
        except PyJWTError as exc:
            raise ValueError(f"kid {kid!r}: {exc}") from None
        if isinstance(jwk.key, RSAPublicKey) and jwk.key.key_size < MIN_RSA_BITS:
            raise ValueError(f"kid {kid!r}: RSA key below {MIN_RSA_BITS} bits")
        bound[alg] = jwk
    return PublicKey(kid, kind, bound)


def open_key_source(
    *, file: str, url: str, algorithms: Collection[str], cache_s: float
) -> KeySource | None:
    """The configured key source, or None when neither a file nor a URL is set. Raises
    ValueError for a configuration that cannot work."""
    asymmetric = sorted(a for a in algorithms if a in KEY_TYPES)
    if file and url:
        raise ValueError("set LUMINATE_JWT_JWKS_FILE or LUMINATE_JWT_JWKS_URL, not both")
    if not (file or url):
        return None
    if not asymmetric:
        raise ValueError(
            f"a JWKS is configured but LUMINATE_JWT_ALGORITHMS ({', '.join(algorithms)}) has "
            f"no algorithm that uses it ({', '.join(sorted(KEY_TYPES))})"
        )
    if file:
        return FileKeySource(file, asymmetric)
    return UrlKeySource(url, asymmetric, cache_s=cache_s)


class FileKeySource:
    """Keys from a JWKS file, reread when its size, mtime or inode changes (replace the file
    atomically, e.g. write and rename). A changed file that is unreadable or invalid is logged
    and the previous keys stay in use."""

    def __init__(self, path: str, algorithms: Collection[str]) -> None:
        self._path = path
        self._algorithms = tuple(algorithms)
        self._lock = threading.Lock()
        try:
            self._stamp: tuple[int, int, int] | None = self._current_stamp()
            self._keys = self._read()
        except (OSError, ValueError) as exc:
            raise ValueError(f"LUMINATE_JWT_JWKS_FILE {path!r}: {exc}") from None
        _log_skipped(self._keys, path)

    def get(self, kid: str) -> PublicKey | None:
        self._reload_if_changed()
        return self._keys.keys.get(kid)

    def _current_stamp(self) -> tuple[int, int, int]:
        st = os.stat(self._path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> KeySet:
        with open(self._path, "rb") as f:
            return parse_jwks(f.read(MAX_DOCUMENT_BYTES + 1), self._algorithms)

    def _reload_if_changed(self) -> None:
        try:
            stamp: tuple[int, int, int] | None = self._current_stamp()
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            # Remember the stamp before reading: a change during the read is seen next time.
            self._stamp = stamp
            try:
                if stamp is None:
                    raise ValueError("cannot stat the file")
                keys = self._read()
            except (OSError, ValueError) as exc:
                log.warning(
                    "JWKS file unusable; keeping the previous keys",
                    extra={"path": self._path, "error": str(exc), "kids": sorted(self._keys.keys)},
                )
                return
            self._keys = keys
        log.info("JWKS file reloaded", extra={"path": self._path, "kids": sorted(keys.keys)})
        _log_skipped(keys, self._path)


class UrlKeySource:
    """Keys fetched from a JWKS URL.

    Fetches run in a background thread, never on the caller's. Keys are used for `cache_s`;
    after that the first lookup starts a refresh and keeps answering from the current keys until
    it lands. A kid that is not known starts an early refresh, at most once per `cooldown_s`
    (so tokens with made-up kids cannot make us hammer the JWKS server), and only the lookup
    that started it waits for it, at most `wait_s`. A failed fetch is logged and the last good
    keys stay in use; failed fetches are retried at most once per cooldown.
    """

    def __init__(
        self,
        url: str,
        algorithms: Collection[str],
        *,
        cache_s: float,
        fetch_timeout_s: float = FETCH_TIMEOUT_S,
        cooldown_s: float = REFRESH_COOLDOWN_S,
        wait_s: float = UNKNOWN_KID_WAIT_S,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"LUMINATE_JWT_JWKS_URL {url!r}: expected an http(s) URL")
        self._url = url
        self._algorithms = tuple(algorithms)
        self._cache_s = cache_s
        self._timeout_s = fetch_timeout_s
        self._cooldown_s = cooldown_s
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self._keys = KeySet()
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._inflight = False
        # The first fetch runs at startup, before the event loop serves anything; when it fails
        # the process still starts (other algorithms may work) and lookups retry it.
        first = self._begin(0.0)
        assert first is not None
        self._refresh(first)

    def get(self, kid: str) -> PublicKey | None:
        key = self._keys.keys.get(kid)
        stale = time.monotonic() - self._fetched_at >= self._cache_s
        if key is not None and not stale:
            return key
        gap = min(self._cache_s, self._cooldown_s) if stale else self._cooldown_s
        done = self._begin(gap)
        if done is None:
            return key
        self._start(done)
        if key is None:
            # Bounded: blocks the event loop at most wait_s, at most once per cooldown.
            done.wait(self._wait_s)
            key = self._keys.keys.get(kid)
        return key

    def _begin(self, min_gap_s: float) -> threading.Event | None:
        """Claim the next refresh when none is running and the last attempt is old enough."""
        now = time.monotonic()
        with self._lock:
            if self._inflight or now - self._attempted_at < min_gap_s:
                return None
            self._inflight = True
            self._attempted_at = now
        return threading.Event()

    def _start(self, done: threading.Event) -> None:
        threading.Thread(
            target=self._refresh, args=(done,), name="luminate-jwks", daemon=True
        ).start()

    def _refresh(self, done: threading.Event) -> None:
        try:
            keys = self._fetch()
        except Exception as exc:  # any failure keeps the last good keys
            log.warning(
                "JWKS fetch failed; keeping the last good keys",
                extra={"url": self._url, "error": str(exc), "kids": sorted(self._keys.keys)},
            )
        else:
            changed = set(keys.keys) != set(self._keys.keys)
            self._keys = keys
            self._fetched_at = time.monotonic()
            if changed:
                log.info("JWKS keys changed", extra={"url": self._url, "kids": sorted(keys.keys)})
                _log_skipped(keys, self._url)
        finally:
            with self._lock:
                self._inflight = False
            done.set()

    def _fetch(self) -> KeySet:
        request = urllib.request.Request(  # noqa: S310  (the scheme is checked at construction)
            self._url,
            headers={"Accept": "application/json", "User-Agent": f"luminate/{__version__}"},
        )
        opener = urllib.request.build_opener(_NoRedirects())
        with opener.open(request, timeout=self._timeout_s) as response:
            body: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
        return parse_jwks(body, self._algorithms)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is: the configured URL is the key authority."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _log_skipped(keys: KeySet, where: str) -> None:
    for reason in keys.skipped:
        log.warning("JWKS key ignored", extra={"source": where, "reason": reason})
