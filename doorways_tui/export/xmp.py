"""XMP: the ratings, picks and keywords other photo tools read (digiKam, darktable,
Lightroom, immich, exiftool), written beside an exported image or inside it, and read back.

What a packet says about an image (``xmp_packet``):

- ``xmp:Rating``: the artist's rating 1-5, 0 when unrated, -1 when rejected (rejected wins;
  the rating is kept in the library and comes back when the image is un-rejected).
- The star is a pick, not a rating (a starred image has no rating unless given one, and
  importing must not invent one): colour label Green as Lightroom and Bridge write it
  (``xmp:Label``) and as darktable does (``darktable:colorlabels``), and digiKam's pick
  label (``digiKam:PickLabel``: 3 accepted, 1 rejected).
- ``dc:subject`` keywords (``doors:3``, ``starred``, ``rating:4``, ``theme:...``,
  ``variant:12``, ``seed:7``, ``doorways``), the same as a tree in
  ``lr:hierarchicalSubject`` and ``digiKam:TagsList``; the prompt as ``dc:description``.
- ``doorways:SHA256``: the library's checksum of the image, so ``doorways import-xmp``
  finds the image even when the PNG's bytes changed (XMP embedded in it).

Reading (``read_xmp``) accepts what other tools write: attributes or elements, the rating
as "-1", "3" or "3.0". No DOCTYPE is accepted (no entities). Packets carry no date, so
the same marks always give the same bytes (an unchanged export stays unchanged).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from doorways_engine.errors import DoorwaysError
from doorways_tui import __version__

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "darktable": "http://darktable.sf.net/",
    "doorways": "urn:doorways:xmp:1.0",
}
STAR_LABEL = "Green"  # xmp:Label of a starred image (Lightroom's default green label)
DARKTABLE_GREEN = "2"  # darktable:colorlabels: 0 red, 1 yellow, 2 green, 3 blue, 4 purple
PICK_ACCEPTED, PICK_REJECTED = "3", "1"  # digiKam:PickLabel (0 none, 2 pending)
REJECTED_RATING = -1
XMP_MODES = ("sidecar", "embed", "both", "none")
"""Where export puts XMP: a ``NAME.png.xmp`` file beside each image (the default: the PNG
stays the library's bytes), inside the PNG, both, or nowhere."""


class XmpError(DoorwaysError):
    """An XMP packet or a PNG that cannot be read; the message says which and why."""


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


# -- writing ---------------------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    """Text XML 1.0 can hold: characters it forbids (NUL, other controls, lone surrogates)
    become U+FFFD, then markup is escaped."""
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def _attr(value: object) -> str:
    return quoteattr(
        _NOT_XML.sub("\ufffd", str(value)), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
    )


def keywords(record: Mapping[str, Any]) -> list[str]:
    """The flat keywords of an exported record: its tags, then where it came from."""
    words = ["doorways", *record.get("tags", ())]
    words += [f"theme:{record['theme']}", f"variant:{record['variant_id']}"]
    words.append(f"seed:{record['seed']}")
    return words


def xmp_rating(record: Mapping[str, Any]) -> int:
    """-1 for a rejected image, else its rating, 0 when it has none."""
    return REJECTED_RATING if record.get("rejected") else int(record.get("rating") or 0)


def _bag(prefix: str, name: str, items: Iterable[str], kind: str = "Bag") -> str:
    lis = "".join(f"\n     <rdf:li>{_text(item)}</rdf:li>" for item in items)
    return (
        f"\n   <{prefix}:{name}>\n    <rdf:{kind}>{lis}\n    </rdf:{kind}>\n   </{prefix}:{name}>"
    )


def xmp_packet(record: Mapping[str, Any]) -> bytes:
    """A whole XMP packet (UTF-8 RDF/XML) for one exported image record (see
    ``export.folder.record_for``)."""
    starred, rejected = bool(record.get("starred")), bool(record.get("rejected"))
    attrs = {
        "xmp:Rating": str(xmp_rating(record)),
        "xmp:CreatorTool": f"Doorways {__version__}",
        "doorways:ImageID": str(record["image_id"]),
        "doorways:SHA256": record.get("sha256") or "",
        "doorways:Seed": str(record["seed"]),
    }
    if starred:
        attrs["xmp:Label"] = STAR_LABEL
    if starred or rejected:
        attrs["digiKam:PickLabel"] = PICK_REJECTED if rejected else PICK_ACCEPTED
    if record.get("door_count") is not None:
        attrs["doorways:DoorCount"] = str(record["door_count"])
    words = keywords(record)
    tree = [w.split(":", 1) if ":" in w else [w] for w in words[1:]]
    body = (
        "\n   <dc:description>\n    <rdf:Alt>\n"
        f'     <rdf:li xml:lang="x-default">{_text(record.get("prompt", ""))}</rdf:li>\n'
        "    </rdf:Alt>\n   </dc:description>"
        + _bag("dc", "subject", words)
        + _bag("lr", "hierarchicalSubject", ("|".join(["Doorways", *p]) for p in tree))
        + _bag("digiKam", "TagsList", ("/".join(["Doorways", *p]) for p in tree), "Seq")
    )
    if starred:
        body += _bag("darktable", "colorlabels", [DARKTABLE_GREEN], "Seq")
    xmlns = "".join(
        f"\n    xmlns:{p}={_attr(uri)}" for p, uri in NS.items() if p not in ("x", "rdf")
    )
    attributes = "".join(f"\n    {k}={_attr(v)}" for k, v in attrs.items())
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS["x"]}" x:xmptk="Doorways {_text(__version__)}">\n'
        f' <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n'
        f'  <rdf:Description rdf:about=""{xmlns}{attributes}>{body}\n'
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )
    return text.encode("utf-8")


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmpMarks:
    """What a packet says about the marks Doorways keeps; None: it says nothing of it."""

    rating: int | None = None  # 1-5; 0 means "no rating"
    rejected: bool | None = None
    starred: bool | None = None
    sha256: str | None = None  # the library checksum Doorways wrote (doorways:SHA256)

    def changes(self, image: Any) -> dict[str, Any]:
        """The triage fields of ``image`` this packet changes (none when it agrees). A
        rejecting packet leaves the rating alone (rejected images keep theirs)."""
        want: dict[str, Any] = {}
        if self.rejected is not None:
            want["rejected"] = int(self.rejected)
        if self.rating is not None and not self.rejected:
            want["rating"] = self.rating or None
        if self.starred is not None:
            want["starred"] = int(self.starred)
        return {k: v for k, v in want.items() if getattr(image, k) != v}


def _values(root: ET.Element) -> dict[str, list[str]]:
    """Every property of every rdf:Description, by qualified name: attributes, simple
    elements, and the items of Seq/Bag/Alt containers."""
    found: dict[str, list[str]] = {}
    for desc in root.iter(_q("rdf", "Description")):
        for name, value in desc.attrib.items():
            found.setdefault(name, []).append(value.strip())
        for prop in desc:
            items = [li.text or "" for li in prop.iter(_q("rdf", "li"))]
            if not items and prop.text and prop.text.strip():
                items = [prop.text]
            elif not items and (res := prop.get(_q("rdf", "resource"))) is not None:
                items = [res]
            found.setdefault(prop.tag, []).extend(i.strip() for i in items)
    return found


def _rating(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise XmpError(f"xmp:Rating {text[:20]!r} is not a number") from None
    if value < 0:
        return REJECTED_RATING
    return min(5, round(value)) if value == value else None  # NaN says nothing


def read_xmp(data: bytes) -> XmpMarks:
    """The marks an XMP packet (a sidecar's bytes, or a PNG's embedded text) carries."""
    try:
        data.decode("utf-8")  # XMP is UTF-8; so the check below sees every declaration
    except UnicodeDecodeError:
        raise XmpError("it is not UTF-8 text") from None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmpError("it declares a DOCTYPE or entities, which XMP never needs")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise XmpError(f"it is not well-formed XML ({exc})") from None
    values = _values(root)

    def first(prefix: str, name: str) -> str | None:
        got = values.get(_q(prefix, name))
        return got[0] if got else None

    rating = _rating(first("xmp", "Rating"))
    pick = first("digiKam", "PickLabel")
    label, colours = first("xmp", "Label"), values.get(_q("darktable", "colorlabels"))
    rejected = (
        None
        if rating is None and pick is None
        else (rating == REJECTED_RATING or pick == PICK_REJECTED)
    )
    star_fields = (label, colours, pick)
    starred = None
    if any(f is not None for f in star_fields):
        starred = (
            (label or "").casefold() == STAR_LABEL.casefold()
            or DARKTABLE_GREEN in (colours or ())
            or pick == PICK_ACCEPTED
        )
    sha = first("doorways", "SHA256")
    return XmpMarks(
        rating=None if rating is None or rating < 0 else rating,
        rejected=rejected,
        starred=starred,
        sha256=sha.lower() if sha and re.fullmatch(r"[0-9a-fA-F]{64}", sha) else None,
    )


# -- inside a PNG: an iTXt chunk "XML:com.adobe.xmp" ------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"


def _spans(png: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk, in order, up to and including IEND."""
    if not png.startswith(PNG_SIGNATURE):
        raise XmpError("it is not a PNG")
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, end = png[at + 4 : at + 8], at + 12 + length
        if end > len(png):
            raise XmpError("the PNG is cut short")
        yield kind, at, end
        if kind == b"IEND":
            return
        at = end
    raise XmpError("the PNG is cut short (no IEND)")


def _is_xmp(png: bytes, kind: bytes, start: int) -> bool:
    return kind == b"iTXt" and png.startswith(XMP_KEYWORD + b"\0", start + 8)


def strip_xmp(png: bytes) -> bytes:
    """``png`` without its XMP chunks; every other byte as it was (so an image exported
    with embedded XMP strips back to the library's bytes and checksum)."""
    spans = list(_spans(png))
    cut = [(s, e) for kind, s, e in spans if _is_xmp(png, kind, s)]
    if not cut:
        return png
    out, at = [], 0
    for start, end in cut:
        out.append(png[at:start])
        at = end
    out.append(png[at:])
    return b"".join(out)


def embed_xmp(png: bytes, packet: bytes) -> bytes:
    """``png`` with ``packet`` as its one XMP chunk (uncompressed iTXt, before the image
    data, where readers that stop early still find it)."""
    png = strip_xmp(png)
    data = XMP_KEYWORD + b"\0\0\0\0\0" + packet  # no compression, no language, no translation
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + data))
    at = next(s for kind, s, _ in _spans(png) if kind in (b"IDAT", b"IEND"))
    return png[:at] + chunk + png[at:]


