"""The host's gunicorn worker: gunicorn's threaded worker (gthread), made to hold up under hostile load.

gthread hands a connection to a thread as soon as it is readable, and the thread then blocks until the
whole request head has arrived: sixteen clients sending half a request each took every thread, and
the health check with them. This worker changes four things and leaves the rest to gthread:

- **Heads are read by the event loop.** A connection reaches a thread only once its whole request
  head is buffered, so a slow client holds a file descriptor, never a thread. A head must arrive
  within ``client_timeout`` (408 after it), and bytes that cannot start an HTTP request (TLS sent to
  the plain port, garbage) are answered 400 at once; a too long request line is 414 and a too large
  head 431 without waiting for the rest.
- **The health check has threads of its own** (``health_threads``): a bodiless GET or HEAD of the
  health path is served there, so no crowd of other requests can make it wait.
- **A bulkhead**: at most ``threads`` other requests run at once per worker; the next one is answered
  503 with ``Retry-After`` at once, from the event loop, instead of queueing behind them.
- **Nothing blocks the event loop or hangs a thread**: client sockets time out after
  ``client_timeout`` on every read and write in a thread, and closing a connection after an error
  lingers (drains what the client still sends) in the event loop, not in a blocking call.

Every error the worker or gunicorn itself answers has the API's JSON error shape (the template's
gateway responses, through ``host.app.Host.gateway_response``).
"""

import contextlib
import errno
import re
import selectors
import socket
import time
from concurrent import futures
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.workers.gthread import TConn, ThreadWorker  # type: ignore[import-untyped]

from host.app import Host, HttpResponse, error_kind, json_error, serialize
from host.limits import Limits

