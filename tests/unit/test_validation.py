"""Unit tests for mockserver.validation on the spec's real operations (and an openapi-core oracle)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ACME_FULL, PETSTORE, SPEC
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from mockserver.errors import BadRequest, ContractViolation, UnsupportedMediaType, ValidationFailed
from mockserver.spec import SpecIndex, load_spec
from mockserver.validation import OperationValidator, SchemaCompiler, coerce_scalar, integral_floats_to_int

VALID_INVOICE = {
    "invoice_date": "2026-02-07",
    "due_date": "2026-03-09",
    "customer_id": 1,
    "items": [{"name": "Web Development", "quantity": 10, "price": 15000, "tax_rate": 8.5}],
}


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture(scope="module")
def petstore() -> SpecIndex:
    return SpecIndex.build(load_spec(PETSTORE))


@pytest.fixture(scope="module")
def validators(index: SpecIndex) -> dict[str, OperationValidator]:
    return {op.operation_id: OperationValidator(op, strict=True) for op in index.operations}


def query(validator: OperationValidator, **params: str | list[str]) -> dict[str, Any]:
    """Validate query parameters given as strings (a list means a repeated parameter)."""
    raw = {name: value if isinstance(value, list) else [value] for name, value in params.items()}
    return validator.parameters({}, raw, {}, {})


def json_body(validator: OperationValidator, body: Any) -> Any:
    return validator.body("application/json", json.dumps(body).encode())


def failed_fields(validator: OperationValidator, body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        json_body(validator, body)
    assert caught.value.status == 422
    assert caught.value.errors is not None
    return caught.value.errors


# --- parameters ---------------------------------------------------------------------------------------


def test_integer_query_parameters_are_coerced(validators: dict[str, OperationValidator]) -> None:
    assert query(validators["listInvoices"], page="2", limit="5") == {"page": 2, "limit": 5}


def test_a_huge_integer_is_read_exactly_and_checked_against_its_bounds(
    validators: dict[str, OperationValidator],
) -> None:
    huge = "9" * 60
    assert query(validators["listInvoices"], page=huge) == {"page": int(huge)}
    assert validators["getInvoice"].parameters({"id": huge}, {}, {}, {}) == {"id": int(huge)}
    with pytest.raises(BadRequest, match="'limit'"):
        query(validators["listInvoices"], limit=huge)


@pytest.mark.parametrize(("text", "value"), [("255.0", 255), ("2.55e2", 255), ("1e3", 1000)])
def test_an_integral_number_is_an_integer_as_json_schema_says(
    validators: dict[str, OperationValidator], text: str, value: int
) -> None:
    """Schemathesis sends 255.0 for an integer: JSON Schema counts it as one, so the sandbox must too."""
    assert validators["getInvoice"].parameters({"id": text}, {}, {}, {}) == {"id": value}


@pytest.mark.parametrize("text", ["abc", "1.5", "", "0x10", "1e-3", "\uff11", "1.5e0"])
def test_a_non_integer_is_a_400_naming_the_parameter(validators: dict[str, OperationValidator], text: str) -> None:
    with pytest.raises(BadRequest, match="The query parameter 'page' is invalid") as caught:
        query(validators["listInvoices"], page=text)
    assert caught.value.status == 400


def test_an_integer_below_its_minimum_is_a_400(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match=r"'page'.*minimum of 1"):
        query(validators["listInvoices"], page="0")


def test_path_parameters_are_validated(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="The path parameter 'id' is invalid"):
        validators["getInvoice"].parameters({"id": "zero"}, {}, {}, {})


def test_boolean_query_parameters_are_coerced(validators: dict[str, OperationValidator]) -> None:
    assert query(validators["listWebhooks"], active="true") == {"active": True}
    assert query(validators["listWebhooks"], active="false") == {"active": False}
    with pytest.raises(BadRequest, match="'active'"):
        query(validators["listWebhooks"], active="yes")


def test_an_enum_error_lists_every_allowed_value(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="'status'") as caught:
        query(validators["listInvoices"], status="LOST")
    for allowed in ("DRAFT", "SENT", "VIEWED", "OVERDUE", "COMPLETED"):
        assert allowed in caught.value.message


def test_an_enum_error_in_a_body_lists_every_allowed_value(validators: dict[str, OperationValidator]) -> None:
    errors = failed_fields(validators["createInvoice"], {**VALID_INVOICE, "discount_type": "bogus"})
    assert "fixed" in errors["discount_type"][0]
    assert "percentage" in errors["discount_type"][0]


def test_a_missing_required_parameter_is_a_400_naming_it(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="The query parameter 'q' is required"):
        query(validators["search"])


def test_a_date_parameter_must_be_a_real_date(validators: dict[str, OperationValidator]) -> None:
    assert query(validators["listInvoices"], date_from="2026-02-28") == {"date_from": "2026-02-28"}
    with pytest.raises(BadRequest, match="'date_from'"):
        query(validators["listInvoices"], date_from="2026-02-30")


def test_header_parameters_are_validated(validators: dict[str, OperationValidator]) -> None:
    validator = validators["createInvoice"]
    assert validator.parameters({}, {}, {"Idempotency-Key": "abc"}, {}) == {"Idempotency-Key": "abc"}
    with pytest.raises(BadRequest, match="The header parameter 'Idempotency-Key'"):
        validator.parameters({}, {}, {"Idempotency-Key": "k" * 256}, {})


def test_an_undeclared_query_parameter_on_a_list_is_refused(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="Unknown query parameter 'utm_source'"):
        query(validators["listInvoices"], utm_source="mail")


def test_an_undeclared_query_parameter_elsewhere_is_ignored(validators: dict[str, OperationValidator]) -> None:
    assert validators["getInvoice"].parameters({"id": "1"}, {"utm_source": ["mail"]}, {}, {}) == {"id": 1}


def test_the_last_of_repeated_scalar_parameters_wins(validators: dict[str, OperationValidator]) -> None:
    assert query(validators["listInvoices"], page=["1", "3"]) == {"page": 3}


def test_exploded_array_parameters_collect_repeats(petstore: SpecIndex) -> None:
    validator = OperationValidator(petstore.by_operation_id["findPetsByTags"], strict=True)
    assert query(validator, tags=["red", "blue"]) == {"tags": ["red", "blue"]}
    assert query(validator, tags="red,blue") == {"tags": ["red,blue"]}


def test_non_exploded_array_parameters_split_on_commas() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "parameters": [
                        {
                            "name": "ids",
                            "in": "query",
                            "explode": False,
                            "schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                        }
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    validator = OperationValidator(SpecIndex.build(document).by_operation_id["listThings"], strict=True)
    assert query(validator, ids="1,2,3") == {"ids": [1, 2, 3]}
    with pytest.raises(BadRequest, match="'ids'"):
        query(validator, ids="1,x")
    with pytest.raises(BadRequest, match="'ids'"):
        query(validator, ids="1,2,3,4")


def test_int32_and_int64_formats_bound_their_values() -> None:
    """Adyen's ``pageSize`` (int32) took 73856664786781622763520; OpenAPI's formats are ranges."""
    parameters = [
        {"name": "pageSize", "in": "query", "schema": {"type": "integer", "format": "int32"}},
        {"name": "since", "in": "query", "schema": {"type": "integer", "format": "int64", "minimum": 0}},
    ]
    operation = {"operationId": "listThings", "parameters": parameters, "responses": {"200": {"description": "ok"}}}
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/things": {"get": operation}}}
    validator = OperationValidator(SpecIndex.build(document).by_operation_id["listThings"], strict=True)
    assert query(validator, pageSize="2147483647", since=str(2**63 - 1)) == {"pageSize": 2**31 - 1, "since": 2**63 - 1}
    for bad in ({"pageSize": "2147483648"}, {"pageSize": "-2147483649"}, {"since": str(2**63)}, {"since": "-1"}):
        with pytest.raises(BadRequest, match=f"'{next(iter(bad))}'"):
            query(validator, **bad)


def test_coerce_scalar_reads_by_type() -> None:
    assert coerce_scalar("-12", {"type": "integer"}) == -12
    assert coerce_scalar("2.50", {"type": "number"}) == 2.5
    assert coerce_scalar("3.0", {"type": ["integer", "number"]}) == 3
    assert coerce_scalar("null", {"type": ["integer", "null"]}) is None
    assert coerce_scalar("true", {"type": "string"}) == "true"
    assert coerce_scalar("12", {}) == "12"


# --- bodies -----------------------------------------------------------------------------------------------


def test_a_valid_body_is_returned_parsed(validators: dict[str, OperationValidator]) -> None:
    assert json_body(validators["createInvoice"], VALID_INVOICE) == VALID_INVOICE


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None, "multipart/form-data"])
def test_a_wrong_content_type_is_415(validators: dict[str, OperationValidator], content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="application/json") as caught:
        validators["createInvoice"].body(content_type, json.dumps(VALID_INVOICE).encode())
    assert caught.value.status == 415


def test_json_content_type_parameters_and_suffixes_are_accepted(
    validators: dict[str, OperationValidator],
) -> None:
    raw = json.dumps(VALID_INVOICE).encode()
    assert validators["createInvoice"].body("application/json; charset=utf-8", raw) == VALID_INVOICE
    assert validators["createInvoice"].body("Application/JSON", raw) == VALID_INVOICE
    assert validators["createInvoice"].body("application/vnd.sandbox+json", raw) == VALID_INVOICE


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{bad json", id="malformed"),
        pytest.param(b'{"name": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="deep-nesting"),
        pytest.param(b'{"a": 1} trailing', id="trailing-garbage"),
        pytest.param(b"NaN", id="nan"),
    ],
)
def test_an_unparsable_body_is_400(validators: dict[str, OperationValidator], raw: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON") as caught:
        validators["createInvoice"].body("application/json", raw)
    assert caught.value.status == 400


def test_a_missing_required_body_is_400(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="request body is required"):
        validators["createInvoice"].body("application/json", b"")


def upload_validator(media: str, schema: dict[str, Any]) -> OperationValidator:
    """A validator for a POST whose required body is one ``media`` type."""
    operation = {
        "operationId": "upload",
        "requestBody": {"required": True, "content": {media: {"schema": schema}}},
        "responses": {"200": {"description": "ok"}},
    }
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/up": {"post": operation}}}
    return OperationValidator(SpecIndex.build(document).by_operation_id["upload"], strict=True)


def test_an_empty_form_is_an_empty_object_and_empty_bytes_an_empty_file() -> None:
    """Stripe's all-optional forms and Xero's octet-stream uploads were 'a request body is required'."""
    form = upload_validator("application/x-www-form-urlencoded", {"type": "object", "properties": {"a": {}}})
    assert form.body("application/x-www-form-urlencoded", b"") == {}
    upload = upload_validator("application/octet-stream", {"type": "string", "format": "binary"})
    assert upload.body("application/octet-stream", b"") == b""
    with pytest.raises(BadRequest, match="request body is required"):
        upload.body(None, b"")  # no Content-Type and no bytes: nothing was sent


def test_an_empty_form_still_needs_its_required_fields() -> None:
    form = upload_validator("application/x-www-form-urlencoded", {"type": "object", "required": ["amount"]})
    with pytest.raises(ValidationFailed, match="amount"):
        form.body("application/x-www-form-urlencoded", b"")


def test_an_operation_without_a_body_ignores_one(validators: dict[str, OperationValidator]) -> None:
    assert validators["getInvoice"].body("application/json", b"{}") is None


def test_field_errors_are_keyed_by_their_path(validators: dict[str, OperationValidator]) -> None:
    body = copy.deepcopy(VALID_INVOICE)
    body["items"].append({"name": "Hosting", "quantity": 0, "price": 100})
    errors = failed_fields(validators["createInvoice"], body)
    assert list(errors) == ["items.1.quantity"]
    assert "0" in errors["items.1.quantity"][0]


def test_every_bad_field_is_reported(validators: dict[str, OperationValidator]) -> None:
    body = {"invoice_date": "not a date", "items": [{"name": "", "quantity": 1}]}
    errors = failed_fields(validators["createInvoice"], body)
    assert errors["customer_id"] == ["This field is required."]
    assert errors["items.0.price"] == ["This field is required."]
    assert "invoice_date" in errors
    assert "items.0.name" in errors


def test_an_unknown_field_is_named(validators: dict[str, OperationValidator]) -> None:
    errors = failed_fields(validators["createInvoice"], {**VALID_INVOICE, "colour": "red"})
    assert errors == {"colour": ["Unknown field: it is not part of this resource."]}


def test_the_422_message_names_the_first_field(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(ValidationFailed, match="customer_id: This field is required"):
        json_body(validators["createInvoice"], {k: v for k, v in VALID_INVOICE.items() if k != "customer_id"})


def test_read_only_fields_may_be_sent_but_are_not_required(validators: dict[str, OperationValidator]) -> None:
    assert json_body(validators["createInvoice"], {**VALID_INVOICE, "total": 5}) == {
        **VALID_INVOICE,
        "total": 5,
    }


def test_patch_takes_a_partial_record(validators: dict[str, OperationValidator]) -> None:
    assert json_body(validators["updateInvoice"], {"notes": "Thanks"}) == {"notes": "Thanks"}


def test_integral_floats_become_ints_where_the_schema_says_integer(
    validators: dict[str, OperationValidator],
) -> None:
    body = copy.deepcopy(VALID_INVOICE)
    body["customer_id"] = 1.0
    body["items"][0].update(price=15000.0, quantity=2.0)
    parsed = json_body(validators["createInvoice"], body)
    assert parsed["customer_id"] == 1
    assert type(parsed["customer_id"]) is int
    assert type(parsed["items"][0]["price"]) is int
    assert type(parsed["items"][0]["quantity"]) is float  # a number field keeps its float


def test_a_fractional_float_for_an_integer_is_422(validators: dict[str, OperationValidator]) -> None:
    assert "customer_id" in failed_fields(validators["createInvoice"], {**VALID_INVOICE, "customer_id": 1.5})


def test_integral_floats_to_int_walks_nested_values() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "array", "items": {"type": "integer"}}}}
    assert integral_floats_to_int({"n": [1.0, 2.0], "other": 3.0}, schema) == {"n": [1, 2], "other": 3.0}


def test_an_invalid_body_is_400_where_the_spec_says_so(
    validators: dict[str, OperationValidator],
) -> None:
    validator = validators["createOAuthToken"]
    assert validator.operation.extensions["x-sandbox-invalid-body-status"] == 400
    form = urlencode({"grant_type": "client_credentials", "client_id": "cli", "client_secret": "s"}).encode()
    assert validator.body("application/x-www-form-urlencoded", form) == {
        "grant_type": "client_credentials",
        "client_id": "cli",
        "client_secret": "s",
    }
    with pytest.raises(BadRequest, match="grant_type: This field is required") as caught:
        validator.body("application/x-www-form-urlencoded", b"client_id=cli&client_secret=s")
    assert caught.value.status == 400
    with pytest.raises(BadRequest, match="unexpected"):
        validator.body("application/x-www-form-urlencoded", form + b"&unexpected=1")


def test_a_form_body_must_be_utf8(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="UTF-8"):
        validators["createOAuthToken"].body("application/x-www-form-urlencoded", b"grant_type=\xff")


# --- strict responses ------------------------------------------------------------------------------------


def documented_example(index: SpecIndex, operation_id: str, status: str = "200") -> Any:
    return copy.deepcopy(index.by_operation_id[operation_id].responses[status].example)


def test_a_documented_response_passes(index: SpecIndex, validators: dict[str, OperationValidator]) -> None:
    validators["getUser"].response(200, "application/json", documented_example(index, "getUser"))
    validators["listInvoices"].response(200, "application/json", documented_example(index, "listInvoices"))
    validators["deleteInvoice"].response(204, None, None)
    error = {"error": "not_found", "message": "No invoice with id 9 exists.", "request_id": "r1"}
    validators["getInvoice"].response(404, "application/json", error)


def test_an_undocumented_status_is_a_contract_violation(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(ContractViolation, match="getInvoice answered 418"):
        validators["getInvoice"].response(418, "application/json", {})


def test_a_schema_mismatch_is_a_contract_violation_naming_where(
    index: SpecIndex, validators: dict[str, OperationValidator]
) -> None:
    body = documented_example(index, "getInvoice")
    body["data"]["total"] = "a lot"
    with pytest.raises(ContractViolation, match="data/total"):
        validators["getInvoice"].response(200, "application/json", body)


def test_a_leaked_write_only_field_is_a_contract_violation(
    index: SpecIndex, validators: dict[str, OperationValidator]
) -> None:
    body = documented_example(index, "getUser")
    body["data"]["password"] = "correct-horse-battery"
    with pytest.raises(ContractViolation, match="data/password"):
        validators["getUser"].response(200, "application/json", body)


def test_an_undocumented_media_type_is_a_contract_violation(
    index: SpecIndex, validators: dict[str, OperationValidator]
) -> None:
    with pytest.raises(ContractViolation, match="text/html"):
        validators["getUser"].response(200, "text/html", documented_example(index, "getUser"))


def test_a_body_where_none_is_documented_is_a_contract_violation(
    validators: dict[str, OperationValidator],
) -> None:
    with pytest.raises(ContractViolation, match="has a body"):
        validators["deleteInvoice"].response(204, "application/json", {"deleted": True})


def test_without_strict_mode_response_bodies_are_not_checked(index: SpecIndex) -> None:
    lenient = OperationValidator(index.by_operation_id["getInvoice"], strict=False)
    lenient.response(200, "application/json", {"data": {"total": "a lot"}})


# --- oracle: openapi-core agrees that the spec's own request examples are valid ------------------------


def without_required_read_only(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with readOnly properties left out of ``required`` (openapi-core 3.1 requires them)."""
    document = copy.deepcopy(document)
    schemas = document["components"]["schemas"]

    def properties_of(schema: dict[str, Any]) -> dict[str, Any]:
        found = dict(schema.get("properties") or {})
        for branch in schema.get("allOf") or []:
            if "$ref" in branch:
                branch = schemas[branch["$ref"].rsplit("/", 1)[-1]]
            found.update(properties_of(branch))
        return found

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if isinstance(node.get("required"), list):
                props = properties_of(node)
                node["required"] = [
                    name
                    for name in node["required"]
                    if not (isinstance(props.get(name), dict) and props[name].get("readOnly"))
                ]
            for key, value in node.items():
                if key not in ("example", "examples"):
                    walk(value)

    walk(schemas)
    return document


