"""GET /healthcheck"""


def hello() -> str:
    return "Hello World!"
