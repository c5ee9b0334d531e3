"""GET /"""


def welcome() -> str:
    return "Welcome to my home"
