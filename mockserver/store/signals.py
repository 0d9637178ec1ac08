"""Change signals shared by the processes of one database file: asking "did it change?" costs a memory read.

Every request asks whether the control document moved (faults, keys, the clock) and, when it
authenticates, whether its address failed too often; on a file shared by workers each question
was a SELECT, about a tenth of a create's CPU. A writer commits its change, then writes a new
token into the topic's slot of a small file every process maps into memory; a reader queries the
database again only when the token differs from the one it saw with its last answer.

Topics hash (CRC-32, the same in every process) onto a fixed number of slots: two topics sharing a
slot only cost each other a query now and then. Tokens are random 64-bit numbers, so two writers
bumping one slot at once never leave it at a value a reader already saw (but with odds of 2**-64).
Reads and writes are aligned 8-byte copies; a read torn by a concurrent write sees a value no one
wrote, which only costs that reader a query.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from pathlib import Path

SLOTS = 512
_SLOT = struct.Struct("<Q")
_SIZE = SLOTS * _SLOT.size


class SharedSignals:
    """Change tokens by topic in a file mapped into memory by every process that opens the same database."""

    def __init__(self, path: Path) -> None:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(descriptor).st_size < _SIZE:
                os.ftruncate(descriptor, _SIZE)  # zeros; growing a file another process maps keeps its bytes
            self._memory = mmap.mmap(descriptor, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(descriptor)  # the mapping keeps the file

    @staticmethod
    def _offset(topic: str) -> int:
        return (zlib.crc32(topic.encode()) % SLOTS) * _SLOT.size

    def token(self, topic: str) -> int:
        """The topic's current token: equal to an earlier reading only if no process bumped it since."""
        return int(_SLOT.unpack_from(self._memory, self._offset(topic))[0])

    def bump(self, topic: str) -> None:
        """Tell every process the topic changed (call after the change is committed)."""
        _SLOT.pack_into(self._memory, self._offset(topic), int.from_bytes(os.urandom(_SLOT.size), "little"))

    def close(self) -> None:
        """Unmap the file."""
        self._memory.close()


def open_signals(path: Path) -> SharedSignals | None:
    """The signals file at ``path``, or None where it cannot be opened for writing.

    Without it this process queries on every read, as on PostgreSQL; its own changes then go
    unsignalled, so another process sharing the file sees them only once something else moves the
    topic. The file sits beside the database, which a process sharing it must be able to write anyway.
    """
    try:
        return SharedSignals(path)
    except (OSError, ValueError):
        return None
