"""Permissions evaluated, not listed (scripts/deploy_permissions.py, scripts/iam_eval.py): every call a
pipeline deploy makes, against the resources' real ARNs, through IAM's evaluation of its
environment's execution role; every call of prod's under dev's role (no path from "can push" to
"changes prod"); the ordering of what must exist first; and the permissions boundary that closes the
path from "can push to the branch" to "is account admin". Each check is shown able to fail."""

import copy
import json
from functools import cache
from typing import Any

import pytest

from scripts import deploy_permissions as model
from scripts import execution_policy
from scripts.iam_eval import Request, allowed, condition_holds, decision, wildcard


# ---------------------------------------------------------------- IAM's matching rules (IAM User Guide)
@pytest.mark.parametrize(
    ("pattern", "value", "fold", "expected"),
    [
        ("*", "anything:at/all", False, True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", False, True),  # * spans / and :
        ("arn:aws:iam::1:role/app-*", "arn:aws:iam::1:role/app-x", False, True),
        ("arn:aws:iam::1:role/app-*", "arn:aws:iam::1:role/App-x", False, False),  # resources: case matters
        ("iam:Create*", "IAM:createrole", True, True),  # actions: case does not
        ("s3:Get?bject", "s3:GetObject", True, True),
        ("s3:Get?bject", "s3:GetObjekt", True, False),
        ("a[b]c", "a[b]c", False, True),  # brackets are not special in IAM
        ("a[b]c", "abc", False, False),
    ],
)
def test_wildcards_follow_iam(pattern, value, fold, expected):
    assert wildcard(pattern, value, fold=fold) is expected


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": ("b",)}, True),  # any listed value
        ({"StringEquals": {"k": "a", "j": "b"}}, {"k": ("a",)}, False),  # every key; j is absent
        ({"StringEquals": {"K": "a"}}, {"k": ("a",)}, True),  # key names fold case
        ({"StringNotEquals": {"k": "a"}}, {}, True),  # a negated operator holds when the key is absent
        ({"StringNotEquals": {"k": "a"}}, {"k": ("a",)}, False),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"ArnLike": {"k": "arn:aws:iam::*:policy/x-*"}}, {"k": ("arn:aws:iam::1:policy/x-y",)}, True),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "false"}}, {}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ("a", "c")}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ("a", "c")}, True),
    ],
)
def test_conditions_follow_iam(condition, context, expected):
    assert condition_holds(condition, context) is expected


