#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Pushes signed ureg source packages straight through the OCI API, in the
# formats of docs/packages.md, and writes ureg.lock files pinning them: for
# tests that need layers `ureg publish` refuses (hostile tarballs) and for
# benchmarks that need thousands of packages fast. Nothing is tagged, so the
# server's publish-time checks never run; fetch's own checks must hold.
# Signatures are minisign "ED" (prehashed) made with the unencrypted secret
# key `ureg keygen --no-passphrase` writes.
#
#   ureg_push.py package --registry URL --token T --key FILE --name N
#                --version V --layer FILE --tree sha256:... [--lock OUT]
#                [--sign-key FILE] [--comment TEXT]
#   ureg_push.py universe --registry URL --token T --key FILE --count N
#                --size BYTES --prefix NS --dir OUT [--threads N] [--urls F]
#   ureg_push.py tree-selftest
import argparse
import base64
import hashlib
import http.client
import io
import json
import os
import sys
import tarfile
import threading
import urllib.parse

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SOURCE = "application/vnd.ureg.source.v1"
SOURCE_CONFIG = "application/vnd.ureg.source.config.v1+json"
SOURCE_LAYER = "application/vnd.ureg.source.layer.v1.tar+gzip"
SIGNATURE = "application/vnd.ureg.signature.v1"
SIGNATURE_LAYER = "application/vnd.ureg.signature.v1+minisign"


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


# --- minisign ---------------------------------------------------------------

class Key:
    """An unencrypted minisign secret key (`minisign -G -W` layout)."""

    def __init__(self, path):
        lines = open(path).read().splitlines()
        raw = base64.b64decode(lines[1])
        if raw[:2] != b"Ed" or raw[2:4] != b"\0\0":
            sys.exit(f"{path}: not an unencrypted minisign secret key")
        self.keynum = raw[54:62]
        self.priv = Ed25519PrivateKey.from_private_bytes(raw[62:94])
        self.public = raw[94:126]
        self.id = "%X" % int.from_bytes(self.keynum, "little")
        self.public_b64 = base64.b64encode(b"Ed" + self.keynum + self.public).decode()

    def sign(self, msg, trusted):
        sig = self.priv.sign(hashlib.blake2b(msg).digest())
        glob = self.priv.sign(sig + trusted.encode())
        return ("untrusted comment: signature from ureg_push.py\n"
                + base64.b64encode(b"ED" + self.keynum + sig).decode()
                + "\ntrusted comment: " + trusted + "\n"
                + base64.b64encode(glob).decode() + "\n").encode()


# --- trees ------------------------------------------------------------------

def tree_digest(files, dirs=()):
    """The canonical tree digest (docs/internals/archive.md) of files
    {path: (bytes, executable)} plus explicit directories."""
    entries = {d: None for d in dirs}
    for path, value in files.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), None)
        entries[path] = value
    h = hashlib.sha256(b"ureg-tree-v1\n")
    for path in sorted(entries, key=lambda s: s.encode()):
        value = entries[path]
        if value is None:
            h.update(b"D " + path.encode() + b"\n")
        else:
            data, executable = value
            h.update(b"F %s %d %s\n" % (b"0755" if executable else b"0644",
                                        len(data), path.encode()))
            h.update(hashlib.sha256(data).digest())
    return "sha256:" + h.hexdigest()


