#!/usr/bin/env python3
"""A ClickHouse HTTP interface in front of chDB, for tests.

No modern ClickHouse server can be installed on the test machines, but chDB
(pip `chdb-core-lite`) is the real ClickHouse engine in-process. This server
speaks the part of the HTTP interface that the Rust `clickhouse` crate (0.15)
uses, so tests exercise the crate's real code paths (RowBinaryWithNamesAndTypes
schema validation, LZ4 block-compressed inserts, LZ4-framed responses).

Supported: GET /ping; POST (or GET) / with the query in `?query=`, in the body,
or split (query in the URL, INSERT data in the body); `database=`;
`default_format=`; `param_NAME=` in the URL or as multipart/form-data fields;
`decompress=1` request bodies (ClickHouse compressed blocks, LZ4 or none,
checksums verified); `compress=1` responses (same block format) or
`Accept-Encoding: lz4` (LZ4 frame + `Content-Encoding: lz4`); other URL
parameters are applied as query settings. Errors: HTTP 500, the
`Code: N. DB::Exception: ...` text, header `X-ClickHouse-Exception-Code`.

Not real ClickHouse: one shared chDB session (HTTP `session_id` is ignored),
one query at a time, responses are buffered (as with wait_end_of_query=1),
no users/roles/quotas, and chDB accepts several ;-separated statements in one
request where the server would refuse them.
"""
import argparse
import re
import os
import shutil
import signal
import struct
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import lz4.block
import lz4.frame
from chdb import session as chdb_session

try:  # CityHash v1.0.2, the one ClickHouse uses for block checksums.
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError:  # checksums are then not verified/computed properly
    CityHash128 = None

VERSION = "26.5.0 (chdb)"
METHOD_LZ4, METHOD_NONE = 0x82, 0x02
BLOCK_HEADER = struct.Struct("<BII")  # method, compressed size (incl. header), raw size

# URL parameters of the HTTP interface itself, not query settings: handled
# here, or ignored because they mean nothing for one local chDB session.
HANDLED = {"query", "database", "default_format", "decompress", "compress"}
IGNORED = {
    "query_id", "session_id", "session_timeout", "session_check", "user",
    "password", "quota_key", "role", "buffer_size", "wait_end_of_query",
    "client_protocol_version", "enable_http_compression",
    "http_zlib_compression_level", "send_progress_in_http_headers",
}
# chDB formats that return Python objects instead of bytes.
PYTHON_FORMATS = {"dataframe", "arrowtable", "debug"}

STATE = {"session": None, "tmpdir": None}
LOCK = threading.Lock()  # chDB runs one query at a time
WARNED = set()


class ChError(Exception):
    """An error to report the way ClickHouse does."""

    def __init__(self, code, message):
        super().__init__(f"Code: {code}. DB::Exception: {message}")
        self.code = code


def checksum(data):
    # CityHash128 gives (first << 64) | second; ClickHouse writes first, then
    # second, each as a little-endian u64.
    h = CityHash128(data) if CityHash128 else 0
    return struct.pack("<QQ", h >> 64, h & (2**64 - 1))


def decompress_blocks(buf):
    """Decode a body of ClickHouse compressed blocks (`decompress=1`)."""
    out, pos = [], 0
    while pos < len(buf):
        if len(buf) - pos < 16 + BLOCK_HEADER.size:
            raise ChError(432, "Truncated compressed block (CORRUPTED_DATA)")
        method, csize, rsize = BLOCK_HEADER.unpack_from(buf, pos + 16)
        block = buf[pos + 16:pos + 16 + csize]
        if len(block) != csize:
            raise ChError(432, "Truncated compressed block (CORRUPTED_DATA)")
        if CityHash128 and checksum(block) != buf[pos:pos + 16]:
            raise ChError(40, "Checksum doesn't match: corrupted data (CHECKSUM_DOESNT_MATCH)")
        payload = block[BLOCK_HEADER.size:]
        if method == METHOD_LZ4:
            out.append(lz4.block.decompress(payload, uncompressed_size=rsize))
        elif method == METHOD_NONE:
            out.append(payload)
        else:  # 0x90 = ZSTD: the crate only sends it with its `zstd` feature
            raise ChError(89, f"Unknown compression method 0x{method:02x} (UNKNOWN_COMPRESSION_METHOD)")
        pos += 16 + csize
    return b"".join(out)


def compress_blocks(data, block_size=1 << 20):
    """Encode a response as ClickHouse compressed blocks (`compress=1`)."""
    out = []
    for i in range(0, len(data), block_size) or [0]:
        payload = lz4.block.compress(data[i:i + block_size], store_size=False)
        block = BLOCK_HEADER.pack(METHOD_LZ4, BLOCK_HEADER.size + len(payload),
                                  len(data[i:i + block_size])) + payload
        out.append(checksum(block) + block)
    return b"".join(out)


