"""Reading an S3-compatible object store (AWS S3, MinIO, SeaweedFS, Ceph, R2) with boto3.

boto3 rather than fsspec/s3fs: it is synchronous, so reads run in the labeller's decode threads as files
do (their number bounds the fetches in flight), with no event loop of its own; its paginator lists a
prefix a page (1,000 keys) at a time, never holding the whole listing (s3fs caches whole listings); it
retries throttling (503 SlowDown), 5xx answers and refused connections itself, with exponential backoff
and jitter ("standard" mode), within a bound we set; and it reads the endpoint and credentials from the
standard AWS variables and files only (``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_PROFILE``): nothing of it is ever
stored in the database.

An object's fingerprint is ``ETAG:SIZE`` (the listing gives both, so the incremental check reads no
object); its content hash is that of the bytes read, as for a file.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

from .errors import MobilabelError
from .object_paths import ObjectPath

# Attempts per request (botocore's standard retry mode: exponential backoff with jitter, up to 20 s
# apart), and again per read for a body that ends early or a connection that drops mid-body.
ATTEMPTS = 6
_BACKOFF_S = 0.5
# How long a fetch waits out a store that cannot be reached (refused or dropped connections) before the
# image is failed: a store restarting, or a network blip, costs a pause, not failed rows.
OUTAGE_PATIENCE_S = 60.0
_OUTAGE_BACKOFF_MAX_S = 5.0
_PAGE_SIZE = 1000  # keys per listing request: S3's maximum
# Sub-prefixes listed at once, and the pages each may hold before the caller reaches it: a listing is a chain
# of requests (each page's token asks for the next), so one prefix lists no faster than the store answers a
# page, while its sub-prefixes are independent chains. Memory stays bounded: LISTERS x AHEAD pages.
_LISTERS = 8
_AHEAD_PAGES = 4
_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30}
_GONE = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


class ObjectStoreError(MobilabelError):
    """The store could not answer about an object or prefix; the message says why, in a user's words."""


class ObjectGoneError(ObjectStoreError):
    """The object does not exist (deleted since it was listed, or never there)."""


_made: dict[int, Any] = {}  # the client of this process, by pid: a forked worker makes its own
_lock = threading.Lock()


def _errors() -> Any:
    """botocore's exceptions module. boto3 and botocore are imported on first use, here and in ``client``, not with
    this module: importing them takes about a second of CPU, and only an s3:// path needs them."""
    from botocore import exceptions  # type: ignore[import-untyped]  # ships no type information

    return exceptions


def client() -> Any:
    """This process's S3 client, made on first use (a client is thread-safe once made; making one is not)."""
    import boto3  # type: ignore[import-untyped]  # here, not at the top: see _errors
    from botocore import handlers
    from botocore.config import Config  # type: ignore[import-untyped]

    pid = os.getpid()
    with _lock:
        if pid not in _made:
            # AWS_MAX_ATTEMPTS, where set, bounds the attempts instead (a Config value would override it).
            retries = {"mode": "standard"} if "AWS_MAX_ATTEMPTS" in os.environ else {"mode": "standard", "max_attempts": ATTEMPTS}
            # Connections: the listers' beside the decode threads' fetches (botocore's default pool holds 10).
            config = Config(retries=retries, max_pool_connections=2 * _LISTERS, **_TIMEOUTS)
            _made.clear()
            made = boto3.session.Session().client("s3", config=config)
            made.meta.events.register("before-parse.s3.ListObjectsV2", _lean_listing)
            # botocore checks every 200 answer for an error in its body by parsing the whole body, before any
            # handler of ours runs: a listing page was parsed twice. _lean_listing makes that check itself.
            # The check is botocore's private function: a botocore without it keeps its own (slower, as correct).
            if getattr(handlers, "_handle_200_error", None) is not None:
                made.meta.events.unregister("before-parse.s3.*", handlers._handle_200_error)
                made.meta.events.register_first("before-parse.s3.*", _error_in_200_unless_listing)
            _made[pid] = made
        return _made[pid]


_CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.DOTALL)


def _lean_listing(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """A listing page's objects read with ElementTree (Key, ETag, Size only), the rest left to botocore.

    botocore's XML parser costs about ten times ElementTree's per key (measured on a 1,000-key page:
    bench/results/recorded.csv), which made listing a large prefix parser-bound. The page's ``<Contents>``
    are parsed here and cut from the body botocore parses, which then reads only the page's few other
    fields (``IsTruncated``, ``NextContinuationToken``); its own handlers (key decoding) still run after.
    As botocore's check of 200 answers does (``_error_in_200_unless_listing``), a body that does not parse (cut
    short) or holds an error is made a 500 answer, which the client retries.
    """
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes):
        return
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        response_dict["status_code"] = 500
        return
    ns, brace, tag = root.tag.rpartition("}")
    if tag != "ListBucketResult":
        response_dict["status_code"] = 500 if tag == "Error" else response_dict["status_code"]
        return
    ns += brace
    key, etag, size = f"{ns}Key", f"{ns}ETag", f"{ns}Size"
    customized_response_dict["Contents"] = [
        {"Key": element.findtext(key, ""), "ETag": element.findtext(etag, ""), "Size": int(element.findtext(size) or 0)}
        for element in root.iterfind(f"{ns}Contents")
    ]
    response_dict["body"] = _CONTENTS.sub(b"", body)


def _error_in_200_unless_listing(operation_model: Any, **kwargs: Any) -> None:
    """botocore's check of a 200 answer for an error in its body, for every operation but a listing's."""
    from botocore import handlers  # loaded: the client registered this

    if operation_model.name != "ListObjectsV2":
        handlers._handle_200_error(operation_model=operation_model, **kwargs)


def fingerprint(etag: str, size: int) -> str:
    """The fingerprint stored for an object: its ETag (quotes dropped) and size, ``ETAG:SIZE``."""
    return f"{etag.strip(chr(34))}:{size}"


def describe(exc: BaseException) -> str:
    """What went wrong, in a user's words: the store's error code and message, or why it could not be reached."""
    errors = _errors()
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _GONE:
            return "object not found (deleted since it was listed?)"
        if code in _DENIED:
            return f"access denied by the object store ({code}): check AWS_ACCESS_KEY_ID / AWS_PROFILE"
        if code == "NoSuchBucket":
            return "no such bucket"
        return f"the object store answered {code or 'an error'}: {error.get('Message') or exc}"
    if isinstance(exc, errors.ConnectionError | errors.BotoCoreError):
        return f"the object store cannot be reached: {exc}"
    return str(exc)


def _wrap(exc: BaseException) -> ObjectStoreError:
    errors = _errors()
    if isinstance(exc, errors.ClientError) and str(exc.response.get("Error", {}).get("Code", "")) in _GONE:
        return ObjectGoneError(describe(exc))
    return ObjectStoreError(describe(exc))


def check_prefix(prefix: ObjectPath) -> None:
    """Make sure the bucket of ``prefix`` can be listed; raises ``ObjectStoreError`` saying why not."""
    errors = _errors()
    try:
        client().list_objects_v2(Bucket=prefix.bucket, Prefix=_list_prefix(prefix), MaxKeys=1)
    except (errors.ClientError, errors.BotoCoreError) as exc:
        raise ObjectStoreError(f"{prefix}: {describe(exc)}") from exc