def test_an_explicit_deny_wins_and_a_boundary_caps():
    grant = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    deny = [*grant, {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}]
    request = Request("s3:DeleteObject", "arn:aws:s3:::b/k")
    assert decision(grant, request) == "allow" and decision(deny, request) == "deny"
    assert decision([], request) == "implicit"
    boundary = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
    assert allowed(Request("s3:GetObject", "arn:aws:s3:::b/k"), grant, boundary)
    assert not allowed(request, grant, boundary)
    not_action = [{"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}, *grant]
    assert decision(not_action, request) == "deny"


# ---------------------------------------------------------------- every call of every pipeline deploy
@cache
def statements(env: str = "dev") -> list[dict[str, Any]]:
    return model.execution_role_statements(env)


@pytest.mark.parametrize("config", model.CONFIGS, ids=lambda c: f"{c.env}{'-variants' if c.variants else ''}")
def test_every_call_of_a_pipeline_deploy_is_allowed_by_its_environments_role_and_in_order(config):
    verdict = model.check(config, statements(config.env))
    assert verdict.checked > 500
    assert [f"{r.action} {r.resource} [{r.why}]" for r in verdict.denied] == []
    assert model.ordering_problems(model.deploy(config)) == []


# ---------------------------------------------------------------- no path from "can push" to "changes prod"
READS_BY_SCHEMA_WILDCARD = model.READS_BY_SCHEMA_WILDCARD


@cache
def crossing(env: str) -> model.Crossing:
    """``env``'s deploy calls (every configuration) under the other environment's role."""
    return model.cross_check(statements("prod" if env == "dev" else "dev"), env)


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_every_call_that_names_an_environment_is_denied_under_the_other_environments_role(env):
    found = crossing(env)
    assert len(found.named) > 1000  # prod's: 1,662 calls name it (its ARNs, tags, boundary, parameter)
    allowed_writes = [f"{r.action} {r.resource} [{r.why}]" for r in found.allowed_named]
    allowed_writes = [w for w in allowed_writes if w.split()[0] not in READS_BY_SCHEMA_WILDCARD]
    assert allowed_writes == []
    assert {r.action for r in found.allowed_named} <= READS_BY_SCHEMA_WILDCARD
    # the calls that name neither environment, each of a kind CloudFormation cannot aim at the other
    # environment's resources through a template (it acts on its stack's own, or creates new ones)
    for request in found.alike:
        assert any(test(request.resource) for test in ALIKE.values()), (request.action, request.resource)


#: the calls both environments make alike (no name, tag or boundary of either), by why
ALIKE = {
    "no resource-level permission (Service Authorization Reference)": lambda arn: arn == "*",
    "the pipeline's artifact bucket and key: both read the build, both canaries write there": lambda arn: (
        model.PIPELINE_BUCKET in arn or arn == model.PIPELINE_KEY
    ),
    "AWS's own: public SSM parameters, service-linked roles, deployment configurations": lambda arn: (
        "::parameter/aws/service/" in arn or ":role/aws-service-role/" in arn or ":deploymentconfig:" in arn
    ),
    "ids AWS picks with no tags to tell (new REST APIs: ImportRestApi takes none; launch templates)": lambda arn: (
        arn.endswith("::/restapis") or ":launch-template/" in arn
    ),
}  # not API Gateway's account setting (/account): the pipeline stack makes it, no environment deploy


def test_the_crossing_check_can_fail():
    """The same prod calls under the old single role (both environments' grants in one) are allowed."""
    both = statements("dev") + statements("prod")
    found = model.cross_check(both, "prod")
    assert len(found.allowed_named) == len(found.named)


DEV = model.Config("dev", variants=False)
PROD_FUNCTION = f"arn:aws:lambda:us-east-1:{model.ACCOUNT}:function:aws-cicd-prod-HomeFunction-{model.RANDOM}"


@pytest.mark.parametrize(
    ("name", "resource"),
    [
        (
            "ProdInvoke",
            {
                "Type": "AWS::Lambda::Permission",
                "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": PROD_FUNCTION, "Principal": "*"},
            },
        ),
        ("ProdVersion", {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": PROD_FUNCTION}}),
        (
            "ProdAlias",
            {
                "Type": "AWS::Lambda::Alias",
                "Properties": {"FunctionName": PROD_FUNCTION, "FunctionVersion": "1", "Name": "live"},
            },
        ),
        (
            "ProdRole",
            {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "aws-cicd-prod-Planted",
                    "AssumeRolePolicyDocument": {"Statement": []},
                    "PermissionsBoundary": model.boundary_arn("prod"),
                },
            },
        ),
        (
            "ProdLogs",
            {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "aws-cicd-prod-HomeLogGroup", "RetentionInDays": 1},
            },
        ),
    ],
)
def test_a_dev_commit_that_acts_on_prods_names_is_denied(name, resource):
    """Resources planted in dev's template, aimed at prod: every call that names prod is denied under
    dev's role; the same resource aimed at dev's names is allowed (so the name is what denies it)."""
    planted = _denied(DEV, _planted("dev", name, resource))
    on_prod = [(a, r) for a, r in planted if "aws-cicd-prod" in r]
    assert on_prod, planted
    as_dev = json.loads(json.dumps(resource).replace("aws-cicd-prod", "aws-cicd-dev"))
    assert _denied(DEV, _planted("dev", name, as_dev)) == []


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("lambda:AddPermission", PROD_FUNCTION, {}),
        (
            "logs:PutSubscriptionFilter",
            f"arn:aws:logs:us-east-1:{model.ACCOUNT}:log-group:aws-cicd-prod-HomeLogGroup",
            {},
        ),
        ("logs:DeleteLogGroup", f"arn:aws:logs:us-east-1:{model.ACCOUNT}:log-group:aws-cicd-prod-HomeLogGroup", {}),
        ("ssm:PutParameter", f"arn:aws:ssm:us-east-1:{model.ACCOUNT}:parameter/simple-api/prod/secret", {}),
        (
            "iam:CreateRole",
            f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-prod-Planted",
            {"iam:PermissionsBoundary": (model.boundary_arn("prod"),)},
        ),
        (
            "iam:CreateRole",
            f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-prod-Planted",
            {"iam:PermissionsBoundary": (model.boundary_arn("dev"),)},
        ),
        (
            "apigateway:PATCH",
            "arn:aws:apigateway:us-east-1::/restapis/pr0d1d/stages/prod",
            {"aws:ResourceTag/environment": ("prod",), "aws:ResourceTag/project": ("aws-cicd",)},
        ),
        (
            "apigateway:POST",
            "arn:aws:apigateway:us-east-1::/restapis/pr0d1d/deployments",
            {"aws:ResourceTag/environment": ("prod",), "aws:ResourceTag/project": ("aws-cicd",)},
        ),
        (
            "cloudformation:CreateStack",
            f"arn:aws:cloudformation:us-east-1:{model.ACCOUNT}:stack/aws-cicd-prod-Nested/x",
            {},
        ),
    ],
)
def test_the_dev_role_denies_planted_calls_on_prod(action, resource, context):
    assert not allowed(Request(action, resource, context), statements("dev"), None)
    assert allowed(Request(action, resource, context), statements("dev") + statements("prod"), None) is (
        action
        not in ("logs:PutSubscriptionFilter", "ssm:PutParameter")  # in neither role: no template of ours needs them
        and context.get("iam:PermissionsBoundary")
        != (model.boundary_arn("dev"),)  # a prod role with dev's boundary: never
    )


