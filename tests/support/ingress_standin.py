#!/usr/bin/python3
"""ingress_standin.py - a Loggregator v2 agent stand-in for the integration tests.

Serves loggregator.v2.Ingress/BatchSender (client streaming) over mutual TLS
with Debian's python3-grpcio, as the agent the BBS emits metrics to
(reference-2 section 13.1). Like upstream's test ingress server it keeps each
stream open until the client ends it, and records every envelope it receives.

The messages come from the project's proto/loggregator_v2.proto, compiled with
`protoc --python_out` into a temp folder at start-up.

Driven over stdin/stdout by tests/support/ingress.c, one JSON object a line
each way (standin_common.py). Prints {"ready": true, "port": N} once
listening, then answers:

  {"op": "envelopes"}   {"ok": true, "envelopes": [...]} every envelope so far,
                        each {"source_id", "instance_id", "tags": {...},
                        "timestamp", and either "counter": {"name", "delta"}
                        or "gauge": {name: {"unit", "value"}}}
  {"op": "streams"}     {"ok": true, "streams": N} BatchSender calls seen
  {"op": "quit"}        stop and exit
"""

import threading
from concurrent import futures

import grpc

import standin_common


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.envelopes = []
        self.streams = 0

    def batch_sender(self, request_iterator, context):
        with self.lock:
            self.streams += 1
        for batch in request_iterator:
            with self.lock:
                for e in batch.batch:
                    self.envelopes.append(self.to_json(e))
        return self.pb.BatchSenderResponse()

    @staticmethod
    def to_json(e):
        out = {"source_id": e.source_id, "instance_id": e.instance_id,
               "timestamp": e.timestamp, "tags": dict(e.tags)}
        kind = e.WhichOneof("message")
        if kind == "counter":
            out["counter"] = {"name": e.counter.name, "delta": e.counter.delta}
        elif kind == "gauge":
            out["gauge"] = {k: {"unit": v.unit, "value": v.value}
                            for k, v in e.gauge.metrics.items()}
        return out


def main():
    args = standin_common.parse_args()
    pb, pbdir = standin_common.load_messages(args.proto_dir, "loggregator_v2",
                                             "bbs-ingress-pb-")
    rec = Recorder()
    rec.pb = pb
    creds = standin_common.server_credentials(args)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "loggregator.v2.Ingress", {
            "BatchSender": grpc.stream_unary_rpc_method_handler(
                rec.batch_sender, request_deserializer=pb.EnvelopeBatch.FromString,
                response_serializer=pb.BatchSenderResponse.SerializeToString),
        }),))
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()

    def handle(op, cmd, answer):
        if op == "envelopes":
            with rec.lock:
                answer["envelopes"] = list(rec.envelopes)
        elif op == "streams":
            with rec.lock:
                answer["streams"] = rec.streams
        else:
            raise ValueError("unknown op %r" % op)

    standin_common.serve_commands(port, handle)
    server.stop(None).wait()
    standin_common.remove_messages(pbdir)


if __name__ == "__main__":
    main()
