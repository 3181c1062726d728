# The trame application that bench/python_server.ts measures against: the reference Python
# server (trame-server on wslink, aiohttp) with the triggers of trame-wire's demo application
# that the benchmark uses. Not for CI.
#   python3 bench/_python_app.py --port N
# (trame-server, wslink and their dependencies on PYTHONPATH.)
import atexit
import hashlib
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from trame_server import Server

server = Server("trame_wire_python_bench")
# trame serves a web client; an empty page stands in for it (only the WebSocket is used).
_www = Path(tempfile.mkdtemp(prefix="trame-wire-bench-"))
atexit.register(shutil.rmtree, _www, ignore_errors=True)
(_www / "index.html").write_text("<!doctype html>\n")
server.enable_module({"www": str(_www)})
state, ctrl = server.state, server.controller
state.counter = 1


@ctrl.trigger("add")
def add(*values):
    return sum(values)


def _caller():
    # wslink records the client whose message it is handling; trame's protocol publishes
    # through the handler's bound `publish`, which reaches that record.
    handler = server.protocol.publish.__self__
    return handler.web_app.last_active_client_id


@ctrl.trigger("trame_wire.bench.publish")
def bench_publish(count, topic="trame_wire.bench"):
    # The same payloads as the embedded server's demo application (about 100 bytes each with
    # the envelope), published with wslink's own publish to the calling client only.
    count = int(count)
    publish = server.protocol.publish
    client = _caller()
    for index in range(count):
        publish(
            topic,
            {"index": index, "value": index * 0.5, "busy": index & 1, "label": "state"},
            client_id=client,
        )
    return count


_PERIOD = bytes((index * 31 + 7) & 0xFF for index in range(256))
_kept = {}


def _kept_bytes(name, size, make):
    # Made once per size and kept, so that a large result measures the transfer rather than
    # the making of the bytes.
    size = int(size)
    if len(_kept.get(name, b"")) != size:
        _kept[name] = make(size)
    return _kept[name]


@ctrl.trigger("trame_wire.bench.blob")
def bench_blob(size):
    # The demo pattern: byte i is (31 i + 7) mod 256. It compresses to almost nothing.
    return _kept_bytes("blob", size, lambda n: (_PERIOD * (n // 256 + 1))[:n])


@ctrl.trigger("trame_wire.bench.noise")
def bench_noise(size):
    # Random bytes: a large result that does not compress, as most large binary results
    # (images, meshes, fields) barely do.
    return _kept_bytes("noise", size, os.urandom)


@ctrl.trigger("trame_wire.bench.noise_digest")
def bench_noise_digest():
    # The SHA-256 of the last random result, in hex, for the client to check what it got.
    return hashlib.sha256(_kept.get("noise", b"")).hexdigest()


@ctrl.trigger("trame_wire.bench.usage")
def bench_usage():
    # What this process used so far: CPU seconds, and how often it gave up the CPU by waiting
    # (voluntary) or was preempted while it could still run (involuntary).
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "voluntary": usage.ru_nvcsw,
        "involuntary": usage.ru_nivcsw,
    }


_profiler = None


@ctrl.trigger("trame_wire.bench.profile")
def bench_profile(action, path=None):
    # "start" profiles this process (cProfile, every function the event loop runs) until
    # "stop", which writes the statistics to `path` (pstats format) and returns the path.
    global _profiler
    if action == "start":
        import cProfile  # noqa: PLC0415

        _profiler = cProfile.Profile()
        _profiler.enable()
        return None
    if _profiler is None:
        msg = "the profiler is not running"
        raise RuntimeError(msg)
    _profiler.disable()
    _profiler.dump_stats(path)
    _profiler = None
    return path


@ctrl.trigger("trame_wire.bench.versions")
def bench_versions():
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    import aiohttp  # noqa: PLC0415
    import msgpack  # noqa: PLC0415
    import wslink  # noqa: PLC0415

    try:
        trame_server = version("trame-server")
    except PackageNotFoundError:
        # Run from a source checkout: its pyproject.toml says.
        import re  # noqa: PLC0415

        import trame_server as package  # noqa: PLC0415

        pyproject = Path(package.__file__).parents[2] / "pyproject.toml"
        found = pyproject.exists() and re.search(
            r'^version = "([^"]+)"', pyproject.read_text(), re.M
        )
        trame_server = found.group(1) if found else "?"
    python = sys.version.split()[0]
    return (
        f"Python {python}, aiohttp {aiohttp.__version__}, wslink {wslink.__version__}, "
        f"trame-server {trame_server}, msgpack {'.'.join(map(str, msgpack.version))}"
    )


port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 8080
server.start(port=port, open_browser=False, show_connection_info=False)