def test_the_model_knows_the_names_aws_will_give():
    physicals = {(p.stack, p.logical): p for p in model.deploy(model.Config("prod", variants=True))}
    nested = next(stack for stack, logical in physicals if stack.startswith("aws-cicd-prod-Ec2Stack-"))
    role = physicals[(nested, "InstanceRole")].arns["iam:role"]
    assert role == f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd/aws-cicd-prod/{nested}-InstanceRole-{model.RANDOM}"
    canary = physicals[("aws-cicd-prod", "ContractCanary")]
    assert canary.arns["lambda:function"].split(":function:")[1].startswith("cwsyn-aws-cicd-prod-")
    layer = next(p for (stack, _), p in physicals.items() if p.kind == "AWS::Lambda::LayerVersion")
    assert layer.arns["lambda:layer"].endswith(":layer:aws-cicd-prod-shared")


def _planted(env, name, resource):
    translated = copy.deepcopy(model.translated_template(env))
    translated["Resources"][name] = resource
    return translated


def _denied(config, translated):
    return [(r.action, r.resource) for r in model.check(config, statements(config.env), translated).denied]


ROLE: dict[str, Any] = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {"Statement": []},
        "PermissionsBoundary": model.boundary_arn("dev"),
    },
}


def test_a_resource_under_a_path_the_role_does_not_cover_is_denied():
    planted = copy.deepcopy(ROLE)
    planted["Properties"]["Path"] = "/elsewhere/"
    assert ("iam:CreateRole", f"arn:aws:iam::{model.ACCOUNT}:role/elsewhere/aws-cicd-dev-Planted-{model.RANDOM}") in (
        _denied(DEV, _planted("dev", "Planted", planted))
    )


def test_what_a_service_creates_with_the_callers_rights_is_checked_too():
    canary = copy.deepcopy(model.translated_template("dev")["Resources"]["ContractCanary"])
    canary["Properties"]["Name"] = "other-canary"  # Synthetics makes cwsyn-other-canary-<id> as the caller
    denied = _denied(DEV, _planted("dev", "OtherCanary", canary))
    assert any(action == "lambda:CreateFunction" and ":function:cwsyn-other-canary-" in arn for action, arn in denied)


#: a deploy from a laptop (samconfig's values, the template's default): the stack sets the account's
#: API Gateway logging role itself
CREATES_LOGGING_ROLE = (("ApiGatewayLoggingRole", "create"),)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_stack_that_sets_the_account_logging_role_itself_logs_only_after_it(env):
    laptop = model.Config(env, variants=False, overrides=CREATES_LOGGING_ROLE)
    physicals = model.deploy(laptop)
    assert "AWS::ApiGateway::Account" in {p.kind for p in physicals}  # (the check has something to check)
    assert model.ordering_problems(physicals) == []


def test_a_stage_that_logs_before_the_account_role_is_reported():
    translated = copy.deepcopy(model.translated_template("dev"))
    api = next(name for name, r in translated["Resources"].items() if r["Type"] == "AWS::ApiGateway::RestApi")
    translated["Resources"][api]["Properties"]["Description"] = "no longer names the account setting"
    laptop = model.Config("dev", variants=False, overrides=CREATES_LOGGING_ROLE)
    problems = model.ordering_problems(model.deploy(laptop, translated))
    assert any("ApiGatewayAccount" in problem for problem in problems)


