"""standin_common.py - what the gRPC stand-ins (locket_standin.py,
ingress_standin.py) share: their command line, the messages compiled from
the project's proto/ at start-up, the mutual-TLS server credentials, and the
command loop over stdin/stdout that tests/support/standin.c drives (one JSON
object a line each way; {"op": "quit"} ends it).
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

import grpc


def parse_args(extra=None):
    """--proto-dir, --ca, --cert, --key (and what `extra(ap)` adds)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--ca", required=True, help="CA client certificates must chain to")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    if extra is not None:
        extra(ap)
    return ap.parse_args()


def load_messages(proto_dir, name, prefix):
    """protoc --python_out for proto/<name>.proto into a temp folder: (module, folder)."""
    out = tempfile.mkdtemp(prefix=prefix)
    subprocess.run(["protoc", "--python_out=" + out, "-I" + proto_dir,
                    os.path.join(proto_dir, name + ".proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module(name + "_pb2"), out


def server_credentials(args):
    """Mutual TLS: the stand-in's certificate, clients must chain to --ca."""
    with open(args.ca, "rb") as f:
        ca = f.read()
    with open(args.cert, "rb") as f:
        cert = f.read()
    with open(args.key, "rb") as f:
        key = f.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                       require_client_auth=True)


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve_commands(port, handle):
    """Print {"ready": true, "port": port}, then answer each command line:
    handle(op, cmd, answer) fills answer ({"ok": true}) or raises (then
    {"ok": false, "error": ...}). Returns after {"op": "quit"} or EOF."""
    say({"ready": True, "port": port})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            answer = {"ok": True}
            if op == "quit":
                say(answer)
                break
            handle(op, cmd, answer)
            say(answer)
        except Exception as e:  # report and go on: the test decides
            say({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})


def remove_messages(folder):
    subprocess.run(["rm", "-rf", folder], check=False)
