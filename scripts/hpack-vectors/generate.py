#!/usr/bin/env python3
"""HPACK test vectors from encoders no one in this project wrote.

Writes stories.json (header lists, seeded, so runs are reproducible; into the temporary folder given
second) and python-hpack.json (those lists encoded by PyPI `hpack`, into the folder given first), in the shape of http2jp/hpack-test-case: a
story per connection direction, each case one header block with its wire bytes (hex), the headers it
must decode to, and the encoder's table size after it. main.go beside this file encodes the same
stories with Go's golang.org/x/net/http2/hpack (go-hpack.json). Run by generate.sh; the JSON is
committed, so tests need neither Python nor Go.
"""
import json
import random
import sys

from hpack import Encoder, NeverIndexedHeaderTuple
import hpack

OUT = sys.argv[1]
TMP = sys.argv[2]
rng = random.Random(7541)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
PATHS = ["/", "/index.html", "/api/orders", "/api/orders/{n}", "/inventory.v1.Inventory/Reserve",
         "/search?q={w}&page={n}", "/static/{w}.js", "/users/{n}/cart?token={w}"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
CTYPES = ["application/json", "text/html; charset=utf-8", "application/grpc", "application/grpc+proto",
          "text/plain", "application/octet-stream"]


def word():
    return rng.choice(WORDS) + str(rng.randrange(1000))


def fill(s):
    return s.replace("{n}", str(rng.randrange(100000))).replace("{w}", word())


def request(grpc=False):
    h = [(":method", "POST" if grpc else rng.choice(METHODS)), (":scheme", rng.choice(["http", "https"])),
         (":path", fill(rng.choice(PATHS))), (":authority", rng.choice(["svc.local:8080", "example.com", "inventory:50051"]))]
    if grpc:
        h += [("te", "trailers"), ("content-type", "application/grpc"), ("grpc-timeout", f"{rng.randrange(1, 999)}m"),
              ("grpc-accept-encoding", "identity,deflate,gzip"), ("user-agent", "grpc-python/1.85.1")]
    else:
        h += [("user-agent", rng.choice(["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "Go-http-client/2.0"])),
              ("accept", rng.choice(["*/*", "application/json", "text/html,application/xhtml+xml"]))]
    if rng.random() < 0.5:
        h.append(("x-request-id", "%032x" % rng.getrandbits(128)))
    if rng.random() < 0.3:
        h.append(("traceparent", "00-%032x-%016x-01" % (rng.getrandbits(128), rng.getrandbits(64))))
    if rng.random() < 0.3:
        h.append(("authorization", "Bearer " + "%040x" % rng.getrandbits(160)))
    if rng.random() < 0.2:
        h.append(("cookie", f"sid={word()}; theme={word()}"))
    if grpc and rng.random() < 0.3:
        h.append(("trace-bin", "AAEC" + "%08x" % rng.getrandbits(32)))
    return h


def response(grpc=False):
    h = [(":status", rng.choice(["200", "204", "302", "404", "500", "503"]))]
    if grpc:
        h = [(":status", "200"), ("content-type", "application/grpc")]
        if rng.random() < 0.4:
            h += [("grpc-status", str(rng.randrange(17))), ("grpc-message", rng.choice(["", "not found", "deadline%20exceeded"]))]
    else:
        h += [("content-type", rng.choice(CTYPES)), ("content-length", str(rng.randrange(100000))),
              ("date", f"Mon, {rng.randrange(1, 29):02d} Oct 2026 {rng.randrange(24):02d}:{rng.randrange(60):02d}:00 GMT")]
    if rng.random() < 0.2:
        h.append(("set-cookie", f"sid={word()}; Path=/; HttpOnly"))
    if rng.random() < 0.2:
        h.append(("cache-control", rng.choice(["no-cache", "private", "max-age=3600"])))
    return h


def latin1_values():
    return [(":status", "200"), ("x-latin1", "".join(chr(rng.randrange(0x80, 0x100)) for _ in range(12))),
            ("x-mixed", "caf\u00e9 na\u00efve \u00ff")]


def big_values():
    return [(":method", "GET"), (":path", "/"), ("cookie", "a" * rng.randrange(3000, 6000)),
            ("x-small", word())]


STORIES = [
    {"description": "requests, Huffman, table 4096", "kind": "request", "huffman": True},
    {"description": "requests, no Huffman, table 4096", "kind": "request", "huffman": False},
    {"description": "gRPC requests, Huffman", "kind": "grpc-request", "huffman": True},
    {"description": "responses, Huffman, table resized to 256 (eviction)", "kind": "response", "huffman": True, "sizes": {0: 256}},
    {"description": "gRPC responses, no Huffman, table resized 4096 -> 0 -> 1024 -> 4096", "kind": "grpc-response",
     "huffman": False, "sizes": {10: 0, 11: 1024, 30: 4096}},
    {"description": "sensitive fields never indexed", "kind": "request", "huffman": True, "sensitive": ["authorization", "cookie"]},
    {"description": "values larger than the table (an entry too large empties it)", "kind": "big", "huffman": True},
    {"description": "Latin-1 bytes in values", "kind": "latin1", "huffman": True},
]
MAKERS = {"request": request, "response": response, "grpc-request": lambda: request(True),
          "grpc-response": lambda: response(True), "big": big_values, "latin1": latin1_values}

stories = []
encoded = []
for index, spec in enumerate(STORIES):
    blocks = [MAKERS[spec["kind"]]() for _ in range(40 if spec["kind"] not in ("big", "latin1") else 12)]
    story = {"description": spec["description"], "huffman": spec["huffman"],
             "sensitive": spec.get("sensitive", []), "sizes": {str(k): v for k, v in spec.get("sizes", {}).items()},
             "cases": [{"seqno": i, "headers": [{n: v} for n, v in b]} for i, b in enumerate(blocks)]}
    stories.append(story)
    enc = Encoder()
    cases = []
    for i, block in enumerate(blocks):
        if i in spec.get("sizes", {}):
            enc.header_table_size = spec["sizes"][i]
        fields = [NeverIndexedHeaderTuple(n.encode("latin-1"), v.encode("latin-1")) if n in story["sensitive"]
                  else (n.encode("latin-1"), v.encode("latin-1")) for n, v in block]
        wire = enc.encode(fields, huffman=spec["huffman"])
        cases.append({"seqno": i, "wire": wire.hex(), "headers": [{n: v} for n, v in block],
                      "table_size": enc.header_table._current_size})
    encoded.append({"description": spec["description"], "cases": cases})

with open(f"{TMP}/stories.json", "w") as f:
    json.dump({"stories": stories}, f)
with open(f"{OUT}/python-hpack.json", "w") as f:
    json.dump({"generator": f"PyPI hpack {hpack.__version__} (scripts/hpack-vectors/generate.py)", "stories": encoded}, f, separators=(",", ":"))
