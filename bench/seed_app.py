"""The workshop's API (api/main.py, 2019) ported to Python 3, on Bottle's default server: wsgiref,
single-threaded, as the seed ran it. Usage: seed_app.py PORT"""

import sys
import time

from bottle import get, run


@get("/")
def welcome() -> str:
    return "Welcome to my home"


@get("/healthcheck")
def healthcheck() -> str:
    return "Hello World!"


@get("/sleep/<secs>")
def sleep(secs: str) -> str:
    time.sleep(float(secs))
    return f"sleep for {secs} secs"


if __name__ == "__main__":
    run(host="127.0.0.1", port=int(sys.argv[1]), debug=False, quiet=True)