def tar_gz(files):
    """A tar.gz of files {path: (bytes, executable)}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(files):
            data, executable = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o755 if executable else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --- the registry -----------------------------------------------------------

class Registry:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.url, self.host, self.port = url.rstrip("/"), u.hostname, u.port
        self.token = token
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if hasattr(body, "seek"):
                    body.seek(0)
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise

    def push_blob(self, repo, data, size=None, d=None):
        """`data` is bytes or an open binary file (then give size and d)."""
        if d is None:
            d, size = digest(data), len(data)
        status, body = self.request(
            "POST", f"/v2/{repo}/blobs/uploads/?digest={d}", body=data,
            headers={"Content-Type": "application/octet-stream",
                     "Content-Length": str(size)})
        if status != 201:
            sys.exit(f"blob push to {repo}: {status} {body[:300]!r}")
        return d

    def put_manifest(self, repo, ref, data):
        status, body = self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=data,
                                    headers={"Content-Type": OCI_MANIFEST})
        if status != 201:
            sys.exit(f"manifest push to {repo}: {status} {body[:300]!r}")


def push_package(reg, key, name, version, layer, tree, urls=None,
                 sign_key=None, comment=None):
    """Pushes config, layer (bytes or a file path), manifest (by digest)
    and its signature referrer. Returns the ureg.lock entry, whose signer
    is `key`; `sign_key` and `comment` make a signature that must fail."""
    if isinstance(layer, bytes):
        ld, lsize = reg.push_blob(name, layer), len(layer)
    else:
        ld, lsize = file_digest(layer), os.path.getsize(layer)
        with open(layer, "rb") as f:
            reg.push_blob(name, f, lsize, ld)
    config = canon({"dependencies": {}, "name": name, "tree": tree, "version": version})
    cd = reg.push_blob(name, config)
    manifest = canon({
        "annotations": {"dev.ureg.name": name, "dev.ureg.version": version},
        "artifactType": SOURCE,
        "config": {"digest": cd, "mediaType": SOURCE_CONFIG, "size": len(config)},
        "layers": [{"digest": ld, "mediaType": SOURCE_LAYER, "size": lsize}],
        "mediaType": OCI_MANIFEST, "schemaVersion": 2})
    md = digest(manifest)
    reg.put_manifest(name, md, manifest)
    signer = sign_key or key
    sig = signer.sign(manifest, comment or f"ureg {name} {version} {md}")
    empty = reg.push_blob(name, b"{}")
    sd = reg.push_blob(name, sig)
    sigman = canon({
        "annotations": {"dev.ureg.key-id": signer.id,
                        "dev.ureg.public-key": signer.public_b64},
        "artifactType": SIGNATURE,
        "config": {"digest": empty, "mediaType": OCI_EMPTY, "size": 2},
        "layers": [{"digest": sd, "mediaType": SIGNATURE_LAYER, "size": len(sig)}],
        "mediaType": OCI_MANIFEST, "schemaVersion": 2,
        "subject": {"digest": md, "mediaType": OCI_MANIFEST, "size": len(manifest)}})
    smd = digest(sigman)
    reg.put_manifest(name, smd, sigman)
    if urls is not None:
        # what `ureg fetch` asks for, in its order
        base = reg.url
        urls += [f"{base}/v2/{name}/manifests/{md}",
                 f"{base}/v2/{name}/referrers/{md}?artifactType={SIGNATURE}",
                 f"{base}/v2/{name}/blobs/{cd}",
                 f"{base}/v2/{name}/blobs/{ld}",
                 f"{base}/v2/{name}/manifests/{smd}",
                 f"{base}/v2/{name}/blobs/{sd}"]
    return {"config": cd, "layer": ld, "layer-size": lsize, "manifest": md,
            "signer": key.id, "targets": ["unix"], "tree": tree, "version": version}


def write_lock(path, registry, packages, project_digest=None):
    lock = {"lock-version": 1, "registry": registry,
            "project-digest": project_digest or digest(b""),
            "packages": packages, "roots": {"unix": sorted(packages)}}
    with open(path, "w") as f:
        json.dump(lock, f, indent=2, sort_keys=True)
        f.write("\n")


# --- commands ---------------------------------------------------------------

def cmd_package(a):
    reg, key = Registry(a.registry, a.token), Key(a.key)
    entry = push_package(reg, key, a.name, a.version, a.layer, a.tree,
                         sign_key=Key(a.sign_key) if a.sign_key else None,
                         comment=a.comment)
    if a.lock:
        write_lock(a.lock, a.registry, {a.name: entry})
    print(json.dumps(entry, sort_keys=True))


def cmd_universe(a):
    """--count packages NS/pNNNNN of one random --size file each, plus a
    ureg.json trusting the key and a ureg.lock pinning them all in --dir."""
    key = Key(a.key)
    names = [f"{a.prefix}/p{i:05d}" for i in range(a.count)]
    packages, urls, lock = {}, [], threading.Lock()

    def work(part):
        reg = Registry(a.registry, a.token)
        mine, my_urls = {}, []
        for name in part:
            files = {"data.bin": (os.urandom(a.size), False)}
            mine[name] = push_package(reg, key, name, "1.0.0", tar_gz(files),
                                      tree_digest(files), my_urls)
        with lock:
            packages.update(mine)
            urls.extend(my_urls)

    threads = [threading.Thread(target=work, args=(names[i::a.threads],))
               for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(packages) != a.count:
        sys.exit("some pushes failed")
    os.makedirs(a.dir, exist_ok=True)
    project = canon({"keys": [key.public_b64], "name": f"{a.prefix}/app",
                     "targets": ["unix"], "version": "0.1.0"}) + b"\n"
    with open(os.path.join(a.dir, "ureg.json"), "wb") as f:
        f.write(project)
    write_lock(os.path.join(a.dir, "ureg.lock"), a.registry, packages, digest(project))
    if a.urls:
        with open(a.urls, "w") as f:
            f.write("\n".join(urls) + "\n")


def cmd_tree_selftest(_):
    # the known answers of docs/internals/archive.md
    assert tree_digest({}) == \
        "sha256:ac23629907655f76e60088121aeb43eccdfc9bb5d07564f39393dc2c600af7a1"
    got = tree_digest({"a/b/c.txt": (b"hello\n", False), "bin/run": (b"#!/bin/sh\n", True),
                       "empty": (b"", False)}, dirs=["emptydir"])
    assert got == "sha256:8b5d3e2e2178ccf8ac708d768c3c4b19f2b3a204d3f4ee4d629519e21e6af7b4", got
    print("tree digest known answers ok")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("package", "universe"):
        s = sub.add_parser(name)
        s.add_argument("--registry", required=True)
        s.add_argument("--token", required=True)
        s.add_argument("--key", required=True)
    s = sub.choices["package"]
    s.add_argument("--name", required=True)
    s.add_argument("--version", default="1.0.0")
    s.add_argument("--layer", required=True)
    s.add_argument("--tree", required=True)
    s.add_argument("--lock")
    s.add_argument("--sign-key", help="sign with this key instead")
    s.add_argument("--comment", help="trusted comment instead of the right one")
    s = sub.choices["universe"]
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--size", type=int, default=4096)
    s.add_argument("--prefix", default="bench")
    s.add_argument("--dir", required=True)
    s.add_argument("--threads", type=int, default=4)
    s.add_argument("--urls")
    sub.add_parser("tree-selftest")
    a = p.parse_args()
    {"package": cmd_package, "universe": cmd_universe,
     "tree-selftest": cmd_tree_selftest}[a.cmd](a)


if __name__ == "__main__":
    main()