def parse_multipart(body, content_type):
    """Fields of a multipart/form-data body (the crate sends `query` and
    `param_*` this way); values are text."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ChError(27, "multipart body without boundary (CANNOT_PARSE_INPUT_ASSERTION_FAILED)")
    fields = []
    for part in body.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break  # closing boundary
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields.append((name.group(1).decode(), value[:-2].decode()))  # drop CRLF
    return fields


def sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# "INSERT INTO t(cols) [SETTINGS ...] FORMAT F" -> where FROM INFILE goes.
INSERT_RE = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)(\s+(?:SETTINGS|FORMAT|VALUES)\b.*)?$",
                       re.IGNORECASE | re.DOTALL)


def insert_from_file(sql, path):
    """Rewrite an INSERT whose data comes in the HTTP body into
    INSERT ... FROM INFILE, the way chDB loads bulk data."""
    m = INSERT_RE.match(sql.strip().rstrip(";"))
    if not m:
        raise ChError(62, f"Cannot load the request body into: {sql[:100]} (SYNTAX_ERROR)")
    target, rest = m.group(1), (m.group(2) or "").strip()
    if re.fullmatch(r"VALUES", rest, re.IGNORECASE):
        rest = "FORMAT Values"
    elif not re.search(r"\bFORMAT\s+\w+\s*$", rest, re.IGNORECASE):
        rest += " FORMAT TabSeparated"  # ClickHouse's default input format
    return f"INSERT INTO {target} FROM INFILE {sql_string(path)} {rest}"


def run(sql, fmt, database, params, settings, data):
    sess = STATE["session"]
    with LOCK:
        # Every request starts from the same state: its database, its settings.
        sess.query(f"USE `{database.replace('`', '``')}`")
        applied = []
        try:
            for name, value in settings.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ChError(115, f"Unknown setting '{name[:50]}' (UNKNOWN_SETTING)")
                try:
                    sess.query(f"SET {name} = {sql_string(value)}")
                    applied.append(name)
                except RuntimeError as e:
                    if "UNKNOWN_SETTING" not in str(e):
                        raise
                    if name not in WARNED:  # chDB lacks it: ignore, say so once
                        WARNED.add(name)
                        print(f"ignoring unknown setting {name}", file=sys.stderr)
            if data is not None:
                with tempfile.NamedTemporaryFile(dir=STATE["tmpdir"], suffix=".bin") as f:
                    f.write(data)
                    f.flush()
                    return sess.query(insert_from_file(sql, f.name), fmt, params=params).bytes()
            return sess.query(sql, fmt, params=params or None).bytes()
        finally:
            for name in applied:
                sess.query(f"SET {name} = DEFAULT")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the crate pools connections

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []  # streamed inserts arrive chunked
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if urlsplit(self.path).path in ("/ping", "/") and "query=" not in self.path:
            self.read_body()
            return self.reply(200, b"Ok.\n", [("Content-Type", "text/plain; charset=UTF-8")])
        self.do_POST()

    def do_POST(self):
        query_id = str(uuid.uuid4())
        try:
            args = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            body = self.read_body()
            if args.get("decompress") == "1":
                body = decompress_blocks(body)
            sql = args.get("query", "")
            params = {k[6:]: v for k, v in args.items() if k.startswith("param_")}
            data = None
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                for name, value in parse_multipart(body, ctype):
                    if name == "query":
                        sql = f"{sql}\n{value}" if sql else value
                    elif name.startswith("param_"):
                        params[name[6:]] = value
            elif body and sql and INSERT_RE.match(sql):
                data = body  # query in the URL, rows in the body
            elif body:
                sql = f"{sql}\n{body.decode()}" if sql else body.decode()
            if not sql.strip():
                raise ChError(62, "Empty query (SYNTAX_ERROR)")
            fmt = args.get("default_format") or "TabSeparated"
            if fmt.lower() in PYTHON_FORMATS:
                raise ChError(73, f"Unknown format {fmt} (UNKNOWN_FORMAT)")
            settings = {k: v for k, v in args.items()
                        if k not in HANDLED and k not in IGNORED and not k.startswith("param_")}
            out = run(sql, fmt, args.get("database") or "default", params, settings, data)
        except Exception as e:  # chDB raises RuntimeError("Code: N. DB::Exception: ...")
            text = str(e)
            m = re.match(r"Code: (\d+)\.", text)
            code = m.group(1) if m else "1001"
            if not m:
                text = f"Code: 1001. DB::Exception: {type(e).__name__}: {text} (STD_EXCEPTION)"
            self.log_error("query failed: %s", text[:300])
            return self.reply(500, f"{text} (version {VERSION})\n".encode(), [
                ("Content-Type", "text/plain; charset=UTF-8"),
                ("X-ClickHouse-Exception-Code", code),
                ("X-ClickHouse-Query-Id", query_id),
            ])
        headers = [("Content-Type", "application/octet-stream"), ("X-ClickHouse-Query-Id", query_id)]
        if args.get("compress") == "1":
            out = compress_blocks(out)
        elif "lz4" in self.headers.get("Accept-Encoding", "").lower():
            out = lz4.frame.compress(out)  # what the crate (>= 0.15.3) asks for
            headers.append(("Content-Encoding", "lz4"))
        self.reply(200, out, headers)

    def log_message(self, fmt, *args):
        pass  # no access log: only errors (log_error) go to the log

    def log_error(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18123)
    ap.add_argument("--session-dir", required=True, help="chDB data; wiped at start")
    a = ap.parse_args()
    # Fresh data every start; insert bodies are staged next to it.
    STATE["tmpdir"] = a.session_dir.rstrip("/") + ".tmp"
    for d in (a.session_dir, STATE["tmpdir"]):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(STATE["tmpdir"])
    STATE["session"] = chdb_session.Session(a.session_dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the cleanup below
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://{a.host}:{a.port} (chDB session {a.session_dir})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(STATE["tmpdir"], ignore_errors=True)


if __name__ == "__main__":
    main()
