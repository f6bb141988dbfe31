#!/usr/bin/env python3
"""jwtcheck: an independent verifier for Custos access tokens.

Written from the public specifications only (not from the Rust sources):
  * RFC 7515 s7.1      - JWS compact serialisation, base64url without padding
  * RFC 7519 s4.1, s7.2 - registered claims, JWT validation
  * RFC 7517 s4, s5    - JWK / JWK Set members
  * RFC 8037 s2, s3.1  - OKP keys, Ed25519, alg "EdDSA"
  * RFC 7638 s3        - JWK thumbprint (Custos uses it as the kid)

Usage (exit 0 = every token verified, 1 = some token failed, 2 = usage):
  jwtcheck.py verify --jwks FILE --tokens FILE --now SECONDS [--issuer ISS] [--max-lifetime S]
  jwtcheck.py selftest
`--tokens` holds one compact JWT a line. Prints `OK <jti>` or
`FAIL <line>: <reason>` per token. Requires the `cryptography` package only.
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)


class Bad(Exception):
    pass


def b64url_decode(text):
    # RFC 7515 s2: base64url, padding characters omitted; be strict.
    if "=" in text or any(c not in
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          for c in text):
        raise Bad("not unpadded base64url")
    if len(text) % 4 == 1:
        raise Bad("impossible base64 length")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise Bad("non-canonical base64url")
    return raw


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Bad("duplicate member " + k)
        obj[k] = v
    return obj


def thumbprint(x):
    # RFC 7638 s3.2 with the RFC 8037 s2 required members, sorted, no spaces.
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x},
                           separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def load_jwks(text):
    keys = {}
    for jwk in json.loads(text, object_pairs_hook=no_duplicates)["keys"]:
        if "d" in jwk:
            raise Bad("JWKS publishes a private key")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise Bad("not an Ed25519 OKP key")
        if jwk.get("use") != "sig" or jwk.get("alg") != "EdDSA":
            raise Bad("use/alg missing or wrong")
        raw = b64url_decode(jwk["x"])
        if len(raw) != 32:
            raise Bad("x is not 32 bytes")
        if jwk.get("kid") != thumbprint(jwk["x"]):
            raise Bad("kid is not the RFC 7638 thumbprint")
        keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify(token, keys, now, issuer=None, max_lifetime=900):
    parts = token.split(".")
    if len(parts) != 3:
        raise Bad("not three parts")
    header = json.loads(b64url_decode(parts[0]), object_pairs_hook=no_duplicates)
    if header.get("alg") != "EdDSA":
        raise Bad("alg is not EdDSA")
    if header.get("typ", "JWT") != "JWT" or "crit" in header:
        raise Bad("typ/crit")
    key = keys.get(header.get("kid"))
    if key is None:
        raise Bad("kid not in JWKS")
    signature = b64url_decode(parts[2])
    try:
        key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature:
        raise Bad("bad signature")
    claims = json.loads(b64url_decode(parts[1]), object_pairs_hook=no_duplicates)
    for name in ("iss", "sub", "jti"):
        if not isinstance(claims.get(name), str):
            raise Bad("claim %s missing or not a string" % name)
    aud = claims.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and aud and
                                      all(isinstance(a, str) for a in aud))):
        raise Bad("aud")
    for name in ("exp", "iat", "nbf"):
        if not isinstance(claims.get(name), int) or isinstance(claims.get(name), bool):
            raise Bad("claim %s missing or not an integer" % name)
    if issuer is not None and claims["iss"] != issuer:
        raise Bad("issuer")
    if not claims["nbf"] <= now < claims["exp"]:
        raise Bad("not valid now")
    if claims["exp"] - claims["iat"] > max_lifetime:
        raise Bad("lifetime over %d s" % max_lifetime)
    return claims


def selftest():
    # RFC 8037 A.1-A.4: key, thumbprint, and the EdDSA JWS.
    d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    priv = Ed25519PrivateKey.from_private_bytes(b64url_decode(d))
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    assert b64url_encode(priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)) == x
    assert thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    jws = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
           "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
    h, p, s = jws.split(".")
    assert b64url_encode(priv.sign((h + "." + p).encode())) == s
    # Our own checker on a token it signs, and on tampered ones.
    kid = thumbprint(x)
    keys = {kid: priv.public_key()}
    head = b64url_encode(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}).encode())
    body = b64url_encode(json.dumps({"iss": "i", "sub": "s", "aud": "a", "jti": "j",
                                     "exp": 700, "iat": 100, "nbf": 100}).encode())
    sig = b64url_encode(priv.sign((head + "." + body).encode()))
    verify(head + "." + body + "." + sig, keys, 200)
    for bad in (head + "." + body + "." + sig + "=", head + "." + body + ".AAAA",
                head + "." + body[:-2] + "." + sig):
        try:
            verify(bad, keys, 200)
        except (Bad, ValueError):
            continue
        raise AssertionError("accepted " + bad)
    print("OK selftest")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--jwks", required=True)
    v.add_argument("--tokens", required=True)
    v.add_argument("--now", type=int, required=True)
    v.add_argument("--issuer")
    v.add_argument("--max-lifetime", type=int, default=900)
    sub.add_parser("selftest")
    args = ap.parse_args()
    if args.cmd == "selftest":
        selftest()
        return 0
    try:
        with open(args.jwks) as f:
            keys = load_jwks(f.read())
    except (Bad, ValueError, KeyError) as e:
        print("FAIL jwks: %s" % e)
        return 1
    failed = False
    with open(args.tokens) as f:
        for n, line in enumerate(f, 1):
            token = line.strip()
            if not token:
                continue
            try:
                claims = verify(token, keys, args.now, args.issuer, args.max_lifetime)
                print("OK " + claims["jti"])
            except (Bad, ValueError, UnicodeError) as e:
                print("FAIL %d: %s" % (n, e))
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
