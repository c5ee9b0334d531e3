"""How a secret reaches our scripts: typed without echo at a terminal, or piped on stdin by a script
(`printf %s "$VALUE" | make set-secret ENV=dev`). Never an argument or an environment variable:
both are readable by other processes (/proc/<pid>/cmdline, /proc/<pid>/environ)."""

import getpass
import sys


def read_secret(prompt: str) -> str:
    """The value, without its trailing newline; empty when nothing was given."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.read().removesuffix("\n")
