# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The relay's common MESSAGE forwarded in C (opt-in; docs/relay.md "Compiled hot path").

Built by ``scripts/compile.sh`` (Cython); never needed: without it the relay runs the same rules
in Python, which stay the reference. This module is a pure *accelerator* of
:meth:`quicko.relay.router.Router.receive_fast` + :meth:`quicko.relay.server.RelayServer._receive`
for one case only: a final binary WebSocket message that is a MESSAGE in its usual encoding
(exactly what :func:`quicko.relay.frames.route_fields` accepts) from a bound, open connection
within its rate, to one online, unblocked member of a session both belong to, whose listener is
on this server. For that case it makes exactly the changes the Python path makes (idle timer,
both token buckets, sequence numbers, in-flight retention and window, the hot-path counters) and
queues the same two frames (the MESSAGE to the recipient, the Ack(ACCEPTED) to the sender).

Anything else — any check that fails, any other frame — returns ``False`` *before anything is
changed*, and the caller hands the frame to the Python path, which decides as it always does
(errors included). The C code reads the router's own tables (:class:`~quicko.relay.router.HotTables`)
by reference, so there is one source of truth for state and rules; it keeps no cache of its own.
Every read of the frame is bounds-checked against its length first.

The connection and bucket objects are the router's plain ``__slots__`` classes; their slots are
read and written at the offsets CPython gives them (found at import), after an exact type check
of every object, so that one attribute costs a load instead of a descriptor call. (When
``flow.py`` is compiled by mypyc, ``Bucket.tat`` is no slot: it is read with ``getattr``.)
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLong, PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.string cimport memcmp, memcpy
from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport

from quicko.protocol.constants import HEADER_SIZE, MAX_PAYLOAD_BYTES, PROTOCOL_VERSION
from quicko.protocol.types import MessageType
from quicko.relay.connections import Connection
from quicko.relay.flow import Bucket
from quicko.relay.frames import ACCEPTED_ACK_BYTES, ACCEPTED_ACK_PARTS

__all__ = ["NativeConnection", "NativePath"]


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member

    void PyObject_GC_UnTrack(void *op)


# The usual encoding of a MESSAGE to one recipient (frames.route_fields): header (6), fixarray
# marker (1), four "c4 10" + 16-byte ids, the timestamp's first byte at 79.
DEF _ID = 16
DEF _SESSION_AT = 9
DEF _SENDER_AT = 27
DEF _RECIPIENT_AT = 45
DEF _IDS_AT = 7
DEF _IDS_END = 79
DEF _ROUTE_SIZE = 80
DEF _ACK_PREFIX_SIZE = 7
DEF _ACK_SIZE = 80

cdef unsigned char _VERSION = PROTOCOL_VERSION
cdef unsigned char _MESSAGE = int(MessageType.MESSAGE)
cdef Py_ssize_t _MAX_PAYLOAD = MAX_PAYLOAD_BYTES
cdef unsigned char _ACK_PREFIX[_ACK_PREFIX_SIZE]
cdef unsigned char _ACCEPTED

_prefix, _ids_at, _ids_end, _tail = ACCEPTED_ACK_PARTS
# The layout above is frames.py's; refuse to load if it ever changes there.
if (
    HEADER_SIZE != 6
    or _ids_at != _IDS_AT
    or _ids_end != _IDS_END
    or len(_prefix) != _ACK_PREFIX_SIZE
    or len(_tail) != 1
    or ACCEPTED_ACK_BYTES != _ACK_SIZE
):
    raise ImportError("quicko.relay.native does not match quicko.relay.frames: rebuild it")
cdef bytes _prefix_bytes = _prefix
memcpy(_ACK_PREFIX, <const char *>_prefix_bytes, _ACK_PREFIX_SIZE)
_ACCEPTED = _tail[0]


