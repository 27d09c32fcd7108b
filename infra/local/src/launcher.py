"""The local cloud's emulator launcher, run as `python -c <this file> HOST PORT PARENT_PID`.

It exits when its parent (flightdeck) dies, applies the emulator fixes below, then runs moto's
own server entry point. Set FLIGHTDECK_EMULATOR_UNPATCHED=1 to run moto exactly as shipped
(the benchmarks use it to show what the fixes change).

Each fix keeps moto's behaviour and only removes a cost; each checks that the function it
replaces still exists with the expected signature, so a moto upgrade that changes it fails at
start-up with a message instead of silently running something else.
"""

import base64
import binascii
import copy
import datetime
import hashlib
import inspect
import json
import os
import resource
import stat
import sys
import tempfile
import threading
import time
import weakref
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape as xml_escape

PATCHED_MOTO = "5.2.5"


def moto_changed(what):
    """The launcher's stop when `what` (in moto, or a library it runs on) is not what a fix was
    written for: the fix would replace something else, so the emulator does not start."""
    return SystemExit(
        f"flightdeck: {what} changed (flightdeck's fix was written for moto {PATCHED_MOTO}); "
        "run with FLIGHTDECK_EMULATOR_UNPATCHED=1 or update infra/local/src/launcher.py"
    )


def _parameters(owner, name):
    """The parameter names of `owner.<name>`, or None when it has no such attribute."""
    function = getattr(owner, name, None)
    return None if function is None else list(inspect.signature(function).parameters)


def watch_parent(parent):
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def fix_sqs_retention_check():
    """ReceiveMessage checks each returned message's retention with
    `get_queue_attributes(queue, ["MessageRetentionPeriod"])`, which builds every queue
    attribute three times, and each build counts the queue's messages three times: a cost per
    returned message that grows with the depth, so draining a queue costs O(depth^2). Reading the one attribute directly gives the same answer in O(1)."""
    from moto.sqs import models

    original = models.SQSBackend.is_message_valid_based_on_retention_period
    expected = ["self", "queue_name", "message"]
    if list(inspect.signature(original).parameters) != expected:
        raise moto_changed("moto's SQSBackend.is_message_valid_based_on_retention_period")

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return retain_until > models.unix_time()

    models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )


_sending = threading.local()


def fix_sqs_send_cost():
    """SendMessage reads the queue's ContentBasedDeduplication through `queue.attributes`
    (twice per message), and building those attributes counts every message in the queue three
    times. Nothing on the send path reads the counts, so while a message is being sent they
    are not computed (they read as 0 there); every other caller still gets them counted."""
    from moto.sqs import models

    counts = [
        "approximate_number_of_messages",
        "approximate_number_of_messages_not_visible",
        "approximate_number_of_messages_delayed",
    ]
    original_send = models.SQSBackend.send_message
    missing = [c for c in counts if not isinstance(getattr(models.Queue, c, None), property)]
    if missing or "queue_name" not in inspect.signature(original_send).parameters:
        raise moto_changed("moto's SQS send path")

    def skipped_while_sending(count):
        def get(queue):
            return 0 if getattr(_sending, "active", False) else count.fget(queue)

        return property(get)

    for name in counts:
        setattr(models.Queue, name, skipped_while_sending(getattr(models.Queue, name)))

    def send_message(self, *args, **kwargs):
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            _sending.active = outer

    models.SQSBackend.send_message = send_message


def fix_sqs_clock():
    """Every SQS message's `visible` and `delayed` ask moto's `unix_time_millis()` for the time,
    which builds a timezone-aware datetime (importing `datetime.UTC` on each call), strips the
    zone and subtracts an epoch it also builds, for every message each time. GetQueueAttributes
    counts the queue three times and each ReceiveMessage scan and long-poll wake-up once, so
    the clock was most of a deep queue's cost (bench/emulator-sqs.sh measures it). The SQS
    models now read the same clock from `time.time()`; a given datetime converts as before."""
    from moto.sqs import models

    if _parameters(models, "unix_time") != ["dt"] or _parameters(
        models, "unix_time_millis"
    ) != ["dt"]:
        raise moto_changed("moto's SQS clock (moto.sqs.models.unix_time)")
    unix_time, unix_time_millis = models.unix_time, models.unix_time_millis

    def now_s(dt=None):
        return time.time() if dt is None else unix_time(dt)

    def now_ms(dt=None):
        return time.time() * 1000.0 if dt is None else unix_time_millis(dt)

    models.unix_time, models.unix_time_millis = now_s, now_ms


_reading_attributes = threading.local()


def fix_sqs_attribute_reads():
    """GetQueueAttributes with named attributes (what every flightdeck program asks: the console
    8, the autoscaler and the API's health 1 or 2) checks and reads each name through
    `queue.attributes`, which builds every attribute, counting the queue's messages three
    times, on each access: three builds per name, 24 for the console's 8, each O(depth). Within
    one call the attributes are now built once; every call still builds them afresh."""
    from moto.sqs import models

    built = models.Queue.attributes
    original = models.SQSBackend.get_queue_attributes
    if not isinstance(built, property) or _parameters(
        models.SQSBackend, "get_queue_attributes"
    ) != ["self", "queue_name", "attribute_names"]:
        raise moto_changed("moto's SQS GetQueueAttributes")

    def attributes(queue):
        memo = getattr(_reading_attributes, "memo", None)
        if memo is None:
            return built.fget(queue)
        if id(queue) not in memo:
            memo[id(queue)] = built.fget(queue)
        return memo[id(queue)]

    def get_queue_attributes(self, queue_name, attribute_names):
        outer = getattr(_reading_attributes, "memo", None)
        _reading_attributes.memo = {}
        try:
            return original(self, queue_name, attribute_names)
        finally:
            _reading_attributes.memo = outer

    models.Queue.attributes = property(attributes)
    models.SQSBackend.get_queue_attributes = get_queue_attributes


