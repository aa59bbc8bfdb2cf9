"""
The realism layer of Phoenix's local world, loaded into the emulator (moto server) process by the
launcher of local/emulator.ts. Phoenix's handlers never see it: they talk to moto's APIs, and this
module changes what those APIs answer, as AWS would.

- Boot time: an instance is `Pending` in its Auto Scaling group (DescribeAutoScalingGroups,
  DescribeAutoScalingInstances) and `initializing` in DescribeInstanceStatus for `bootSeconds`
  after launch; a registered target is `initial` (`Elb.RegistrationInProgress`) until the instance
  has booted and then passed the target group's health checks (interval x healthy threshold).
  Simulated seconds are multiplied by `timeScale` (the local runtime's `--time-scale`).
- Broken images: an instance of an AMI tagged `phoenix-world:broken=true` (a tag of the world, read
  only here) is `unhealthy` (`Target.FailedHealthChecks`) in its target groups, `impaired` in
  DescribeInstanceStatus, and `Unhealthy` in its Auto Scaling group once booted.
- A bad zone (`badZones`): its instances are unhealthy/impaired the same way.
- Run Command on a broken image: an SSM command (SendCommand) on an instance launched from an AMI
  tagged `phoenix-world:broken=true` ends `Failed` (GetCommandInvocation: ResponseCode 1, the
  failure in StandardErrorContent) instead of moto's `Success` for any document.
- CreateLaunchTemplateVersion: a `ClientToken` makes it idempotent and the new version inherits
  its `SourceVersion`'s data, as in AWS (moto ignores both).
- CreateAutoScalingGroup of a name that exists answers `AlreadyExists`, as in AWS (moto replaced
  the group and left its instances running outside every group).
- A group's replacement of an instance terminated through EC2 is registered in the group's target
  groups, as Auto Scaling does (moto registered it nowhere).
- API limits (`throttling`): token buckets per API, answering AWS's own throttling errors.

Control endpoint: `GET /phoenix-world/config` returns the configuration, `POST` merges a JSON
object into it; `POST /moto-api/reset` also resets it. `GET /phoenix-world/calls`: per
`service:Action`, the calls answered (passed on to moto), the calls throttled, and the peak rate
answered: the most calls in any 1-second window, and, for an API under a bucket, in any window of
the bucket's refill period (burst / rate seconds) with the most the bucket lets through in it
(burst + rate x window); `DELETE /phoenix-world/calls` (or `POST /moto-api/reset`) starts them over. The state machines of moto are not
changed: only what is reported (moto's own capacity logic still counts the instances InService).
"""

import collections
import copy
import json
import threading
import time
import uuid
from io import BytesIO
from urllib.parse import parse_qs

BROKEN_TAG_KEY = "phoenix-world:broken"

DEFAULTS = {
    # Simulated seconds from launch until InService; 0: at once (moto's behaviour).
    "bootSeconds": 0,
    # Real seconds per simulated second.
    "timeScale": 1.0,
    # Whether targets pass through `initial` (interval x healthy threshold) before `healthy`.
    "targetHealthChecks": False,
    # Availability zones whose instances fail their health and status checks.
    "badZones": [],
    # Whether broken images (the AMI tag above) launch unhealthy instances.
    "brokenImages": True,
    # false: off; true: the AWS buckets below; an object: the buckets below with these overrides
    # ({"ec2:RunInstances": {"burst": 10, "rate": 1}}).
    "throttling": False,
}

# Token buckets (burst, refill per real second), by "service:Action" or "service:*mutating" /
# "service:*read" (actions named Describe*/Get*/List* read). EC2: as AWS documents them
# (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). Auto Scaling publishes no
# rates: users report DescribeAutoScalingGroups throttling at about 20 calls per second, so reads
# get 40 burst / 20 per s and mutating calls a more conservative 20 / 5. SQS, EventBridge and
# DynamoDB (on demand) throttle far beyond a control plane's rate: no bucket unless configured.
AWS_BUCKETS = {
    "ec2:*mutating": {"burst": 50, "rate": 5},
    "ec2:*read": {"burst": 100, "rate": 20},
    "ec2:TerminateInstances": {"burst": 100, "rate": 5},
    "ec2:DescribeInstances": {"burst": 100, "rate": 20},
    "ec2:CreateLaunchTemplateVersion": {"burst": 100, "rate": 5},
    "autoscaling:*read": {"burst": 40, "rate": 20},
    "autoscaling:*mutating": {"burst": 20, "rate": 5},
}

