"""Writing Apple flat packages (.pkg) without Apple's tools, byte for byte reproducibly.

A flat package is a xar archive whose members are stored uncompressed (Installer rejects
compressed ones): ``Bom`` (Apple's BOMStore bill of materials), ``PackageInfo`` (XML),
``Payload`` and ``Scripts`` (gzip'd cpio, "odc" format, ``./``-prefixed names). A product
archive wraps component packages beside a ``Distribution`` file. Debian has no xar or
mkbom and PyPI no writer, so this module writes all three formats; the tests read the
result with independent readers (libarchive, apple-platform-rs, the apple-bom parser).

Formats: xar per its public header/TOC layout; BOMStore per bomutils' mkbom (Fabian Renn
et al.); cpio odc per POSIX.1 (``070707`` headers, octal fields).
"""

from __future__ import annotations

import gzip
import hashlib
import stat
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["Entry", "bom", "cksum", "cpio_odc", "entries_from_tree", "gzip_bytes", "xar"]

FILE, DIRECTORY, SYMLINK = "file", "directory", "symlink"
_TYPE_BITS = {FILE: stat.S_IFREG, DIRECTORY: stat.S_IFDIR, SYMLINK: stat.S_IFLNK}


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a payload: relative (``""`` is the root), owned by root:wheel."""

    path: str
    kind: str
    mode: int  # permission bits only
    data: bytes = b""  # a file's content, or a symlink's target
    uid: int = 0
    gid: int = 0

    @property
    def full_mode(self) -> int:
        return _TYPE_BITS[self.kind] | self.mode

    @property
    def name(self) -> str:
        return "." if not self.path else "./" + self.path


def entries_from_tree(root: Path) -> list[Entry]:
    """Every path under ``root`` (itself included), sorted; modes as staged, root-owned."""
    entries = [Entry("", DIRECTORY, 0o755)]
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root).as_posix()
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            entries.append(Entry(relative, SYMLINK, 0o755, str(path.readlink()).encode()))
        elif path.is_dir():
            entries.append(Entry(relative, DIRECTORY, mode))
        else:
            entries.append(Entry(relative, FILE, mode, path.read_bytes()))
    return entries


# ---------------------------------------------------------------- cpio (odc) and gzip


def cpio_odc(entries: Iterable[Entry], mtime: int) -> bytes:
    """A POSIX odc cpio archive of ``entries`` in order, every mtime set to ``mtime``."""
    out = bytearray()

    def member(ino: int, mode: int, nlink: int, name: str, data: bytes) -> None:
        encoded = name.encode() + b"\0"
        out.extend(
            (
                f"070707{0:06o}{ino:06o}{mode:06o}{0:06o}{0:06o}{nlink:06o}{0:06o}"
                f"{mtime:011o}{len(encoded):06o}{len(data):011o}"
            ).encode()
        )
        out.extend(encoded)
        out.extend(data)

    for ino, entry in enumerate(entries, start=1):
        nlink = 2 if entry.kind == DIRECTORY else 1
        member(ino, entry.full_mode, nlink, entry.name, entry.data)
    member(0, 0, 1, "TRAILER!!!", b"")
    return bytes(out)


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no name and a zero time in the header, so output depends on input only."""
    return gzip.compress(data, compresslevel=9, mtime=0)


# ---------------------------------------------------------------- BOMStore

_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def cksum(data: bytes) -> int:
    """POSIX ``cksum``'s CRC, as Bom files record it.

    That CRC is MSB-first with no initial inversion and the length appended; zlib's
    CRC-32 is the bit-reflected twin, so it is computed on bit-reversed bytes.
    """
    length = len(data)
    suffix = bytearray()
    while length:
        suffix.append(length & 0xFF)
        length >>= 8
    reflected = zlib.crc32((data + bytes(suffix)).translate(_REVERSED_BITS), 0xFFFFFFFF)
    return int(f"{reflected:032b}"[::-1], 2)