def embedded_xmp(png: bytes) -> bytes | None:
    """The XMP packet inside ``png`` (None when it has none)."""
    for kind, start, end in _spans(png):
        if not _is_xmp(png, kind, start):
            continue
        rest = png[start + 8 + len(XMP_KEYWORD) + 1 : end - 4]
        if len(rest) < 2:
            raise XmpError("its XMP chunk is cut short")
        compressed, rest = rest[0] == 1, rest[2:]
        parts = rest.split(b"\0", 2)  # language tag, translated keyword, text
        if len(parts) < 3:
            raise XmpError("its XMP chunk is malformed")
        try:
            return zlib.decompress(parts[2]) if compressed else parts[2]
        except zlib.error:
            raise XmpError("its XMP chunk does not decompress") from None
    return None


# -- beside an image or inside it ------------------------------------------------------------


def sidecar_path(image: Path) -> Path:
    """``NAME.png.xmp``: the XMP sidecar of an exported image, named as darktable and
    digiKam name theirs (so they read it, and write theirs into it)."""
    return image.with_name(image.name + ".xmp")


def sidecar_names(image: Path) -> tuple[Path, Path]:
    """Where a tool may have put an image's sidecar: ``NAME.png.xmp`` (darktable, digiKam,
    Doorways), then ``NAME.xmp`` (Lightroom's naming)."""
    return sidecar_path(image), image.with_suffix(".xmp")


def find_packet(image: Path) -> tuple[bytes | None, Path | None]:
    """The XMP of ``image`` and where it was: its sidecar (which wins, as in darktable and
    digiKam), else the packet inside the PNG; ``(None, None)`` when it has none. A PNG
    that cannot be parsed is an ``XmpError``; a file that cannot be read, an ``OSError``."""
    for side in sidecar_names(image):
        if side.is_file():
            return side.read_bytes(), side
    if not image.is_file():
        return None, None
    packet = embedded_xmp(image.read_bytes())
    return packet, (image if packet is not None else None)
