#!/usr/bin/env python3
"""tlogcheck: an independent verifier for C2SP tiled transparency logs.

Written from the public specifications only (not from the Rust sources):
  * c2sp.org/signed-note       - note format, Ed25519 signatures, key IDs
  * c2sp.org/tlog-checkpoint   - checkpoint note text
  * c2sp.org/tlog-tiles        - tile / entry-bundle layout
  * c2sp.org/tlog-proof        - offline inclusion-proof bundle
  * RFC 6962 s2.1              - Merkle Tree Hash, PATH, PROOF/SUBPROOF
  * RFC 9162 s2.1.3.2, 2.1.4.2 - inclusion / consistency proof verification
  * golang.org/x/mod/sumdb/note - verifier key text "<name>+<hex id>+<b64 key>"

Usage (exit 0 = verified, 1 = verification failed / bad input, 2 = usage):
  tlogcheck.py log         --dir LOGDIR --vkey VKEY
  tlogcheck.py entries     --dir LOGDIR --vkey VKEY
  tlogcheck.py proof       --vkey VKEY --proof FILE (--entry-file F | --entry-text T)
  tlogcheck.py consistency --vkey VKEY --old CKPT --new CKPT --proof FILE
  tlogcheck.py selftest
VKEY is the verifier key text itself, or the path of a file containing it.
Requires Python 3.11 and the `cryptography` package only.
"""

import argparse
import base64
import binascii
import contextlib
import functools
import hashlib
import io
import os
import re
import sys
import tempfile
from typing import Callable, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)


class CheckError(Exception):
    """A verification failure or malformed input; str() is the one-line reason."""


# ----------------------------------------------------------------------------
# Small helpers

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text, what: str) -> bytes:
    """Standard base64 (RFC 4648 s4), padded and canonical, as all C2SP specs use."""
    raw_in = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    try:
        raw = base64.b64decode(raw_in, validate=True)
    except (binascii.Error, ValueError):
        raise CheckError(f"{what}: invalid base64") from None
    if base64.b64encode(raw) != raw_in:
        raise CheckError(f"{what}: non-canonical base64")
    return raw


def decode_hash(text, what: str) -> bytes:
    h = b64decode_strict(text, what)
    if len(h) != 32:
        raise CheckError(f"{what}: hash is {len(h)} bytes, expected 32")
    return h


_DECIMAL = re.compile(r"(0|[1-9][0-9]*)")


def parse_decimal(text: str, what: str) -> int:
    # tlog-checkpoint / tlog-proof: ASCII decimal, no leading zeroes.
    if not _DECIMAL.fullmatch(text) or len(text) > 20 or int(text) >= 2**64:
        raise CheckError(f"{what}: {text[:40]!r} is not a canonical decimal uint64")
    return int(text)


# ----------------------------------------------------------------------------
# RFC 6962 s2.1 hashing

EMPTY_ROOT = sha256(b"")  # MTH({}) = SHA-256()


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)  # MTH({d(0)}) = SHA-256(0x00 || d(0))


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)  # SHA-256(0x01 || MTH(left) || MTH(right))


def root_from_leaf_hashes(hashes: list) -> bytes:
    """RFC 6962 MTH computed iteratively: merge perfect subtrees on a stack, then
    fold them right to left. (The selftest checks it against the recursive form.)"""
    if not hashes:
        return EMPTY_ROOT
    stack = []  # (height, hash) of perfect subtrees, left to right
    for h in hashes:
        height, node = 0, h
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    root = stack.pop()[1]
    while stack:
        root = node_hash(stack.pop()[1], root)
    return root


