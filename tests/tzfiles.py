"""Fixed-offset time zones with offsets of a few seconds, written as TZif files.

Real zones differ by at least 15 minutes, which is too long for a test that wants
to watch several local-time waves arrive. These zones go through the same
zoneinfo code path as IANA zones; only their offsets are unusual.
"""

from __future__ import annotations

import struct
import zoneinfo
from pathlib import Path


def _tzif(offset_seconds: int, abbreviation: str) -> bytes:
    """Return a TZif version 2 file with one local time type and no transitions."""
    designation = abbreviation.encode() + b"\0"

    def data_block() -> bytes:
        # Header: magic, version, 15 reserved bytes, then the counts isutcnt,
        # isstdcnt, leapcnt, timecnt, typecnt and charcnt.
        header = b"TZif2" + b"\0" * 15 + struct.pack(">6l", 0, 0, 0, 0, 1, len(designation))
        local_time_type = struct.pack(">lBB", offset_seconds, 0, 0)
        return header + local_time_type + designation

    # POSIX TZ strings count west of Greenwich as positive, so the sign flips.
    sign = "-" if offset_seconds >= 0 else "+"
    magnitude = abs(offset_seconds)
    footer = f"<{abbreviation}>{sign}{magnitude // 3600}:{magnitude % 3600 // 60:02d}:{magnitude % 60:02d}"
    # A version 2 file repeats the data block with 64-bit times, then the footer.
    return data_block() + data_block() + b"\n" + footer.encode() + b"\n"


def install_zones(directory: Path, offsets: dict[str, int]) -> None:
    """Write a zone per ``name: offset in seconds`` and put ``directory`` first on zoneinfo's path."""
    for name, offset in offsets.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_tzif(offset, "T" + str(abs(offset))))
    if str(directory) not in zoneinfo.TZPATH:
        zoneinfo.reset_tzpath(to=[str(directory), *zoneinfo.TZPATH])
