"""Resumable sha256/sha512 whose state can be saved in the database and continued elsewhere.

An upload is written by several requests, possibly in different processes, so the digest state
must outlive one process. ``hashlib`` cannot export its state, and pickling it is what made
other registries unsafe (STYLE §10). We call OpenSSL's ``SHA256_*``/``SHA512_*`` functions in
the libcrypto that ``hashlib`` itself loaded (through ctypes, which releases the GIL during each
call, so throughput equals hashlib's) and save the raw ``SHA256_CTX``/``SHA512_CTX`` bytes.

Saved state format (ours, versioned): ``b"BHS1"`` + one byte algorithm id + the context bytes.
``ResumableHash.restore`` accepts a state only if its header, size and internal counters are
consistent with the offset it is claimed for; anything else returns None and the caller rehashes
what storage holds. If libcrypto cannot be used at all, hashes still work (via hashlib) but
``state()`` returns None, which degrades uploads to "rehash on finish", never to wrong digests.
"""

from __future__ import annotations

import _hashlib  # noqa: F401  (loads the libcrypto we look up below)
import ctypes
import ctypes.util
import hashlib

MAGIC = b"BHS1"
ALGORITHMS = ("sha256", "sha512")
_ALGORITHM_IDS = {"sha256": 1, "sha512": 2}


class _Sha256Ctx(ctypes.Structure):
    # openssl/sha.h SHA256state_st
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


class _Sha512Ctx(ctypes.Structure):
    # openssl/sha.h SHA512state_st
    _fields_ = [
        ("h", ctypes.c_uint64 * 8),
        ("Nl", ctypes.c_uint64),
        ("Nh", ctypes.c_uint64),
        ("u", ctypes.c_uint8 * 128),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


class _Functions:
    """ctypes bindings of one algorithm: context type, init/update/final, sizes."""

    def __init__(self, lib: ctypes.CDLL, prefix: str, ctx_type: type[ctypes.Structure], digest_size: int, block: int) -> None:
        self.ctx_type = ctx_type
        self.digest_size = digest_size
        self.block = block
        self.init = getattr(lib, f"{prefix}_Init")
        self.update = getattr(lib, f"{prefix}_Update")
        self.final = getattr(lib, f"{prefix}_Final")
        pointer = ctypes.POINTER(ctx_type)
        self.init.argtypes = [pointer]
        self.update.argtypes = [pointer, ctypes.c_char_p, ctypes.c_size_t]
        self.final.argtypes = [ctypes.c_char_p, pointer]
        for fn in (self.init, self.update, self.final):
            fn.restype = ctypes.c_int


def _load_libcrypto() -> ctypes.CDLL | None:
    """The libcrypto already mapped into this process by _hashlib, else the system's."""
    path = None
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                if "libcrypto" in line:
                    path = line.split()[-1]
                    break
    except OSError:
        pass
    if path is None:
        path = ctypes.util.find_library("crypto")
    if not path:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def _bind() -> dict[str, _Functions]:
    lib = _load_libcrypto()
    if lib is None:
        return {}
    try:
        return {
            "sha256": _Functions(lib, "SHA256", _Sha256Ctx, 32, 64),
            "sha512": _Functions(lib, "SHA512", _Sha512Ctx, 64, 128),
        }
    except AttributeError:
        return {}


_FUNCTIONS = _bind()


def resumable_available() -> bool:
    """Whether hash states can be saved (libcrypto found with the SHA*_ functions)."""
    return len(_FUNCTIONS) == len(ALGORITHMS)


class ResumableHash:
    """A sha256 or sha512 over a byte stream; ``state()`` saves it, ``restore`` continues it."""

    def __init__(self, algorithm: str) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.offset = 0
        self._fn = _FUNCTIONS.get(algorithm)
        self._ctx = None
        self._fallback = None
        if self._fn is not None:
            self._ctx = self._fn.ctx_type()
            self._fn.init(ctypes.byref(self._ctx))
        else:
            self._fallback = hashlib.new(algorithm)

    def update(self, data: bytes) -> None:
        """Feed ``data`` (bytes, not a view: ctypes passes the buffer without copying it)."""
        if self._ctx is not None:
            self._fn.update(ctypes.byref(self._ctx), data, len(data))
        else:
            self._fallback.update(data)
        self.offset += len(data)

    def hexdigest(self) -> str:
        """The digest of everything fed so far; the hash can keep going afterwards."""
        if self._ctx is None:
            return self._fallback.hexdigest()
        copy = self._fn.ctx_type.from_buffer_copy(bytes(self._ctx))
        out = ctypes.create_string_buffer(self._fn.digest_size)
        self._fn.final(out, ctypes.byref(copy))
        return out.raw.hex()

    def digest(self) -> str:
        """``<algorithm>:<hex>``, the OCI digest string."""
        return f"{self.algorithm}:{self.hexdigest()}"

    def state(self) -> bytes | None:
        """The saved state in our format, or None when resumable hashing is unavailable."""
        if self._ctx is None:
            return None
        return MAGIC + bytes([_ALGORITHM_IDS[self.algorithm]]) + bytes(self._ctx)

    @classmethod
    def restore(cls, state: bytes | None, offset: int) -> ResumableHash | None:
        """Continue a hash saved by ``state()`` after ``offset`` bytes; None if it cannot be trusted."""
        if not state or not resumable_available() or len(state) < len(MAGIC) + 1 or not state.startswith(MAGIC):
            return None
        algorithm = next((name for name, ident in _ALGORITHM_IDS.items() if ident == state[len(MAGIC)]), None)
        if algorithm is None:
            return None
        fn = _FUNCTIONS[algorithm]
        raw = state[len(MAGIC) + 1 :]
        if len(raw) != ctypes.sizeof(fn.ctx_type):
            return None
        ctx = fn.ctx_type.from_buffer_copy(raw)
        # The context counts the bits it has seen and the bytes pending in its block buffer:
        # both must agree with the offset, which rejects stale, foreign or corrupted states.
        width = 32 if algorithm == "sha256" else 64
        bits = (ctx.Nh << width) | ctx.Nl
        if bits != offset * 8 or ctx.num != offset % fn.block or ctx.md_len != fn.digest_size:
            return None
        restored = cls(algorithm)
        restored._ctx = ctx
        restored.offset = offset
        return restored