LIMITS = Limits.from_environ()
#: how long a closing connection may keep sending before it is cut (gunicorn's own figure)
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024
CLOSING_STATUSES = ("400", "408", "413")

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
#: what the bytes received so far must look like: maybe empty lines, then the start of a method
_REQUEST_START = re.compile(rb"(?:\r?\n)*" + _TOKEN + rb"*(?: |\Z)")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BODY_HEADER = re.compile(rb"\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


@dataclass(frozen=True)
class Complete:
    health: bool


def examine(head: bytes, limits: Limits = LIMITS) -> Refusal | Complete | None:
    """What to do with the bytes a connection sent so far: None while the head is incomplete."""
    if not _REQUEST_START.match(head):
        return Refusal(400, "not an HTTP/1.1 request")
    start = len(head) - len(head.lstrip(b"\r\n"))
    line_end = head.find(b"\n", start)
    if line_end < 0:
        return Refusal(414, "request line too long") if len(head) - start > limits.request_line_bytes else None
    if line_end - start > limits.request_line_bytes + 1:
        return Refusal(414, "request line too long")
    end = _HEAD_END.search(head, line_end - 1)
    headers_size = (end.start() if end else len(head)) - line_end
    if headers_size > limits.head_bytes:
        return Refusal(431, "request headers too large")
    if end is None:
        return None
    method, _, rest = head[start:line_end].partition(b" ")
    path = rest.partition(b" ")[0].partition(b"?")[0]
    health = (
        method in (b"GET", b"HEAD")
        and path == limits.health_path.encode()
        and not _BODY_HEADER.search(head, line_end, end.end())
    )
    return Complete(health=health)


class TimedSocket(socket.socket):
    """A client socket on which "blocking" means blocking for at most ``client_timeout``: gthread
    puts a socket in blocking mode before a thread reads the request and writes the response."""

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(LIMITS.client_timeout)
        else:
            super().setblocking(False)


class Connection(TConn):  # type: ignore[misc] # gunicorn ships no type hints
    """gthread's connection, with the bytes read so far and the time by which the head must be in."""

    def __init__(self, worker: "HostWorker", *args: Any) -> None:
        super().__init__(*args)
        self.worker = worker
        self.head = b""
        self.deadline = 0.0
        self.drained = 0

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger(self)
        else:
            super().close()


def receive(conn: Connection) -> bytes | None:
    """What a readable socket holds: b"" once the peer closed (or broke) it, None for nothing yet."""
    try:
        return bytes(conn.sock.recv(65536))
    except BlockingIOError:
        return None
    except OSError:
        return b""


class HostWorker(ThreadWorker):  # type: ignore[misc] # gunicorn ships no type hints
    health_pool: futures.ThreadPoolExecutor
    reading: dict[Connection, None]
    lingering: dict[Connection, None]
    busy: int

    def init_process(self) -> None:
        self.prepare()
        super().init_process()

    def prepare(self) -> None:
        """This worker's own state (gthread's comes from its init_process)."""
        self.health_pool = futures.ThreadPoolExecutor(LIMITS.health_threads, thread_name_prefix="health")
        self.reading = {}  # insertion order is deadline order: every deadline is "now + the same bound"
        self.lingering = {}
        self.busy = 0
        util.write_error = self.write_error  # gunicorn's own error pages (400, 414, 431, ...) as JSON

    def load_wsgi(self) -> None:
        """The app, wrapped so that an answer after which the rest of the request cannot be trusted
        (400, 408, 413: framing broken, body late or too large and unread) closes the connection
        and says so, instead of gthread draining the body in a thread first."""
        super().load_wsgi()
        app: Any = self.wsgi  # type: ignore[has-type] # set by gunicorn's load_wsgi
        self.app_host = app

        def closing(environ: dict[str, Any], start_response: Any) -> Any:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                if status[:3] in CLOSING_STATUSES and hasattr(start_response, "__self__"):
                    start_response.__self__.force_close()  # gunicorn's Response
                return start_response(status, headers, exc_info)

            return app(environ, start)

        self.wsgi = closing

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.health_pool.shutdown(wait=False)
            for conn in [*self.reading, *self.lingering]:
                util.close(conn.sock)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.health_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    # ---------------------------------------------------------------- answers the worker writes
    def answer(self, status: int, message: str, retry_after: int | None = None) -> bytes:
        kind = error_kind(status)
        app = getattr(self, "app_host", None)
        response: HttpResponse = (
            app.gateway_response(kind, status, message, retry_after)
            if isinstance(app, Host)
            else json_error(kind, status, message, retry_after)
        )
        return serialize(response, close=True)

    def write_error(self, sock: socket.socket, status: int, reason: str, message: str) -> None:
        """Replaces gunicorn.util.write_error (an HTML page) in this worker process."""
        util.write_nonblock(sock, self.answer(status, (message or reason)[:200]))

    def refuse(self, conn: Connection, status: int, message: str, retry_after: int | None = None) -> None:
        """Answer from the event loop (never blocking: what does not fit in the socket buffer is
        dropped, and these answers are a few hundred bytes), then close."""
        with contextlib.suppress(OSError):
            conn.sock.send(self.answer(status, message, retry_after))
        self.linger(conn)

    # ---------------------------------------------------------------- reading heads in the event loop
    def accept(self, listener: Any) -> None:
        try:
            raw, client = listener.accept()
        except OSError as error:
            # out of file descriptors: the connection waits in the backlog until one is closed
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK, errno.EMFILE, errno.ENFILE):
                raise
            return
        sock = TimedSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        self.nr_conns += 1
        self.read_head(Connection(self, self.cfg, sock, client, listener.getsockname()))

    def enqueue_req(self, conn: Connection) -> None:
        """gthread calls this for a kept-alive connection that became readable, or whose next
        request is already buffered: read its head here first."""
        self.read_head(conn)

    def read_head(self, conn: Connection) -> None:
        if conn.parser is not None:
            conn.head = conn.parser.unreader.take_buffered()
        conn.deadline = time.monotonic() + LIMITS.client_timeout
        conn.sock.setblocking(False)
        self.reading[conn] = None
        if not self.judge(conn):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_head_readable, conn))

    def on_head_readable(self, conn: Connection, sock: socket.socket) -> None:
        data = receive(conn)
        if data is None:
            return
        if not data:  # the client went away
            self.stop_reading(conn)
            self.drop(conn)
            return
        conn.head += data
        self.judge(conn)

    def judge(self, conn: Connection) -> bool:
        """Dispatch or refuse a connection whose head is in (True), or leave it reading (False)."""
        verdict = examine(conn.head)
        if verdict is None:
            return False
        self.stop_reading(conn)
        if isinstance(verdict, Refusal):
            self.nr_conns -= 1
            self.refuse(conn, verdict.status, verdict.message)
        elif not verdict.health and self.busy >= self.cfg.threads:
            self.nr_conns -= 1
            self.refuse(conn, 503, "the host is at capacity; retry later", LIMITS.retry_after_seconds)
        else:
            self.dispatch(conn, verdict.health)
        return True

    def dispatch(self, conn: Connection, health: bool) -> None:
        conn.init()  # the parser, over the socket (first request of a connection only)
        conn.parser.unreader.unread(conn.head)
        conn.head = b""
        conn.data_ready = True
        pool = self.health_pool if health else self.tpool
        if not health:
            self.busy += 1

        def done(future: futures.Future[Any]) -> None:
            self.method_queue.defer(self.finished, conn, future, health)  # back on the event loop

        pool.submit(self.handle, conn).add_done_callback(done)

    def finished(self, conn: Connection, future: futures.Future[Any], health: bool) -> None:
        if not health:
            self.busy -= 1
        self.finish_request(conn, future)

    def stop_reading(self, conn: Connection) -> None:
        del self.reading[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):  # unregistered if the head was buffered
            self.poller.unregister(conn.sock)

    # ---------------------------------------------------------------- closing without blocking
    def drop(self, conn: Connection) -> None:
        self.nr_conns -= 1
        util.close(conn.sock)

    def linger(self, conn: Connection) -> None:
        """Close after an answer: send FIN, then read and discard what the client still sends until it
        closes too (a close with unread data would reset the connection before the answer is read)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_linger_readable, conn))
        except (OSError, ValueError, KeyError):
            util.close(conn.sock)
            return
        conn.deadline = time.monotonic() + LINGER_SECONDS
        conn.drained = 0
        self.lingering[conn] = None

    def on_linger_readable(self, conn: Connection, sock: socket.socket) -> None:
        data = receive(conn)
        if data is None:
            return
        conn.drained += len(data)
        if not data or conn.drained > LINGER_BYTES:
            self.end_linger(conn)

    def end_linger(self, conn: Connection) -> None:
        self.lingering.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        util.close(conn.sock)

    def murder_pending(self) -> None:
        """gthread calls this about once a second: cut heads and lingering closes past their time."""
        super().murder_pending()
        now = time.monotonic()
        late = []
        for conn in self.reading:
            if conn.deadline > now:
                break
            late.append(conn)
        for conn in late:
            self.stop_reading(conn)
            if conn.head.strip():
                self.nr_conns -= 1
                self.refuse(conn, 408, f"the request did not arrive within {LIMITS.client_timeout:g} s")
            else:
                self.drop(conn)
        for conn in [c for c in self.lingering if c.deadline <= now]:
            self.end_linger(conn)