# ---------------------------------------------------------------- the account's API Gateway logging setting
ACCOUNT_SETTING = "arn:aws:apigateway:us-east-1::/account"
LOGGING_ROLE = f"arn:aws:iam::{model.ACCOUNT}:role/{{}}ApiGatewayCloudWatchLogsRole-{model.RANDOM}"


def _logging_roles(env):
    """The logging role as the pipeline stack makes it, and as either environment stack would."""
    return [
        LOGGING_ROLE.format("aws-cicd-pipeline/aws-cicd-pipeline-"),
        *(LOGGING_ROLE.format(f"aws-cicd-{e}-") for e in (env, _other(env))),
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_execution_role_may_change_the_accounts_api_gateway_logging_setting(env):
    """The pipeline stack sets it (and passes ApiGatewayLoggingRole=existing): an environment's deploy,
    and so an unapproved dev commit, can neither point the account's setting at a role of its own nor
    hand API Gateway a role, nor attach the logging policy to one."""
    assert model.Config(env, variants=False).parameters()["ApiGatewayLoggingRole"] == "existing"
    for verb in ("PATCH", "PUT", "POST", "DELETE"):
        assert not allowed(Request(f"apigateway:{verb}", ACCOUNT_SETTING, {}), statements(env), None), verb
    tags = {"aws:ResourceTag/environment": (env,), "aws:ResourceTag/project": ("aws-cicd",)}
    assert not allowed(Request("apigateway:PATCH", ACCOUNT_SETTING, tags), statements(env), None)
    for role in _logging_roles(env):
        passed = {"iam:PassedToService": ("apigateway.amazonaws.com",)}
        assert not allowed(Request("iam:PassRole", role, passed), statements(env), None), role
    policy = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    attach = Request(
        "iam:AttachRolePolicy",
        _logging_roles(env)[1],
        {"iam:PolicyARN": (policy,), "iam:PermissionsBoundary": (model.boundary_arn(env),)},
    )
    assert not allowed(attach, statements(env), None)
    passing = [s for s in statements(env) if "iam:PassRole" in s["Action"]]
    assert all("apigateway.amazonaws.com" not in json.dumps(s.get("Condition", {})) for s in passing)
    # nor touch the pipeline's logging role (under /aws-cicd-pipeline/): only ListRoles, which takes no resource
    iam = execution_policy.iam_definition()["iam"]["privileges"]
    touching = {
        name for name in iam if allowed(Request(f"iam:{name}", _logging_roles(env)[0], {}), statements(env), None)
    }
    assert touching == {"ListRoles"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_commit_that_sets_the_account_logging_role_again_is_denied(env):
    """The template's own default (a laptop deploy's), deployed by the pipeline: the calls on the account
    setting and on the logging role are exactly what the execution role denies - so the tests above
    would fail if the role still granted them."""
    denied = model.check(model.Config(env, variants=False, overrides=CREATES_LOGGING_ROLE), statements(env)).denied
    found = {(r.action, r.resource) for r in denied}
    assert ("apigateway:PATCH", ACCOUNT_SETTING) in found
    assert ("iam:PassRole", _logging_roles(env)[1]) in found
    assert all(r.resource == ACCOUNT_SETTING or "ApiGatewayCloudWatchLogsRole" in r.resource for r in denied), found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_accounts_logging_role_carries_no_environments_boundary_as_either_would_stop_the_others_logs(env):
    """API Gateway writes both environments' access logs through the one role: under its managed policy
    alone it may write both; under ``env``'s boundary, the other environment's are denied."""
    managed = [
        {
            "Effect": "Allow",
            "Action": list(execution_policy.MANAGED_POLICIES["service-role/AmazonAPIGatewayPushToCloudWatchLogs"]),
            "Resource": "*",
        }
    ]
    groups = {}
    for e in ("dev", "prod"):
        (group,) = [p for p in model.deploy(model.Config(e, variants=False)) if p.logical == "ApiAccessLogGroup"]
        groups[e] = group.arns["logs:log-group"] + ":log-stream:0123abcd"
    for e in ("dev", "prod"):
        assert allowed(Request("logs:PutLogEvents", groups[e], {}), managed, None)
    boundary = model.boundary_statements(env)
    assert allowed(Request("logs:PutLogEvents", groups[env], {}), managed, boundary)
    assert not allowed(Request("logs:PutLogEvents", groups[_other(env)], {}), managed, boundary)


def _other(env):
    return "prod" if env == "dev" else "dev"


def test_a_function_that_runs_before_its_policy_is_attached_is_reported():
    translated = copy.deepcopy(model.translated_template("dev"))
    del translated["Resources"]["SecretFunction"]["Properties"]["Environment"]["Variables"]["SECRET_KEY_GRANT"]
    problems = model.ordering_problems(model.deploy(DEV, translated))
    assert any("SecretFunction" in problem and "SecretKeyReadPolicy" in problem for problem in problems)


# ---------------------------------------------------------------- no path from "can push" to "is admin"
def test_a_role_without_the_boundary_cannot_be_created():
    planted = copy.deepcopy(ROLE)
    del planted["Properties"]["PermissionsBoundary"]
    denied = _denied(DEV, _planted("dev", "Planted", planted))
    assert ("iam:CreateRole", f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-dev-Planted-{model.RANDOM}") in denied


def test_a_role_with_another_environments_boundary_cannot_be_created():
    planted = copy.deepcopy(ROLE)
    planted["Properties"]["PermissionsBoundary"] = model.boundary_arn("prod")
    assert any(a == "iam:CreateRole" for a, _ in _denied(DEV, _planted("dev", "Planted", planted)))


def test_a_policy_outside_the_boundary_cannot_be_attached():
    planted = copy.deepcopy(ROLE)
    planted["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    denied = _denied(DEV, _planted("dev", "Planted", planted))
    assert ("iam:AttachRolePolicy", f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-dev-Planted-{model.RANDOM}") in denied


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("action", ["iam:DeleteRolePermissionsBoundary", "iam:CreateUser", "iam:CreatePolicyVersion"])
def test_the_execution_roles_can_never_drop_the_boundary_or_write_other_identities(action, env):
    role = f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-{env}-HomeFunctionRole-{model.RANDOM}"
    for resource in (role, "*", f"arn:aws:iam::{model.ACCOUNT}:policy/aws-cicd-pipeline/aws-cicd-{env}-boundary"):
        assert not allowed(Request(action, resource, {}), statements(env), None)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_kms_action_on_every_key_without_this_projects_tags(env):
    for statement in statements(env):
        kms = [a for a in statement["Action"] if a.startswith("kms:")]
        if kms and any(r.endswith(":key/*") or r == "*" for r in statement["Resource"]):
            if statement["Resource"] == ["*"]:  # no resource-level permission at all
                assert all(execution_policy.accepted_resource_types(a) == set() for a in kms), kms
                continue
            tags = statement.get("Condition", {}).get("StringEquals", {})
            assert tags.get("aws:ResourceTag/project") == ["aws-cicd"], statement["Sid"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_boundary_admits_what_the_workloads_do_and_nothing_of_iam_the_pipeline_or_the_other_env(env):
    boundary = model.boundary_statements(env)
    assert boundary is not None
    other = "prod" if env == "dev" else "dev"
    for action in execution_policy.workload_actions():
        assert (
            decision(boundary, Request(action, f"arn:aws:logs:us-east-1:{model.ACCOUNT}:log-group:aws-cicd-{env}-x"))
            == "allow"
        ), action
    grant_everything = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    for action, resource in [
        ("iam:CreateRole", "*"),
        ("iam:PutRolePolicy", f"arn:aws:iam::{model.ACCOUNT}:role/aws-cicd-{env}-x"),
        ("codepipeline:StartPipelineExecution", "*"),
        ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{model.ACCOUNT}:parameter/simple-api/{other}/secret"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{model.ACCOUNT}:function:aws-cicd-{other}-HomeFunction-x"),
        ("s3:DeleteObject", f"arn:aws:s3:::{model.PIPELINE_BUCKET}/aws-cicd/x"),
        ("s3:PutObject", f"arn:aws:s3:::{model.PIPELINE_BUCKET}/aws-cicd/x/template.yaml"),
    ]:
        assert not allowed(Request(action, resource, {}), grant_everything, boundary), (action, resource)
    put_key_policy = Request("kms:PutKeyPolicy", model.PIPELINE_KEY, {"aws:ResourceTag/environment": (other,)})
    assert not allowed(put_key_policy, grant_everything, boundary)
