"""Unary calls with Python's stock grpcio (Debian's python3-grpcio), for
test/grpcio-client.test.ts. Reads {"target", "calls": [{"path", "hex",
"metadata": [[key, value], ...]}]} as JSON on stdin and prints, per call, the
status code name, the message, the grpc-status-details-bin trailer (hex) and
the answer (hex), as grpcio reports them. Messages travel as raw bytes, so no
generated code is needed."""
import json
import sys

import grpc

request = json.load(sys.stdin)
channel = grpc.insecure_channel(request["target"])
results = []
for call in request["calls"]:
    method = channel.unary_unary(call["path"], request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        answer = method(bytes.fromhex(call["hex"]), metadata=[tuple(m) for m in call.get("metadata", [])], timeout=10)
        results.append({"code": "OK", "details": None, "detailsBin": None, "answer": answer.hex()})
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        bin_ = trailers.get("grpc-status-details-bin")
        results.append(
            {"code": e.code().name, "details": e.details(), "detailsBin": bin_.hex() if bin_ else None, "answer": None}
        )
channel.close()
json.dump(results, sys.stdout)