def serialize_sqs_receives():
    """ReceiveMessage's scan of a queue is not safe for concurrent receivers. Two receivers on
    one queue both move a message past maxReceiveCount to the DLQ (the second fails with
    `list.remove(x): x not in list`), or one changes the pending messages while the other
    copies them (`Set changed size during iteration`); either answers HTTP 500. Each scan (and
    each delete, which rebuilds the message list) now runs under a lock of its queue; a long
    poll waits between scans without it, so a waiting receiver holds up no one."""
    from moto.sqs import models

    receive = models.SQSBackend.receive_message
    expected = [
        "self",
        "queue_name",
        "count",
        "wait_seconds_timeout",
        "visibility_timeout",
        "message_attribute_names",
    ]
    if (
        _parameters(models.SQSBackend, "receive_message") != expected
        or _parameters(models.Queue, "delete_message") != ["self", "receipt_handle"]
        or _parameters(models.Queue, "wait_for_messages") != ["self", "timeout"]
    ):
        raise moto_changed("moto's SQS receive path")
    delete = models.Queue.delete_message
    made = threading.Lock()

    def lock_of(queue):
        lock = queue.__dict__.get("_flightdeck_lock")
        if lock is None:
            with made:
                lock = queue.__dict__.setdefault("_flightdeck_lock", threading.RLock())
        return lock

    def receive_message(
        self,
        queue_name,
        count,
        wait_seconds_timeout,
        visibility_timeout,
        message_attribute_names=None,
    ):
        queue = self.get_queue(queue_name)
        polling_end = models.unix_time() + wait_seconds_timeout
        while True:
            # One scan, as moto's own loop makes: wait 0 returns after it.
            with lock_of(queue):
                result = receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if result or not wait_seconds_timeout or models.unix_time() > polling_end:
                return result
            queue.wait_for_messages(1)

    def delete_message(self, receipt_handle):
        with lock_of(self):
            return delete(self, receipt_handle)

    models.SQSBackend.receive_message = receive_message
    models.Queue.delete_message = delete_message


_listing_versions = threading.local()


def fix_s3_list_versions_copy():
    """ListObjectVersions deep-copies every version of every object in the bucket, object data
    included, on every call (even one for a single key's prefix), only to set `is_latest` on
    the copies: each call costs the whole bucket's size in memory and CPU, and calls at once
    multiply it. The API cleans up a failed upload with one such call, so a load run's
    failures grew the emulator past 20 GB. While listing, the copies here are made without the
    data: the listing reads names, versions, dates, sizes and ETags, never the bytes."""
    from moto.s3 import models

    original = models.S3Backend.list_object_versions
    params = list(inspect.signature(original).parameters)
    fake_key = models.FakeKey
    if (
        params[:2] != ["self", "bucket_name"]
        or "__deepcopy__" in vars(fake_key)
        or not isinstance(getattr(fake_key, "etag", None), property)
        or not hasattr(copy, "_reconstruct")
    ):
        raise moto_changed("moto's S3Backend.list_object_versions or FakeKey")

    def __deepcopy__(self, memo):
        if not getattr(_listing_versions, "active", False):
            # Everywhere else (CopyObject, ...): exactly what deepcopy does by default.
            return copy._reconstruct(self, memo, *self.__reduce_ex__(4))
        self.etag  # computed from the bytes once and kept on the original
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        # Its own empty buffer and no multipart: disposing the clone must not close the
        # original's data or parts.
        clone._value_buffer = tempfile.SpooledTemporaryFile(max_size=1)
        clone.multipart = None
        clone.lock = threading.Lock()
        return clone

    def list_object_versions(self, *args, **kwargs):
        _listing_versions.active = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _listing_versions.active = False

    fake_key.__deepcopy__ = __deepcopy__
    models.S3Backend.list_object_versions = list_object_versions


_range_reads = threading.local()


class _ObjectRange:
    """An object's bytes as moto's range code sees them: its length, and a slice read from
    the object's file when asked for, instead of the whole object read into memory first."""

    def __init__(self, key):
        self.key = key

    def __len__(self):
        return self.key.size

    def __getitem__(self, part):
        if not isinstance(part, slice):
            raise TypeError("an object range is read by slices")
        start, stop, _ = part.indices(self.key.size)
        with self.key.lock:
            self.key._value_buffer.seek(start)
            return self.key._value_buffer.read(max(0, stop - start))

    def whole(self):
        return self.key.value


def fix_s3_range_read():
    """moto answers a ranged GetObject by reading the whole object and then slicing out the
    range, so each 8 MiB range of a 50 MB object reads all 50 MB (the worker downloads with
    8 MiB ranges: six whole reads for one video). Here GetObject with a Range header hands
    moto's range code a view of the object that reads only the bytes of the range; every
    answer that is not a single range (several ranges, an unparsable one, a part number)
    still gets the whole object, as shipped."""
    from moto.s3 import models, responses

    response = responses.S3Response
    get_object = response.get_object
    handle_range = response._handle_range_header
    value = getattr(models.FakeKey, "value", None)
    if (
        list(inspect.signature(get_object).parameters) != ["self"]
        or list(inspect.signature(handle_range).parameters)
        != ["self", "request", "response_headers", "response_content"]
        or not isinstance(value, property)
        or not isinstance(getattr(models.FakeKey, "size", None), property)
    ):
        raise moto_changed("moto's S3Response.get_object, _handle_range_header or FakeKey")

    def read_value(key):
        if getattr(_range_reads, "active", False):
            return _ObjectRange(key)
        return value.fget(key)

    def whole(body):
        return body.whole() if isinstance(body, _ObjectRange) else body

    def get_object_ranged(self):
        if not self.headers.get("range"):
            return get_object(self)
        _range_reads.active = True
        try:
            status, headers, body = get_object(self)
        finally:
            _range_reads.active = False
        # Only a 200 goes on to the range code; a 206 for a part number takes the bytes.
        return status, headers, body if status == 200 else whole(body)

    def handle_range_read(self, request, response_headers, response_content):
        status, headers, body = handle_range(self, request, response_headers, response_content)
        return status, headers, whole(body)

    models.FakeKey.value = property(read_value, value.fset)
    response.get_object = get_object_ranged
    response._handle_range_header = handle_range_read


def fix_module_list_scan():
    """Every request asks whether its host names a moto module, and moto answers by listing
    its package directory (one listdir and some 150 isdir calls per request: 4 % of the
    emulator's time while it stores 4 MB uploads). The installed package does not change
    while the emulator runs, so the list is read once."""
    from moto import backends

    original = backends.list_of_moto_modules
    if inspect.signature(original).parameters:
        raise moto_changed("moto's list_of_moto_modules")
    modules = tuple(original())

    def list_of_moto_modules():
        return iter(modules)

    backends.list_of_moto_modules = list_of_moto_modules


_JOIN_CHUNK = 1024 * 1024


class _JoinedParts:
    """A completed multipart upload's object data as its parts' files, in order: what moto's
    FakeMultipart.complete hands to the new key instead of the parts joined in memory. It
    takes the files from the parts (each part keeps an empty one), because moto disposes of
    the upload, closing its parts' files, before the new key is written."""

    def __init__(self, parts):
        self.size = sum(part.contentsize for part in parts)
        self.buffers = []
        for part in parts:
            with part.lock:
                self.buffers.append(part._value_buffer)
                part._value_buffer = tempfile.SpooledTemporaryFile(part._max_buffer_size)

    def __len__(self):
        return self.size

    def chunks(self):
        """The data in pieces of at most _JOIN_CHUNK; each part's file is closed (its disk
        freed) once read."""
        while self.buffers:
            buffer = self.buffers.pop(0)
            yield from _read_chunks(buffer)
            buffer.close()


