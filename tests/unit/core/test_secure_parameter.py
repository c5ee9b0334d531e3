import pytest

from simple_api.errors import InvalidInput
from simple_api.services import secure_parameter
from simple_api.services.secure_parameter import Properties, create, delete, parse, update

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GOOD = {
    "ParameterName": "/simple-api/dev/secret",
    "Scope": "/simple-api/dev/",
    "KeyId": KEY,
    "Tags": [{"Key": "project", "Value": "aws-cicd"}],
}
VALUE = "s3cr3t-value-that-must-not-leak"


class FakeStore:
    def __init__(self):
        self.parameters: dict[str, str] = {}
        self.calls: list[tuple[object, ...]] = []

    def put(self, name, value, key_id, tags, *, overwrite):
        self.calls.append(("put", name, overwrite))
        if name in self.parameters and not overwrite:
            raise AssertionError("would clobber an existing parameter")
        self.parameters[name] = value

    def delete(self, name):
        self.calls.append(("delete", name))
        return self.parameters.pop(name, None) is not None


def test_parse_reads_every_property():
    wanted = parse(GOOD, VALUE)
    assert (wanted.name, wanted.key_id, wanted.tags, wanted.value) == (
        "/simple-api/dev/secret",
        KEY,
        {"project": "aws-cicd"},
        VALUE,
    )


@pytest.mark.parametrize(
    "key", ["alias/simple-api", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:123456789012:alias/x"]
)
def test_key_forms(key):
    assert parse({**GOOD, "KeyId": key}, VALUE).key_id == key


@pytest.mark.parametrize(
    ("properties", "value", "named"),
    [
        ({**GOOD, "ParameterName": None}, VALUE, "ParameterName"),
        ({k: v for k, v in GOOD.items() if k != "ParameterName"}, VALUE, "ParameterName"),
        ({**GOOD, "ParameterName": "no-leading-slash"}, VALUE, "ParameterName"),
        ({**GOOD, "ParameterName": "/aws/reserved"}, VALUE, "ParameterName"),
        ({**GOOD, "ParameterName": "/SSM/reserved"}, VALUE, "ParameterName"),
        ({**GOOD, "ParameterName": "/bad name"}, VALUE, "ParameterName"),
        (GOOD, None, "Value"),
        (GOOD, "", "Value"),
        (GOOD, 42, "Value"),
        (GOOD, "x" * 4097, "Value"),
        ({**GOOD, "KeyId": None}, VALUE, "KeyId"),
        ({**GOOD, "KeyId": "not a key"}, VALUE, "KeyId"),
        ({**GOOD, "Tags": "project=x"}, VALUE, "Tags"),
        ({**GOOD, "Tags": [{"Key": "k"}]}, VALUE, "Tags"),
        ({**GOOD, "ParameterName": "/simple-api/prod/secret"}, VALUE, "under /simple-api/dev/"),
        ({**GOOD, "ParameterName": "/simple-api/development/secret"}, VALUE, "under /simple-api/dev/"),
        ({**GOOD, "ParameterName": "/simple-api/dev/"}, VALUE, "under /simple-api/dev/"),
        ({**GOOD, "ParameterName": "/simple-api/dev"}, VALUE, "under /simple-api/dev/"),
        ({**GOOD, "ParameterName": "/other/dev/secret"}, VALUE, "under /simple-api/dev/"),
        ({k: v for k, v in GOOD.items() if k != "Scope"}, VALUE, "Scope"),
        ({**GOOD, "Scope": "/simple-api/dev"}, VALUE, "Scope"),
        ({**GOOD, "Scope": ""}, VALUE, "Scope"),
        ({**GOOD, "Scope": ["/simple-api/dev/"]}, VALUE, "Scope"),
    ],
)
def test_bad_properties_name_the_property_never_the_value(properties, value, named):
    with pytest.raises(InvalidInput) as caught:
        parse(properties, value)
    assert named in caught.value.message
    assert VALUE not in caught.value.message and "x" * 50 not in caught.value.message


def test_the_value_is_hidden_from_repr():
    assert VALUE not in repr(parse(GOOD, VALUE)) and VALUE not in str(parse(GOOD, VALUE))


def test_create_update_rename_delete():
    store = FakeStore()
    wanted = parse(GOOD, VALUE)
    assert create(wanted, store) == "/simple-api/dev/secret"
    assert update(parse(GOOD, "new-value"), "/simple-api/dev/secret", store) == "/simple-api/dev/secret"
    assert store.parameters == {"/simple-api/dev/secret": "new-value"}
    renamed = parse({**GOOD, "ParameterName": "/simple-api/dev/other"}, "v2")
    assert update(renamed, "/simple-api/dev/secret", store) == "/simple-api/dev/other"
    assert store.calls[-1] == ("put", "/simple-api/dev/other", False)  # a new parameter, not an overwrite
    delete("/simple-api/dev/secret", store)  # what CloudFormation sends for the old physical id
    assert store.parameters == {"/simple-api/dev/other": "v2"}


@pytest.mark.parametrize("physical_id", ["", "stack_SecretParameter_ABC123", "CREATE_FAILED"])
def test_delete_of_a_failed_create_touches_nothing(physical_id):
    store = FakeStore()
    delete(physical_id, store)
    assert store.calls == []


def test_properties_is_frozen():
    with pytest.raises(AttributeError):
        Properties(name="/a", key_id="alias/a", tags={}).name = "/b"  # type: ignore[misc]
    assert secure_parameter.MAX_VALUE_BYTES == 4096
