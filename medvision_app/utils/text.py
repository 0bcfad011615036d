"""Text that must stay on one line: error messages that carry file names."""

from __future__ import annotations


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\t``, ``\\x1b``...), so it prints as one line.

    A file name may hold a newline or a terminal escape; printed raw, it would
    split an ``error:`` line in two or drive the user's terminal. Printable
    characters, including non-ASCII letters, are kept as they are; names that
    are not valid UTF-8 (surrogate escapes) show their bytes as ``\\xNN``.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)
