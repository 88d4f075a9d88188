"""Property-based calls generated from the API's own OpenAPI document (schemathesis): no input,
valid or not, makes the server fail, and every answer matches the document."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from mining.deploy.api import create_app
from mining.deploy.keys import KeyStore
from tests.test_serving import make_bundle

OPERATIONS = [("/v1/predict", "POST"), ("/v1/explain", "POST"), ("/v1/models", "GET"), ("/v1/model", "GET"),
              ("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET"), ("/v1/health", "GET")]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemathesis")
    keys = KeyStore(f"sqlite:///{folder / 'keys.sqlite'}")
    key = keys.add("fuzzer", ["predict", "explain"])
    app = create_app(make_bundle(folder / "bundle", "fuzz0000001"), keys)
    return schemathesis.openapi.from_asgi("/openapi.json", app), key


def test_every_operation_is_fuzzed(api):
    assert {(op.path, op.method.upper()) for op in (r.ok() for r in api[0].get_all_operations())} == set(OPERATIONS)


@pytest.mark.parametrize("path, method", OPERATIONS)
def test_no_generated_request_breaks_the_api(api, path, method):
    schema, key = api
    operation = schema[path][method]

    @given(data=st.data())
    @settings(max_examples=60 if method == "POST" else 5, deadline=None, suppress_health_check=list(HealthCheck))
    def run(data):
        case = data.draw(operation.as_strategy())
        # positive_data_acceptance left out: JSON Schema cannot say "as many ids as records", so a
        # schema-valid body may rightly get 422
        case.call_and_validate(headers={"X-API-Key": key}, excluded_checks=[positive_data_acceptance])
    run()