cdef Py_ssize_t _offset(type cls, str name) except -2:
    """The offset of the ``__slots__`` member *name* in instances of *cls*, else -1.

    -1 (a compiled class: mypyc makes its attributes getset descriptors) means ``getattr``.
    """
    descr = cls.__dict__[name]
    if type(descr).__name__ != "member_descriptor":
        return -1
    return (<PyMemberDescrObject *>descr).d_member.offset


cdef inline object _load(object obj, Py_ssize_t offset, str name):
    """``obj.name``: a load at the slot's offset (a descriptor call for a compiled class)."""
    cdef PyObject *value
    if offset < 0:
        return getattr(obj, name)
    value = (<PyObject **>((<char *><PyObject *>obj) + offset))[0]
    if value == NULL:
        raise AttributeError(name)
    return <object>value


cdef inline int _store(object obj, Py_ssize_t offset, str name, object value) except -1:
    """``obj.name = value``, as :func:`_load` reads it."""
    cdef PyObject **slot
    cdef PyObject *old
    if offset < 0:
        setattr(obj, name, value)
        return 0
    slot = <PyObject **>((<char *><PyObject *>obj) + offset)
    old = slot[0]
    Py_INCREF(value)
    slot[0] = <PyObject *>value
    Py_XDECREF(old)
    return 0


cdef type _CONNECTION = Connection
cdef type _BUCKET = Bucket
cdef Py_ssize_t _C_CLOSING = _offset(Connection, "closing")
cdef Py_ssize_t _C_LAST_MS = _offset(Connection, "last_ms")
cdef Py_ssize_t _C_ADDRESS = _offset(Connection, "address")
cdef Py_ssize_t _C_BUCKET = _offset(Connection, "bucket")
cdef Py_ssize_t _C_SOURCE_BUCKET = _offset(Connection, "source_bucket")
cdef Py_ssize_t _C_SENT = _offset(Connection, "sent")
cdef Py_ssize_t _C_BLOCKED = _offset(Connection, "blocked")
cdef Py_ssize_t _C_INFLIGHT = _offset(Connection, "inflight")
cdef Py_ssize_t _C_INFLIGHT_BYTES = _offset(Connection, "inflight_bytes")
cdef Py_ssize_t _C_CONN = _offset(Connection, "conn")
cdef Py_ssize_t _B_TAT = _offset(Bucket, "tat")


cdef bytes _ws_header(Py_ssize_t length):
    """The header of an unmasked, final, binary WebSocket frame (server.py's _binary_header)."""
    cdef unsigned char head[10]
    cdef int i
    head[0] = 0x82
    if length < 126:
        head[1] = <unsigned char>length
        return PyBytes_FromStringAndSize(<char *>head, 2)
    if length < 65536:
        head[1] = 126
        head[2] = <unsigned char>(length >> 8)
        head[3] = <unsigned char>length
        return PyBytes_FromStringAndSize(<char *>head, 4)
    head[1] = 127
    for i in range(8):
        head[2 + i] = <unsigned char>(length >> (8 * (7 - i)))
    return PyBytes_FromStringAndSize(<char *>head, 10)


cdef inline bint _charged(object bucket, long long now, double interval, double tau,
                          double *tat) except -1:
    """``FlowLimiter.charge`` of one bucket, computed and not stored: its new ``tat`` in *tat*.

    ``False`` when the frame is over the bucket's rate, or the bucket is not the plain
    :class:`~quicko.relay.flow.Bucket` with a float ``tat`` (the Python path decides then).
    """
    if type(bucket) is not _BUCKET:
        return False
    value = _load(bucket, _B_TAT, "tat")
    if not PyFloat_CheckExact(value):
        return False
    tat[0] = PyFloat_AS_DOUBLE(value)
    if tat[0] < <double>now:
        tat[0] = <double>now + interval
    else:
        tat[0] = tat[0] + interval
    return tat[0] - <double>now <= tau


