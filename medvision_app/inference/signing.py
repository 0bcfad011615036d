"""Ed25519 signatures of models exported on this installation.

The key pair is made on first use (the first export) and kept in the
user's data folder, ``keys/model-signing.ed25519`` (PKCS#8 PEM, owner-only
0600 permissions, folder 0700). The signatures are libsodium's (PyNaCl);
the key file is the standard PKCS#8 form of the 32-byte Ed25519 seed (RFC
8410), so OpenSSL and other tools read it too. A key file others can read is refused
rather than used: anyone who could copy it could sign an impersonation.

What is signed is the pair of hashes :func:`~medvision_app.inference.model.verify_bytes`
already ties to the file: the graph-and-weights sha256 (every byte of the
model except its metadata entries) and the sha256 of the embedded card.
The signature is embedded as one more metadata entry
(:data:`SIGNATURE_KEY`), so the ``.onnx`` file still travels alone and
``models import`` copies it unchanged; on another installation the key is
unknown and the model reads as "unverified origin".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Optional

from medvision_app.inference.errors import ModelError
from medvision_app.utils.paths import user_data_dir

SIGNATURE_KEY = "medvision.signature"
KEY_NAME = "model-signing.ed25519"
_CONTEXT = b"medvision-model-signature-v1"
# RFC 8410: the DER of an Ed25519 PrivateKeyInfo is this prefix, then the 32-byte seed
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN, _PEM_END = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"


def key_path() -> Path:
    return user_data_dir() / "keys" / KEY_NAME


def _message(graph_sha256: str, card_sha256: str) -> bytes:
    return b"\n".join([_CONTEXT, graph_sha256.encode("ascii"), card_sha256.encode("ascii")])


def _fingerprint(key) -> str:
    return hashlib.sha256(key.verify_key.encode()).hexdigest()[:16]


def _pem(seed: bytes) -> bytes:
    body = base64.encodebytes(_PKCS8_PREFIX + seed).decode("ascii").strip()
    return f"{_PEM_BEGIN}\n{body}\n{_PEM_END}\n".encode("ascii")


def _seed_from_pem(text: bytes) -> bytes:
    lines = text.decode("ascii").strip().splitlines()
    if len(lines) < 3 or lines[0] != _PEM_BEGIN or lines[-1] != _PEM_END:
        raise ValueError("not a PEM private key")
    der = base64.b64decode("".join(lines[1:-1]), validate=True)
    if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
        raise TypeError("not an Ed25519 key")
    return der[len(_PKCS8_PREFIX):]


def _load_key(path: Path):
    from nacl.signing import SigningKey

    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ModelError(path, f"the model-signing key is readable by others (mode {stat.S_IMODE(mode):o}); "
                               "make it owner-only (chmod 600) before MedVision uses it")
    try:
        seed = _seed_from_pem(path.read_bytes())
    except TypeError:
        raise ModelError(path, "the model-signing key is not an Ed25519 key") from None
    except (OSError, ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ModelError(path, f"the model-signing key is unreadable: {exc}") from None
    return SigningKey(seed)


def _create_key(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    pem = _pem(os.urandom(32))  # an Ed25519 private key is any 32 random bytes (RFC 8032)
    fd, tmp = tempfile.mkstemp(prefix=".key.", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        # link, not replace: when two exports make a key at once, the first one wins and both use it
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _load_key(path)


def signing_key(*, create: bool):
    """This installation's private key; made when ``create`` and absent, else None when absent."""
    path = key_path()
    if path.is_file():
        return _load_key(path)
    return _create_key(path) if create else None


def sign(graph_sha256: str, card_sha256: str) -> str:
    """The signature entry's text for a model with these hashes (makes the key on first use)."""
    key = signing_key(create=True)
    signature = key.sign(_message(graph_sha256, card_sha256)).signature
    return json.dumps({"alg": "ed25519", "key": _fingerprint(key),
                       "sig": base64.b64encode(signature).decode("ascii")}, sort_keys=True)


def check(signature_text: str, graph_sha256: str, card_sha256: str) -> tuple[bool, str]:
    """``(True, what)`` when ``signature_text`` is this installation's valid signature, else ``(False, why not)``."""
    if not signature_text:
        return False, "not signed (not exported on this installation)"
    try:
        entry = json.loads(signature_text)
        signature = base64.b64decode(entry["sig"], validate=True)
        fingerprint = str(entry["key"])
    except (ValueError, KeyError, TypeError):
        return False, "its signature entry is malformed"
    try:
        key: Optional[object] = signing_key(create=False)
    except ModelError as exc:
        return False, f"cannot check its signature: {exc}"
    if key is None or fingerprint != _fingerprint(key):
        return False, f"signed by another installation (key {fingerprint}), not by this one"
    from nacl.exceptions import BadSignatureError

    try:
        key.verify_key.verify(_message(graph_sha256, card_sha256), signature)
    except (BadSignatureError, ValueError):  # ValueError: not 64 bytes, so no signature of ours
        return False, "its signature does not match its contents (altered after it was signed)"
    return True, f"exported and signed on this installation (key {fingerprint})"
