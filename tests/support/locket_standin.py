#!/usr/bin/python3
"""locket_standin.py - a Locket stand-in for the integration tests.

Serves Locket's gRPC service (models.Locket: Lock, Fetch, Release, FetchAll;
reference-2 section 12) over mutual TLS with Debian's python3-grpcio, keeping
its resources in memory with Locket's semantics (12.3) and TTLs (12.4: a
resource expires ttl seconds after its last Lock unless renewed; checked on
every call instead of by timers, which is the same to an observer).

The messages come from the project's proto/locket.proto, compiled with
`protoc --python_out` into a temp folder at start-up.

It is driven over stdin/stdout by tests/support/locket.c, one JSON object a
line each way. It prints {"ready": true, "port": N} once listening, then
answers each command with {"ok": true, ...} or {"ok": false, "error": "..."}:

  {"op": "set", "key": K, "owner": O, "value": V, "type_code": 2, "ttl": S}
        write a resource as a holder's Lock would (ttl 0 = never expires)
  {"op": "del", "key": K}          remove a resource
  {"op": "fail", "code": "UNAVAILABLE", "message": M}
        every Fetch and FetchAll answers that status from now on ("OK" = back
        to normal); Lock and Release are unaffected (the BBS's leadership lock)
  {"op": "down"} / {"op": "up"}    close / reopen the listener (same port,
                                   resources kept): Locket unreachable
  {"op": "calls"}                  {"ok": true, "calls": {method: count}}
  {"op": "get", "key": K}          {"ok": true, "owner": O} ("" = no such live resource)
  {"op": "quit"}                   stop and exit
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures

import grpc


def load_messages(proto_dir):
    out = tempfile.mkdtemp(prefix="bbs-locket-pb-")
    subprocess.run(["protoc", "--python_out=" + out, "-I" + proto_dir,
                    os.path.join(proto_dir, "locket.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("locket_pb2"), out


class Store:
    """Resources by key, with Locket's rules (reference-2 12.3, 12.4)."""

    def __init__(self, pb):
        self.pb = pb
        self.lock = threading.Lock()
        self.rows = {}  # key -> dict(resource fields, modified_id, index, expires)
        self.failure = None  # (grpc.StatusCode, message) or None
        self.calls = {}

    def _expire(self):
        now = time.monotonic()
        for key in [k for k, r in self.rows.items()
                    if r["expires"] is not None and r["expires"] <= now]:
            del self.rows[key]

    def put(self, key, owner, value, type_code, ttl):
        type_name = "lock" if type_code == 1 else "presence"
        row = self.rows.get(key)
        if row is None:
            row = {"modified_id": str(uuid.uuid4()), "index": 0}
            self.rows[key] = row
        row.update(key=key, owner=owner, value=value, type=type_name,
                   type_code=type_code, index=row["index"] + 1,
                   expires=time.monotonic() + ttl if ttl > 0 else None)

    def resource(self, row):
        return self.pb.Resource(key=row["key"], owner=row["owner"],
                                value=row["value"], type=row["type"],
                                type_code=row["type_code"])