cdef class NativeConnection(WSListener):
    """The server's per-connection listener, with the binary-frame callback in C.

    The same attributes and callbacks as ``quicko.relay.server._Connection`` (the Python
    listener, the reference); :meth:`on_ws_frame` tries :meth:`NativePath.forward` first and
    gives the frame to the server's Python path when it declines.
    """

    cdef public object server
    cdef public object source
    cdef public object conn_id
    cdef public object transport
    cdef public object parts
    cdef public Py_ssize_t parts_size
    cdef public Py_ssize_t prelogin_bytes
    cdef public bint release
    cdef public object outgoing
    cdef public bint write_blocked
    cdef public object resume_at
    cdef public bint resume_armed
    cdef public NativePath path

    def __init__(self, server, source, parts, NativePath path):
        self.server = server
        self.source = source
        self.conn_id = 0
        self.transport = None
        self.parts = parts
        self.parts_size = 0
        self.prelogin_bytes = 0
        self.release = False
        self.outgoing = None
        self.write_blocked = False
        self.resume_at = 0
        self.resume_armed = False
        self.path = path

    cpdef on_ws_connected(self, WSTransport transport):
        self.transport = transport
        try:
            self.server._opened(self, transport)
        except Exception as exc:  # a bug must cost this connection only
            self.server._internal_error(self, exc)

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef bytes data
        try:
            if frame.msg_type == WSMsgType.BINARY and frame.fin and self.parts is None:
                if not transport.is_close_frame_sent:
                    data = frame.get_payload_as_bytes()
                    if self.path is None or not self.path._forward(self, data):
                        self.server._receive(self, data)
            else:
                self.server._other_frame(self, transport, frame)
        except Exception as exc:  # a bug must cost this connection only
            self.server._internal_error(self, exc)

    cpdef on_ws_disconnected(self, WSTransport transport):
        self.server._disconnected(self)

    cpdef pause_writing(self):
        self.server._write_paused(self)

    cpdef resume_writing(self):
        self.server._write_resumed(self)


