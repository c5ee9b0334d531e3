import pytest

from simple_api.services.secret import MASK, mask, read_secret


class DictStore:
    def __init__(self, values):
        self.values = values

    def read(self, name):
        return self.values[name]


@pytest.mark.parametrize("value", ["", "a", "pw", "hunter2", "mysecretonaws03", "x" * 15])
def test_short_secrets_reveal_nothing_not_even_their_length(value):
    assert mask(value) == MASK


def test_long_secrets_show_only_their_last_two_characters():
    value = "correct-horse-battery-staple"
    assert mask(value) == MASK + "le"
    assert value[:-2] not in mask(value)


def test_read_secret_returns_name_and_masked_value():
    assert read_secret("/n", DictStore({"/n": "mysecretonaws03"})) == {"Name": "/n", "Value": MASK}


def test_reveal_is_an_explicit_opt_in():
    assert read_secret("/n", DictStore({"/n": "mysecretonaws03"}), reveal=True)["Value"] == "mysecretonaws03"
