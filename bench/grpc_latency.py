"""Sequential gRPC unary calls from grpcio (gRPC's C core), timing each one.

The query benchmark runs it as a second client beside its Node ones: grpcio's
client costs far less per call than grpc-js's, so its figures are closer to the
daemon's own. Requests arrive already encoded (hex), so no stubs are needed.

usage: grpc_latency.py TARGET ITERATIONS METHOD_PATH HEX_REQUEST [HEX_REQUEST ...]
prints: one JSON object {"p50_ms": ..., "p99_ms": ...}
"""

import json
import sys
import time

import grpc


def main() -> None:
    target, iterations, method = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    requests = [bytes.fromhex(text) for text in sys.argv[4:]] or [b""]
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method)
        for index in range(300):
            call(requests[index % len(requests)], timeout=5)
        samples = []
        for index in range(iterations):
            request = requests[index % len(requests)]
            began = time.perf_counter()
            call(request, timeout=5)
            samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    at = lambda p: samples[min(len(samples) - 1, len(samples) * p // 100)]
    print(json.dumps({"p50_ms": at(50), "p99_ms": at(99)}))


if __name__ == "__main__":
    main()
