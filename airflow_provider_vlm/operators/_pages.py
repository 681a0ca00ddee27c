"""How many pages a document has, read from its bytes with the standard library alone.

The budget (``max_credits``) needs an upper bound of each input's cost before it is submitted,
and documents are billed per page. A PDF names every page object ``/Type /Page`` and its page
tree's root says ``/Count n``; modern PDFs keep objects in compressed object streams, which are
inflated here with ``zlib``. The count is the larger of "page objects seen" and "largest
``/Count``": an incremental update that left old page objects behind makes it too high, never
too low. When a PDF hides its objects where this cannot look (an object stream it cannot
inflate: encrypted, or another filter), the answer is ``None``: unknown, not a guess.
"""

from __future__ import annotations

import re
import zlib

#: ``/Type /Page`` (not ``/Pages``): a name ends at whitespace or a delimiter.
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![^\s/<>\[\]()%{}])")
#: ``/Count n`` of a page tree node; the root's is the largest.
_COUNT_RE = re.compile(rb"/Count\s+(\d+)")
_STREAM_RE = re.compile(rb"(?<!end)stream\r?\n")
_OBJ_RE = re.compile(rb"\d+\s+\d+\s+obj\b")
#: Magic numbers of single-page images a document input may be (a scan as a PNG or JPEG).
_SINGLE_PAGE_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def is_pdf(content: bytes) -> bool:
    return b"%PDF-" in content[:1024]


def _object_streams(content: bytes) -> tuple[list[bytes], bool]:
    """The inflated object streams, and whether every one of them could be read."""
    inflated: list[bytes] = []
    complete = True
    for match in _STREAM_RE.finditer(content):
        head_start = max(0, match.start() - 4096)
        head = content[head_start : match.start()]
        objects = list(_OBJ_RE.finditer(head))
        if objects:
            head = head[objects[-1].end() :]
        if b"/ObjStm" not in head:
            continue
        end = content.find(b"endstream", match.end())
        data = content[match.end() : end if end >= 0 else len(content)]
        if b"/FlateDecode" not in head and b"/Fl " not in head and b"/Fl/" not in head:
            complete = False
            continue
        try:
            inflated.append(zlib.decompressobj().decompress(data))
        except zlib.error:
            complete = False
    return inflated, complete


def pdf_pages(content: bytes) -> int | None:
    """The page count of a PDF (an upper bound), or ``None`` when it cannot be read from the bytes."""
    if not is_pdf(content):
        return None
    streams, complete = _object_streams(content)
    if not complete:
        return None
    pages = 0
    count = 0
    for part in (content, *streams):
        pages += len(_PAGE_RE.findall(part))
        count = max([count, *(int(n) for n in _COUNT_RE.findall(part))])
    found = max(pages, count)
    return found or None


def document_pages(content: bytes) -> int | None:
    """Pages of a document input: a PDF's count, 1 for a single-page image, else ``None`` (unknown)."""
    if is_pdf(content):
        return pdf_pages(content)
    if content.startswith(_SINGLE_PAGE_IMAGES) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        return 1
    return None