def request_examples() -> list[Any]:
    document = load_spec(SPEC)
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for media, content in operation["requestBody"]["content"].items():
                for name, example in (content.get("examples") or {}).items():
                    found.append(
                        pytest.param(
                            operation["operationId"],
                            path,
                            method,
                            media,
                            example["value"],
                            id=f"{operation['operationId']}-{name}",
                        )
                    )
    return found


@pytest.fixture(scope="module")
def oracle() -> OpenAPI:
    return OpenAPI.from_dict(without_required_read_only(load_spec(SPEC)))


@pytest.mark.parametrize(("operation_id", "path", "method", "media", "example"), request_examples())
def test_openapi_core_and_our_validator_agree_the_spec_examples_are_valid(
    oracle: OpenAPI,
    validators: dict[str, OperationValidator],
    operation_id: str,
    path: str,
    method: str,
    media: str,
    example: Any,
) -> None:
    raw = urlencode(example).encode() if media.endswith("urlencoded") else json.dumps(example).encode()
    concrete = path.replace("{id}", "1")
    request = MockRequest(
        "http://127.0.0.1:8080",
        method,
        f"/api/v1{concrete}",
        headers={"Authorization": f"Bearer {ACME_FULL}", "Content-Type": media},
        data=raw,
        content_type=media,
    )
    oracle.validate_request(request)
    validator = validators[operation_id]
    validator.parameters({"id": "1"} if "{id}" in path else {}, {}, {}, {})
    assert validator.body(media, raw) == example


