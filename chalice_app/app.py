"""The API of template.yaml's four functions as one Chalice app: the Chalice flavour.

Wiring only, like functions/*/handler.py: each route is one core call of simple_api, answered
through the one error -> HTTP mapping (simple_api.http.endpoint); Powertools logs and metrics wrap
every request as Chalice middleware. Chalice serves every route from this one function (APIHandler).
"""

from collections.abc import Callable
from functools import cache

from chalice.app import Chalice, ConvertToMiddleware, Request, Response

from simple_api.adapters.ssm import SsmSecretStore
from simple_api.http import CoreResult, endpoint
from simple_api.observability import correlation_paths, logger, metrics, share_between_threads
from simple_api.services import health, secret, sleep, welcome
from simple_api.settings import get_settings

# configure_logs=False: Chalice would otherwise take the stdlib logger of its app name, which is
# Powertools' (service simple-api), and set it to ERROR whenever its stream is not sys.stdout itself.
# Chalice's own log lines (an exception outside a view) then go out as Powertools JSON.
app = Chalice(app_name="simple-api", configure_logs=False)
share_between_threads()  # chalice local answers on threads; Lambda runs one request at a time either way


@app.middleware("http")
def errors_in_the_api_shape(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice's own answers (405 for a method no route has, ...) carry {"error", "message"} too."""
    response = get_response(event)
    if isinstance(response.body, dict) and set(response.body) == {"Code", "Message"}:
        response.body = {"error": response.body["Code"], "message": response.body["Message"]}
    return response


app.register_middleware(
    ConvertToMiddleware(logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)), "http"
)
app.register_middleware(ConvertToMiddleware(metrics.log_metrics(capture_cold_start_metric=True)), "http")


def answer(core_call: Callable[[], CoreResult]) -> Response:
    """``core_call``'s result, or its error, through the one mapping."""
    proxy = endpoint(lambda _event, _context: core_call())({}, app.lambda_context)
    return Response(body=proxy["body"], status_code=proxy["statusCode"], headers=proxy["headers"])


@cache
def _store() -> SsmSecretStore:
    """One store per container, so the Powertools cache survives between requests."""
    return SsmSecretStore(max_age_seconds=get_settings().secret_max_age_seconds)


def _secret() -> dict[str, str]:
    settings = get_settings()
    return secret.read_secret(settings.require_secret_parameter_name(), _store(), reveal=settings.show_full_secret)


@app.route("/")
def home() -> Response:
    return answer(welcome.welcome)


@app.route("/healthcheck")
def healthcheck() -> Response:
    return answer(health.hello)


@app.route("/sleep/{seconds}")
def sleep_for(seconds: str) -> Response:
    return answer(lambda: sleep.sleep_for(seconds, get_settings().max_sleep_seconds))


@app.route("/secret")
def read_secret() -> Response:
    return answer(_secret)