class _Blocks:
    """A BOMStore's numbered blocks; block 0 is the null block."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    def add(self, block: bytes) -> int:
        self.data.append(block)
        return len(self.data)

    def replace(self, index: int, block: bytes) -> None:
        self.data[index - 1] = block


_BOM_TYPES = {FILE: 1, DIRECTORY: 2, SYMLINK: 3}
_LEAF_PATHS = 256  # entries per leaf of the paths tree, as mkbom writes them
_EMPTY_LEAF = struct.pack(">HHII", 1, 0, 0, 0)


def _tree(child: int, block_size: int, count: int) -> bytes:
    return b"tree" + struct.pack(">IIIIB", 1, child, block_size, count, 0)


def _path_info(entry: Entry, mtime: int) -> bytes:
    link = entry.data + b"\0" if entry.kind == SYMLINK else b""
    size = len(entry.data) if entry.kind != DIRECTORY else 0
    checksum = cksum(entry.data) if entry.kind != DIRECTORY else 0
    return (
        struct.pack(
            ">BBHHIIIIBII",
            _BOM_TYPES[entry.kind],
            1,
            3,
            entry.full_mode,
            entry.uid,
            entry.gid,
            mtime,
            size,
            1,
            checksum,
            len(link),
        )
        + link
    )


def _breadth_first(entries: Sequence[Entry]) -> list[tuple[int, str, Entry]]:
    """(parent id, name, entry) numbered from 1 breadth-first, children by name."""
    by_path = {e.path: e for e in entries}
    children: dict[str, list[str]] = {}
    for entry in entries:
        if entry.path:
            children.setdefault(entry.path.rpartition("/")[0], []).append(entry.path)
    order: list[tuple[int, str, Entry]] = []
    queue: list[tuple[int, Entry]] = [(0, by_path[""])]
    while queue:
        parent_id, entry = queue.pop(0)
        order.append((parent_id, entry.path.rpartition("/")[2] or ".", entry))
        queue.extend((len(order), by_path[c]) for c in sorted(children.get(entry.path, [])))
    return order


def _paths_tree(blocks: _Blocks, order: list[tuple[int, str, Entry]], mtime: int) -> int:
    """The Paths tree's top block: one leaf, or an index of leaves of 256."""
    leaves: list[tuple[int, int]] = []  # (leaf block, last file block)
    previous = 0
    for start in range(0, len(order), _LEAF_PATHS):
        indices = b""
        last_file = 0
        for number, (parent_id, name, entry) in enumerate(
            order[start : start + _LEAF_PATHS], start=start + 1
        ):
            info2 = blocks.add(_path_info(entry, mtime))
            info1 = blocks.add(struct.pack(">II", number, info2))
            last_file = blocks.add(struct.pack(">I", parent_id) + name.encode() + b"\0")
            indices += struct.pack(">II", info1, last_file)
        count = min(_LEAF_PATHS, len(order) - start)
        leaf = blocks.add(struct.pack(">HHII", 1, count, 0, previous) + indices)
        if previous:  # link the previous leaf forward to this one
            old = blocks.data[previous - 1]
            blocks.replace(previous, old[:4] + struct.pack(">I", leaf) + old[8:])
        leaves.append((leaf, last_file))
        previous = leaf
    if len(leaves) == 1:
        return leaves[0][0]
    return blocks.add(
        struct.pack(">HHII", 0, len(leaves), 0, 0)
        + b"".join(struct.pack(">II", leaf, last) for leaf, last in leaves)
    )


def _store(blocks: _Blocks, variables: list[tuple[str, int]]) -> bytes:
    """Header, variables, blocks, block table and free list, as BOMStore lays them out."""
    header_size = 512
    vars_bytes = struct.pack(">I", len(variables)) + b"".join(
        struct.pack(">IB", index, len(name)) + name.encode() for name, index in variables
    )
    body = b"".join(blocks.data)
    pointers = [(0, 0)]
    address = header_size + len(vars_bytes)
    for block in blocks.data:
        pointers.append((address, len(block)))
        address += len(block)
    table = struct.pack(">I", len(pointers)) + b"".join(
        struct.pack(">II", a, n) for a, n in pointers
    )
    free_list = struct.pack(">I", 0) + bytes(16)
    index_offset = header_size + len(vars_bytes) + len(body)
    header = b"BOMStore" + struct.pack(
        ">IIIIII",
        1,
        len(blocks.data),
        index_offset,
        len(table) + len(free_list),
        header_size,
        len(vars_bytes),
    )
    return header.ljust(header_size, b"\0") + vars_bytes + body + table + free_list