def list_objects(prefix: ObjectPath) -> Iterator[ObjectPath]:
    """Every object under ``prefix`` (``s3://b/p`` means the keys under ``p/``, not ``p-old/``), lazily, each once,
    with its ``fingerprint``, in key order (UTF-8 bytes) on S3 (a store that lists a folder's sub-folders among its
    files by name, as SeaweedFS, gives that order instead).

    The prefix's own level is listed with the delimiter ``/`` (its objects, and its sub-prefixes as one entry
    each); up to ``_LISTERS`` sub-prefixes are then listed at once, in threads, a page of 1,000 keys per
    request, each holding no more than ``_AHEAD_PAGES`` pages until its turn: never the whole listing.
    Folder markers (keys ending in ``/``) are not objects and are left out. Raises ``ObjectStoreError``.
    """
    errors = _errors()
    folder_key, folder = "", ObjectPath("/", prefix.bucket)
    try:
        for entry in _ordered_entries(prefix.bucket, _list_prefix(prefix)):
            key = entry["Key"]
            if key.endswith("/"):
                continue
            parent, _, name = key.rpartition("/")
            if parent != folder_key:  # keys come by folder: a path made from its folder's costs a third of one made whole
                folder_key, folder = parent, ObjectPath("/", prefix.bucket, *parent.split("/"))
            path = folder / name
            path.fingerprint = fingerprint(entry.get("ETag", ""), int(entry["Size"]))
            yield path
    except (errors.ClientError, errors.BotoCoreError) as exc:
        raise ObjectStoreError(f"{prefix}: {describe(exc)}") from exc


def _pages(bucket: str, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
    extra = {"Delimiter": delimiter} if delimiter else {}
    paginator = client().get_paginator("list_objects_v2")
    yield from paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": _PAGE_SIZE}, **extra)


def _level(bucket: str, prefix: str) -> Iterator[dict[str, Any] | str]:
    """The objects (listing entries) and sub-prefixes (``str``, ending in ``/``) right under ``prefix``, in key
    order page by page: a sub-prefix sorts where its keys do (a key not under it sorts wholly before or after them)."""
    for page in _pages(bucket, prefix, "/"):
        objects = [(entry["Key"], entry) for entry in page.get("Contents", ())]
        prefixes = [(common["Prefix"], common["Prefix"]) for common in page.get("CommonPrefixes", ())]
        for _, item in sorted(objects + prefixes, key=lambda pair: pair[0]):
            yield item


class _Lister:
    """One sub-prefix listed in a thread of its own, its pages handed over through a bounded queue."""

    _END = object()

    def __init__(self, bucket: str, prefix: str) -> None:
        self._pages: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD_PAGES)
        self._stopped = threading.Event()
        threading.Thread(target=self._run, args=(bucket, prefix), daemon=True, name=f"list {bucket}/{prefix}").start()

    def _run(self, bucket: str, prefix: str) -> None:
        try:
            for page in _pages(bucket, prefix):
                if not self._put(page.get("Contents", [])):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the caller, who raises it in its own thread
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._pages.put(item, timeout=0.5)  # wakes to see whether the caller has gone
                return True
            except queue.Full:
                continue
        return False

    def entries(self) -> Iterator[dict[str, Any]]:
        while (page := self._pages.get()) is not self._END:
            if isinstance(page, BaseException):
                raise page
            yield from page

    def stop(self) -> None:
        self._stopped.set()


