"""The object store backups live in: an S3 bucket (AWS or any S3-compatible server) under a
prefix, through boto3. Credentials come from two files (a mounted Secret) or, when none are
named, from boto3's own chain (the pod's IAM role, the instance profile, AWS_* variables);
they are never taken from the command line."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luminate.backup.errors import ObjectStoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class Location:
    """Where backups go: `bucket` and `prefix` (no leading or trailing slash), `endpoint`
    (empty: AWS), `region`."""

    bucket: str
    prefix: str
    endpoint: str
    region: str

    def url(self, key: str) -> str:
        """An HTTP(S) URL of `key` for engines that write to S3 themselves."""
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{self.bucket}/{key}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{key}"

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"


def parse_bucket(text: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix`, `bucket/some/prefix` or `bucket` -> (bucket, prefix)."""
    rest = text.strip().removeprefix("s3://").strip("/")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError("LUMINATE_BACKUP_BUCKET is empty; name the bucket backups go to")
    return bucket, prefix.strip("/")


def read_credentials(key_file: str, secret_file: str) -> Credentials | None:
    if not key_file and not secret_file:
        return None
    if not (key_file and secret_file):
        raise ObjectStoreError(
            "set both LUMINATE_BACKUP_S3_ACCESS_KEY_FILE and LUMINATE_BACKUP_S3_SECRET_KEY_FILE, "
            "or neither (then the pod's role or the AWS_* chain is used)"
        )
    values = []
    for name, path in (("access key", key_file), ("secret key", secret_file)):
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ObjectStoreError(f"S3 {name} file {path!r}: {exc.strerror}") from None
        if not value:
            raise ObjectStoreError(f"S3 {name} file {path!r} is empty")
        values.append(value)
    return Credentials(values[0], values[1])