cdef class NativePath:
    """The C forward of one server over its router's tables (see the module docstring).

    Args:
        server: the :class:`~quicko.relay.server.RelayServer` (its ``_conns``, ``_dirty``,
            ``_loop``, ``_flush``, ``read_ms``, ``_receive``).
        router: its :class:`~quicko.relay.router.Router`, whose
            :meth:`~quicko.relay.router.Router.hot_tables` it works on.

    Raises:
        ValueError: the router does not qualify (``hot_tables`` returned ``None``).
    """

    cdef object server
    cdef dict server_conns
    cdef dict by_conn
    cdef dict by_address
    cdef dict sessions
    cdef object move_to_end
    cdef object track_start
    cdef object over_window
    cdef double interval
    cdef double tau
    cdef double source_interval
    cdef double source_tau
    cdef long long window
    cdef Py_ssize_t release_after
    cdef long long counted
    cdef long long counted_bytes
    cdef readonly long long forwarded

    def __init__(self, server, router):
        tables = router.hot_tables(self.take_counts)
        if tables is None:
            raise ValueError("this router does not qualify for the native hot path")
        self.server = server
        self.server_conns = server._conns
        self.by_conn = tables.by_conn
        self.by_address = tables.by_address
        self.sessions = tables.sessions
        self.move_to_end = tables.activity.move_to_end
        self.track_start = tables.track_start
        self.over_window = tables.over_window
        self.interval = tables.interval
        self.tau = tables.tau
        self.source_interval = tables.source_interval
        self.source_tau = tables.source_tau
        self.window = tables.window
        from quicko.relay.server import RELEASE_AFTER_BYTES  # loaded: it made this server

        self.release_after = RELEASE_AFTER_BYTES
        self.forwarded = self.counted = self.counted_bytes = 0

    def take_counts(self):
        """MESSAGEs forwarded and their bytes since the last call (Router.metrics adds them)."""
        counts = (self.counted, self.counted_bytes)
        self.counted = self.counted_bytes = 0
        return counts

    def forward(self, NativeConnection conn not None, bytes data not None):
        """Forward *data* from *conn* if it is the common MESSAGE; ``False``: nothing changed.

        ``True`` means the frame was handled exactly as the Python path would have, and its
        two frames are queued; ``False`` means the Python path must handle it from the start.
        """
        return self._forward(conn, data)

    cdef bint _forward(self, NativeConnection conn, bytes data) except -1:
        """:meth:`forward`, as ``NativeConnection.on_ws_frame`` calls it."""
        cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
        cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(data)
        cdef Py_ssize_t length, pos, end, at
        cdef unsigned char marker
        cdef long long now, seq, inflight_bytes
        cdef double tat = 0.0, source_tat = 0.0
        cdef PyObject *found
        cdef char *out

        # -- route_fields (frames.py), every read within size --
        if size < _ROUTE_SIZE + 2 or p[0] != _VERSION or p[1] != _MESSAGE or p[6] != 0x96:
            return False
        length = (<Py_ssize_t>p[2] << 24) | (<Py_ssize_t>p[3] << 16) | (<Py_ssize_t>p[4] << 8) | p[5]
        if length != size - 6 or length > _MAX_PAYLOAD:
            return False
        for at in (7, 25, 43, 61):
            if p[at] != 0xC4 or p[at + 1] != _ID:
                return False
        marker = p[_IDS_END]
        if marker < 0x80:
            pos = _ROUTE_SIZE
        elif marker == 0xCC:
            pos = _ROUTE_SIZE + 1
        elif marker == 0xCD:
            pos = _ROUTE_SIZE + 2
        elif marker == 0xCE:
            pos = _ROUTE_SIZE + 4
        elif marker == 0xCF:
            pos = _ROUTE_SIZE + 8
        else:
            return False
        if pos + 2 > size:
            return False
        marker = p[pos]
        if marker == 0xC5 and pos + 3 <= size:
            end = pos + 3 + ((<Py_ssize_t>p[pos + 1] << 8) | p[pos + 2])
        elif marker == 0xC4:
            end = pos + 2 + p[pos + 1]
        else:
            return False
        if end != size:
            return False

        # -- the sender: this server's listener, the router's open, bound connection --
        conn_id = conn.conn_id
        found = PyDict_GetItem(self.server_conns, conn_id)
        if found == NULL or found != <PyObject *>conn:
            return False
        found = PyDict_GetItem(self.by_conn, conn_id)
        if found == NULL or type(<object>found) is not _CONNECTION:
            return False
        c = <object>found
        if _load(c, _C_CLOSING, "closing") is not False:
            return False
        address = _load(c, _C_ADDRESS, "address")
        if type(address) is not bytes or PyBytes_GET_SIZE(address) != _ID:
            return False
        if memcmp(p + _SENDER_AT, PyBytes_AS_STRING(address), _ID) != 0:
            return False  # SENDER_MISMATCH: the Python path names it

        # -- the rate limit (FlowLimiter.charge), computed, not yet stored --
        now_obj = self.server.read_ms
        if not PyLong_CheckExact(now_obj):
            return False
        now = PyLong_AsLongLong(now_obj)
        bucket = _load(c, _C_BUCKET, "bucket")
        source_bucket = _load(c, _C_SOURCE_BUCKET, "source_bucket")
        if bucket is not None and not _charged(bucket, now, self.interval, self.tau, &tat):
            return False  # over the rate (or not a plain bucket): the Python path decides
        if source_bucket is not None and not _charged(
            source_bucket, now, self.source_interval, self.source_tau, &source_tat
        ):
            return False

        # -- membership and the recipient (Router._forward) --
        found = PyDict_GetItem(self.sessions, PyBytes_FromStringAndSize(<const char *>p + _SESSION_AT, _ID))
        if found == NULL:
            return False
        members = (<object>found).members
        if type(members) is not dict or PyDict_GetItem(members, address) == NULL:
            return False
        recipient = PyBytes_FromStringAndSize(<const char *>p + _RECIPIENT_AT, _ID)
        if PyDict_GetItem(members, recipient) == NULL:
            return False
        found = PyDict_GetItem(self.by_address, recipient)
        if found == NULL or type(<object>found) is not _CONNECTION:
            return False
        target = <object>found
        if _load(target, _C_BLOCKED, "blocked") is not False:
            return False
        found = PyDict_GetItem(self.server_conns, _load(target, _C_CONN, "conn"))
        if found == NULL or type(<object>found) is not NativeConnection:
            return False  # another node's, or gone: the Python path decides
        listener = <NativeConnection>found
        last_ms_obj = _load(c, _C_LAST_MS, "last_ms")
        sent_obj = _load(c, _C_SENT, "sent")
        if not (
            PyLong_CheckExact(last_ms_obj)
            and PyLong_CheckExact(sent_obj)
            and PyLong_CheckExact(_load(target, _C_SENT, "sent"))
            and PyLong_CheckExact(_load(target, _C_INFLIGHT_BYTES, "inflight_bytes"))
        ):
            return False

        # -- every check passed: the changes of receive_fast + _forward, in their order --
        if PyLong_AsLongLong(last_ms_obj) != now:
            _store(c, _C_LAST_MS, "last_ms", now_obj)
            self.move_to_end(conn_id)
        if bucket is not None:
            _store(bucket, _B_TAT, "tat", tat)
        if source_bucket is not None:
            _store(source_bucket, _B_TAT, "tat", source_tat)
        _store(c, _C_SENT, "sent", PyLong_AsLongLong(sent_obj) + 1)
        # Re-read: the target may be the sender itself.
        seq = PyLong_AsLongLong(_load(target, _C_SENT, "sent")) + 1
        _store(target, _C_SENT, "sent", seq)
        inflight = _load(target, _C_INFLIGHT, "inflight")
        if not inflight:
            inflight = self.track_start(target, now_obj)
        kept = (seq, data, address)
        # An int and two bytes can be in no reference cycle: the collector would untrack the
        # tuple at its first pass anyway (CPython's _PyTuple_MaybeUntrack); doing it now keeps
        # the frames held for re-delivery out of every young-generation collection.
        PyObject_GC_UnTrack(<PyObject *>kept)
        inflight.append(kept)
        inflight_bytes = PyLong_AsLongLong(_load(target, _C_INFLIGHT_BYTES, "inflight_bytes")) + size
        _store(target, _C_INFLIGHT_BYTES, "inflight_bytes", inflight_bytes)
        if inflight_bytes > self.window:
            self.over_window(target)
        self.counted += 1  # Router._forwarded, _forwarded_bytes
        self.counted_bytes += size
        self.forwarded += 1

        # -- RelayServer._receive: the frame to the recipient, then the Ack to the sender --
        if size > self.release_after:
            conn.release = True
        ack = PyBytes_FromStringAndSize(NULL, _ACK_SIZE)
        out = PyBytes_AS_STRING(ack)
        memcpy(out, _ACK_PREFIX, _ACK_PREFIX_SIZE)
        memcpy(out + _ACK_PREFIX_SIZE, p + _IDS_AT, _IDS_END - _IDS_AT)
        out[_ACK_SIZE - 1] = <char>_ACCEPTED
        self._queue(listener, data, size)
        if self.server_conns.get(conn_id) is conn:
            self._queue(conn, ack, _ACK_SIZE)
        return True

    cdef int _queue(self, NativeConnection listener, bytes data, Py_ssize_t size) except -1:
        """RelayServer._queue: add a frame to the listener's next write."""
        header = _ws_header(size)
        outgoing = listener.outgoing
        if outgoing is None:
            listener.outgoing = [header, data]
            server = self.server
            dirty = server._dirty
            dirty.append(listener)
            if len(dirty) == 1:
                loop = server._loop
                if loop is not None:
                    loop.call_soon(server._flush)
        else:
            outgoing.append(header)
            outgoing.append(data)
        return 0
