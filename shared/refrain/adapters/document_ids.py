"""Identifiers from outside, turned into Firestore document ids without collisions.

Provider references, merchant references, purchase tokens, event ids and care
request ids are chosen by others. Firestore refuses ids containing ``/``, ids
that are ``.`` or ``..``, ids matching ``__.*__`` and ids over 1,500 bytes, and
replacing the offending characters (``a/b`` → ``a_b``) makes two references
share one document. So every outside identifier becomes a document id through
:func:`document_id`, an injective mapping:

* UTF-8 bytes outside ``A-Z a-z 0-9 - _ : + = @ ,`` are percent-encoded, ``%``
  itself included, so decoding gives the original back and distinct inputs stay
  distinct; a leading ``__`` is encoded too (``%5F_``), so no id is reserved;
* an encoding longer than :data:`MAX_ENCODED_BYTES` keeps a readable prefix and
  ends in ``~`` + the SHA-256 of the original. ``~`` never appears in an
  encoding, so a hashed id never equals an unhashed one; two long identifiers
  share an id only if SHA-256 collides. The original is then not recoverable
  from the id: documents keyed this way store it in a field.

Ids of the usual kind (``evt_1Pg…``, ``sub_…``, ``PSP…:AUTHORISATION:true``)
encode to themselves.
"""

from __future__ import annotations

import hashlib
import string
from typing import Final
from urllib.parse import unquote

__all__ = ["MAX_ENCODED_BYTES", "document_id", "original_id"]

# Well under Firestore's 1,500-byte limit, leaving room for the hashed form.
MAX_ENCODED_BYTES: Final = 1024
_HASH_MARK: Final = "~"
_PREFIX_BYTES: Final = MAX_ENCODED_BYTES - len(_HASH_MARK) - 64
_SAFE: Final = frozenset(string.ascii_letters + string.digits + "-_:+=@,")


def _encode(raw: str) -> str:
    out: list[str] = []
    for char in raw:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    encoded = "".join(out)
    return "%5F" + encoded[1:] if encoded.startswith("__") else encoded


def document_id(raw: str) -> str:
    """The Firestore document id for an outside identifier (injective; see the module)."""
    if not raw:
        raise ValueError("an empty identifier has no document id")
    encoded = _encode(raw)
    if len(encoded) <= MAX_ENCODED_BYTES:
        return encoded
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return encoded[:_PREFIX_BYTES] + _HASH_MARK + digest


def original_id(doc_id: str) -> str | None:
    """The identifier a document id was made from; None for a hashed (too long) one."""
    if _HASH_MARK in doc_id:
        return None
    return unquote(doc_id, encoding="utf-8", errors="surrogatepass")