def _explain(exc: Exception, what: str, location: Location) -> ObjectStoreError:
    """One line naming the problem for the errors operators actually meet."""
    from botocore.exceptions import (  # noqa: PLC0415
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")).strip()
        if code in {"NoSuchBucket"}:
            return ObjectStoreError(f"bucket {location.bucket!r} does not exist ({what})")
        if code in {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403"}:
            return ObjectStoreError(
                f"S3 refused the credentials for {location.describe()} ({code}: {what})"
            )
        if code in {"NoSuchKey", "404"}:
            return ObjectStoreError(f"no object {what} in {location.describe()}")
        return ObjectStoreError(f"S3 error {code} on {what}: {message}")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return ObjectStoreError(f"S3 endpoint unreachable ({location.describe()}): {exc}")
    if isinstance(exc, NoCredentialsError):
        return ObjectStoreError(
            "no S3 credentials: set LUMINATE_BACKUP_S3_ACCESS_KEY_FILE and "
            "LUMINATE_BACKUP_S3_SECRET_KEY_FILE, or give the pod an IAM role"
        )
    return ObjectStoreError(f"S3 {what} failed: {type(exc).__name__}: {exc}")


class ObjectStore:
    """Keys passed in are relative to the location's prefix."""

    def __init__(
        self,
        location: Location,
        credentials: Credentials | None,
        *,
        attempts: int = 3,
        timeout_s: float = 10.0,
    ) -> None:
        import boto3  # noqa: PLC0415  (heavy import, deferred so nothing loads at import time)
        from botocore.config import Config  # noqa: PLC0415

        # botocore's reason reaches the operator in our error; its own retry logs would repeat it.
        logging.getLogger("botocore").setLevel(logging.CRITICAL)
        self.location = location
        self.credentials = credentials
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=location.endpoint or None,
            region_name=location.region,
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            config=Config(
                retries={"max_attempts": attempts, "mode": "standard"},
                connect_timeout=timeout_s,
                read_timeout=timeout_s * 6,
                # Path-style addressing works with every S3-compatible server.
                s3={"addressing_style": "path"} if location.endpoint else {},
            ),
        )

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            raise _explain(exc, what, self.location) from None

    def check(self) -> None:
        """Raises ObjectStoreError unless the bucket exists and the credentials may list it."""
        self._call(
            f"listing {self.location.describe()}",
            self._client.list_objects_v2,
            Bucket=self.location.bucket,
            Prefix=self.location.key("") + "/" if self.location.prefix else "",
            MaxKeys=1,
        )

    def put(self, key: str, data: bytes) -> None:
        full = self.location.key(key)
        self._call(full, self._client.put_object, Bucket=self.location.bucket, Key=full, Body=data)

    def get(self, key: str, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        full = self.location.key(key)
        answer = self._call(full, self._client.get_object, Bucket=self.location.bucket, Key=full)
        if int(answer.get("ContentLength", 0)) > max_bytes:
            raise ObjectStoreError(f"{full} is larger than {max_bytes} bytes; refusing to read it")
        body: bytes = self._call(full, answer["Body"].read)
        return body

    def exists(self, key: str) -> bool:
        full = self.location.key(key)
        try:
            self._client.head_object(Bucket=self.location.bucket, Key=full)
        except Exception as exc:
            error = _explain(exc, full, self.location)
            if str(error).startswith("no object"):
                return False
            raise error from None
        return True

    def upload(self, key: str, path: Path, progress: Callable[[int], None]) -> str:
        """Upload a file; returns its SHA-256. `progress` is called with bytes sent."""
        full = self.location.key(key)
        digest = _sha256(path)
        self._call(
            full,
            self._client.upload_file,
            Filename=str(path),
            Bucket=self.location.bucket,
            Key=full,
            Callback=progress,
        )
        return digest

    def download(self, key: str, path: Path, sha256: str, progress: Callable[[int], None]) -> None:
        """Download to `path` and check its digest; a mismatch deletes the file and raises."""
        full = self.location.key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._call(
            full,
            self._client.download_file,
            Bucket=self.location.bucket,
            Key=full,
            Filename=str(path),
            Callback=progress,
        )
        found = _sha256(path)
        if found != sha256:
            path.unlink(missing_ok=True)
            raise ObjectStoreError(
                f"{full} is corrupted or truncated: SHA-256 {found[:12]}..., "
                f"the manifest says {sha256[:12]}..."
            )

    def children(self, key: str = "") -> list[str]:
        """Names directly under `key` (one level, like `ls`)."""
        base = self.location.key(key)
        prefix = f"{base}/" if base else ""
        names: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.location.bucket, Prefix=prefix, Delimiter="/")
        for page in self._iterate(f"listing {prefix or '/'}", pages):
            names += [
                p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])
            ]
            names += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        return sorted(names)

    def keys(self, key: str) -> Iterator[tuple[str, int]]:
        """Every object under `key` as (full key, size)."""
        prefix = self.location.key(key) + "/"
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.location.bucket, Prefix=prefix)
        for page in self._iterate(f"listing {prefix}", pages):
            for obj in page.get("Contents", []):
                yield obj["Key"], int(obj["Size"])

    def delete_tree(self, key: str) -> int:
        """Delete every object under `key`; returns how many."""
        batch: list[str] = []
        count = 0
        for full, _ in list(self.keys(key)):
            batch.append(full)
            if len(batch) == 1000:
                count += self._delete(batch)
                batch = []
        if batch:
            count += self._delete(batch)
        return count

    def _delete(self, keys: list[str]) -> int:
        answer = self._call(
            f"deleting {len(keys)} objects",
            self._client.delete_objects,
            Bucket=self.location.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise ObjectStoreError(
                f"S3 did not delete {len(errors)} objects ({first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')})"
            )
        return len(keys)

    def _iterate(self, what: str, pages: Any) -> Iterator[Any]:
        try:
            yield from pages
        except ObjectStoreError:
            raise
        except Exception as exc:
            raise _explain(exc, what, self.location) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