def perfect_root(hashes: list) -> bytes:
    """Root of a power-of-two number of hashes (a full tile)."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


# ----------------------------------------------------------------------------
# Signed notes (c2sp.org/signed-note) and verifier keys (sumdb/note)

class Verifier(NamedTuple):
    name: str
    key_id: int
    public_key: bytes  # 32-byte Ed25519 key


def valid_key_name(name: str) -> bool:
    # signed-note: key names MUST be non-empty, no Unicode spaces, no '+'.
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def ed25519_key_id(name: str, public_key: bytes) -> int:
    # key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]
    return int.from_bytes(sha256(name.encode() + b"\n\x01" + public_key)[:4], "big")


def parse_vkey(text: str) -> Verifier:
    text = text.strip()
    parts = text.split("+", 2)  # the base64 key itself may contain '+'
    if len(parts) != 3:
        raise CheckError("verifier key: expected <name>+<8 hex key id>+<base64 key>")
    name, hex_id, key_b64 = parts
    if not valid_key_name(name):
        raise CheckError(f"verifier key: invalid key name {name!r}")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise CheckError(f"verifier key: key id {hex_id!r} is not 8 hex digits")
    key = b64decode_strict(key_b64, "verifier key")
    if len(key) != 33 or key[0] != 0x01:
        raise CheckError("verifier key: key must be 0x01 (Ed25519) || 32-byte public key")
    key_id = int(hex_id, 16)
    if key_id != ed25519_key_id(name, key[1:]):
        raise CheckError("verifier key: key id does not match SHA-256(name||0x0A||0x01||key)")
    return Verifier(name, key_id, key[1:])


def load_vkey(arg: str) -> Verifier:
    """--vkey is the key text itself, or a file containing it."""
    if os.path.isfile(arg):
        try:
            with open(arg, "rb") as f:
                arg = read_limited(f, f"verifier key file {arg}").decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CheckError(f"verifier key file {arg}: cannot read ({e})") from None
    return parse_vkey(arg)


MAX_SIGNATURES = 100  # signed-note: verifiers MUST accept at least 16


def open_note(data: bytes, vkey: Verifier) -> str:
    """Verify a signed note, return its text (which includes the final newline)."""
    try:
        msg = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("note is not valid UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in msg):
        raise CheckError("note contains an ASCII control character other than newline")
    # The text is separated from the signatures by the last empty line.
    sep = msg.rfind("\n\n")
    if sep < 0:
        raise CheckError("note has no blank line before its signatures")
    text, sigs = msg[:sep + 1], msg[sep + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise CheckError("note signature block is empty or lacks a final newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckError(f"note has more than {MAX_SIGNATURES} signatures")
    verified = False
    for line in lines:
        # — <key name> base64(32-bit key ID || signature)
        if not line.startswith("\u2014 "):
            raise CheckError(f"malformed signature line {line[:60]!r}")
        name, space, sig_b64 = line[2:].partition(" ")
        if not space or not valid_key_name(name):
            raise CheckError(f"malformed signature line {line[:60]!r}")
        blob = b64decode_strict(sig_b64, f"signature by {name}")
        if len(blob) < 5:
            raise CheckError(f"signature by {name} is too short")
        key_id = int.from_bytes(blob[:4], "big")
        if name != vkey.name or key_id != vkey.key_id:
            continue  # verifiers MUST ignore signatures from unknown keys
        sig = blob[4:]
        try:
            if len(sig) != 64:
                raise InvalidSignature()
            Ed25519PublicKey.from_public_bytes(vkey.public_key).verify(sig, text.encode())
        except (InvalidSignature, ValueError):
            raise CheckError(f"signature by trusted key {name} does not verify") from None
        verified = True
    if not verified:
        raise CheckError(f"no signature by trusted key {vkey.name} (id {vkey.key_id:08x})")
    return text


class Checkpoint(NamedTuple):
    origin: str
    size: int
    root: bytes


def open_checkpoint(data: bytes, vkey: Verifier) -> Checkpoint:
    text = open_note(data, vkey)
    # tlog-checkpoint: origin, tree size, root hash, then optional non-empty extension lines.
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        raise CheckError("checkpoint text must be at least three non-empty lines")
    origin = lines[0]
    size = parse_decimal(lines[1], "checkpoint size")
    root = decode_hash(lines[2], "checkpoint root")
    if origin != vkey.name:
        raise CheckError(f"checkpoint origin {origin!r} is not the key name {vkey.name!r}")
    if size == 0 and root != EMPTY_ROOT:
        raise CheckError("checkpoint of size 0 must carry the empty-tree root")
    return Checkpoint(origin, size, root)


# ----------------------------------------------------------------------------
# Tiled logs (c2sp.org/tlog-tiles)

def tile_index_path(n: int) -> str:
    # Zero-padded 3-digit elements, all but the last prefixed by 'x': 1234067 -> x001/x234/067
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(("x" if i < len(groups) - 1 else "") + f"{g:03d}" for i, g in enumerate(groups))


def tile_path(level, n: int, width: int) -> str:
    """level is an int, or "entries" for entry bundles; width 256 means a full tile."""
    path = f"tile/{level}/{tile_index_path(n)}"
    return path if width == 256 else f"{path}.p/{width}"


def tiles_for(count: int):
    """(index, width) of the tiles covering `count` hashes: full ones, then the partial one."""
    full, partial = divmod(count, 256)
    out = [(n, 256) for n in range(full)]
    if partial:  # empty tiles are never required
        out.append((full, partial))
    return out


def parse_bundle(data: bytes, width: int, path: str) -> list:
    # Entry bundles: sequences of big-endian uint16 length-prefixed entries.
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise CheckError(f"{path}: truncated length prefix at byte {pos}")
        n = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if pos + n > len(data):
            raise CheckError(f"{path}: entry {len(entries)} claims {n} bytes, only {len(data) - pos} left")
        entries.append(data[pos:pos + n])
        pos += n
    if len(entries) != width:
        raise CheckError(f"{path}: holds {len(entries)} entries, expected {width}")
    return entries


def check_tile(data: bytes, expected: list, path: str, source: Callable[[int], str]):
    """A tile must equal the concatenation of the expected hashes byte for byte."""
    if len(data) != 32 * len(expected):
        raise CheckError(f"{path}: is {len(data)} bytes, expected {32 * len(expected)} "
                         f"({len(expected)} hashes)")
    for i, h in enumerate(expected):
        if data[32 * i:32 * i + 32] != h:
            raise CheckError(f"{path}: hash {i} differs from {source(i)}")


Reader = Callable[[str], bytes]
MAX_FILE = 256 * 65537  # the largest possible entry bundle; everything else is smaller


def read_limited(f, what: str) -> bytes:
    data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise CheckError(f"{what}: larger than {MAX_FILE} bytes")
    return data


def dir_reader(root: str) -> Reader:
    def read(rel: str) -> bytes:
        try:
            with open(os.path.join(root, *rel.split("/")), "rb") as f:
                return read_limited(f, rel)
        except FileNotFoundError:
            raise CheckError(f"{rel}: missing") from None
        except IsADirectoryError:
            raise CheckError(f"{rel}: is a directory, expected a file") from None
        except OSError as e:
            raise CheckError(f"{rel}: cannot read ({e.strerror})") from None
    return read


def verify_log(read: Reader, vkey: Verifier):
    """Check checkpoint, bundles and every required tile; return (checkpoint, entries)."""
    try:
        cp = open_checkpoint(read("checkpoint"), vkey)
    except CheckError as e:
        msg = str(e)
        raise CheckError(msg if msg.startswith("checkpoint:") else f"checkpoint: {msg}") from None
    size = cp.size
    entries, level = [], []
    # Level 0: bundles hash (RFC 6962 leaf hash) to the level-0 tiles.
    for n, width in tiles_for(size):
        bpath = tile_path("entries", n, width)
        bundle = parse_bundle(read(bpath), width, bpath)
        hashes = [leaf_hash(e) for e in bundle]
        check_tile(read(tile_path(0, n, width)), hashes, tile_path(0, n, width),
                   lambda i, n=n, bpath=bpath: f"leaf hash of entry {n * 256 + i} in {bpath}")
        entries += bundle
        level += hashes
    # Level l >= 1: each hash is the MTH of a *full* tile at level l-1; the level holds
    # floor(size / 256**l) hashes, of which the last (mod 256) form the partial tile.
    lvl = 1
    while size >> (8 * lvl):
        level = [perfect_root(level[i:i + 256]) for i in range(0, len(level) - 255, 256)]
        assert len(level) == size >> (8 * lvl)
        for n, width in tiles_for(len(level)):
            path = tile_path(lvl, n, width)
            check_tile(read(path), level[n * 256:n * 256 + width], path,
                       lambda i, n=n, lvl=lvl: f"the root of full tile {n * 256 + i} at level {lvl - 1}")
        lvl += 1
    root = root_from_leaf_hashes([leaf_hash(e) for e in entries])
    if root != cp.root:
        raise CheckError(f"checkpoint: root {b64(cp.root)} is not the RFC 6962 root "
                         f"{b64(root)} of the {size} entries in the bundles")
    return cp, entries


# ----------------------------------------------------------------------------
# Proof verification (RFC 9162)

def verify_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes):
    # RFC 9162 s2.1.3.2
    if index >= size:
        raise CheckError(f"inclusion: index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise CheckError("inclusion: proof has too many hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckError("inclusion: proof has too few hashes")
    if r != root:
        raise CheckError("inclusion: computed root does not match the checkpoint root")


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list):
    if first > second:
        raise CheckError(f"consistency: old size {first} exceeds new size {second}")
    if first == second:  # nothing to prove: the proof is empty and the roots agree
        if path:
            raise CheckError("consistency: proof must be empty for equal sizes")
        if first_hash != second_hash:
            raise CheckError("consistency: equal sizes but different roots")
        return
    if first == 0:  # the empty tree is consistent with every tree
        if path:
            raise CheckError("consistency: proof must be empty from size 0")
        if first_hash != EMPTY_ROOT:
            raise CheckError("consistency: size 0 root is not the empty-tree hash")
        return
    # RFC 9162 s2.1.4.2, steps 1-7
    if not path:
        raise CheckError("consistency: proof is empty")
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise CheckError("consistency: proof has too many hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckError("consistency: proof has too few hashes")
    if fr != first_hash:
        raise CheckError("consistency: proof does not reproduce the old root")
    if sr != second_hash:
        raise CheckError("consistency: proof does not reproduce the new root")


class ProofBundle(NamedTuple):
    extra: bytes
    index: int
    hashes: list
    checkpoint: bytes


def parse_proof_bundle(data: bytes) -> ProofBundle:
    # c2sp.org/tlog-proof@v1: header, optional "extra", "index N", hashes, blank, checkpoint.
    pos = 0

    def next_line() -> str:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise CheckError("proof: unexpected end of file (missing blank line or checkpoint)")
        line, pos = data[pos:end], end + 1
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckError("proof: line is not valid UTF-8") from None

    if next_line() != "c2sp.org/tlog-proof@v1":
        raise CheckError("proof: first line is not c2sp.org/tlog-proof@v1")
    line, extra = next_line(), b""
    if line.startswith("extra "):
        extra = b64decode_strict(line[6:], "proof extra")
        line = next_line()
    if not line.startswith("index "):
        raise CheckError("proof: expected an 'index N' line")
    index = parse_decimal(line[6:], "proof index")
    hashes = []
    while (line := next_line()) != "":
        if len(hashes) >= 64:
            raise CheckError("proof: more than 64 inclusion hashes")
        hashes.append(decode_hash(line, f"proof hash {len(hashes)}"))
    return ProofBundle(extra, index, hashes, data[pos:])


def verify_proof_bundle(data: bytes, vkey: Verifier, entry: bytes):
    proof = parse_proof_bundle(data)
    try:
        cp = open_checkpoint(proof.checkpoint, vkey)
    except CheckError as e:
        raise CheckError(f"proof checkpoint: {e}") from None
    verify_inclusion(leaf_hash(entry), proof.index, cp.size, proof.hashes, cp.root)
    return proof.index, cp.size


def parse_hash_lines(data: bytes) -> list:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise CheckError("consistency proof file is not ASCII") from None
    lines = [ln.strip() for ln in text.split("\n")]
    return [decode_hash(ln, f"consistency proof line {i + 1}") for i, ln in enumerate(lines) if ln]


def verify_consistency_files(old: bytes, new: bytes, proof: bytes, vkey: Verifier):
    cps = []
    for label, data in (("old", old), ("new", new)):
        try:
            cps.append(open_checkpoint(data, vkey))
        except CheckError as e:
            raise CheckError(f"{label} checkpoint: {e}") from None
    verify_consistency(cps[0].size, cps[1].size, cps[0].root, cps[1].root, parse_hash_lines(proof))
    return cps[0].size, cps[1].size


# ----------------------------------------------------------------------------
# Selftest: an independent, deliberately naive generator (RFC 6962 s2.1 recursion)

def largest_pow2_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveLog:
    def __init__(self, entries: list, name: str):
        self.entries, self.name = entries, name
        self.key = Ed25519PrivateKey.generate()
        self.pub = self.key.public_key().public_bytes_raw()
        self.key_id = ed25519_key_id(name, self.pub)
        key_b64 = b64(b"\x01" + self.pub)
        self.vkey_text = f"{name}+{self.key_id:08x}+{key_b64}"

    @functools.lru_cache(maxsize=None)
    def mth(self, lo: int, hi: int) -> bytes:  # MTH(D[lo:hi])
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return sha256(b"\x00" + self.entries[lo])
        k = largest_pow2_below(n)
        return sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list:  # PATH(m, D[lo:hi])
        if hi - lo == 1:
            return []
        k = largest_pow2_below(hi - lo)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list:  # SUBPROOF(m, D[lo:hi], b)
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_pow2_below(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]

    def consistency(self, m: int, n: int) -> list:  # PROOF(m, D[n]); empty if m in {0, n}
        return [] if m in (0, n) else self.subproof(m, 0, n, True)

    def sign(self, text: str, name=None, key=None, key_id=None) -> bytes:
        key = key or self.key
        key_id = self.key_id if key_id is None else key_id
        sig = key_id.to_bytes(4, "big") + key.sign(text.encode())
        return f"{text}\n\u2014 {name or self.name} {b64(sig)}\n".encode()

    def checkpoint(self, size: int, root=None, origin=None) -> bytes:
        root = self.mth(0, size) if root is None else root
        return self.sign(f"{origin or self.name}\n{size}\n{b64(root)}\n")

    def files(self, size: int) -> dict:
        """Tiles by the tlog-tiles formula: hash i of tile n at level l is
        MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l])."""
        out = {"checkpoint": self.checkpoint(size)}
        lvl = 0
        while size // 256**lvl:
            count = size // 256**lvl
            for n in range(-(-count // 256)):
                w = min(256, count - n * 256)
                span = 256**lvl
                out[tile_path(lvl, n, w)] = b"".join(
                    self.mth((n * 256 + i) * span, (n * 256 + i + 1) * span) for i in range(w))
                if lvl == 0:
                    out[tile_path("entries", n, w)] = b"".join(
                        len(e).to_bytes(2, "big") + e for e in self.entries[n * 256:n * 256 + w])
            lvl += 1
        return out

    def proof_bundle(self, index: int, size: int, extra=b"") -> bytes:
        head = "c2sp.org/tlog-proof@v1\n" + (f"extra {b64(extra)}\n" if extra else "")
        head += f"index {index}\n" + "".join(b64(h) + "\n" for h in self.path(index, 0, size))
        return (head + "\n").encode() + self.checkpoint(size)


def mem_reader(files: dict) -> Reader:
    def read(rel: str) -> bytes:
        if rel not in files:
            raise CheckError(f"{rel}: missing")
        return files[rel]
    return read


def flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:]


def selftest() -> int:
    passed, failed = 0, []

    def ok(label, fn):
        nonlocal passed
        try:
            fn()
            passed += 1
        except Exception as e:  # noqa: BLE001 - report any failure, including crashes
            failed.append(f"{label}: unexpected {type(e).__name__}: {e}")

    def bad(label, fn, want=""):
        nonlocal passed
        try:
            fn()
            failed.append(f"{label}: tampering was not detected")
        except CheckError as e:
            if want in str(e):
                passed += 1
            else:
                failed.append(f"{label}: wrong reason {str(e)!r} (wanted {want!r})")
        except Exception as e:  # noqa: BLE001
            failed.append(f"{label}: crashed with {type(e).__name__}: {e}")

    def eq(label, got, want):
        nonlocal passed
        if got == want:
            passed += 1
        else:
            failed.append(f"{label}: got {got!r}, want {want!r}")

    # RFC 6962 known answers (certificate-transparency reference vectors).
    eq("empty leaf hash", leaf_hash(b"").hex(),
       "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    eq("empty tree root", root_from_leaf_hashes([]).hex(),
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    ct = NaiveLog([bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
                  "5051525354555657", "606162636465666768696a6b6c6d6e6f")], "ct.example/v")
    ct_roots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
    for n, want in enumerate(ct_roots, 1):
        eq(f"CT root {n} (recursive)", ct.mth(0, n).hex(), want)
        eq(f"CT root {n} (iterative)",
           root_from_leaf_hashes([leaf_hash(e) for e in ct.entries[:n]]).hex(), want)
    eq("CT inclusion 5/8", [h.hex()[:8] for h in ct.path(5, 0, 8)], ["bc1a0643", "ca854ea1", "d37ee418"])
    eq("CT consistency 3->8", [h.hex()[:8] for h in ct.consistency(3, 8)],
       ["0298d122", "07506a85", "fac54203", "6b47aaf2"])
    # golang.org/x/mod/sumdb/note documentation example (and a key whose base64 has '+').
    go_text = ("If you think cryptography is the answer to your problem,\n"
               "then you don't know what your problem is.\n")
    go_note = (go_text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUg"
               "YN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n").encode()
    go_vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

    def go_note_opens():
        assert open_note(go_note, parse_vkey(go_vkey)) == go_text, "wrong note text"
    ok("Go note example verifies", go_note_opens)
    bad("Go note example edited", lambda: open_note(
        go_note.replace(b"cryptography", b"cryptographY"), parse_vkey(go_vkey)), "does not verify")
    ok("vkey with '+' in base64", lambda: parse_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"))
    eq("tile path", tile_path(0, 1234067, 256), "tile/0/x001/x234/067")
    eq("tile path partial", tile_path("entries", 1000, 7), "tile/entries/x001/000.p/7")

    entries = [f"entry {i} ".encode() * (i % 5) for i in range(601)]
    entries[3] = bytes(range(256))           # binary, invalid UTF-8
    entries[300] = b"\xff" * 65535           # maximum uint16 length
    log = NaiveLog(entries, "selftest.example/log")
    vkey = parse_vkey(log.vkey_text)
    eq("vkey key id", vkey.key_id, log.key_id)

    # Every tree size 0..600 verifies, with the right root and entries.
    def check_size(size):
        cp, got = verify_log(mem_reader(log.files(size)), vkey)
        assert (cp.size, cp.root, got) == (size, log.mth(0, size), entries[:size]), "mismatch"
    for size in range(601):
        ok(f"log size {size}", lambda s=size: check_size(s))

    # The tlog-tiles example: size 70,000 has 273 full level-0 tiles, a partial one of width
    # 112, one full level-1 tile, a partial level-1 tile of width 17 and a level-2 one of width 1.
    big = NaiveLog([i.to_bytes(3, "big") for i in range(70000)], "big.example/log")
    big_files = big.files(70000)
    eq("70000: tile layout", sorted(k for k in big_files if k.startswith("tile/") and "/entries/" not in k),
       sorted([tile_path(0, n, 256) for n in range(273)] + ["tile/0/273.p/112", "tile/1/000",
              "tile/1/001.p/17", "tile/2/000.p/1"]))
    ok("70000: log verifies", lambda: verify_log(mem_reader(big_files), parse_vkey(big.vkey_text)))
    bad("70000: level-2 tile flipped", lambda: verify_log(mem_reader(
        {**big_files, "tile/2/000.p/1": flip(big_files["tile/2/000.p/1"], 0)}),
        parse_vkey(big.vkey_text)), "tile/2/000.p/1: hash 0")
    del big, big_files

    # Inclusion: exhaustive for small trees, sampled above; a few via full bundles.
    for size in range(1, 601):
        idx = range(size) if size <= 130 else sorted({0, size - 1, size // 2, *range(0, size, 37)})
        for i in idx:
            ok(f"inclusion {i}/{size}", lambda i=i, s=size: verify_inclusion(
                leaf_hash(entries[i]), i, s, log.path(i, 0, s), log.mth(0, s)))
    for i, size in [(0, 1), (0, 600), (255, 256), (256, 257), (300, 600), (599, 600)]:
        ok(f"proof bundle {i}/{size}", lambda i=i, s=size: verify_proof_bundle(
            log.proof_bundle(i, s, extra=b"x" if i % 2 else b""), vkey, entries[i]))

    # Consistency: exhaustive for small trees, selected sizes around tile edges.
    pairs = [(a, b) for b in range(71) for a in range(b + 1)]
    edges = [0, 1, 2, 127, 128, 129, 255, 256, 257, 300, 511, 512, 513, 599, 600]
    pairs += [(a, b) for a in edges for b in edges if a <= b]
    for a, b in pairs:
        ok(f"consistency {a}->{b}", lambda a=a, b=b: verify_consistency(
            a, b, log.mth(0, a), log.mth(0, b), log.consistency(a, b)))
    ok("consistency files", lambda: verify_consistency_files(
        log.checkpoint(100), log.checkpoint(600),
        "".join(b64(h) + "\n" for h in log.consistency(100, 600)).encode(), vkey))
    ok("consistency files, empty", lambda: verify_consistency_files(
        log.checkpoint(0), log.checkpoint(5), b"", vkey))

    # Tampering with a size-600 log (2 full + 1 partial level-0 tile, level-1 tile of width 2).
    good = log.files(600)

    def tampered(**changes):
        files = dict(good)
        for k, v in changes.items():
            k = k.replace("__", "/")
            if v is None:
                files.pop(k)
            else:
                files[k] = v(files[k])
        return lambda: verify_log(mem_reader(files), vkey)

    ok("untampered log", tampered())
    b0 = "tile/entries/000"
    bad("flip bundle entry byte", lambda: verify_log(mem_reader(
        {**good, b0: flip(good[b0], 4)}), vkey), "tile/0/000: hash 1 differs")
    bad("flip bundle length byte", lambda: verify_log(mem_reader(
        {**good, b0: flip(good[b0], 0)}), vkey), b0)
    bad("flip partial bundle byte", lambda: verify_log(mem_reader(
        {**good, "tile/entries/002.p/88": flip(good["tile/entries/002.p/88"], 40)}), vkey),
        "002.p/88")
    bad("flip level-1 tile byte", lambda: verify_log(mem_reader(
        {**good, "tile/1/000.p/2": flip(good["tile/1/000.p/2"], 40)}), vkey), "tile/1/000.p/2: hash 1")
    bad("tile with trailing bytes", tampered(tile__0__001=lambda d: d + b"\0"), "tile/0/001: is 8193")
    bad("drop level-0 tile", tampered(tile__0__001=None), "tile/0/001: missing")
    bad("drop level-1 tile", tampered(**{"tile__1__000.p__2": None}), "tile/1/000.p/2: missing")
    bad("drop partial bundle", tampered(**{"tile__entries__002.p__88": None}), "002.p/88: missing")
    bad("extra entry in bundle", tampered(**{"tile__entries__002.p__88": lambda d: d + b"\0\0"}),
        "holds 89 entries")
    for size in (599, 601, 0):
        bad(f"checkpoint claims size {size}", lambda s=size: verify_log(mem_reader(
            {**good, "checkpoint": log.checkpoint(s, root=log.mth(0, 600))}), vkey))
    bad("checkpoint wrong root", tampered(checkpoint=lambda d: log.checkpoint(600, root=b"\1" * 32)),
        "checkpoint: root")
    bad("checkpoint text edited", tampered(checkpoint=lambda d: d.replace(b"\n600\n", b"\n601\n")),
        "does not verify")
    def flip_sig(note):
        text, sig_line = note.decode().split("\n\n")
        prefix, sig_b64 = sig_line.rsplit(" ", 1)
        return f"{text}\n\n{prefix} {b64(flip(base64.b64decode(sig_b64), 30))}\n".encode()
    bad("checkpoint signature flipped", tampered(checkpoint=flip_sig), "does not verify")
    bad("checkpoint wrong origin", tampered(
        checkpoint=lambda d: log.checkpoint(600, origin="other.example/log")), "origin")
    other = Ed25519PrivateKey.generate()
    other_id = ed25519_key_id("witness.example", other.public_key().public_bytes_raw())
    cp_text = good["checkpoint"].decode().split("\n\n")[0] + "\n"
    witness_line = log.sign(cp_text, "witness.example", other, other_id).decode().split("\n\n")[1]
    ok("unknown cosigner ignored", tampered(checkpoint=lambda d: d + witness_line.encode()))
    bad("only unknown signer", tampered(checkpoint=lambda d: (cp_text + "\n" + witness_line).encode()),
        "no signature by trusted key")
    bad("same name, other key id", tampered(checkpoint=lambda d: log.sign(
        cp_text, log.name, other, other_id)), "no signature by trusted key")
    bad("known id, wrong key", tampered(checkpoint=lambda d: log.sign(cp_text, key=other)),
        "does not verify")
    bad("vkey wrong key id", lambda: parse_vkey(log.vkey_text.replace(
        f"+{log.key_id:08x}+", f"+{log.key_id ^ 1:08x}+")), "key id")
    for garbage in (b"", b"\xff\xfe", b"x\n\n", b"a\n1\nAA==\n\n\xe2\x80\x94 x y\n", good[b0]):
        bad(f"garbage checkpoint {garbage[:8]!r}", tampered(checkpoint=lambda d, g=garbage: g))

    # Tampering with proofs.
    pb = log.proof_bundle(300, 600)
    lines = pb.split(b"\n")
    bad("inclusion hash changed", lambda: verify_proof_bundle(
        b"\n".join(lines[:3] + [b64(b"\0" * 32).encode()] + lines[4:]), vkey, entries[300]), "root")
    bad("inclusion wrong entry", lambda: verify_proof_bundle(pb, vkey, entries[301]), "root")
    bad("inclusion wrong index", lambda: verify_proof_bundle(
        pb.replace(b"index 300", b"index 301"), vkey, entries[300]))
    bad("inclusion hash dropped", lambda: verify_proof_bundle(
        b"\n".join(lines[:3] + lines[4:]), vkey, entries[300]), "too few")
    bad("inclusion size changed", lambda: verify_proof_bundle(
        pb.split(b"\n\n")[0] + b"\n\n" + log.checkpoint(599), vkey, entries[300]))
    bad("inclusion index >= size", lambda: verify_proof_bundle(
        log.proof_bundle(0, 1).replace(b"index 0", b"index 1"), vkey, entries[0]), "not below")
    for garbage in (b"", b"c2sp.org/tlog-proof@v1\n", b"c2sp.org/tlog-proof@v1\nindex 01\n\n",
                    b"c2sp.org/tlog-proof@v1\nindex 0\nnot base64\n\n", pb[:-30]):
        bad(f"garbage proof {garbage[-12:]!r}", lambda g=garbage: verify_proof_bundle(g, vkey, b""))
    cons = log.consistency(100, 600)
    hash_file = lambda hs: "".join(b64(h) + "\n" for h in hs).encode()  # noqa: E731
    cp100, cp600 = log.checkpoint(100), log.checkpoint(600)
    bad("consistency hash changed", lambda: verify_consistency_files(
        cp100, cp600, hash_file([cons[0], b"\0" * 32] + cons[2:]), vkey))
    bad("consistency hash dropped", lambda: verify_consistency_files(
        cp100, cp600, hash_file(cons[:-1]), vkey), "too few")
    bad("consistency hash added", lambda: verify_consistency_files(
        cp100, cp600, hash_file(cons + [cons[0]]), vkey), "too many")
    bad("consistency old/new swapped", lambda: verify_consistency_files(
        cp600, cp100, hash_file(cons), vkey), "exceeds")
    bad("consistency size changed", lambda: verify_consistency_files(
        log.checkpoint(101, root=log.mth(0, 100)), cp600, hash_file(cons), vkey))
    bad("consistency fork", lambda: verify_consistency_files(
        log.checkpoint(100, root=b"\2" * 32), cp600, hash_file(cons), vkey), "old root")
    bad("consistency equal sizes, nonempty proof", lambda: verify_consistency_files(
        cp600, cp600, hash_file(cons[:1]), vkey), "empty")
    bad("consistency empty proof", lambda: verify_consistency_files(cp100, cp600, b"", vkey))
    bad("consistency garbage file", lambda: verify_consistency_files(cp100, cp600, b"\xff", vkey))

    # The command line end to end, on a real directory.
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in log.files(513).items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "wb") as f:
                f.write(data)
        with open(os.path.join(tmp, "vkey"), "w") as f:
            f.write(log.vkey_text + "\n")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc1 = main(["log", "--dir", tmp, "--vkey", os.path.join(tmp, "vkey")])
            rc2 = main(["log", "--dir", tmp, "--vkey", log.vkey_text])
            os.remove(os.path.join(tmp, "tile", "1", "000.p", "2"))
            rc3 = main(["log", "--dir", tmp, "--vkey", log.vkey_text])
        eq("cli log rc", (rc1, rc2, rc3), (0, 0, 1))
        eq("cli log output", out.getvalue().startswith("OK size=513 root="), True)
        eq("cli failure names file", "tile/1/000.p/2: missing" in err.getvalue(), True)

    if failed:
        for f in failed[:20]:
            print(f"  {f}", file=sys.stderr)
        print(f"FAIL selftest: {len(failed)} of {passed + len(failed)} checks failed; "
              f"first: {failed[0]}", file=sys.stderr)
        return 1
    print(f"OK selftest: {passed} checks passed (sizes 0..600, proofs, tampering, RFC 6962 vectors)")
    return 0


# ----------------------------------------------------------------------------
# Command line

def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return read_limited(f, f"{what} {path}")
    except OSError as e:
        raise CheckError(f"{what} {path}: cannot read ({e.strerror or e})") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tlogcheck.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("log", "entries"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
        p.add_argument("--vkey", required=True)
    p = sub.add_parser("proof")
    p.add_argument("--vkey", required=True)
    p.add_argument("--proof", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--entry-file")
    group.add_argument("--entry-text")
    p = sub.add_parser("consistency")
    for opt in ("--vkey", "--old", "--new", "--proof"):
        p.add_argument(opt, required=True)
    sub.add_parser("selftest")
    args = parser.parse_args(argv)  # exits 2 on usage errors

    try:
        if args.cmd == "selftest":
            return selftest()
        vkey = load_vkey(args.vkey)
        if args.cmd in ("log", "entries"):
            if not os.path.isdir(args.dir):
                raise CheckError(f"log directory {args.dir}: not a directory")
            cp, entries = verify_log(dir_reader(args.dir), vkey)
            summary = f"OK size={cp.size} root={b64(cp.root)} entries={len(entries)}"
            if args.cmd == "log":
                print(summary)
            else:  # stdout carries only the entries; the summary goes to stderr
                sys.stdout.flush()
                out = sys.stdout.buffer
                for e in entries:
                    out.write(e.decode("utf-8", errors="replace").encode("utf-8") + b"\n")
                out.flush()
                print(summary, file=sys.stderr)
        elif args.cmd == "proof":
            if args.entry_file is not None:
                entry = read_file(args.entry_file, "entry file")
            else:
                entry = os.fsencode(args.entry_text)
            index, size = verify_proof_bundle(read_file(args.proof, "proof file"), vkey, entry)
            print(f"OK index={index} size={size}")
        elif args.cmd == "consistency":
            a, b = verify_consistency_files(read_file(args.old, "old checkpoint"),
                                            read_file(args.new, "new checkpoint"),
                                            read_file(args.proof, "proof file"), vkey)
            print(f"OK old={a} new={b}")
        return 0
    except CheckError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `entries | head`: silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # noqa: BLE001 - never show a traceback on bad input
        print(f"FAIL: internal error ({type(e).__name__}: {e})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