def _ordered_entries(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every listing entry under ``prefix``, in key order: the level's sub-prefixes listed ahead, at once."""
    level = _level(bucket, prefix)
    ahead: deque[dict[str, Any] | _Lister] = deque()
    listers: list[_Lister] = []  # started and not yet drained (stopped if the caller goes before)

    def fill() -> None:
        # Listers until _LISTERS are ahead; the level's own objects in between are held too, up to a page's worth.
        while len(listers) < _LISTERS and len(ahead) < _PAGE_SIZE and (item := next(level, None)) is not None:
            if isinstance(item, str):
                listers.append(_Lister(bucket, item))
                ahead.append(listers[-1])
            else:
                ahead.append(item)

    try:
        fill()
        while ahead:
            item = ahead.popleft()
            if isinstance(item, _Lister):
                yield from item.entries()
                listers.remove(item)
            else:
                yield item
            fill()
    finally:
        for lister in listers:
            lister.stop()


def head(path: ObjectPath) -> str:
    """The object's fingerprint, from its metadata (nothing read). Raises ``ObjectStoreError`` (``ObjectGoneError``)."""
    errors = _errors()
    try:
        answer = client().head_object(Bucket=path.bucket, Key=path.key)
    except (errors.ClientError, errors.BotoCoreError) as exc:
        raise _wrap(exc) from exc
    return fingerprint(answer.get("ETag", ""), int(answer["ContentLength"]))


def fetch(path: ObjectPath, max_bytes: int) -> tuple[bytes, str]:
    """The object's bytes and fingerprint, read whole into memory (no more than ``max_bytes``).

    A body that ends early (a truncated read, a connection dropped mid-body) is read again, up to
    ``ATTEMPTS`` times with backoff; the store's own errors are retried by the client, and a store that
    cannot be reached is waited for up to ``OUTAGE_PATIENCE_S``. An object replaced
    since it was listed is read as it is now (its new fingerprint is returned with its bytes).
    Raises ``ObjectGoneError`` (deleted), ``ObjectStoreError`` (too large, denied, unreachable, still truncated).
    """
    errors = _errors()
    last: BaseException | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(_BACKOFF_S * 2 ** (attempt - 1))  # backoff between reads of a body that ended early
        answer = _get_through_outages(path)
        size = int(answer["ContentLength"])
        body = answer["Body"]
        try:
            if size > max_bytes:
                raise ObjectStoreError(f"object of {size:,} bytes is over the {max_bytes:,}-byte read limit")
            data = body.read(size + 1)
        except (errors.IncompleteReadError, errors.ResponseStreamingError, errors.ConnectionError) as exc:
            last = exc
            continue
        finally:
            body.close()
        if len(data) != size:
            last = ObjectStoreError(f"read {len(data):,} of {size:,} bytes")
            continue
        return data, fingerprint(answer.get("ETag", ""), size)
    raise ObjectStoreError(f"the object's data ended early {ATTEMPTS} times: {last}")


def _get_through_outages(path: ObjectPath) -> Any:
    """``get_object``, asked again while the store cannot be reached, for up to ``OUTAGE_PATIENCE_S``."""
    errors = _errors()
    started = time.monotonic()
    pause = _BACKOFF_S
    while True:
        try:
            return client().get_object(Bucket=path.bucket, Key=path.key)
        except (
            errors.ConnectionError,
            errors.HTTPClientError,
        ) as exc:  # refused, dropped or timed out, after the client's own attempts
            if time.monotonic() - started + pause > OUTAGE_PATIENCE_S:
                raise _wrap(exc) from exc
            time.sleep(pause)  # waiting out an outage: backoff up to a few seconds
            pause = min(pause * 2, _OUTAGE_BACKOFF_MAX_S)
        except (errors.ClientError, errors.BotoCoreError) as exc:
            raise _wrap(exc) from exc


def stream(path: ObjectPath, chunk_bytes: int = 1 << 16) -> tuple[Iterator[bytes], int]:
    """The object's bytes as chunks of ``chunk_bytes`` (never held whole), and its size in bytes.

    Raises ``ObjectGoneError`` or ``ObjectStoreError`` before the first chunk; a failure mid-body ends the
    iteration with the store's error (the client then sees a response shorter than its Content-Length).
    """
    errors = _errors()
    try:
        answer = client().get_object(Bucket=path.bucket, Key=path.key)
    except (errors.ClientError, errors.BotoCoreError) as exc:
        raise _wrap(exc) from exc
    body = answer["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(chunk_bytes)
        finally:
            body.close()

    return chunks(), int(answer["ContentLength"])


def _list_prefix(prefix: ObjectPath) -> str:
    return f"{prefix.key}/" if prefix.key else ""