# --- integers beyond 64 bits ------------------------------------------------------------------------------


def test_an_integer_beyond_64_bits_in_an_int64_field_is_refused_naming_the_bound(petstore: SpecIndex) -> None:
    """Read exactly (never rounded through a float), then held to ``format: int64``."""
    validator = OperationValidator(petstore.by_operation_id["addPet"], strict=True)
    raw = b'{"id": 1000000000000000000000000000001, "name": "Big", "photoUrls": []}'
    with pytest.raises(ValidationFailed, match="1000000000000000000000000000001 is greater than the maximum"):
        validator.body("application/json", raw)


def test_an_integer_beyond_64_bits_is_kept_exact_for_the_engine(validators: dict[str, OperationValidator]) -> None:
    body = json_body(validators["createInvoice"], {**VALID_INVOICE, "customer_id": 10**30 + 1})
    assert body["customer_id"] == 10**30 + 1  # the engine then answers 422: no such customer
    errors = failed_fields(
        validators["createInvoice"], {**VALID_INVOICE, "items": [{**VALID_INVOICE["items"][0], "price": 10**30}]}
    )
    assert list(errors) == ["items.0.price"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"id": ' + b"9" * 5000 + b"}", id="too-many-digits"),
        pytest.param(b"[" * 1000 + b"12345678901234567890" + b"]" * 1000, id="deep-with-long-digits"),
    ],
)
def test_a_pathological_long_integer_body_is_400(petstore: SpecIndex, raw: bytes) -> None:
    validator = OperationValidator(petstore.by_operation_id["addPet"], strict=True)
    with pytest.raises(BadRequest, match="not valid JSON"):
        validator.body("application/json", raw)


