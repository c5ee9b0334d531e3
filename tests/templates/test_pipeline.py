"""infra/pipeline.yaml as data: stage order, action types, approval before prod, teardown order,
artifact bucket hardening, least privilege (each environment's execution role against the registry
schemas and the Service Authorization Reference, and which action passes which), and the buildspecs
it runs."""

import fnmatch
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from scripts import execution_policy
from tests.factories import ROOT
from tests.templates.conftest import evaluate, load_template, resources

PIPELINE = "infra/pipeline.yaml"
MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE, flags=re.MULTILINE))
BUILDSPECS = ("buildspec.yml", "buildspec-contract.yml", "buildspec-api-canary.yml")


def pipeline():
    return load_template(PIPELINE)


def props(name):
    return pipeline()["Resources"][name]["Properties"]


def stages(**parameters):
    """The pipeline's stages for these parameter values (conditions resolved)."""
    return evaluate(props("Pipeline")["Stages"], parameters, pipeline())


def action(stage, name, **parameters):
    (found,) = [a for s in stages(**parameters) if s["Name"] == stage for a in s["Actions"] if a["Name"] == name]
    return found


def sub_text(value):
    return value["Fn::Sub"] if isinstance(value, dict) else value


# ---------------------------------------------------------------- shape of the pipeline
def test_v2_pipeline_triggers_on_the_branch_and_on_code_paths_only():
    pipeline_props = props("Pipeline")
    assert pipeline_props["PipelineType"] == "V2"
    (trigger,) = pipeline_props["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["SourceActionName"] == "Source"
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"]["Includes"] == [{"Ref": "Branch"}]
    excluded = push["FilePaths"]["Excludes"]
    assert fnmatch.fnmatch("docs/decisions.md", excluded[0]) and "*.md" in excluded
    assert not any(fnmatch.fnmatch("layers/shared/simple_api/http.py", pattern) for pattern in excluded)
    assert len(push["FilePaths"]["Includes"]) + len(excluded) <= 8  # CodePipeline's limit per filter


def test_stages_run_in_the_workshop_order_and_none_deletes_anything():
    assert [s["Name"] for s in stages()] == ["Source", "Build", "DeployDev", "TestDev", "ApproveProd", "DeployProd"]
    text = json.dumps(stages())
    assert "DELETE_ONLY" not in text and "DeleteStack" not in text
    (role,) = props("PipelineRole")["Policies"]
    assert "cloudformation:DeleteStack" not in json.dumps(role), "the delivery pipeline could delete a stack"


def test_action_types_and_versions_are_the_current_ones():
    expected = {
        "Source": ("Source", "CodeStarSourceConnection"),
        "TestBuildPackage": ("Build", "CodeBuild"),
        "CreateChangeSet": ("Deploy", "CloudFormation"),
        "ExecuteChangeSet": ("Deploy", "CloudFormation"),
        "ContractTests": ("Test", "CodeBuild"),
        "ApiCanary": ("Test", "CodeBuild"),
        "CreateProdChangeSet": ("Deploy", "CloudFormation"),
        "ApproveProd": ("Approval", "Manual"),
        "ApproveDeletion": ("Approval", "Manual"),
        "DeleteStack": ("Deploy", "CloudFormation"),
    }
    for stage in stages() + teardown_stages():
        for found in stage["Actions"]:
            kind = found["ActionTypeId"]
            assert (kind["Category"], kind["Provider"]) == expected[found["Name"]], found["Name"]
            assert kind["Owner"] == "AWS" and kind["Version"] == "1"
    text = json.dumps(stages())
    assert "OAuthToken" not in text and "ThirdParty" not in text  # not the deprecated GitHub (v1) source


def test_dev_gets_a_change_set_created_then_executed_with_the_pipeline_choices():
    create, execute = action("DeployDev", "CreateChangeSet"), action("DeployDev", "ExecuteChangeSet")
    assert (create["RunOrder"], execute["RunOrder"]) == (1, 2)
    config = create["Configuration"]
    assert config["ActionMode"] == "CHANGE_SET_REPLACE"
    assert execute["Configuration"]["ActionMode"] == "CHANGE_SET_EXECUTE"
    assert config["ChangeSetName"] == execute["Configuration"]["ChangeSetName"]
    assert sub_text(config["StackName"]) == "${StackPrefix}-dev" == sub_text(execute["Configuration"]["StackName"])
    assert config["TemplatePath"] == "Build::.aws-sam/packaged.yaml"
    assert config["TemplateConfiguration"] == "Build::.aws-sam/pipeline/dev.json"
    assert set(config["Capabilities"].split(",")) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert config["RoleArn"] == {"Fn::GetAtt": ["DevExecutionRole", "Arn"]}
    overrides = sub_text(config["ParameterOverrides"])[0]
    for variant in ("EnableEc2", "EnableFargate"):
        assert f'"{variant}": "${{{variant}}}"' in overrides
    assert '"SecretKeyId": "${DevSecretKeyId}"' in overrides and "SecretValue" not in overrides


def _cloudformation_actions():
    for kind, stage in [("Pipeline", s) for s in stages()] + [("TeardownPipeline", s) for s in teardown_stages()]:
        for found in stage["Actions"]:
            if found["ActionTypeId"]["Provider"] == "CloudFormation":
                yield kind, stage["Name"], found


def test_each_cloudformation_action_hands_cloudformation_its_environments_role_only():
    """DeployDev's change set gets dev's role, prod's change set prod's, each teardown stage the role
    of the stack it deletes; executing a change set takes the role it was created with."""
    seen = []
    for pipeline_name, stage, found in _cloudformation_actions():
        config = found["Configuration"]
        env = re.fullmatch(r"\$\{StackPrefix\}-(dev|prod)", sub_text(config["StackName"]))
        assert env, (stage, found["Name"], config["StackName"])
        if config["ActionMode"] == "CHANGE_SET_EXECUTE":
            assert "RoleArn" not in config and "RoleArn" not in found
            continue
        assert "RoleArn" not in found  # the action's own role would be assumed by CodePipeline instead
        assert config["RoleArn"] == {"Fn::GetAtt": [f"{env.group(1).title()}ExecutionRole", "Arn"]}, (stage, config)
        seen.append((pipeline_name, stage, env.group(1)))
    assert seen == [
        ("Pipeline", "DeployDev", "dev"),
        ("Pipeline", "ApproveProd", "prod"),
        ("TeardownPipeline", "DeleteDev", "dev"),
        ("TeardownPipeline", "DeleteProd", "prod"),
    ]


def test_contract_tests_run_against_dev_before_anything_touches_prod():
    order = [(s["Name"], a["Name"]) for s in stages() for a in sorted(s["Actions"], key=lambda a: a["RunOrder"])]
    assert order.index(("TestDev", "ContractTests")) < order.index(("ApproveProd", "CreateProdChangeSet"))
    project = props("ContractTestsProject")
    assert project["Source"]["BuildSpec"] == "buildspec-contract.yml"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert sub_text(variables["STACK_NAME"]) == "${StackPrefix}-dev"


def test_prod_changes_only_after_a_manual_approval_that_shows_its_change_set():
    create, approve = action("ApproveProd", "CreateProdChangeSet"), action("ApproveProd", "ApproveProd")
    assert create["RunOrder"] < approve["RunOrder"]  # the change set exists when the approver looks
    assert create["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE"  # creating one changes nothing
    assert create["Configuration"]["TemplateConfiguration"] == "Build::.aws-sam/pipeline/prod.json"
    assert approve["Configuration"]["NotificationArn"] == {"Ref": "ApprovalTopic"}
    link = sub_text(approve["Configuration"]["ExternalEntityLink"])
    assert "${StackPrefix}-prod" in link and sub_text(create["Configuration"]["ChangeSetName"]) in link
    execute = action("DeployProd", "ExecuteChangeSet")
    assert execute["Configuration"]["ChangeSetName"] == create["Configuration"]["ChangeSetName"]
    for stage in stages():
        if stage["Name"] in ("Source", "Build", "DeployDev", "TestDev"):
            assert "-prod" not in json.dumps(stage), stage["Name"]


def test_prod_names_each_release_and_its_api_canary_is_a_step_of_its_own_beside_the_deploy():
    create = action("ApproveProd", "CreateProdChangeSet")
    execution = "#{codepipeline.PipelineExecutionId}"
    assert f'"ReleaseId": "{execution}"' in sub_text(create["Configuration"]["ParameterOverrides"])[0]
    assert "ReleaseId" in load_template()["Parameters"]  # the app template takes it (and the canary echoes it)
    execute, canary = action("DeployProd", "ExecuteChangeSet"), action("DeployProd", "ApiCanary")
    assert canary["RunOrder"] == execute["RunOrder"]  # beside the update, which runs the canary itself
    assert canary["Configuration"]["ProjectName"] == {"Ref": "ApiCanaryProject"}
    (variable,) = json.loads(canary["Configuration"]["EnvironmentVariables"])
    assert variable == {"name": "RELEASE_ID", "value": execution, "type": "PLAINTEXT"}
    project = props("ApiCanaryProject")
    assert project["Source"]["BuildSpec"] == "buildspec-api-canary.yml"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert sub_text(variables["PROD_STACK_NAME"]) == "${StackPrefix}-prod"
    spec = yaml.safe_load((ROOT / "buildspec-api-canary.yml").read_text())
    (command,) = spec["phases"]["build"]["commands"]
    assert 'STACK="$PROD_STACK_NAME" RELEASE="$RELEASE_ID"' in command
    timeout = re.search(r"TIMEOUT=(\d+)", command)
    assert timeout and int(timeout.group(1)) < 60 * project["TimeoutInMinutes"]  # it reports before CodeBuild stops it


def test_the_environments_get_all_at_once_in_dev_and_a_canary_in_prod():
    from scripts.pipeline_artifacts import configuration

    assert configuration("dev", {})["Parameters"]["DeploymentType"] == "AllAtOnce"
    assert configuration("prod", {})["Parameters"]["DeploymentType"].startswith("Canary")


# ---------------------------------------------------------------- the teardown pipeline
def teardown_stages(**parameters):
    return evaluate(props("TeardownPipeline")["Stages"], parameters, pipeline())


def entry(stage, variables):
    """What CodePipeline does at ``stage`` for these pipeline variables: "enter" when every
    VariableCheck rule of its BeforeEntry condition holds, else the condition's result ("FAIL" stops
    the run, "SKIP" passes the stage by). CodePipeline's regexes are Java's; these are plain."""
    values = {v["Name"]: v.get("DefaultValue", "") for v in props("TeardownPipeline")["Variables"]}
    values.update(variables)
    for condition in stage.get("BeforeEntry", {}).get("Conditions", []):
        assert condition["Result"] in ("FAIL", "SKIP")
        for rule in condition["Rules"]:
            # the only rules a SKIP result takes besides LambdaInvoke (CodePipeline User Guide, stage conditions)
            assert rule["RuleTypeId"] == {
                "Category": "Rule",
                "Owner": "AWS",
                "Provider": "VariableCheck",
                "Version": "1",
            }
            config = rule["Configuration"]
            variable = re.fullmatch(r"#\{variables\.(\w+)\}", config["Variable"])
            assert variable, config["Variable"]
            value = values[variable.group(1)]
            holds = {"EQ": value == config["Value"], "MATCHES": re.search(config["Value"], value) is not None}
            if not holds[config["Operator"]]:
                return condition["Result"]
    return "enter"


def teardown_run(variables):
    """The actions a teardown run started with these variables reaches, in order: (stage, action)."""
    ran = []
    for stage in teardown_stages():
        outcome = entry(stage, variables)
        if outcome == "FAIL":
            break
        if outcome == "enter":
            ran += [(stage, a) for a in sorted(stage["Actions"], key=lambda a: a["RunOrder"])]
    return ran


def deleted(variables):
    """(stack, role) of each stack a teardown run with these variables deletes."""
    return [
        (sub_text(a["Configuration"]["StackName"]), a["Configuration"]["RoleArn"]["Fn::GetAtt"][0])
        for _, a in teardown_run(variables)
        if a["ActionTypeId"]["Provider"] == "CloudFormation"
    ]


@pytest.mark.parametrize(
    ("variables", "deletes"),
    [
        ({}, None),  # the run CodePipeline starts when it creates the pipeline
        ({"Environment": "prod"}, None),  # a click alone never
        ({"Confirm": "yes"}, None),
        ({"Confirm": "Delete"}, None),
        ({"Confirm": "delete"}, "dev"),  # dev by default
        ({"Confirm": "delete", "Environment": "prod"}, "prod"),
        ({"Confirm": "delete", "Environment": "pipeline"}, None),
        ({"Confirm": "delete", "Environment": "prod2"}, None),
        ({"Confirm": "delete", "Environment": "dev/../prod"}, None),
        ({"Confirm": "delete", "Environment": ""}, None),
    ],
)
def test_the_teardown_deletes_one_environment_only_when_started_on_purpose(variables, deletes):
    source = teardown_stages()[0]
    assert source["Name"] == "Source" and source["Actions"][0]["Configuration"]["DetectChanges"] == "false"
    assert "Triggers" not in props("TeardownPipeline")
    names = [a["Name"] for _, a in teardown_run(variables)]
    if deletes is None:
        assert deleted(variables) == [] and "ApproveDeletion" not in names
        return
    assert names == ["Source", "ApproveDeletion", "DeleteStack"]  # asked first, deleted after
    ((gate, approval),) = [(s, a) for s, a in teardown_run(variables) if a["Name"] == "ApproveDeletion"]
    (condition,) = gate["BeforeEntry"]["Conditions"]
    assert condition["Result"] == "FAIL"  # a run not started on purpose fails before anything is asked
    assert "${StackPrefix}-#{variables.Environment}" in sub_text(approval["Configuration"]["CustomData"])
    # the stack and the role that deletes it are one environment's, fixed in the definition
    assert deleted(variables) == [(f"${{StackPrefix}}-{deletes}", f"{deletes.title()}ExecutionRole")]
    (action,) = [a for _, a in teardown_run(variables) if a["Name"] == "DeleteStack"]
    assert action["Configuration"]["ActionMode"] == "DELETE_ONLY"
    assert "#{" not in json.dumps(action["Configuration"])  # no run's variable chooses a stack or a role


def test_the_teardown_role_deletes_only_the_two_environment_stacks_and_nothing_of_the_pipeline():
    allowed = _allowed("TeardownPipelineRole")
    deletes = [s for name, s in allowed if name == "cloudformation:DeleteStack"]
    assert [sub_text(r) for r in deletes[0]["Resource"]] == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackPrefix}-dev/*",
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackPrefix}-prod/*",
    ]
    names = {name for name, _ in allowed}
    assert not names & {"cloudformation:ExecuteChangeSet", "cloudformation:CreateChangeSet", "codebuild:StartBuild"}
    (writes,) = [s for name, s in allowed if name == "s3:PutObject"]
    assert sub_text(writes["Resource"]) == "${ArtifactBucket.Arn}/${StackPrefix}-teardown/*"
    assert pipeline()["Resources"]["TeardownPipeline"]["Condition"] == "Teardown"
    assert pipeline()["Parameters"]["IncludeTeardown"]["Default"] == "true"
    assert pipeline()["Resources"]["ImageRepository"]["Properties"]["EmptyOnDelete"] is True


# ---------------------------------------------------------------- artifact bucket
def test_the_artifact_bucket_is_encrypted_versioned_private_tls_only_and_expires():
    bucket = props("ArtifactBucket")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["PipelineKey", "Arn"]},
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    # the hand-offs only, of either pipeline
    assert [sub_text(r["Prefix"]) for r in expiring] == ["${StackPrefix}-pipeline/", "${StackPrefix}-teardown/"]
    assert props("Pipeline")["Name"] == {"Fn::Sub": "${StackPrefix}-pipeline"}
    longest = re.fullmatch(
        r"\^\[a-z\]\[a-z0-9-\]\{1,(\d+)\}\$", pipeline()["Parameters"]["StackPrefix"]["AllowedPattern"]
    )
    assert props("TeardownPipeline")["Name"] == {"Fn::Sub": "${StackPrefix}-teardown"}
    # CodePipeline's folder is the first 20 characters of the name: the roles' prefixes rely on it
    assert longest and 1 + int(longest.group(1)) + max(len("-pipeline"), len("-teardown")) <= 20
    assert any("NoncurrentVersionExpiration" in r for r in rules)
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    policy = props("ArtifactBucketPolicy")["PolicyDocument"]["Statement"]
    tls = [s for s in policy if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool")]
    assert tls and tls[0]["Condition"]["Bool"] == {"aws:SecureTransport": "false"} and tls[0]["Principal"] == "*"
    assert props("Pipeline")["ArtifactStore"]["EncryptionKey"]["Id"] == {"Fn::GetAtt": ["PipelineKey", "Arn"]}
    assert props("PipelineKey")["EnableKeyRotation"] is True


# ---------------------------------------------------------------- roles
def _allowed(role):
    found = []
    for policy in props(role).get("Policies", []):
        for statement in evaluate(policy["PolicyDocument"]["Statement"], {"EnableFargate": "true"}, pipeline()):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            found += [(a, statement) for a in actions]
    return found


def test_each_build_project_has_its_own_role_a_current_arm_image_and_encrypted_logs():
    projects = resources(pipeline(), "AWS::CodeBuild::Project")
    roles = [p["Properties"]["ServiceRole"]["Fn::GetAtt"][0] for p in projects.values()]
    assert len(set(roles)) == len(projects) == 3
    for name, project in projects.items():
        environment = project["Properties"]["Environment"]
        assert environment["Image"] == "aws/codebuild/amazonlinux-aarch64-standard:3.0", name
        assert environment["Type"] == "ARM_CONTAINER"
        assert project["Properties"]["EncryptionKey"] == {"Fn::GetAtt": ["PipelineKey", "Arn"]}
        assert (ROOT / project["Properties"]["Source"]["BuildSpec"]).is_file()
    assert props("BuildProject")["Environment"]["PrivilegedMode"] == {"Fn::If": ["FargateEnabled", True, False]}


def test_the_pipeline_role_uses_both_connection_actions_and_passes_only_the_execution_roles():
    allowed = dict(_allowed("PipelineRole"))
    for name in ("codeconnections:UseConnection", "codestar-connections:UseConnection"):
        assert allowed[name]["Resource"] == {"Ref": "Connection"}  # the one the stack created (ConnectionArn empty)


@pytest.mark.parametrize("role", ["PipelineRole", "TeardownPipelineRole"])
def test_the_pipeline_roles_pass_exactly_the_environments_execution_roles_to_cloudformation(role):
    passing = [statement for name, statement in _allowed(role) if name in ("iam:PassRole", "iam:*", "*")]
    (statement,) = passing
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["DevExecutionRole", "Arn"]},
        {"Fn::GetAtt": ["ProdExecutionRole", "Arn"]},
    ]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    # and each is handed on by an action of that pipeline (none passed for nothing)
    kind = {"PipelineRole": "Pipeline", "TeardownPipelineRole": "TeardownPipeline"}[role]
    used = {
        a["Configuration"]["RoleArn"]["Fn::GetAtt"][0]
        for k, _, a in _cloudformation_actions()
        if k == kind and "RoleArn" in a["Configuration"]
    }
    assert used == {"DevExecutionRole", "ProdExecutionRole"}


def test_the_job_roles_touch_only_the_pipelines_own_resources():
    for role in ("BuildRole", "ContractTestsRole", "ApiCanaryRole", "PipelineRole", "TeardownPipelineRole"):
        for name, statement in _allowed(role):
            if statement["Resource"] == "*":
                # actions with no resource-level permission (Service Authorization Reference)
                assert name in ("ecr:GetAuthorizationToken", "cloudformation:ValidateTemplate"), (role, name)
                assert execution_policy.accepted_resource_types(name) == set()
    assert {name for name, _ in _allowed("ContractTestsRole") if name.startswith("cloudformation:")} == {
        "cloudformation:DescribeStacks"
    }
    prod = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackPrefix}-prod/*"
    reads = {name: s["Resource"] for name, s in _allowed("ApiCanaryRole") if name.startswith("cloudformation:")}
    assert reads == {
        name: {"Fn::Sub": prod} for name in ("cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents")
    }
    assert not [n for n, _ in _allowed("BuildRole") if n.startswith(("cloudformation:", "iam:", "ssm:"))]


def test_every_role_is_assumable_only_by_its_service_of_this_account():
    services = {
        "BuildRole": "codebuild.amazonaws.com",
        "ContractTestsRole": "codebuild.amazonaws.com",
        "TeardownPipelineRole": "codepipeline.amazonaws.com",
        "ApiCanaryRole": "codebuild.amazonaws.com",
        "PipelineRole": "codepipeline.amazonaws.com",
        "DeliveryMetricsRole": "lambda.amazonaws.com",
        "DevExecutionRole": "cloudformation.amazonaws.com",
        "ProdExecutionRole": "cloudformation.amazonaws.com",
        "ApiGatewayCloudWatchLogsRole": "apigateway.amazonaws.com",
    }
    assert set(resources(pipeline(), "AWS::IAM::Role")) == set(services)
    for role, service in services.items():
        (statement,) = props(role)["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": service}
        if role == "ApiGatewayCloudWatchLogsRole":  # API Gateway documents no source condition for it
            assert "Condition" not in statement
            continue
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


# ---------------------------------------------------------------- the account's API Gateway logging setting
def _passed(stage, name):
    """The parameter values a change set action passes (its ParameterOverrides, unsubstituted)."""
    text = action(stage, name)["Configuration"]["ParameterOverrides"]["Fn::Sub"]
    return json.loads(text[0] if isinstance(text, list) else text)


CHANGE_SETS = {"dev": ("DeployDev", "CreateChangeSet"), "prod": ("ApproveProd", "CreateProdChangeSet")}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_pipeline_deploys_both_environments_with_the_accounts_existing_logging_setting(env):
    """Passed by the change set action and nowhere else (not the configuration file the build writes,
    not samconfig.toml: a laptop deploy keeps the template's `create`)."""
    from scripts import pipeline_artifacts
    from scripts.samconfig import parameter_values

    assert _passed(*CHANGE_SETS[env])["ApiGatewayLoggingRole"] == "existing"
    assert "ApiGatewayLoggingRole" not in pipeline_artifacts.configuration(env, {})["Parameters"]
    assert "ApiGatewayLoggingRole" not in parameter_values(env) | parameter_values("default")
    for template in ("template.yaml", "chalice_app/merge-template.yaml"):
        assert load_template(template)["Parameters"]["ApiGatewayLoggingRole"]["Default"] == "create"


def test_the_pipeline_stack_sets_the_accounts_logging_role_before_its_first_run():
    """Made by the person who deploys this stack, before any environment: the Pipeline (whose first run
    starts when it is created) waits for the setting, so no API stage that logs is deployed before it."""
    account = pipeline()["Resources"]["ApiGatewayAccount"]
    assert account["Type"] == "AWS::ApiGateway::Account" and "Condition" not in account
    assert account["Properties"] == {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchLogsRole", "Arn"]}}
    role = pipeline()["Resources"]["ApiGatewayCloudWatchLogsRole"]
    assert "Condition" not in role
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    assert "Policies" not in role["Properties"]
    # no environment's boundary: the role writes both environments' logs (test_permissions shows why)
    assert "PermissionsBoundary" not in role["Properties"]
    for found in (account, role):  # other APIs of the account may log through it; nothing unsets it
        assert (found["DeletionPolicy"], found["UpdateReplacePolicy"]) == ("Retain", "Retain")
    depends = pipeline()["Resources"]["Pipeline"]["DependsOn"]
    assert "ApiGatewayAccount" in ([depends] if isinstance(depends, str) else depends)


# ---------------------------------------------------------------- the CloudFormation execution roles
ENVIRONMENTS = ("dev", "prod")


def _other(env):
    return "prod" if env == "dev" else "dev"


def _policies(env):
    return [ref["Ref"] for ref in props(execution_policy.role_name(env))["ManagedPolicyArns"]]


def execution_statements(env):
    return [s for name in _policies(env) for s in props(name)["PolicyDocument"]["Statement"]]


def _granted(statements):
    return {action for s in statements for action in s["Action"]}


def test_the_generated_execution_policy_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "execution_policy.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_one_execution_role_per_environment_and_no_other():
    roles = {name for name, r in resources(pipeline(), "AWS::IAM::Role").items() if "ExecutionRole" in name}
    assert roles == {"DevExecutionRole", "ProdExecutionRole"}
    assert not set(_policies("dev")) & set(_policies("prod"))  # no managed policy shared between them
    for env in ENVIRONMENTS:
        assert all(name.startswith(f"{env.title()}ExecutionPolicy") for name in _policies(env))
        assert f"the {env} stack and nothing else" in props(execution_policy.role_name(env))["Description"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_execution_role_grants_exactly_what_the_deploy_calls(env):
    granted = _granted(execution_statements(env))
    needed = set(execution_policy.needed_actions(env))
    assert granted == needed, (sorted(needed - granted), sorted(granted - needed))
    for action in needed:  # every granted action is a handler's (minus EXCLUDED) or CloudFormation's own
        assert action in execution_policy.EXTRA or any(
            action in execution_policy.handler_permissions(kind) for kind in execution_policy.resource_types()
        ), action
    assert not needed & set(execution_policy.EXCLUDED)
    assert all(reason.strip() for reason in {**execution_policy.EXCLUDED, **execution_policy.EXTRA}.values())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_statement_of_an_environments_role_names_the_other_environment(env):
    other = _other(env)
    text = json.dumps(execution_statements(env))
    assert f"${{StackPrefix}}-{other}" not in text  # its names, boundary and roles
    assert f"'{other}'" not in text and f'"{other}"' not in text  # its environment tag
    assert f"/{other}/" not in text  # its parameters (/simple-api/<env>/...)
    assert f"${{StackPrefix}}-{env}" in text and f'"{env}"' in text  # (the test reads what it should)


def test_the_check_can_fail_when_a_template_adds_a_resource():
    from scripts import deploy_permissions as model

    translated = model.translated_template("dev")
    translated["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    with pytest.raises(model.UnknownType, match="AWS::SQS::Queue"):
        model.check(model.Config("dev", variants=False), model.execution_role_statements("dev"), translated)
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "someone-elses-topic"}}
    translated["Resources"] = {**model.translated_template("dev")["Resources"], "Topic": topic}
    denied = model.check(model.Config("dev", variants=False), model.execution_role_statements("dev"), translated).denied
    assert any(r.action == "sns:CreateTopic" and r.resource.endswith(":someone-elses-topic") for r in denied)


#: patterns that can name neither the environment nor its tags, and why
TYPE_WIDE = {
    ":scalable-target/*": "Application Auto Scaling picks the id; a scaling policy's calls on it carry no tags",
    ":launch-template/*": "EC2 picks the id, and CloudFormation's launch templates take no tags (taggable: false)",
    "::/restapis": "AWS picks a new REST API's id and ImportRestApi takes no tags (they follow the import)",
}  # not API Gateway's account setting (/account): the pipeline stack makes it
SCOPED = r"\$\{StackPrefix\}-(dev|prod)|/aws/service/|ArtifactBucket|PipelineKey|aws-service-role|deploymentconfig:"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_resources_are_the_environments_names_or_their_tags_or_none_at_all(env):
    """'*' only where the Service Authorization Reference lists no resource type for the action."""
    for statement in execution_statements(env):
        if statement["Resource"] == ["*"]:
            for name in statement["Action"]:
                if name.endswith(":Describe*"):  # a registry schema's own wildcard: reads only
                    continue
                assert execution_policy.accepted_resource_types(name) == set(), name
            continue
        tags = {k for test in statement.get("Condition", {}).values() for k in test if "Tag/" in k}
        for resource in statement["Resource"]:
            text = sub_text(resource)
            type_wide = any(text.endswith(t) for t in TYPE_WIDE)
            assert re.search(SCOPED, text) or tags or type_wide, (statement["Sid"], text)
            assert "aws-cicd-pipeline" not in text


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_roles_are_passed_only_to_the_services_that_run_them(env):
    passing = [s for s in execution_statements(env) if "iam:PassRole" in s["Action"]]
    assert passing and all(s["Action"] == ["iam:PassRole"] for s in passing)
    for statement in passing:
        for resource in statement["Resource"]:
            assert re.search(rf"\$\{{StackPrefix\}}-{env}[-/]\*$", sub_text(resource)), resource
        services = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        assert "cloudformation.amazonaws.com" not in services and "iam.amazonaws.com" not in services


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_managed_policy_fits_the_iam_size_limit(env):
    for name in _policies(env):
        statements = json.loads(json.dumps(props(name)["PolicyDocument"]["Statement"]), object_hook=_unsub)
        assert execution_policy.size(statements) <= execution_policy.POLICY_LIMIT, name


def _unsub(node):
    return node["Fn::Sub"] if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) else node


# ---------------------------------------------------------------- buildspecs
@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_buildspec_command_is_a_make_target_on_the_projects_python(name):
    spec = yaml.safe_load((ROOT / name).read_text())
    commands = [c for phase in spec["phases"].values() for c in (phase or {}).get("commands", [])]
    assert commands and all(c.split()[0] == "make" and c.split()[1] in TARGETS for c in commands), commands
    python = spec["phases"]["install"]["runtime-versions"]["python"]
    assert str(python) == (ROOT / ".python-version").read_text().strip()


@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_target_a_buildspec_calls_installs_what_it_runs(name):
    """Either the install phase runs `make install`, or each target installs its own environment."""
    spec = yaml.safe_load((ROOT / name).read_text())
    if "make install" in (spec["phases"]["install"].get("commands") or []):
        return
    for command in [c for phase in spec["phases"].values() for c in (phase or {}).get("commands", [])]:
        target = command.split()[1]
        (prerequisites,) = re.findall(rf"^{re.escape(target)}: ([^#\n]*)", MAKEFILE, re.MULTILINE)
        assert "$(VENV)/.installed" in prerequisites.split(), (name, target)


def test_the_build_tests_first_and_installs_every_tool_it_then_uses():
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    assert spec["phases"]["install"]["commands"] == ["make install"]
    assert spec["phases"]["pre_build"]["commands"] == ["make pr"]
    assert re.search(r"^pr: test ", MAKEFILE, re.MULTILINE)  # every check and gate, as on a laptop
    assert spec["env"]["variables"]["SCA_REQUIRED"] == "true"  # no silent pass where PyPI is reachable
    reports = {r["file-format"]: r["files"] for r in spec["reports"].values()}
    assert reports == {"JUNITXML": ["junit.xml"], "COBERTURAXML": ["coverage.xml"]}
    install = re.search(r"^install: (.*?)##", MAKEFILE, re.MULTILINE)
    assert install and {"$(VENV)/.installed", "$(SAM_ENV)/.installed"} <= set(install.group(1).split())
    artifacts = spec["artifacts"]["files"]
    template = pipeline()
    keys = ("TemplatePath", "TemplateConfiguration")
    paths = {a["Configuration"][k] for s in stages() for a in s["Actions"] for k in keys if k in a["Configuration"]}
    sboms = {f".aws-sam/sbom/{name}.cdx.json" for name in ("layer", "functions", "image")}
    assert {p.removeprefix("Build::") for p in paths} | sboms == set(artifacts)
    assert template["Resources"]["BuildProject"]["Properties"]["Cache"]["Type"] == "S3"


def _run_buildspec(*arguments):
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "run_buildspec.py"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_buildspecs_run_locally_in_pipeline_order_against_a_local_aws():
    result = _run_buildspec()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    ran = [line.split("]")[0][1:] for line in lines if re.match(r"\[buildspec[a-z-]*\.yml\] ", line)]
    assert list(dict.fromkeys(ran)) == list(BUILDSPECS)
    assert "50 passed" in result.stdout  # the contract suite, through the stack's ApiUrl output
    # DeployProd's ApiCanary step found this release's outcome in prod's outputs
    assert "API canary: aws-cicd-prod CREATE_COMPLETE: no API definition change" in result.stdout
    # make package: every code location became an s3:// URI under the commit, in the artifact bucket
    packaged = (ROOT / ".aws-sam" / "packaged.yaml").read_text()
    uris = re.findall(r"(?:CodeUri|ContentUri): (\S+)", packaged)
    code = [r for r in load_template()["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    assert len(uris) == len([r for r in code if r["Type"] != "AWS::Serverless::Api"])
    assert all(u.startswith(f"s3://codebuild-artifacts-local/aws-cicd/{'0123456789abcdef' * 2}") for u in uris), uris


def test_a_typo_in_a_buildspec_fails_here(tmp_path):
    broken = tmp_path / "buildspec.yml"
    broken.write_text((ROOT / "buildspec.yml").read_text().replace("make package", "make pakage"))
    result = _run_buildspec("--buildspec", str(broken))
    assert result.returncode == 1 and "FAILED in build" in result.stdout


# ---------------------------------------------------------------- build once, sign, promote
def _overrides(stage, name, **parameters):
    configuration = action(stage, name, **parameters)["Configuration"]
    text, variables = configuration["ParameterOverrides"]["Fn::Sub"]
    return text, variables


@pytest.mark.parametrize(
    ("setting", "dev", "prod"),
    [("prod", False, True), ("dev-and-prod", True, True), ("off", False, False)],
)
def test_signing_is_enforced_in_prod_by_default_and_where_the_parameter_says(setting, dev, prod):
    assert pipeline()["Parameters"]["CodeSigning"]["Default"] == "prod"
    signed = {"Fn::GetAtt": ["SigningProfile", "ProfileVersionArn"]}
    for stage, name, expected in (("DeployDev", "CreateChangeSet", dev), ("ApproveProd", "CreateProdChangeSet", prod)):
        text, variables = _overrides(stage, name, CodeSigning=setting)
        assert '"CodeSigningProfileVersionArn": "${Signing}"' in text
        assert variables["Signing"] == (signed if expected else "")
    variables = {v["Name"]: v["Value"] for v in props("BuildProject")["Environment"]["EnvironmentVariables"]}
    profile = evaluate(variables["SIGNING_PROFILE"], {"CodeSigning": setting}, pipeline())
    assert profile == ("" if setting == "off" else {"Fn::GetAtt": ["SigningProfile", "ProfileName"]})


def test_the_profile_signs_lambda_code_and_only_the_build_may_use_it():
    assert props("SigningProfile")["PlatformId"] == "AWSLambda-SHA384-ECDSA"
    signing = [(n, s) for n, s in _allowed("BuildRole") if n.startswith("signer:")]
    assert {n for n, _ in signing} == {
        "signer:StartSigningJob",
        "signer:DescribeSigningJob",
        "signer:GetSigningProfile",
    }
    for role in ("ContractTestsRole", "PipelineRole", "TeardownPipelineRole"):
        assert not [n for n, _ in _allowed(role) if n.startswith("signer:")]


def test_every_function_enforces_the_signing_configuration_when_given_a_profile():
    template = load_template()
    functions = resources(template, "AWS::Serverless::Function")
    for name, function in functions.items():
        assert function["Properties"]["CodeSigningConfigArn"] == {
            "Fn::If": ["EnforceCodeSigning", {"Ref": "CodeSigningConfig"}, {"Ref": "AWS::NoValue"}]
        }, name
    config = template["Resources"]["CodeSigningConfig"]
    assert config["Condition"] == "EnforceCodeSigning"
    assert config["Properties"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert config["Properties"]["AllowedPublishers"]["SigningProfileVersionArns"] == [
        {"Ref": "CodeSigningProfileVersionArn"}
    ]
    assert template["Parameters"]["CodeSigningProfileVersionArn"]["Default"] == ""  # laptop deploys: not enforced


def test_make_package_signs_every_function_and_layer_with_the_profile(tmp_path):
    from tests.templates.conftest import FakeCommand

    sam = FakeCommand(tmp_path, "sam")
    environment = {
        "SAM": str(sam.path),
        "ARTIFACT_BUCKET": "artifacts",
        "ARTIFACT_PREFIX": "aws-cicd/abc",
        "SIGNING_PROFILE": "awscicdpipeline",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py")],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    arguments = sam.arguments()
    signed = arguments[arguments.index("--signing-profiles") + 1 :]
    built = load_template()["Resources"]
    expected = sorted(
        name for name, r in built.items() if r["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    )
    assert signed == [f"{name}=awscicdpipeline" for name in expected]
    assert "SharedLayer=awscicdpipeline" in signed
    assert arguments[arguments.index("--s3-prefix") + 1] == "aws-cicd/abc"
    environment.pop("SIGNING_PROFILE")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py")],
        env={**os.environ, **environment},
        check=True,
    )
    assert "--signing-profiles" not in sam.arguments()


def _build_s3_statements(role="BuildRole"):
    """A role's S3 statements (BuildRole's by default), resolved for the pipeline stack <prefix>-pipeline."""
    from scripts import deploy_permissions as model

    scope = model._pipeline_scope(model._pipeline_template())
    (policy,) = props(role)["Policies"]
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        resolved = scope.maybe(statement)
        actions = resolved["Action"] if resolved else []
        if resolved and any(a.startswith("s3:") for a in (actions if isinstance(actions, list) else [actions])):
            found.append(resolved)
    return model, found


@pytest.mark.parametrize(
    ("action", "key", "prefix", "expected"),
    [
        ("s3:GetObject", "aws-cicd-pipeline/Source/AbC1234", None, True),  # its input
        ("s3:PutObject", "aws-cicd-pipeline/Build/XyZ9876", None, True),  # its output artifact
        ("s3:PutObject", "aws-cicd/0123abcd/5f2e.zip", None, True),  # sam package, the EC2 bundle
        ("s3:PutObject", "build-cache/f00", None, True),
        ("s3:ListBucket", None, "aws-cicd/0123abcd/", True),  # sam package looks for what it uploaded
        ("s3:PutObject", "aws-cicd-pipeline/Source/AbC1234", None, False),  # another run's source
        ("s3:PutObject", "aws-cicd-pipeline/DeployDev/AbC1234", None, False),
        ("s3:PutObject", "anything-else", None, False),
        ("s3:DeleteObject", "aws-cicd-pipeline/Build/XyZ9876", None, False),
        ("s3:ListBucket", None, "aws-cicd-pipeline/Build/", False),  # where the recorded hashes are
        ("s3:ListBucket", None, "aws-cicd-pipeline/", False),
        ("s3:ListBucket", None, "", False),
        ("s3:ListBucket", None, None, False),  # no prefix: the whole bucket
    ],
)
def test_the_build_writes_and_lists_only_its_own_prefixes(action, key, prefix, expected):
    from scripts.iam_eval import Request, allowed

    model, statements = _build_s3_statements()
    bucket = f"arn:aws:s3:::{model.PIPELINE_BUCKET}"
    context = {} if prefix is None else {"s3:prefix": (prefix,)}
    request = Request(action, f"{bucket}/{key}" if key else bucket, context)
    assert allowed(request, statements, None) is expected


@pytest.mark.parametrize("role", ["ContractTestsRole", "ApiCanaryRole"])
@pytest.mark.parametrize(
    ("action", "key", "expected"),
    [
        ("s3:GetObject", "aws-cicd-pipeline/Source/AbC1234", True),  # their only input
        ("s3:GetObject", "aws-cicd-pipeline/Build/XyZ9876", False),
        ("s3:GetObject", "aws-cicd/0123abcd/5f2e.zip", False),
        ("s3:PutObject", "aws-cicd-pipeline/Source/AbC1234", False),
        ("s3:ListBucket", "", False),
    ],
)
def test_the_other_builds_only_read_the_source(role, action, key, expected):
    from scripts.iam_eval import Request, allowed

    model, statements = _build_s3_statements(role)
    bucket = f"arn:aws:s3:::{model.PIPELINE_BUCKET}"
    assert allowed(Request(action, f"{bucket}/{key}" if key else bucket, {}), statements, None) is expected
