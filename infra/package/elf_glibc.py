"""The glibc symbol versions an ELF binary needs, read from its `.gnu.version_r` section
(the version-needs table the dynamic loader checks at start). Standard library only, so
packaging needs no binutils."""

from __future__ import annotations

import struct
from pathlib import Path

SHT_GNU_VERNEED = 0x6FFFFFFE


class NotElf(ValueError):
    pass


def _cstr(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", errors="replace")


def needed_versions(path: Path) -> dict[str, set[str]]:
    """{library: {version names}} the binary needs, e.g. {"libc.so.6": {"GLIBC_2.34", …}}.
    A 64-bit little-endian ELF only (what Lambda's x86_64 and arm64 run)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise NotElf(f"{path} is not an ELF binary")
    if data[4] != 2 or data[5] != 1:
        raise NotElf(f"{path} is not a 64-bit little-endian ELF")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needs: dict[str, set[str]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strtab = sections[link][4]  # the linked string table's file offset
        entry = offset
        for _ in range(info):  # sh_info: the number of Verneed entries
            _version, count, file_name, aux, next_entry = struct.unpack_from("<HHIII", data, entry)
            library = _cstr(data, strtab + file_name)
            names = needs.setdefault(library, set())
            vernaux = entry + aux
            for _ in range(count):
                _hash, _flags, _other, name, next_aux = struct.unpack_from("<IHHII", data, vernaux)
                names.add(_cstr(data, strtab + name))
                if next_aux == 0:
                    break
                vernaux += next_aux
            if next_entry == 0:
                break
            entry += next_entry
    return needs


def version_key(name: str) -> tuple[int, ...]:
    """GLIBC_2.34 → (2, 34); anything else sorts first."""
    _, _, number = name.partition("_")
    try:
        return tuple(int(part) for part in number.split("."))
    except ValueError:
        return ()


def highest_glibc(path: Path) -> str | None:
    """The highest GLIBC_x.y the binary needs, from any library (None: it needs none)."""
    versions = [v for names in needed_versions(path).values() for v in names if v.startswith("GLIBC_")]
    return max(versions, key=version_key) if versions else None