def _read_chunks(buffer):
    buffer.seek(0)
    while chunk := buffer.read(_JOIN_CHUNK):
        yield chunk


class _RunningChecksum:
    """moto.s3.utils.compute_checksum over data given in pieces: the same algorithms, the same
    fallbacks (CRC32 where the optional crc32c or awscrt modules are missing), the same bytes."""

    def __init__(self, algorithm, has_crt):
        self.crc = None
        self.hash = None
        if algorithm == "SHA1":
            self.hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm in ("CRC32", "CRC32C", "CRC64NVME"):
            self.crc, self.width, self.update_crc = 0, 4, binascii.crc32
            if algorithm == "CRC32C":
                try:
                    import crc32c

                    self.update_crc = lambda data, crc: crc32c.crc32c(data, crc)
                except ImportError:
                    pass
            elif algorithm == "CRC64NVME" and has_crt:
                from awscrt import checksums

                self.width, self.update_crc = 8, checksums.crc64nvme
        else:
            self.hash = hashlib.sha256(usedforsecurity=False)

    def update(self, data):
        if self.hash is not None:
            self.hash.update(data)
        else:
            self.crc = self.update_crc(data, self.crc)

    def digest(self):
        if self.hash is not None:
            return self.hash.digest()
        return self.crc.to_bytes(self.width, "big")


def stream_multipart_completion():
    """moto completes a multipart upload by reading every part back and joining them in
    memory twice (once for the object, once for its full-object checksum), then copying the
    join once more: about four times the object's size held at once, all copied in Python.
    Ten 100 MB uploads through the API took the emulator past 1 GB. The new object's file is
    now written part by part in 1 MiB pieces, and the checksum runs over the same pieces; the
    checks (unknown part or ETag, a part under 5 MiB before the last, no parts) and the
    answers (ETag, checksum type, value and part count) are moto's own."""
    from moto.core.compat import HAS_CRT
    from moto.s3 import models

    multipart = models.FakeMultipart
    value = getattr(models.FakeKey, "value", None)
    builder = getattr(models, "MultipartChecksumBuilder", None)
    if (
        list(inspect.signature(multipart.complete).parameters) != ["self", "body"]
        or not isinstance(value, property)
        or value.fset is None
        or builder is None
        or list(inspect.signature(builder.__init__).parameters)
        != ["self", "checksum_algorithm", "checksum_type"]
    ):
        raise moto_changed(
            "moto's FakeMultipart.complete, MultipartChecksumBuilder or FakeKey.value"
        )

    def complete(self, body):
        shape = builder(
            self.metadata.get("x-amz-checksum-algorithm"),
            self.metadata.get("x-amz-checksum-type"),
        )
        algorithm, composite = shape.checksum_algorithm, shape.checksum_type == "COMPOSITE"
        whole = _RunningChecksum(algorithm, HAS_CRT)
        part_checksums = bytearray()
        md5s = bytearray()
        parts = []
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise models.InvalidPart()
            if parts and parts[-1].contentsize < models.S3_UPLOAD_PART_MIN_SIZE:
                raise models.EntityTooSmall()
            md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
            own = _RunningChecksum(algorithm, HAS_CRT) if composite else whole
            with part.lock:
                for chunk in _read_chunks(part._value_buffer):
                    own.update(chunk)
            if composite:
                part_checksums.extend(own.digest())
            parts.append(part)
        if not parts:
            raise models.MalformedXML()
        if composite:
            checksum = models.compute_checksum(bytes(part_checksums), algorithm).decode()
            details = (shape.checksum_type, checksum, len(parts))
        else:
            # A full-object checksum counts as one part, as moto answers it.
            details = (shape.checksum_type, base64.b64encode(whole.digest()).decode(), 1)
        etag = hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()
        return _JoinedParts(parts), f"{etag}-{len(parts)}", details

    def write_value(key, new_value):
        if not isinstance(new_value, _JoinedParts):
            return value.fset(key, new_value)
        value.fset(key, b"")
        for chunk in new_value.chunks():
            key._value_buffer.write(chunk)
        key.contentsize = len(new_value)

    multipart.complete = complete
    models.FakeKey.value = property(value.fget, write_value)


def write_s3_objects_once():
    """moto stores an object's bytes in a spooled temporary file: a PutObject or UploadPart body
    over the file's memory size (64 KiB with keep_s3_data_on_disk) is copied into its memory
    buffer, copied again into a temporary file on disk when the buffer overflows, and then read
    back whole from that file to compute the ETag: two copies and a read of every byte that
    the emulator did not need (with py-spy, 30 % of its time while it stores 4 MB uploads). Such
    a body now goes straight to the file, and its MD5 is taken from the bytes already in memory:
    the same file, the same ETag. A smaller body, a multipart join and a key given its ETag
    (a completed multipart upload) are stored as shipped."""
    from moto.s3 import models

    value = getattr(models.FakeKey, "value", None)
    spooled = tempfile.SpooledTemporaryFile
    if (
        not isinstance(value, property)
        or value.fset is None
        or not isinstance(getattr(models.FakeKey, "etag", None), property)
        or not callable(getattr(models, "md5_hash", None))
        or not callable(getattr(spooled, "rollover", None))
    ):
        raise moto_changed("moto's FakeKey.value, FakeKey.etag or md5_hash")

    def write_value(key, new_value):
        buffer = getattr(key, "_value_buffer", None)
        if (
            not isinstance(new_value, (bytes, bytearray))
            or not isinstance(buffer, spooled)
            or len(new_value) <= key._max_buffer_size
        ):
            return value.fset(key, new_value)
        buffer.seek(0)
        buffer.truncate()
        buffer.rollover()  # empty: only opens the file
        buffer.write(new_value)
        key.contentsize = len(new_value)
        # moto computes it from the stored bytes on first use, and never again for this key.
        if key._etag is None:
            key._etag = models.md5_hash(new_value).hexdigest()

    models.FakeKey.value = property(value.fget, write_value)


def keep_s3_data_on_disk():
    """moto keeps each object in a spooled temporary file that stays in memory up to 5 MB, so
    every 4 MB upload sits in RAM. Objects over 64 KiB go to unlinked temporary files in
    FLIGHTDECK_EMULATOR_DATA_DIR instead (the kernel frees them when the emulator exits, even
    on kill -9), and the open-file limit is raised to its hard limit: one file per object."""
    data_dir = os.environ.get("FLIGHTDECK_EMULATOR_DATA_DIR")
    if not data_dir:
        return
    os.makedirs(data_dir, exist_ok=True)
    tempfile.tempdir = data_dir
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(64 * 1024))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _unlinked_file_bytes():
    """The disk held by this process's open files that have no name: the object data moto
    keeps in temporary files (one per object over 64 KiB), counted as the kernel does."""
    held = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(name))
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0:
            held += st.st_blocks * 512
    return held


