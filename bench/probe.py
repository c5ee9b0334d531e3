"""Import one handler in this fresh interpreter the way Lambda's runtime does, and say what it cost.

Run by bench/artifacts.py as `python -I -S -B probe.py MODULE AUDIT PATH... -- RUNTIME...`: isolated, no
site-packages, no bytecode writes. PATH... go first on sys.path (the function's /var/task, then its
layers' folders), RUNTIME... last (the runtime's own packages). Nothing is imported before the handler
but `sys` and `time` (built in), so the handler pays for everything it needs.
Prints one JSON line: the import's wall time, the modules loaded from PATH... and from RUNTIME..., and
with AUDIT=1 every file under PATH... compiled from source during the import (seen through the
interpreter's `compile` audit event, which importlib's source loader raises only when it finds no
usable .pyc; loading bytecode raises none).
"""

import sys
import time


def main() -> None:
    module, audit, *rest = sys.argv[1:]
    split = rest.index("--")
    paths, runtime = rest[:split], rest[split + 1 :]
    inside, from_runtime_dirs = tuple(p + "/" for p in paths), tuple(p + "/" for p in runtime)
    sys.path[:0] = paths
    sys.path += runtime
    compiled: list[str] = []
    if audit == "1":

        def hook(event: str, args: tuple[object, ...]) -> None:
            if event == "compile" and isinstance(args[1], str) and args[1].startswith(inside):
                compiled.append(args[1])

        sys.addaudithook(hook)
    start = time.perf_counter()
    __import__(module)
    ms = (time.perf_counter() - start) * 1000

    import json  # noqa: PLC0415 - only after the measured import

    origins = {name: getattr(m.__spec__, "origin", None) for name, m in list(sys.modules.items()) if m.__spec__}
    loaded = sorted(n for n, o in origins.items() if o and o.startswith(inside))
    from_runtime = sorted(n for n, o in origins.items() if o and o.startswith(from_runtime_dirs))
    print(json.dumps({"ms": ms, "compiled": compiled, "loaded": loaded, "from_runtime": from_runtime}))


if __name__ == "__main__":
    main()
