"""The prediction service keeps the promises of its OpenAPI document: schemathesis generates
requests for every route from ``/openapi.json`` (examples, boundary cases, fuzzing; valid and
invalid data) and runs all of its checks on the answers, with the token on and off."""

from __future__ import annotations

import collections

import pytest
from fastapi.testclient import TestClient

from core.serve.app import create_app
from core.serve.service import Service

schemathesis = pytest.importorskip("schemathesis")

TOKEN = "s3cret-token"
# A schema cannot say "a decodable image": schema-valid bytes that are not one get 422 with the
# reason (documented), and a body or file over a limit 413.
IMAGE_ROUTES = {"include-path-regex": "^/(predict|explain)",
                "checks": {"positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "413", "422"]}}}


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.load(["scanner"])


def test_error_bodies_security_and_model_names_are_declared(service):
    """One error body, security only with a token, the loaded models as an enumeration."""
    for token in (None, TOKEN):
        with TestClient(create_app(service, token=token)) as client:
            spec = client.get("/openapi.json").json()
            predict = spec["paths"]["/predict"]["post"]
            model = next(p for p in predict["parameters"] if p["name"] == "model")
            assert model["schema"] == {"type": "array", "items": {"const": "scanner",
                                                                  "type": "string"},
                                       "description": model["description"], "title": "Model"}
            declared = {"400", "413", "422", "504"} | ({"401"} if token else set())
            assert set(predict["responses"]) == {"200"} | declared
            assert {predict["responses"][s]["content"]["application/json"]["schema"]["$ref"]
                    for s in declared} == {"#/components/schemas/ErrorBody"}
            assert "HTTPValidationError" not in spec["components"]["schemas"]
            assert ("HTTPBearer" in spec["components"].get("securitySchemes", {})) == bool(token)
            assert ("security" in predict) == bool(token)
            auth = {"Authorization": f"Bearer {TOKEN}"}
            answers = [client.post("/predict", params={"model": ""}, headers=auth),
                       client.post("/predict", params={"view": "x"}, headers=auth),
                       client.get("/health", params={"verbose": 1})]
            assert [a.status_code for a in answers] == [422] * 3
            assert all(isinstance(a.json()["detail"], str) and len(a.json()) == 1
                       for a in answers)
            if token:
                answer = client.post("/predict")
                assert answer.status_code == 401 and list(answer.json()) == ["detail"]
    assert answers[1].json() == {"detail": "query parameter 'view': Input should be 'resize' or "
                                           "'crop'; form field 'file': Field required"}
    assert answers[2].json() == {"detail": "unknown query parameter(s) ['verbose']; this route "
                                           "takes none"}


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, TOKEN], ids=["open", "token"])
def test_schemathesis_finds_no_failure_on_any_route(service, token):
    from schemathesis import engine
    from schemathesis.engine import Status, events

    config = schemathesis.Config.from_dict({
        "seed": 24, "generation": {"max-examples": 40}, "operations": [IMAGE_ROUTES],
        **({"headers": {"Authorization": f"Bearer {TOKEN}"}} if token else {})})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service, token=token),
                                            config=config)

    @schema.hook("filter_failure")
    def files_are_bytes(_context, failure, case, _response) -> bool:
        """A multipart file part holds bytes whatever schemathesis meant: a null, a number or a
        list it puts in ``files`` arrives as a file of that JSON text, which a batch rightly
        answers with an error row ("not an image")."""
        return not (case.path == "/predict/batch"
                    and failure.title == "Schema-violating request accepted"
                    and "at /properties/files/items" in failure.message)

    requests, failures, routes = 0, collections.Counter(), set()
    # the engine of schemathesis's command line (every phase and every check)
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            requests += len(event.recorder.interactions)
            routes.update(i.request.uri.split("?")[0].split("/", 3)[-1]
                          for i in event.recorder.interactions.values())
            failures.update(f"{event.label}: {check.name}: {check.failure_info.failure.title}"
                            for checks in event.recorder.checks.values() for check in checks
                            if check.status == Status.FAILURE)
        elif isinstance(event, events.FatalError | events.NonFatalError):
            pytest.fail(f"schemathesis could not run: {event}")
    assert dict(failures) == {}
    assert {"health", "models", "predict", "predict/batch", "explain"} <= routes
    assert requests > 250
