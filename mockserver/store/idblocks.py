"""Integer ids handed out from blocks the database reserves, so a create writes no counter row.

A new integer id used to cost a create an upsert of its counter's row: one more B-tree in its
write transaction, and with workers sharing a file, that page read again after every commit of
the other worker. Now the database's counter is moved a block ahead (``BLOCK`` ids) once, and the
ids inside the block are handed out from a slot of a small file every process of the database
maps into memory: in the order the creates take the write lock, as before, whichever worker
serves them. Every read and write of a slot happens while the database's write lock is held, so
the slots need no lock of their own.

What the database holds stays the truth: its counter is never behind an id a committed slot gave,
and a reservation starts past the counter, the company's record count and its highest id. A slot
is trusted by a process only once it saw the database's counter equal to the slot's block end and
no id above the slot's last (or wrote the block itself): a slot file left by an earlier run, or
beside a database copied back from a backup, is checked before its first id. A write that rolls
back puts its slots back as they were (``undo``, still under the lock), so its ids are given again;
replacing the counters (an import, a reset, a bulk load) or a failed commit invalidates every slot.
An export says the last id given (``settle``), not the end of a block. Losing the file loses only
the rest of each block: ids go on past the database's counter.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from pathlib import Path

BLOCK = 64  # ids the database's counter moves ahead at once: one counter write in this many creates
SLOTS = 4096
_WORD = struct.Struct("<Q")
_SLOT = struct.Struct("<QQQQ")  # key (hash of company and name; 0: free), epoch (0: invalid), last given, block end
_HEADER = _SLOT.size  # the epoch every valid slot carries, the database the slots belong to, then padding
_SIZE = _HEADER + SLOTS * _SLOT.size
_PROBES = 32  # slots looked at from a key's home slot before the key goes without one (its counter row then)
_KEY, _EPOCH, _LAST, _END = (0, 8, 16, 24)
_OWNER = 8  # in the header: the identity of the database whose counters the slots hand out


class IdBlocks:
    """Slots of reserved id blocks by (company, counter name), in shared memory or this process's own."""

    def __init__(self, memory: mmap.mmap | bytearray) -> None:
        self._memory = memory
        self._slots: dict[tuple[int, str], int | None] = {}  # this process's lookups: (company, name) -> offset
        self._trusted: set[int] = set()  # slot offsets this process checked against the database, or wrote
        self._undo: list[tuple[int, bytes | None]] = []  # (offset, bytes before) or (offset, None): trusted since
        if self._epoch() == 0:
            self.forget_all()

    @classmethod
    def shared(cls, path: Path) -> IdBlocks | None:
        """The slots in the file at ``path`` (made when missing), or None where it cannot be mapped for writing."""
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            if os.fstat(descriptor).st_size < _SIZE:
                os.ftruncate(descriptor, _SIZE)  # zeros; growing a file another process maps keeps its bytes
            memory = mmap.mmap(descriptor, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, ValueError):
            return None
        finally:
            os.close(descriptor)  # the mapping keeps the file
        return cls(memory)

    @classmethod
    def private(cls) -> IdBlocks:
        """Slots only this process uses (a temporary database: no other process opens it)."""
        return cls(bytearray(_SIZE))

    # -- slots -------------------------------------------------------------------------------------
    def slot(self, company: int, name: str) -> int | None:
        """The offset of the counter's slot (claimed now if it has none), or None when its probes are all taken."""
        found = self._slots.get((company, name), -1)
        if found != -1:
            return found
        key = _key(company, name)
        offset = self._probe(key)
        if offset is not None and self._word(offset + _KEY) == 0:  # free: claimed for good (never undone), invalid
            _WORD.pack_into(self._memory, offset + _KEY, key)
        self._slots[(company, name)] = offset
        return offset

    def find(self, company: int, name: str) -> int | None:
        """The offset of the counter's slot if it has one (none is claimed)."""
        key = _key(company, name)
        offset = self._probe(key)
        return offset if offset is not None and self._word(offset + _KEY) == key else None

    def _probe(self, key: int) -> int | None:
        """The slot holding the key, else the first free one from its home slot; None when every probe is taken."""
        home = key % SLOTS
        for probe in range(_PROBES):
            candidate = _HEADER + ((home + probe) % SLOTS) * _SLOT.size
            if self._word(candidate + _KEY) in (key, 0):
                return candidate
        return None

    def settle(self, offset: int, counter: int) -> int | None:
        """Give back the rest of a valid block the database's counter ends with: the last id given, else None.

        So what the counter says (an export, a baseline a reset returns to) is the last id given, not
        the end of a block: the next id after an import or a reset is the one after it.
        """
        if self._word(offset + _EPOCH) != self._epoch() or self._word(offset + _END) != counter:
            return None
        last = self._word(offset + _LAST)
        if last >= counter:
            return None
        self._write(offset + _END, last)
        return last

    def next(self, offset: int) -> int | None:
        """The next id of a valid, trusted slot's block (now given), else None: a block must be reserved."""
        if offset not in self._trusted or self._word(offset + _EPOCH) != self._epoch():
            return None
        last = self._word(offset + _LAST) + 1
        if last > self._word(offset + _END):
            return None
        self._write(offset + _LAST, last)
        return last

    def untrusted_end(self, offset: int) -> int | None:
        """A valid slot's block end this process has yet to check against the database's counter (else None)."""
        if offset in self._trusted or self._word(offset + _EPOCH) != self._epoch():
            return None
        return self._word(offset + _END)

    def trust(self, offset: int) -> None:
        """The database's counter ends where the slot's block does: this process may give its ids."""
        if offset not in self._trusted:
            self._trusted.add(offset)
            self._undo.append((offset, None))

    def floor(self, offset: int) -> int:
        """The last id a valid slot gave (0 when invalid): a new block starts past it."""
        return self._word(offset + _LAST) if self._word(offset + _EPOCH) == self._epoch() else 0

    def reserved(self, offset: int, first: int, end: int) -> None:
        """The database's counter now ends at ``end``, and ``first`` is given.

        The epoch is written last: a process that stops halfway leaves the slot invalid, never a block
        that overlaps ids already given.
        """
        self._write(offset + _EPOCH, 0)
        self._write(offset + _LAST, first)
        self._write(offset + _END, end)
        self._write(offset + _EPOCH, self._epoch())
        self.trust(offset)

    def raised(self, offset: int, value: int) -> None:
        """An id was stored as given (an import, a client's own id): the slot never gives it or one under it."""
        if self._word(offset + _EPOCH) != self._epoch() or value <= self._word(offset + _LAST):
            return
        if value > self._word(offset + _END):
            self._write(offset + _END, value)  # the counter was raised to it as well
        self._write(offset + _LAST, value)

    def forget(self, offset: int) -> None:
        """The counter was set by hand: its next id reserves a block from the database again."""
        self._write(offset + _EPOCH, 0)

    def belongs_to(self, database: int) -> None:
        """Tie the slots to a database, under its write lock: another database's slots are forgotten.

        A database deleted and made again beside its old slot file then starts its ids from its own counters.
        """
        if self._word(_OWNER) != database:
            self.forget_all()
            self._write(_OWNER, database)

    def forget_all(self) -> None:
        """Every counter was replaced (an import, a reset, a bulk load): every slot is invalid from now on."""
        self._write(0, int.from_bytes(os.urandom(8), "little") or 1)

    # -- undo --------------------------------------------------------------------------------------
    def begin(self) -> None:
        """A write transaction's part starts (the write lock held): what it changes from here can be undone."""
        self._undo.clear()

    def undo(self) -> None:
        """That part rolled back: put its slots back as they were, so its ids are given again (no trace is left)."""
        while self._undo:
            offset, before = self._undo.pop()
            if before is None:
                self._trusted.discard(offset)
            else:
                self._memory[offset : offset + _WORD.size] = before

    def close(self) -> None:
        """Unmap a shared file."""
        if isinstance(self._memory, mmap.mmap):
            self._memory.close()

    def _write(self, offset: int, value: int) -> None:
        self._undo.append((offset, bytes(self._memory[offset : offset + _WORD.size])))
        _WORD.pack_into(self._memory, offset, value)

    def _epoch(self) -> int:
        return self._word(0)

    def _word(self, offset: int) -> int:
        return int(_WORD.unpack_from(self._memory, offset)[0])


def _key(company: int, name: str) -> int:
    """A counter's key in the slots: 64 bits of a hash of its company and name (never 0, which marks a free slot)."""
    return int.from_bytes(hashlib.blake2b(f"{company}\x00{name}".encode(), digest_size=8).digest(), "little") or 1