def test_an_invalid_body_is_400_where_the_operation_documents_400_but_no_422() -> None:
    operation = SpecIndex.build(
        {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/things": {
                    "post": {
                        "operationId": "makeThing",
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": {"type": "object", "required": ["name"]}}},
                        },
                        "responses": {"201": {"description": "made"}, "400": {"description": "bad"}},
                    }
                }
            },
        }
    ).operations[0]
    with pytest.raises(BadRequest, match="name: This field is required"):
        OperationValidator(operation, strict=False).body("application/json", b"{}")


def test_an_integral_number_too_long_to_print_stays_a_400(validators: dict[str, OperationValidator]) -> None:
    with pytest.raises(BadRequest, match="'page'"):
        query(validators["listInvoices"], page="9" * 5000 + ".0")


# --- schemas that break their own dialect (a spec served with --lenient) ------------------------------


def test_a_refused_keyword_inside_a_list_drops_the_whole_keyword_and_keeps_its_siblings() -> None:
    compiler = SchemaCompiler()
    schema = {"type": "object", "properties": {"a": {"type": ["string", "strin"]}, "b": {"maxLength": 2}}}
    validator = compiler.compile(schema).validator
    assert validator.is_valid({"a": 5, "b": "ok"})
    assert not validator.is_valid({"b": "too long"})
    assert list(compiler.refused) == ["/properties/a/type"]
    assert schema["properties"]["a"] == {"type": ["string", "strin"]}, "the spec's own schema is left as it was"


def test_a_schema_refused_as_a_whole_accepts_anything_rather_than_stop_the_sandbox() -> None:
    compiler = SchemaCompiler()
    validator = compiler.compile({"$ref": "#/nowhere", "maxLength": 1}).validator
    assert validator.is_valid("anything at all")
    assert list(compiler.refused) == ["/"]