_WRITE_BYTES = "flightdeck.s3_write_bytes"


def _s3_write_bytes(environ):
    """The bytes an S3 request would add to the data held: its body for PutObject and
    UploadPart, 0 for CopyObject and CompleteMultipartUpload (their size is not in the
    request); None for everything that adds no object data (reads, deletes, bucket settings,
    tags, other services). Requests are path-style, as flightdeck's clients send them. Kept
    in the request's environ: both S3 bounds ask for every request."""
    if _WRITE_BYTES not in environ:
        environ[_WRITE_BYTES] = _write_bytes_of(environ)
    return environ[_WRITE_BYTES]


def _write_bytes_of(environ):
    method = environ.get("REQUEST_METHOD")
    if method not in ("PUT", "POST"):
        return None
    query = environ.get("QUERY_STRING", "")
    scope = environ.get("HTTP_AUTHORIZATION", "") + " " + unquote(query)
    if "/s3/aws4_request" not in scope:
        return None
    path = environ.get("PATH_INFO", "").strip("/")
    if "/" not in path:
        return None
    params = parse_qs(query, keep_blank_values=True)
    if method == "POST":
        return 0 if "uploadId" in params else None
    if params.keys() & {"tagging", "acl", "retention", "legal-hold"}:
        return None
    size = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH")
    return int(size) if size and size.strip().isdigit() else 0


def _gb(n):
    """Bytes in GB of 2^30 (MB of 2^20 below one), as flightdeck's bounds are given."""
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def _dispatcher():
    """moto's WSGI entry point (DomainDispatcherApplication) and its current __call__, which
    the S3 bounds wrap; a moto whose entry point changed stops the launcher with a message."""
    from moto.moto_server import werkzeug_app

    dispatcher = werkzeug_app.DomainDispatcherApplication
    call = dispatcher.__call__
    if list(inspect.signature(call).parameters) != ["self", "environ", "start_response"]:
        raise moto_changed("moto's DomainDispatcherApplication")
    return dispatcher, call


