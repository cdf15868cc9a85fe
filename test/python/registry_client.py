"""An existing-style Oneiric client in Python, pointed at oneiric-healthd.

Generates grpcio stubs from registry.proto into a temporary directory (so the
modules are `registry_pb2` and `registry_pb2_grpc`, as Oneiric's Python client
imports them), then calls the daemon's AdapterRegistry service and prints what
it answered as one JSON object. test/grpc.test.ts runs it.

usage: registry_client.py TARGET PROTO_FILE [--check ADAPTER_ID]... [--missing ADAPTER_ID]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def generate_stubs(proto_file: str, out_dir: str) -> None:
    # -I is the proto's own directory, so the generated module is plain `registry_pb2`.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            os.path.dirname(os.path.abspath(proto_file)),
            "--python_out",
            out_dir,
            "--grpc_python_out",
            out_dir,
            os.path.basename(proto_file),
        ],
        check=True,
    )


def entry_json(entry) -> dict:
    return {
        "adapter_id": entry.adapter_id,
        "project": entry.project,
        "domain": entry.domain,
        "category": entry.category,
        "provider": entry.provider,
        "health_status": entry.health_status,
        "health_check_url": entry.health_check_url,
        "registered_at": entry.registered_at,
        "metadata": dict(entry.metadata),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("proto_file")
    parser.add_argument("--check", action="append", default=[])
    parser.add_argument("--missing", default="no.such.adapter.anywhere")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oneiric-stubs-") as out_dir:
        generate_stubs(args.proto_file, out_dir)
        sys.path.insert(0, out_dir)
        import grpc
        import registry_pb2
        import registry_pb2_grpc

        with grpc.insecure_channel(args.target) as channel:
            stub = registry_pb2_grpc.AdapterRegistryStub(channel)
            every = stub.ListAdapters(registry_pb2.ListRequest(), timeout=10)
            healthy = stub.ListAdapters(registry_pb2.ListRequest(healthy_only=True), timeout=10)
            checks = {}
            for adapter_id in args.check:
                answer = stub.HealthCheck(
                    registry_pb2.HealthCheckRequest(adapter_id=adapter_id), timeout=10
                )
                checks[adapter_id] = {
                    "healthy": answer.healthy,
                    "status": answer.status,
                    "message": answer.message,
                }
            try:
                stub.HealthCheck(registry_pb2.HealthCheckRequest(adapter_id=args.missing), timeout=10)
                missing = "OK"
            except grpc.RpcError as error:
                missing = error.code().name

    print(
        json.dumps(
            {
                "grpc_version": grpc.__version__,
                "adapters": [entry_json(entry) for entry in every.adapters],
                "healthy_only": [entry.adapter_id for entry in healthy.adapters],
                "health_checks": checks,
                "missing_health_check": missing,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