class Locket:
    def __init__(self, store):
        self.s = store

    def _enter(self, method, context):
        self.s.calls[method] = self.s.calls.get(method, 0) + 1
        self.s._expire()
        # "fail" is for the presence reads; the lock follows "down" and ownership.
        if self.s.failure is not None and method in ("Fetch", "FetchAll"):
            code, message = self.s.failure
            return code, message
        return None

    def lock(self, req, context):
        pb = self.s.pb
        with self.s.lock:
            fail = self._enter("Lock", context)
            if fail is None:
                r = req.resource
                if r.type_code not in (1, 2):
                    fail = (grpc.StatusCode.NOT_FOUND, "invalid-type")
                elif req.ttl_in_seconds <= 0:
                    fail = (grpc.StatusCode.INVALID_ARGUMENT, "invalid-ttl")
                elif r.owner == "":
                    fail = (grpc.StatusCode.INVALID_ARGUMENT, "invalid-owner")
                else:
                    row = self.s.rows.get(r.key)
                    if row is not None and row["owner"] not in ("", r.owner):
                        fail = (grpc.StatusCode.ALREADY_EXISTS, "lock-collision")
                    else:
                        self.s.put(r.key, r.owner, r.value, r.type_code,
                                   req.ttl_in_seconds)
        if fail is not None:
            context.abort(*fail)
        return pb.LockResponse()

    def fetch(self, req, context):
        pb = self.s.pb
        with self.s.lock:
            fail = self._enter("Fetch", context)
            row = self.s.rows.get(req.key)
            if fail is None and (row is None or row["owner"] == ""):
                fail = (grpc.StatusCode.NOT_FOUND, "resource-not-found")
            if fail is None:
                resp = pb.FetchResponse(resource=self.s.resource(row))
        if fail is not None:
            context.abort(*fail)
        return resp

    def release(self, req, context):
        pb = self.s.pb
        with self.s.lock:
            fail = self._enter("Release", context)
            if fail is None:
                row = self.s.rows.get(req.resource.key)
                if row is not None and row["owner"] != req.resource.owner:
                    fail = (grpc.StatusCode.ALREADY_EXISTS, "lock-collision")
                elif row is not None:
                    del self.s.rows[req.resource.key]
        if fail is not None:
            context.abort(*fail)
        return pb.ReleaseResponse()

    def fetch_all(self, req, context):
        pb = self.s.pb
        with self.s.lock:
            fail = self._enter("FetchAll", context)
            if fail is None and req.type_code not in (1, 2):
                fail = (grpc.StatusCode.NOT_FOUND, "invalid-type")
            if fail is None:
                resp = pb.FetchAllResponse(resources=[
                    self.s.resource(r) for r in self.s.rows.values()
                    if r["type_code"] == req.type_code and r["owner"] != ""])
        if fail is not None:
            context.abort(*fail)
        return resp


def handler(pb, svc):
    def unary(fn, req, resp):
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=req.FromString,
            response_serializer=resp.SerializeToString)

    return grpc.method_handlers_generic_handler("models.Locket", {
        "Lock": unary(svc.lock, pb.LockRequest, pb.LockResponse),
        "Fetch": unary(svc.fetch, pb.FetchRequest, pb.FetchResponse),
        "Release": unary(svc.release, pb.ReleaseRequest, pb.ReleaseResponse),
        "FetchAll": unary(svc.fetch_all, pb.FetchAllRequest, pb.FetchAllResponse),
    })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--ca", required=True, help="CA client certificates must chain to")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    pb, pbdir = load_messages(args.proto_dir)
    store = Store(pb)
    svc = Locket(store)
    with open(args.ca, "rb") as f:
        ca = f.read()
    with open(args.cert, "rb") as f:
        cert = f.read()
    with open(args.key, "rb") as f:
        key = f.read()
    creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                        require_client_auth=True)

    def serve(port):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((handler(pb, svc),))
        bound = server.add_secure_port("127.0.0.1:%d" % port, creds)
        if bound == 0:
            raise RuntimeError("cannot listen on 127.0.0.1:%d" % port)
        server.start()
        return server, bound

    def say(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    server, port = serve(args.port)
    say({"ready": True, "port": port})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            answer = {"ok": True}
            if op == "set":
                with store.lock:
                    store.put(cmd["key"], cmd.get("owner", "owner"), cmd.get("value", ""),
                              cmd.get("type_code", 2), cmd.get("ttl", 0))
            elif op == "del":
                with store.lock:
                    store.rows.pop(cmd["key"], None)
            elif op == "fail":
                with store.lock:
                    code = cmd.get("code", "OK")
                    store.failure = None if code == "OK" else (
                        grpc.StatusCode[code], cmd.get("message", ""))
            elif op == "down":
                if server is not None:
                    server.stop(None).wait()
                    server = None
            elif op == "up":
                if server is None:
                    for _ in range(50):  # the old socket may linger briefly
                        try:
                            server, _ = serve(port)
                            break
                        except RuntimeError:
                            time.sleep(0.1)
                    if server is None:
                        raise RuntimeError("cannot listen again on port %d" % port)
            elif op == "get":
                with store.lock:
                    store._expire()
                    row = store.rows.get(cmd["key"])
                    answer["owner"] = row["owner"] if row is not None else ""
            elif op == "calls":
                with store.lock:
                    answer["calls"] = dict(store.calls)
            elif op == "quit":
                say(answer)
                break
            else:
                raise ValueError("unknown op %r" % op)
            say(answer)
        except Exception as e:  # report and go on: the test decides
            say({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    if server is not None:
        server.stop(None).wait()
    subprocess.run(["rm", "-rf", pbdir], check=False)


if __name__ == "__main__":
    main()