_lock = threading.Lock()
# CreateAutoScalingGroup's check for an existing name and the creation, as one step.
_create_lock = threading.Lock()
_config = copy.deepcopy(DEFAULTS)
_buckets = {}
_throttled = {}
_born = {}
# Per "service:Action": answered calls, and the times of the recent ones for the peak windows.
_calls = {}
# CreateLaunchTemplateVersion's idempotency: (account, template id, ClientToken) -> version number.
_client_tokens = {}


def _now():
    return time.monotonic()


def _scaled(simulated_seconds):
    return float(simulated_seconds) * float(_config["timeScale"])


def config():
    with _lock:
        return {**copy.deepcopy(_config), "throttledCalls": dict(_throttled)}


def configure(update):
    if not isinstance(update, dict):
        raise ValueError("the configuration is a JSON object")
    unknown = sorted(set(update) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown realism option(s): {', '.join(unknown)}")
    with _lock:
        _config.update(copy.deepcopy(update))
        if "throttling" in update:
            _buckets.clear()
            _throttled.clear()


def reset():
    with _lock:
        _config.clear()
        _config.update(copy.deepcopy(DEFAULTS))
        _buckets.clear()
        _throttled.clear()
        _born.clear()
        _calls.clear()
        _client_tokens.clear()


# ---- instances -----------------------------------------------------------------------------------


def _booted_at(instance):
    born = _born.get(instance.id)
    if born is None:
        return None
    return born + _scaled(_config["bootSeconds"])


def _booting(instance):
    at = _booted_at(instance)
    return at is not None and _now() < at


def _failing(instance):
    """Broken image or bad zone: health and status checks fail."""
    if instance.placement.zone in (_config["badZones"] or []):
        return True
    if not _config["brokenImages"]:
        return False
    tags = instance.ec2_backend.tags.get(instance.image_id, {})
    return str(tags.get(BROKEN_TAG_KEY, "")).lower() == "true"


def _patch_instances():
    from moto.ec2.models.instances import Instance

    original_init = Instance.__init__
    original_status = Instance.instance_status.fget

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _born[self.id] = _now()

    def instance_status(self):
        status = original_status(self)
        if self.state_code != 16:
            return status
        if _booting(self):
            return {"Details": [{"Name": "reachability", "Status": "initializing"}], "Status": "initializing"}
        if _failing(self):
            return {"Details": [{"Name": "reachability", "Status": "failed"}], "Status": "impaired"}
        return status

    Instance.__init__ = __init__
    Instance.instance_status = property(instance_status)


def _patch_autoscaling():
    from moto.autoscaling.models import InstanceState

    # moto's serializer reads `LifecycleState` before `lifecycle_state`: moto's own logic (capacity,
    # standby) keeps reading the stored state, the answers carry the realistic one.
    def lifecycle(self):
        if self.lifecycle_state == "InService" and _booting(self.instance):
            return "Pending"
        return self.lifecycle_state

    def health(self):
        if self.health_status != "Healthy":
            return self.health_status
        if not _booting(self.instance) and _failing(self.instance):
            return "Unhealthy"
        return self.health_status

    InstanceState.LifecycleState = property(lifecycle)
    InstanceState.HealthStatus = property(health)


def _patch_elbv2():
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    original_register = FakeTargetGroup.register
    original_health_for = FakeTargetGroup.health_for
    registered = {}

    def register(self, targets):
        original_register(self, targets)
        for target in targets:
            registered.setdefault((self.arn, target["Id"]), _now())

    def deregister(self, targets):
        original_deregister(self, targets)
        for target in targets:
            registered.pop((self.arn, target["Id"]), None)

    original_deregister = FakeTargetGroup.deregister

    def health_for(self, target, ec2_backend):
        result = original_health_for(self, target, ec2_backend)
        if result.status != "healthy" or not str(target["Id"]).startswith("i-"):
            return result
        instance = ec2_backend.get_instance_by_id(target["Id"])
        if instance is None:
            return result
        port, hport = result.port, result.health_check_port
        if _failing(instance) and not _booting(instance):
            return FakeHealthStatus(
                target["Id"], port, hport, "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
            )
        since = registered.get((self.arn, target["Id"]), _born.get(instance.id, 0.0))
        checks_from = max(since, _booted_at(instance) or since)
        warmup = 0.0
        if _config["targetHealthChecks"]:
            warmup = _scaled(int(self.health_check_interval_seconds) * int(self.healthy_threshold_count))
        if _booting(instance) or _now() < checks_from + warmup:
            return FakeHealthStatus(
                target["Id"], port, hport, "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
            )
        return result

    FakeTargetGroup.register = register
    FakeTargetGroup.deregister = deregister
    FakeTargetGroup.health_for = health_for


# ---- API limits ----------------------------------------------------------------------------------

_READ_PREFIXES = ("Describe", "Get", "List")


def _bucket_table():
    throttling = _config["throttling"]
    if throttling is False or throttling is None:
        return None
    table = dict(AWS_BUCKETS)
    if isinstance(throttling, dict):
        table.update(throttling)
    return table


def _bucket_key(table, service, action):
    exact = f"{service}:{action}"
    if exact in table:
        return exact
    kind = "*read" if action.startswith(_READ_PREFIXES) else "*mutating"
    key = f"{service}:{kind}"
    return key if key in table else None


def _refill_seconds(spec):
    """The bucket's refill period: the seconds it takes to refill from empty (burst / rate)."""
    rate = float(spec["rate"])
    return float(spec["burst"]) / rate if rate > 0 else 0.0


def _count_answered(service, action, key, spec, now):
    """Count a call passed on to moto and keep the peaks (call with _lock held)."""
    name = f"{service}:{action}"
    entry = _calls.get(name)
    if entry is None:
        entry = _calls[name] = {
            "answered": 0,
            "peakPerSecond": 0,
            "second": collections.deque(),
            "bucket": None,
            "window": collections.deque(),
            "windowSeconds": 0.0,
            "peakInWindow": 0,
        }
    entry["answered"] += 1
    second = entry["second"]
    second.append(now)
    while second and second[0] <= now - 1.0:
        second.popleft()
    entry["peakPerSecond"] = max(entry["peakPerSecond"], len(second))
    if spec is None:
        return
    window_seconds = _refill_seconds(spec)
    if entry["bucket"] != key or entry["windowSeconds"] != window_seconds:
        entry["bucket"], entry["windowSeconds"] = key, window_seconds
        entry["window"].clear()
        entry["peakInWindow"] = 0
        entry["spec"] = {"burst": spec["burst"], "rate": spec["rate"]}
    if window_seconds <= 0:
        return
    window = entry["window"]
    window.append(now)
    while window and window[0] <= now - window_seconds:
        window.popleft()
    entry["peakInWindow"] = max(entry["peakInWindow"], len(window))


def calls():
    """Per service:Action: answered, throttled, peak per second, and the bucket's window peak."""
    with _lock:
        names = sorted(set(_calls) | set(_throttled))
        out = {}
        for name in names:
            entry = _calls.get(name)
            item = {
                "answered": entry["answered"] if entry else 0,
                "throttled": _throttled.get(name, 0),
                "peakPerSecond": entry["peakPerSecond"] if entry else 0,
            }
            if entry and entry["bucket"] is not None:
                spec = entry["spec"]
                window_seconds = entry["windowSeconds"]
                item["bucket"] = {
                    "key": entry["bucket"],
                    "burst": spec["burst"],
                    "rate": spec["rate"],
                    "windowSeconds": window_seconds,
                    "peakInWindow": entry["peakInWindow"],
                    # The most any bucket can let through in one refill period (full at its start).
                    "allowedInWindow": float(spec["burst"]) + float(spec["rate"]) * window_seconds,
                    "allowedPerSecond": float(spec["burst"]) + float(spec["rate"]),
                }
            out[name] = item
        return out


def reset_calls():
    with _lock:
        _calls.clear()
        _throttled.clear()


def _take(service, action):
    """True when the call may go; False when its bucket is empty (and counts the throttled call)."""
    with _lock:
        now = _now()
        table = _bucket_table()
        key = _bucket_key(table, service, action) if table is not None else None
        if key is None:
            _count_answered(service, action, None, None, now)
            return True
        spec = table[key]
        tokens, at = _buckets.get(key, (float(spec["burst"]), now))
        tokens = min(float(spec["burst"]), tokens + (now - at) * float(spec["rate"]))
        if tokens < 1:
            _buckets[key] = (tokens, now)
            _throttled[f"{service}:{action}"] = _throttled.get(f"{service}:{action}", 0) + 1
            return False
        _buckets[key] = (tokens - 1, now)
        _count_answered(service, action, key, spec, now)
        return True


def _service_of(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            return scope[3]
    return ""


def _action_of(environ):
    """The API action and the request body (read, so it is put back for moto)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1], None
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [None])[0]
    if action is not None:
        return action, None
    if environ.get("REQUEST_METHOD") != "POST":
        return None, None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = BytesIO(body)
    action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    return action, body


def _throttle_response(service, start_response):
    request_id = str(uuid.uuid4())
    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
            f"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        status, content_type = "503 Service Unavailable", "text/xml"
        error = "RequestLimitExceeded"
    elif service in ("autoscaling", "elasticloadbalancing", "monitoring"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        status, content_type = "400 Bad Request", "text/xml"
        error = "Throttling"
    else:
        error = {
            "dynamodb": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "sqs": "com.amazonaws.sqs#ThrottlingException",
        }.get(service, "ThrottlingException")
        body = json.dumps({"__type": error, "message": "Rate exceeded"})
        status, content_type = "400 Bad Request", "application/x-amz-json-1.0"
    data = body.encode("utf-8")
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.rsplit("#", 1)[-1]),
        ],
    )
    return [data]


# ---- the WSGI layer ------------------------------------------------------------------------------


def _json_response(start_response, status, value):
    data = json.dumps(value).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _control(environ, start_response):
    method = environ.get("REQUEST_METHOD")
    if method == "GET":
        return _json_response(start_response, "200 OK", config())
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b"{}"
        try:
            configure(json.loads(raw or b"{}"))
        except (ValueError, TypeError) as error:
            return _json_response(start_response, "400 Bad Request", {"error": "InvalidRealismConfig", "message": str(error)})
        return _json_response(start_response, "200 OK", config())
    return _json_response(start_response, "405 Method Not Allowed", {"error": "MethodNotAllowed"})


def _broken_image_instance(account_id, region, instance_id):
    """The instance, when it was launched from an image tagged broken (and broken images are on)."""
    if not _config["brokenImages"]:
        return None
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    instance = backend.get_instance_by_id(instance_id)
    if instance is None:
        return None
    tags = backend.tags.get(instance.image_id, {})
    return instance if str(tags.get(BROKEN_TAG_KEY, "")).lower() == "true" else None


def _patch_ssm():
    """SSM Run Command: a command on an instance of a broken image ends `Failed` (the world's own
    failure, with output text), instead of moto's `Success` at once for any document."""
    from moto.ssm.models import Command

    original_invocation = Command.invocation_response

    def invocation_response(self, instance_id, plugin_name):
        invocation = original_invocation(self, instance_id, plugin_name)
        instance = _broken_image_instance(self.account_id, self.backend_region, instance_id)
        if instance is None:
            return invocation
        invocation.update(
            {
                "ResponseCode": 1,
                "Status": "Failed",
                "StatusDetails": "Failed",
                "StandardOutputContent": f"{self.document_name}: running on {instance_id}\n",
                "StandardErrorContent": (
                    f"{self.document_name} failed on {instance_id}: image {instance.image_id} is broken "
                    f"(world tag {BROKEN_TAG_KEY}=true)\n"
                ),
            }
        )
        self.status = "Failed"
        self.status_details = "Failed"
        self.error_count = getattr(self, "error_count", 0) + 1
        return invocation

    Command.invocation_response = invocation_response


def _calls_control(environ, start_response):
    method = environ.get("REQUEST_METHOD")
    if method == "GET":
        return _json_response(start_response, "200 OK", calls())
    if method == "DELETE":
        reset_calls()
        return _json_response(start_response, "200 OK", calls())
    return _json_response(start_response, "405 Method Not Allowed", {"error": "MethodNotAllowed"})


_patched = False
_patch_lock = threading.Lock()


CHANNEL_PARAMETER_PREFIX = "/phoenix/channels/"


def _patch_ssm_channel_events():
    """Parameter Store emits "Parameter Store Change" to the default bus by itself in AWS; moto does
    not. A PutParameter of a channel parameter (`/phoenix/channels/<channel>`) puts that event on
    the emulator's default bus, shaped as AWS shapes it (test/fixtures/events/aws.ssm/)."""
    from moto.events.models import events_backends
    from moto.ssm.models import SimpleSystemManagerBackend

    original_put_parameter = SimpleSystemManagerBackend.put_parameter

    def put_parameter(self, name, *args, **kwargs):
        parameter = original_put_parameter(self, name, *args, **kwargs)
        if isinstance(name, str) and name.startswith(CHANNEL_PARAMETER_PREFIX):
            detail = {
                "exception": "Unable to Describe Resource",
                "dataType": parameter.data_type or "text",
                "name": name,
                "type": parameter.parameter_type,
                "operation": "Update" if parameter.version > 1 else "Create",
            }
            events_backends[self.account_id][self.region_name].put_events(
                [
                    {
                        "Source": "aws.ssm",
                        "DetailType": "Parameter Store Change",
                        "Resources": [
                            f"arn:aws:ssm:{self.region_name}:{self.account_id}:parameter{name}"
                        ],
                        "Detail": json.dumps(detail),
                    }
                ]
            )
        return parameter

    SimpleSystemManagerBackend.put_parameter = put_parameter


def _patch_launch_template_versions():
    """CreateLaunchTemplateVersion as AWS answers it, where moto differs: the new version inherits
    the source version's data (`SourceVersion`) except what `LaunchTemplateData` sets, and a
    `ClientToken` makes the call idempotent (a retry with the same token answers the version the
    first call created, instead of a second version; docs.aws.amazon.com/ec2/latest/devguide/
    ec2-api-idempotency.html)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.launch_templates import LaunchTemplates

    by_token = _client_tokens

    def create_launch_template_version(self):
        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        template = (
            self.ec2_backend.get_launch_template(template_id)
            if template_id
            else self.ec2_backend.get_launch_template_by_name(name)
        )
        self.error_on_dryrun()
        token = self._get_param("ClientToken")
        key = (self.current_account, template.id, token)
        with _lock:
            version = template.get_version(by_token[key]) if token and key in by_token else None
            if version is None:
                data = {}
                source = self._get_param("SourceVersion")
                if source:
                    data = copy.deepcopy(template.get_version(source).data)
                data.update(self._get_param("LaunchTemplateData", {}))
                version = template.create_version(data, self._get_param("VersionDescription"))
                if token:
                    by_token[key] = version.number
        return ActionResult(
            {
                "LaunchTemplateVersion": {
                    "CreateTime": version.create_time,
                    "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                    "DefaultVersion": template.is_default(version),
                    "LaunchTemplateData": version.data,
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "VersionDescription": version.description,
                    "VersionNumber": version.number,
                },
            }
        )

    LaunchTemplates.create_launch_template_version = create_launch_template_version


def _patch_autoscaling_create():
    """CreateAutoScalingGroup of a name that exists answers `AlreadyExists`, as Auto Scaling does
    (docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html); moto
    replaced the group, leaving the first one's instances running outside every group (a retried
    call whose first answer was lost made orphans no AWS account would have)."""
    from moto.autoscaling.exceptions import AutoscalingClientError
    from moto.autoscaling.models import AutoScalingBackend

    class AlreadyExistsFault(AutoscalingClientError):
        code = "AlreadyExistsFault"

    original = AutoScalingBackend.create_auto_scaling_group

    def create_auto_scaling_group(self, *args, **kwargs):
        name = kwargs.get("name", args[0] if args else None)
        with _create_lock:
            if name in self.autoscaling_groups:
                raise AlreadyExistsFault(
                    f"AutoScalingGroup by this name already exists - A group with the name {name} already exists"
                )
            return original(self, *args, **kwargs)

    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group


def _patch_autoscaling_refill():
    """An instance terminated through EC2 (the world's kill) is replaced by its group, and Auto
    Scaling registers the replacement in the group's target groups, as it does every instance it
    launches (docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html). moto
    launched the replacement and registered it nowhere: it stayed InService and Healthy, unused
    in every target group, until the group's capacity next changed (seed 7's `tf16`, seed
    20261202's `tf0`). Only the replacements are registered: moto's own refresh would register an
    instance Phoenix has deregistered to drain it again."""
    from moto.autoscaling.models import AutoScalingBackend

    original = AutoScalingBackend.notify_terminate_instances

    def notify_terminate_instances(self, instance_ids):
        before = {name: {st.instance.id for st in g.instance_states} for name, g in self.autoscaling_groups.items()}
        original(self, instance_ids)
        for name, group in list(self.autoscaling_groups.items()):
            launched = [st.instance.id for st in group.instance_states if st.instance.id not in before.get(name, set())]
            if not launched or not group.target_group_arns:
                continue
            for target_group in self.elbv2_backend.describe_target_groups(
                target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
            ):
                self.elbv2_backend.register_targets(
                    target_group.arn, [{"Id": i, "Port": target_group.port} for i in launched]
                )

    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances


def _ensure_patched():
    """Patch the backends on the first AWS request: importing them at start would delay the
    emulator's first answer by seconds (moto loads its backends lazily)."""
    global _patched
    if _patched:
        return
    with _patch_lock:
        if not _patched:
            _patch_instances()
            _patch_autoscaling()
            _patch_elbv2()
            _patch_ssm()
            _patch_ssm_channel_events()
            _patch_launch_template_versions()
            _patch_autoscaling_create()
            _patch_autoscaling_refill()
            _patched = True


def wrap(app_class):
    """A subclass of moto's WSGI application with the control endpoint and the API limits."""

    class RealisticWorld(app_class):
        def __call__(self, environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path.rstrip("/") == "/phoenix-world/config":
                return _control(environ, start_response)
            if path.rstrip("/") == "/phoenix-world/calls":
                return _calls_control(environ, start_response)
            if path.startswith("/moto-api/reset") and environ.get("REQUEST_METHOD") == "POST":
                reset()
            elif not path.startswith("/moto-api"):
                _ensure_patched()
            if not path.startswith("/moto-api"):
                service = _service_of(environ)
                if service:
                    action, _ = _action_of(environ)
                    if action is not None and not _take(service, action):
                        return _throttle_response(service, start_response)
            return super().__call__(environ, start_response)

    return RealisticWorld


def install(server_module):
    """Wrap moto's WSGI application (call before `main()`); the backends are patched on first use."""
    server_module.DomainDispatcherApplication = wrap(server_module.DomainDispatcherApplication)