def bom(entries: Sequence[Entry], mtime: int) -> bytes:
    """A BOMStore listing ``entries`` (the root ``.`` first), as mkbom lays it out."""
    order = _breadth_first(entries)
    blocks = _Blocks()
    variables = [("BomInfo", blocks.add(struct.pack(">III", 1, len(order) + 1, 1) + bytes(16)))]
    variables.append(
        ("Paths", blocks.add(_tree(_paths_tree(blocks, order, mtime), 4096, len(order))))
    )
    variables.append(("HLIndex", blocks.add(_tree(blocks.add(_EMPTY_LEAF), 4096, 0))))
    vtree = blocks.add(_tree(blocks.add(_EMPTY_LEAF), 128, 0))
    variables.append(("VIndex", blocks.add(struct.pack(">III", 1, vtree, 0) + b"\0")))
    variables.append(("Size64", blocks.add(_tree(blocks.add(_EMPTY_LEAF), 4096, 0))))
    return _store(blocks, variables)


# ---------------------------------------------------------------- xar


@dataclass(frozen=True, slots=True)
class Member:
    """A xar member: a file with content, or a folder of members."""

    name: str
    data: bytes = b""
    children: tuple[Member, ...] | None = None  # a folder when not None
    mode: int = 0o644


def _xar_toc(members: Sequence[Member], when: str) -> tuple[str, list[bytes]]:
    heap: list[bytes] = []
    offset = 20  # the TOC's SHA-1 comes first in the heap
    next_id = 1
    lines: list[str] = []

    def write(member: Member, indent: str) -> None:
        nonlocal offset, next_id
        lines.append(f'{indent}<file id="{next_id}">')
        next_id += 1
        inner = indent + " "
        if member.children is None:
            lines.extend(_data_lines(member.data, offset, inner))
            heap.append(member.data)
            offset += len(member.data)
        lines.extend(_attribute_lines(member, when, inner))
        for child in member.children or ():
            write(child, inner)
        lines.append(f"{indent}</file>")

    for member in members:
        write(member, "  ")
    toc = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<xar>",
            " <toc>",
            f"  <creation-time>{when}</creation-time>",
            '  <checksum style="sha1">',
            "   <offset>0</offset>",
            "   <size>20</size>",
            "  </checksum>",
            *lines,
            " </toc>",
            "</xar>",
            "",
        ]
    )
    return toc, heap


def _data_lines(data: bytes, offset: int, inner: str) -> list[str]:
    """Where a file's bytes lie in the heap, stored as they are, and their checksums."""
    digest = hashlib.sha1(data).hexdigest()  # noqa: S324 - xar's format
    return [
        f"{inner}<data>",
        f"{inner} <length>{len(data)}</length>",
        f"{inner} <offset>{offset}</offset>",
        f"{inner} <size>{len(data)}</size>",
        f'{inner} <encoding style="application/octet-stream"/>',
        f'{inner} <extracted-checksum style="sha1">{digest}</extracted-checksum>',
        f'{inner} <archived-checksum style="sha1">{digest}</archived-checksum>',
        f"{inner}</data>",
    ]


def _attribute_lines(member: Member, when: str, inner: str) -> list[str]:
    """A member's times, root:wheel ownership, mode, type and name."""
    kind = "file" if member.children is None else "directory"
    return [
        f"{inner}<ctime>{when}</ctime>",
        f"{inner}<mtime>{when}</mtime>",
        f"{inner}<atime>{when}</atime>",
        f"{inner}<group>wheel</group>",
        f"{inner}<gid>0</gid>",
        f"{inner}<user>root</user>",
        f"{inner}<uid>0</uid>",
        f"{inner}<mode>{member.mode:04o}</mode>",
        f"{inner}<type>{kind}</type>",
        f"{inner}<name>{escape(member.name)}</name>",
    ]


def xar(members: Sequence[Member], mtime: int) -> bytes:
    """A xar archive with every member stored (``application/octet-stream``)."""
    when = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    toc, heap = _xar_toc(members, when)
    raw = toc.encode()
    compressed = zlib.compress(raw, 9)
    checksum = hashlib.sha1(compressed).digest()  # noqa: S324 - xar's format
    header = struct.pack(">4sHHQQI", b"xar!", 28, 1, len(compressed), len(raw), 1)
    return header + compressed + checksum + b"".join(heap)