def _slow_down(start_response, message, request_id, retry_after_s):
    """S3's answer to a write it cannot take now: 503 SlowDown, which SDKs retry with
    backoff, with `message` saying why."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        f"<Message>{xml_escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    start_response(
        "503 Slow Down",
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(retry_after_s)),
        ],
    )
    return [body]


def bound_s3_storage():
    """moto stores every object it is given until it is deleted, and a load run writes
    100-250 MB/s, so a few minutes of load filled this machine's disk. An S3 write is refused
    with 503 SlowDown (what S3 answers a write it cannot take now; SDKs retry it with backoff)
    when it would take the object data past FLIGHTDECK_EMULATOR_MAX_DATA_BYTES or leave less
    than FLIGHTDECK_EMULATOR_MIN_FREE_BYTES free on the data disk. Reads and deletes always
    go through, so the local lifecycle can free space. The data held is measured from the
    open files at most every half second, plus what was let in since.

    New uploads (keys under FLIGHTDECK_EMULATOR_INTAKE_PREFIX) stop at
    FLIGHTDECK_EMULATOR_MAX_INTAKE_BYTES (90 % of the cap): the rest is kept for the outputs of
    jobs already taken, which would otherwise race every new upload for each byte the
    lifecycle frees, fail, and be transformed again."""
    max_data = int(os.environ.get("FLIGHTDECK_EMULATOR_MAX_DATA_BYTES") or 0)
    max_intake = int(os.environ.get("FLIGHTDECK_EMULATOR_MAX_INTAKE_BYTES") or 0)
    intake_prefix = os.environ.get("FLIGHTDECK_EMULATOR_INTAKE_PREFIX") or None
    min_free = int(os.environ.get("FLIGHTDECK_EMULATOR_MIN_FREE_BYTES") or 0)
    data_dir = os.environ.get("FLIGHTDECK_EMULATOR_DATA_DIR") or tempfile.gettempdir()
    if not max_data and not min_free:
        return
    dispatcher, original = _dispatcher()
    lock = threading.Lock()
    seen = {"at": -1.0, "held": 0, "since": 0, "told": -1e9, "refused": 0}

    def refusal(incoming, intake):
        with lock:
            now = time.monotonic()
            if now - seen["at"] >= 0.5:
                seen["held"], seen["since"], seen["at"] = _unlinked_file_bytes(), 0, now
            held = seen["held"] + seen["since"]
            disk = os.statvfs(data_dir)
            free = disk.f_bavail * disk.f_frsize
            if max_data and held + incoming > max_data:
                why = (
                    f"the local cloud's S3 holds {_gb(held)} of object data, and this write "
                    f"would take it past its {_gb(max_data)} cap (FLIGHTDECK_LOCAL_STORAGE_GB)"
                )
            elif max_data and max_intake and intake and held + incoming > max_intake:
                why = (
                    f"the local cloud's S3 holds {_gb(held)} of object data, and new uploads "
                    f"stop at {round(100 * max_intake / max_data)} % of its {_gb(max_data)} "
                    "cap (FLIGHTDECK_LOCAL_STORAGE_GB), "
                    "keeping the rest for the outputs of jobs already queued"
                )
            elif min_free and free - incoming < min_free:
                why = (
                    f"only {_gb(free)} is free on the local cloud's data disk ({data_dir}), "
                    f"and it keeps {_gb(min_free)} free (FLIGHTDECK_LOCAL_MIN_FREE_GB)"
                )
            else:
                seen["since"] += incoming
                return None
            seen["refused"] += 1
            if now - seen["told"] >= 10:
                print(
                    f"flightdeck: S3 writes refused ({seen['refused']} so far): {why}",
                    flush=True,
                )
                seen["told"] = now
            return why

    def call(self, environ, start_response):
        incoming = _s3_write_bytes(environ)
        if incoming is None:
            return original(self, environ, start_response)
        key = environ.get("PATH_INFO", "").strip("/").partition("/")[2]
        why = refusal(incoming, intake_prefix is not None and key.startswith(intake_prefix))
        if why is None:
            return original(self, environ, start_response)
        message = (
            f"{why}. The local lifecycle removes processed uploads and outputs, oldest first; "
            "retry shortly, delete objects, or raise the bound."
        )
        return _slow_down(start_response, message, "flightdeck-local-storage", 2)

    dispatcher.__call__ = call


def free_request_bodies():
    """moto runs its Flask apps in debug mode, where Flask gives each request that carries no
    form a class of its own whose methods close over the request: a reference cycle holding the
    request, and with it its body, until the collector's oldest generation next runs. Every
    upload's body stayed in memory long after its answer (after ten 100 MB PutObjects at once,
    1.0 GB was still held a second after the last answer: bench/emulator-bodies.sh). That
    class only makes a KeyError on `request.files` say more in debug mode; without it each
    body is freed with its answer."""
    from flask import debughelpers

    helper = getattr(debughelpers, "attach_enctype_error_multidict", None)
    if helper is None or list(inspect.signature(helper).parameters) != ["request"]:
        raise moto_changed("flask's attach_enctype_error_multidict")
    debughelpers.attach_enctype_error_multidict = lambda request: None


def bound_s3_bodies_in_flight():
    """The emulator holds each request body whole while it serves it, so ten 100 MB
    PutObjects at once took it to 1.4 GB even with each body freed after its answer, whatever
    the storage bound (bench/emulator-bodies.sh). An S3 write is let in only while the bodies
    being served stay within FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES (256 MiB by default; 0:
    no bound); one alone is always let in, however large. The others wait, in the order they
    came, before their body is read (the client's upload stalls, as on a busy endpoint), at
    most FLIGHTDECK_EMULATOR_INFLIGHT_WAIT_S (30 s); past it the write is refused with 503
    SlowDown, which SDKs retry with backoff."""
    from collections import deque

    cap = int(os.environ.get("FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES") or 256 * 2**20)
    wait_s = float(os.environ.get("FLIGHTDECK_EMULATOR_INFLIGHT_WAIT_S") or 30)
    if cap <= 0:
        return
    dispatcher, inner = _dispatcher()
    room = threading.Condition()
    queue = deque()
    state = {"held": 0, "told": -1e9, "refused": 0}

    def admitted(incoming):
        me = object()
        deadline = time.monotonic() + wait_s
        with room:
            queue.append(me)
            try:
                while not (
                    queue[0] is me
                    and (state["held"] == 0 or state["held"] + incoming <= cap)
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        state["refused"] += 1
                        return False
                    room.wait(left)
                state["held"] += incoming
                return True
            finally:
                queue.remove(me)
                room.notify_all()

    def call(self, environ, start_response):
        incoming = _s3_write_bytes(environ) or 0
        if incoming == 0:
            return inner(self, environ, start_response)
        if not admitted(incoming):
            now = time.monotonic()
            if now - state["told"] >= 10:
                print(
                    f"flightdeck: S3 writes refused ({state['refused']} so far): "
                    f"{_gb(state['held'])} of request bodies in flight for more than {wait_s:g} s",
                    flush=True,
                )
                state["told"] = now
            message = (
                f"the local cloud's S3 is taking in {_gb(state['held'])} of request bodies "
                f"(FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES, {_gb(cap)}) and this write waited "
                f"{wait_s:g} s for room; retry shortly"
            )
            return _slow_down(start_response, message, "flightdeck-local-inflight", 1)
        try:
            # moto reads the whole body while it serves the request.
            return inner(self, environ, start_response)
        finally:
            with room:
                state["held"] -= incoming
                room.notify_all()

    dispatcher.__call__ = call


class _ThisBody:
    """The request's own body as a stream: reads stop at its Content-Length, so nothing read
    for this request (moto's, or werkzeug's drain after the response) takes the next request
    of a kept-alive connection."""

    def __init__(self, rfile, length):
        self.rfile = rfile
        self.left = length

    def read(self, size=-1):
        if self.left <= 0:
            return b""
        n = self.left if size is None or size < 0 else min(size, self.left)
        data = self.rfile.read(n)
        self.left -= len(data)
        if len(data) < n:
            self._disconnected()
        return data

    def readline(self, size=-1):
        if self.left <= 0:
            return b""
        n = self.left if size is None or size < 0 else min(size, self.left)
        data = self.rfile.readline(n)
        self.left -= len(data)
        if not data:
            self._disconnected()
        return data

    def _disconnected(self):
        """The client went away before the end of its body: the request fails (400, as
        werkzeug's own stream answers it) instead of being served with part of the body,
        which would store a truncated object."""
        from werkzeug.exceptions import ClientDisconnected

        self.left = 0
        raise ClientDisconnected()

    def readinto(self, buf):
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self):
        return True

    def drain(self):
        from werkzeug.exceptions import ClientDisconnected

        try:
            while self.left > 0 and self.read(1 << 20):
                pass
        except ClientDisconnected:  # the client went away: nothing left to drain
            pass


def keep_connections_open(idle_s=75):
    """werkzeug answers every request with `Connection: close`, so every AWS call of every
    program opens a new TCP connection (its reason: http.server cannot tell where a body ends
    before the next request). Here a request with a Content-Length (or none) is read exactly to
    its end, and then the connection stays open for the next request, as a real endpoint's
    does; a chunked request body, an HTTP/1.0 client or `Connection: close` still close it.
    An idle connection is closed after `idle_s` seconds (clients close theirs sooner).
    FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS=1 leaves werkzeug as it ships."""
    from werkzeug import serving

    handler = serving.WSGIRequestHandler
    make_environ = handler.make_environ
    run_wsgi = handler.run_wsgi
    send_header = handler.send_header
    if (
        list(inspect.signature(make_environ).parameters) != ["self"]
        or list(inspect.signature(run_wsgi).parameters) != ["self"]
        or "keyword" not in inspect.signature(send_header).parameters
    ):
        raise SystemExit(
            "flightdeck: werkzeug changed WSGIRequestHandler; review keep_connections_open"
        )

    def make_environ_bounded(self):
        self._socket_rfile = self.rfile
        self._body = None
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = self.headers.get("Content-Length")
        if not chunked and (length is None or length.strip().isdigit()):
            self._body = _ThisBody(self.rfile, int(length or 0))
            self.rfile = self._body
        environ = make_environ(self)
        if self._body is not None:
            # The body ends at its Content-Length: werkzeug may read it straight, in one read
            # into one buffer, instead of 64 KiB at a time into a growing one copied at the end.
            environ["wsgi.input_terminated"] = True
        return environ

    def run_wsgi_kept_open(self):
        try:
            run_wsgi(self)
            if self._body is None:
                self.close_connection = True
            else:
                self._body.drain()
        finally:
            self.rfile = getattr(self, "_socket_rfile", self.rfile)
            self._body = None

    def send_header_kept_open(self, keyword, value):
        if (
            keyword.lower() == "connection"
            and value.lower() == "close"
            and getattr(self, "_body", None) is not None
        ):
            return None
        return send_header(self, keyword, value)

    handler.make_environ = make_environ_bounded
    handler.run_wsgi = run_wsgi_kept_open
    handler.send_header = send_header_kept_open
    handler.timeout = idle_s
    # The headers and the body go out in separate writes: with Nagle's algorithm on, the body
    # would wait for the client's delayed ACK of the headers (40 ms a request) once the
    # connection stays open.
    handler.disable_nagle_algorithm = True


class _InstanceRef(weakref.ref):
    """A weak reference that knows its key in _TrackedWeakly."""

    __slots__ = ("key",)


class _TrackedWeakly:
    """moto's record of a model's instances (`instances_tracked`), holding them weakly: it
    still lists every live instance, in the order they were made, and lets go of the rest.
    (Not a WeakSet: some of moto's models define equality without a hash.)"""

    def __init__(self, instances=()):
        self._refs = {}
        for instance in instances:
            self.append(instance)

    def _gone(self, ref):
        if self._refs.get(ref.key) is ref:
            del self._refs[ref.key]

    def append(self, instance):
        ref = _InstanceRef(instance, self._gone)
        ref.key = id(instance)
        self._refs[ref.key] = ref

    def __iter__(self):
        for ref in list(self._refs.values()):
            instance = ref()
            if instance is not None:
                yield instance

    def __len__(self):
        return len(self._refs)


def track_models_weakly():
    """moto's BaseModel appends every instance of every model it ever makes to a list on its
    class (for its dashboard and its reset): every S3 object version, SQS message, log event
    and metric datum stays in memory for the emulator's life, deleted or not. The lists hold
    their instances weakly now: the dashboard and a reset still see every live one, and what
    moto deletes is freed."""
    from moto.core import base_backend, common_models, model_instances

    meta = getattr(base_backend, "InstanceTrackerMeta", None)
    if (
        meta is None
        or not hasattr(model_instances, "model_data")
        or not callable(getattr(model_instances, "reset_model_data", None))
        or "__new__" not in vars(common_models.BaseModel)
    ):
        raise moto_changed("moto's InstanceTrackerMeta, BaseModel or model_data")
    make_class = meta.__new__

    def new_model_class(mcs, name, bases, dct):
        cls = make_class(mcs, name, bases, dct)
        if "instances_tracked" in vars(cls):
            cls.instances_tracked = _TrackedWeakly(cls.instances_tracked)
        return cls

    def reset_model_data():
        for models in model_instances.model_data.values():
            for model in models.values():
                model.instances_tracked = _TrackedWeakly()

    meta.__new__ = new_model_class
    model_instances.reset_model_data = reset_model_data
    from moto.core import models as core_models

    if getattr(core_models, "reset_model_data", None) is not None:
        core_models.reset_model_data = reset_model_data
    # Classes made before this (moto's modules the launcher already imported): every class
    # of the metaclass has a list of its own, registered or not.
    pending = [common_models.BaseModel]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "instances_tracked" in vars(cls) and not isinstance(
            cls.instances_tracked, _TrackedWeakly
        ):
            cls.instances_tracked = _TrackedWeakly(cls.instances_tracked)


def _trim_log_group(group, cap, now_ms):
    """Drops `group`'s events past its retention, then its oldest events until at most `cap`
    are left; each stream's stored bytes go down with them."""
    import heapq

    streams = [s for s in group.streams.values() if s.events]
    retention = group.retention_in_days
    cutoff = now_ms - int(retention) * 86_400_000 if retention else None
    cut = {}
    if cutoff is not None:
        for stream in streams:
            n = 0
            # Events are stored in the order they came, which is their time order in practice.
            while n < len(stream.events) and stream.events[n].timestamp < cutoff:
                n += 1
            if n:
                cut[id(stream)] = n
    total = sum(len(s.events) - cut.get(id(s), 0) for s in streams)
    # The oldest first, across the group's streams.
    heads = [
        (s.events[cut.get(id(s), 0)].timestamp, i)
        for i, s in enumerate(streams)
        if cut.get(id(s), 0) < len(s.events)
    ]
    heapq.heapify(heads)
    while total > cap and heads:
        _, i = heapq.heappop(heads)
        stream = streams[i]
        n = cut.get(id(stream), 0) + 1
        cut[id(stream)] = n
        total -= 1
        if n < len(stream.events):
            heapq.heappush(heads, (stream.events[n].timestamp, i))
    for stream in streams:
        n = cut.get(id(stream), 0)
        if n:
            stream.stored_bytes -= sum(len(e.message) for e in stream.events[:n])
            del stream.events[:n]


def bound_log_events():
    """moto keeps every CloudWatch Logs event it is sent, in memory, forever (it stores a
    group's retention but never applies it), and FilterLogEvents builds and sorts every
    stored event of the group on each call: the local fleet's log shipper sends every line of
    every API and worker, so the emulator's memory and the console's log searches grew with
    the length of the run. Each log group now keeps at most FLIGHTDECK_EMULATOR_LOG_EVENTS
    events (50,000 by default; 0: no bound): once a group is 5 % over, its events past its
    retention go (as AWS expires them), then its oldest until it is back at the bound. The
    answers are moto's for the events kept."""
    from moto.logs import models

    cap = int(os.environ.get("FLIGHTDECK_EMULATOR_LOG_EVENTS") or 50_000)
    group = models.LogGroup
    if _parameters(group, "put_log_events") != ["self", "log_stream_name", "log_events"]:
        raise moto_changed("moto's LogGroup.put_log_events")
    put = group.put_log_events
    if cap <= 0:
        return
    slack = max(1, cap // 20)
    lock = threading.Lock()

    def put_log_events(self, log_stream_name, log_events):
        token = put(self, log_stream_name, log_events)
        with lock:
            if sum(len(s.events) for s in self.streams.values()) > cap + slack:
                _trim_log_group(self, cap, int(time.time() * 1000))
        return token

    group.put_log_events = put_log_events


def _trim_metric_data(data, hours, cap):
    """Drops datums from the front of `data` (the order they came) while they are older than
    `hours` (0: no age bound), then any beyond the newest `cap` (0: no count bound)."""
    import datetime

    n = 0
    if hours > 0:
        aware = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
        naive = aware.replace(tzinfo=None)
        while n < len(data):
            stamp = data[n].timestamp
            if not isinstance(stamp, datetime.datetime):
                break
            if stamp >= (naive if stamp.tzinfo is None else aware):
                break
            n += 1
    if cap > 0:
        n = max(n, len(data) - cap)
    if n > 0:
        del data[:n]


def bound_metric_data():
    """moto keeps every CloudWatch datum it is sent, for good, and GetMetricData and
    GetMetricStatistics copy and scan all of them on every call: the console's charts, the
    local autoscaler and the alarm evaluator ask every few seconds, so each of those calls
    cost the emulator more the longer the local cloud ran. Datums older than
    FLIGHTDECK_EMULATOR_METRIC_HOURS (24, the console's longest chart; 0: no age bound) are
    dropped, and at most FLIGHTDECK_EMULATOR_METRIC_DATUMS (150,000; 0: no bound) are kept,
    the oldest going first: checked on a PutMetricData at most once a minute, and at once when
    the count is 5 % over."""
    from moto.cloudwatch import models

    backend = models.CloudWatchBackend
    if _parameters(backend, "put_metric_data") != ["self", "namespace", "metric_data"]:
        raise moto_changed("moto's CloudWatchBackend.put_metric_data")
    put = backend.put_metric_data
    hours = float(os.environ.get("FLIGHTDECK_EMULATOR_METRIC_HOURS") or 24)
    cap = int(os.environ.get("FLIGHTDECK_EMULATOR_METRIC_DATUMS") or 150_000)
    if hours <= 0 and cap <= 0:
        return
    slack = max(1, cap // 20)
    lock = threading.Lock()

    def put_metric_data(self, namespace, metric_data):
        answer = put(self, namespace, metric_data)
        with lock:
            now = time.monotonic()
            over = cap > 0 and len(self.metric_data) > cap + slack
            if over or now - getattr(self, "_flightdeck_trimmed", -60.0) >= 60:
                self._flightdeck_trimmed = now
                _trim_metric_data(self.metric_data, hours, cap)
        return answer

    backend.put_metric_data = put_metric_data


def publish_sqs_oldest_age(every_s):
    """SQS publishes each queue's `AWS/SQS ApproximateAgeOfOldestMessage` to CloudWatch every
    minute; moto publishes nothing, and no SQS call gives the age, so the local cloud's own
    publisher (servicemetrics.rs, the counts) cannot send it. This thread does, from moto's
    queues, every `every_s` seconds: for each queue holding messages, the age in seconds of its
    oldest message not yet deleted (visible or in flight, as SQS counts it), by `QueueName`;
    once 0 when a queue empties, so that its last age does not outlive its messages. Not a
    fix (it adds what AWS does), so it runs with the fixes and not without them."""
    from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
    from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends

    if _parameters(CloudWatchBackend, "put_metric_data") != ["self", "namespace", "metric_data"]:
        raise moto_changed("moto's CloudWatchBackend.put_metric_data")
    if (
        "self.sent_timestamp" not in inspect.getsource(Message.__init__)
        or "self._messages" not in inspect.getsource(Queue.__init__)
        or "self.queues" not in inspect.getsource(SQSBackend.__init__)
    ):
        raise moto_changed("moto's SQS queues and messages")
    with_messages = set()

    def publish_once():
        now = time.time()
        stamp = datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc).replace(
            tzinfo=None
        )
        for account, regions in list(sqs_backends.items()):
            for region, backend in list(regions.items()):
                data = []
                for name, queue in list(backend.queues.items()):
                    oldest = min(
                        (m.sent_timestamp for m in list(queue._messages) if m.sent_timestamp),
                        default=None,
                    )
                    key = (account, region, name)
                    if oldest is not None:
                        with_messages.add(key)
                        age = max(0.0, now - oldest / 1000.0)
                    elif key in with_messages:
                        with_messages.discard(key)
                        age = 0.0
                    else:
                        continue
                    data.append(
                        {
                            "MetricName": "ApproximateAgeOfOldestMessage",
                            "Dimensions": [{"Name": "QueueName", "Value": name}],
                            "Timestamp": stamp,
                            "Value": float(int(age)),
                            "Unit": "Seconds",
                        }
                    )
                # PutMetricData takes 1,000 datums a call.
                for i in range(0, len(data), 1000):
                    cloudwatch_backends[account][region].put_metric_data(
                        "AWS/SQS", data[i : i + 1000]
                    )

    def run():
        while True:
            time.sleep(every_s - time.time() % every_s)
            try:
                publish_once()
            except Exception as e:  # a queue changed under the scan: the next round reads it
                print(f"flightdeck: publishing SQS's oldest-message ages failed: {e!r}", flush=True)

    threading.Thread(target=run, daemon=True, name="sqs-oldest-age").start()


_metric_queries = threading.local()
_ANY = object()


def _dimensions_key(dimensions):
    """A metric's or query's dimensions as a sorted tuple of (name, value); None when a value
    is missing (moto's Dimension matches any value then)."""
    pairs = []
    for d in dimensions:
        name, value = (d.get("Name"), d.get("Value")) if isinstance(d, dict) else (d.name, d.value)
        if value is None:
            return None
        pairs.append((name, value))
    return tuple(sorted(pairs))


def _wanted_metrics(queries):
    """What a GetMetricData's MetricStat queries can match, as moto matches them: (namespace,
    name) for a query without dimensions; (name, dimensions) in any namespace for one with
    them (moto ignores the namespace there). None when a query may read anything (a Metrics
    Insights SELECT)."""
    by_name, by_dimensions = set(), set()
    for query in queries:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = metric.get("Dimensions")
            if dimensions:
                key = _dimensions_key(dimensions)
                by_dimensions.add((metric["MetricName"], _ANY if key is None else key))
            else:
                by_name.add((metric["Namespace"], metric["MetricName"]))
        elif str(query.get("Expression", "")).startswith("SELECT"):
            return None
    return by_name, by_dimensions, {name for name, _ in by_dimensions}


def _is_wanted(datum, wanted):
    by_name, by_dimensions, dimension_names = wanted
    if (datum.namespace, datum.name) in by_name:
        return True
    if datum.name not in dimension_names:
        return False
    if (datum.name, _ANY) in by_dimensions:
        return True
    dimensions = datum.dimensions
    if len(dimensions) == 1:  # the common case, without a sort
        only = dimensions[0]
        key = None if only.value is None else ((only.name, only.value),)
    else:
        key = _dimensions_key(dimensions)
    return key is None or (datum.name, key) in by_dimensions


def scan_metrics_once():
    """moto answers GetMetricData by scanning, for every period of every query, every datum
    stored in the query's time range: a one-hour chart at one-minute periods scans them 61
    times, so each chart read cost the emulator more with every metric any program sent
    (bench/emulator-history.sh). The datums a call's queries can match are now picked out
    once, in one pass, before moto's loops run over them; the answers are moto's. A call with
    a Metrics Insights query (SELECT) still scans everything."""
    from moto.cloudwatch import models

    backend = models.CloudWatchBackend
    data_parameters = _parameters(backend, "get_metric_data") or []
    if data_parameters[:4] != ["self", "queries", "start_time", "end_time"] or _parameters(
        backend, "get_all_metrics"
    ) != ["self"]:
        raise moto_changed("moto's CloudWatchBackend.get_metric_data or get_all_metrics")
    get_data, get_all = backend.get_metric_data, backend.get_all_metrics

    def get_metric_data(self, queries, *args, **kwargs):
        _metric_queries.wanted = _wanted_metrics(queries)
        try:
            return get_data(self, queries, *args, **kwargs)
        finally:
            _metric_queries.wanted = None

    def get_all_metrics(self):
        everything = get_all(self)
        wanted = getattr(_metric_queries, "wanted", None)
        if wanted is None:
            return everything
        return [datum for datum in everything if _is_wanted(datum, wanted)]

    backend.get_metric_data = get_metric_data
    backend.get_all_metrics = get_all_metrics


class _LogBound:
    """A logging filter that lets records through until the emulator's log (its stderr file)
    reaches `max_bytes`, then says so once and drops the rest."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.full = False

    def filter(self, record):
        if self.full:
            return False
        try:
            size = os.fstat(sys.stderr.fileno()).st_size
        except (OSError, ValueError):
            return True
        if size < self.max_bytes:
            return True
        self.full = True
        print(
            f"flightdeck: the emulator's log reached {_gb(size)} "
            f"(FLIGHTDECK_EMULATOR_LOG_MAX_MB, {_gb(self.max_bytes)}); "
            "the server's lines stop here",
            file=sys.stderr,
            flush=True,
        )
        return False


def quiet_request_log():
    """werkzeug writes a line to the emulator's log for every request it answers, so the log
    grew with every AWS call of every program without end (2.2 MB in a minute of
    bench/api.sh; the console alone makes some 500 calls a minute), with colour escapes
    around the failed ones. Only answers of 400 and above are logged now, in plain text
    (FLIGHTDECK_EMULATOR_ACCESS_LOG=1 logs every request, as shipped), and the server's lines
    stop once the log passes FLIGHTDECK_EMULATOR_LOG_MAX_MB (64 by default; 0: no bound), with
    one line saying so. The emulator's CPU per request barely moves (bench/emulator-puts.sh)."""
    import logging

    from werkzeug import serving

    handler = serving.WSGIRequestHandler
    if _parameters(handler, "log_request") != ["self", "code", "size"] or not hasattr(
        serving, "_log_add_style"
    ):
        raise SystemExit(
            "flightdeck: werkzeug changed WSGIRequestHandler.log_request; "
            "review quiet_request_log"
        )
    log_request = handler.log_request
    # The log is a file, not a terminal: no colour escapes around a failed request's line.
    serving._log_add_style = False
    if os.environ.get("FLIGHTDECK_EMULATOR_ACCESS_LOG", "") in ("", "0"):

        def log_failed_request(self, code="-", size="-"):
            if str(code)[:1] in ("1", "2", "3"):
                return None
            return log_request(self, code, size)

        handler.log_request = log_failed_request
    max_mb = float(os.environ.get("FLIGHTDECK_EMULATOR_LOG_MAX_MB") or 64)
    if max_mb > 0:
        logging.getLogger("werkzeug").addFilter(_LogBound(int(max_mb * 2**20)))


def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def malloc_mb():
    """(bytes the C allocator holds from the OS, bytes in use), in MB, from glibc's mallinfo2;
    a large gap is freed memory the allocator keeps (fragmentation), not live objects."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                "fsmblks", "uordblks", "fordblks", "keepcost",
            )
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    held = (info.arena + info.hblkhd) / 2**20
    used = (info.uordblks + info.hblkhd) / 2**20
    return round(held, 1), round(used, 1)


def profile_memory(path, every_s, trace):
    """FLIGHTDECK_EMULATOR_PROFILE=FILE: every few seconds, append one JSON line with the
    emulator's RSS, its thread count (one per request being served), what the C allocator
    holds against what is in use, and the live Python objects' count. With
    FLIGHTDECK_EMULATOR_PROFILE_TRACE=1 also the allocation sites holding the most memory
    (tracemalloc; it slows the emulator and its snapshots take memory of their own)."""
    import gc

    if trace:
        import tracemalloc

        tracemalloc.start(1)
    while True:
        time.sleep(every_s)
        held, used = malloc_mb()
        line = {
            "t": round(time.time(), 1),
            "rss_mb": round(rss_mb(), 1),
            "threads": threading.active_count(),
            "malloc_held_mb": held,
            "malloc_used_mb": used,
            "objects": len(gc.get_objects()),
        }
        if trace:
            snapshot = tracemalloc.take_snapshot()
            line["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
            line["top"] = [
                {
                    "at": f"{s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}",
                    "mb": round(s.size / 2**20, 1),
                    "count": s.count,
                }
                for s in snapshot.statistics("lineno")[:12]
            ]
            del snapshot
        with open(path, "a") as out:
            out.write(json.dumps(line) + "\n")


def main():
    host, port, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    profile = os.environ.get("FLIGHTDECK_EMULATOR_PROFILE")
    if profile:
        every = float(os.environ.get("FLIGHTDECK_EMULATOR_PROFILE_EVERY_S", "10"))
        trace = os.environ.get("FLIGHTDECK_EMULATOR_PROFILE_TRACE", "") not in ("", "0")
        threading.Thread(
            target=profile_memory, args=(profile, every, trace), daemon=True
        ).start()
    if os.environ.get("FLIGHTDECK_EMULATOR_UNPATCHED", "") in ("", "0"):
        fix_sqs_retention_check()
        fix_sqs_send_cost()
        serialize_sqs_receives()
        fix_sqs_clock()
        fix_sqs_attribute_reads()
        fix_s3_list_versions_copy()
        fix_s3_range_read()
        stream_multipart_completion()
        write_s3_objects_once()
        fix_module_list_scan()
        keep_s3_data_on_disk()
        bound_s3_storage()
        bound_s3_bodies_in_flight()
        free_request_bodies()
        quiet_request_log()
        bound_log_events()
        track_models_weakly()
        bound_metric_data()
        scan_metrics_once()
        # FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS=1: every connection closed, as werkzeug ships
        # (the benchmarks' baseline for the connection reuse).
        if os.environ.get("FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS", "") in ("", "0"):
            keep_connections_open()
        print(
            "flightdeck: emulator fixes applied: sqs-retention-check, sqs-send-cost, "
            "sqs-receive-lock, sqs-clock, sqs-attributes-once, s3-list-versions-copy, "
            "s3-range-read, s3-multipart-join, s3-write-once, module-list, "
            "s3-storage-bound, s3-inflight-bound, request-bodies-freed, quiet-log, log-events-bound, "
            "models-freed, metric-data-bound, metric-scan-once, keep-alive",
            flush=True,
        )
        # FLIGHTDECK_EMULATOR_SQS_AGE_S: how often SQS's oldest-message ages are published
        # (60, as SQS does; 0: not at all).
        every = float(os.environ.get("FLIGHTDECK_EMULATOR_SQS_AGE_S") or 60)
        if every > 0:
            publish_sqs_oldest_age(every)
            print("flightdeck: emulator publishes: sqs-oldest-age", flush=True)
    else:
        print("flightdeck: emulator fixes skipped (FLIGHTDECK_EMULATOR_UNPATCHED)", flush=True)
    from moto.server import main as moto_main

    moto_main(["-H", host, "-p", port])


if __name__ == "__main__":
    main()
