"""Unit tests for mockserver.spec: loading, resolving and indexing specs into operations and resources."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conftest import PETSTORE, SPEC

from mockserver.behaviours.context import Call
from mockserver.behaviours.engine import Engine
from mockserver.spec import SpecIndex, load_spec
from mockserver.spec.resolve import SchemaResolver, merge_all_of, request_view, response_view
from mockserver.state.clock import Clock
from mockserver.state.fake import FakeRecordFactory
from mockserver.store import open_store

# (operationId, kind, resource) for every operation of openapi.yaml.
INVOICING_OPERATIONS = [
    ("getHealth", "operation", None),
    ("getMe", "operation", None),
    ("createOAuthToken", "operation", None),
    ("listCustomers", "list", "customers"),
    ("createCustomer", "create", "customers"),
    ("getCustomer", "read", "customers"),
    ("replaceCustomer", "replace", "customers"),
    ("updateCustomer", "update", "customers"),
    ("deleteCustomer", "delete", "customers"),
    ("batchCreateCustomers", "operation", "customers"),
    ("listInvoices", "list", "invoices"),
    ("createInvoice", "create", "invoices"),
    ("getInvoice", "read", "invoices"),
    ("replaceInvoice", "replace", "invoices"),
    ("updateInvoice", "update", "invoices"),
    ("deleteInvoice", "delete", "invoices"),
    ("sendInvoice", "action", "invoices"),
    ("markInvoicePaid", "action", "invoices"),
    ("completeInvoice", "action", "invoices"),
    ("uncompleteInvoice", "action", "invoices"),
    ("getInvoicePdf", "operation", "invoices"),
    ("listEstimates", "list", "estimates"),
    ("createEstimate", "create", "estimates"),
    ("getEstimate", "read", "estimates"),
    ("replaceEstimate", "replace", "estimates"),
    ("updateEstimate", "update", "estimates"),
    ("deleteEstimate", "delete", "estimates"),
    ("sendEstimate", "action", "estimates"),
    ("acceptEstimate", "action", "estimates"),
    ("rejectEstimate", "action", "estimates"),
    ("convertEstimate", "action", "estimates"),
    ("getEstimatePdf", "operation", "estimates"),
    ("listPayments", "list", "payments"),
    ("createPayment", "create", "payments"),
    ("getPayment", "read", "payments"),
    ("replacePayment", "replace", "payments"),
    ("updatePayment", "update", "payments"),
    ("deletePayment", "delete", "payments"),
    ("listPaymentMethods", "list", "payment_methods"),
    ("listExpenses", "list", "expenses"),
    ("createExpense", "create", "expenses"),
    ("getExpense", "read", "expenses"),
    ("replaceExpense", "replace", "expenses"),
    ("updateExpense", "update", "expenses"),
    ("deleteExpense", "delete", "expenses"),
    ("listExpenseCategories", "list", "expense_categories"),
    ("createExpenseCategory", "create", "expense_categories"),
    ("listItems", "list", "items"),
    ("createItem", "create", "items"),
    ("getItem", "read", "items"),
    ("replaceItem", "replace", "items"),
    ("updateItem", "update", "items"),
    ("deleteItem", "delete", "items"),
    ("listUnits", "list", "units"),
    ("listProjects", "list", "projects"),
    ("createProject", "create", "projects"),
    ("getProject", "read", "projects"),
    ("replaceProject", "replace", "projects"),
    ("updateProject", "update", "projects"),
    ("deleteProject", "delete", "projects"),
    ("listProjectInvoices", "sublist", "invoices"),
    ("listTransactions", "list", "transactions"),
    ("createTransaction", "create", "transactions"),
    ("getTransaction", "read", "transactions"),
    ("listAccounts", "list", "accounts"),
    ("listTickets", "list", "tickets"),
    ("createTicket", "create", "tickets"),
    ("getTicket", "read", "tickets"),
    ("replaceTicket", "replace", "tickets"),
    ("updateTicket", "update", "tickets"),
    ("deleteTicket", "delete", "tickets"),
    ("listDepartments", "list", "departments"),
    ("listLeads", "list", "leads"),
    ("createLead", "create", "leads"),
    ("getLead", "read", "leads"),
    ("replaceLead", "replace", "leads"),
    ("updateLead", "update", "leads"),
    ("deleteLead", "delete", "leads"),
    ("convertLead", "action", "leads"),
    ("listUsers", "list", "users"),
    ("createUser", "create", "users"),
    ("getUser", "read", "users"),
    ("replaceUser", "replace", "users"),
    ("updateUser", "update", "users"),
    ("deleteUser", "delete", "users"),
    ("getFinancialReport", "operation", None),
    ("search", "operation", None),
    ("listCurrencies", "list", "currencies"),
    ("listWebhooks", "list", "webhooks"),
    ("createWebhook", "create", "webhooks"),
    ("getWebhook", "read", "webhooks"),
    ("replaceWebhook", "replace", "webhooks"),
    ("updateWebhook", "update", "webhooks"),
    ("deleteWebhook", "delete", "webhooks"),
    ("listWebhookDeliveries", "sublist", "deliveries"),
    ("testWebhook", "operation", "webhooks"),
    ("rotateWebhookSecret", "operation", "webhooks"),
]

# The Petstore follows none of our conventions and still gets a sensible classification.
PETSTORE_OPERATIONS = [
    ("updatePet", "update_by_body", "pet"),
    ("addPet", "create", "pet"),
    ("findPetsByStatus", "query", "pet"),
    ("findPetsByTags", "query", "pet"),
    ("getPetById", "read", "pet"),
    ("updatePetWithForm", "update", "pet"),
    ("deletePet", "delete", "pet"),
    ("uploadFile", "action", "pet"),
    ("getInventory", "operation", None),
    ("placeOrder", "create", "order"),
    ("getOrderById", "read", "order"),
    ("deleteOrder", "delete", "order"),
    ("createUser", "create", "user"),
    ("createUsersWithListInput", "operation", None),
    ("loginUser", "operation", None),
    ("logoutUser", "operation", None),
    ("getUserByName", "read", "user"),
    ("updateUser", "replace", "user"),
    ("deleteUser", "delete", "user"),
]


@pytest.fixture(scope="module")
def invoicing() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture(scope="module")
def petstore() -> SpecIndex:
    return SpecIndex.build(load_spec(PETSTORE))


# --- operations -------------------------------------------------------------------------------


def test_every_invoicing_operation_is_classified(invoicing: SpecIndex) -> None:
    assert {op.operation_id for op in invoicing.operations} == {row[0] for row in INVOICING_OPERATIONS}


@pytest.mark.parametrize(("operation_id", "kind", "resource"), INVOICING_OPERATIONS)
def test_invoicing_operation_kind_and_resource(
    invoicing: SpecIndex, operation_id: str, kind: str, resource: str | None
) -> None:
    operation = invoicing.by_operation_id[operation_id]
    assert (operation.kind, operation.resource) == (kind, resource)


def test_every_petstore_operation_is_classified(petstore: SpecIndex) -> None:
    assert {op.operation_id for op in petstore.operations} == {row[0] for row in PETSTORE_OPERATIONS}


@pytest.mark.parametrize(("operation_id", "kind", "resource"), PETSTORE_OPERATIONS)
def test_petstore_operation_kind_and_resource(
    petstore: SpecIndex, operation_id: str, kind: str, resource: str | None
) -> None:
    operation = petstore.by_operation_id[operation_id]
    assert (operation.kind, operation.resource) == (kind, resource)


def test_project_invoices_is_a_sublist_of_invoices_under_projects(invoicing: SpecIndex) -> None:
    operation = invoicing.by_operation_id["listProjectInvoices"]
    assert operation.kind == "sublist"
    assert operation.resource == "invoices"
    assert operation.parent == "projects"
    assert operation.parent_field == "project_id"


def test_webhook_deliveries_is_a_child_resource_linked_by_webhook_id(invoicing: SpecIndex) -> None:
    deliveries = invoicing.resources["deliveries"]
    assert deliveries.parent == "webhooks"
    assert deliveries.parent_field == "webhook_id"
    assert deliveries.refs == {"webhook_id": "webhooks"}
    assert deliveries.seed_count == 0


def test_base_path_comes_from_the_first_server_url(invoicing: SpecIndex, petstore: SpecIndex) -> None:
    assert invoicing.base_path == "/api/v1"
    assert petstore.base_path == "/api/v3"


def test_single_records_and_lists_are_detected_as_wrapped_in_data(invoicing: SpecIndex, petstore: SpecIndex) -> None:
    assert invoicing.by_operation_id["getInvoice"].envelope == "data"
    assert invoicing.by_operation_id["listInvoices"].envelope == "data"
    assert petstore.by_operation_id["getPetById"].envelope is None
    assert petstore.by_operation_id["findPetsByStatus"].envelope is None


def test_success_status_is_the_first_documented_2xx(invoicing: SpecIndex) -> None:
    assert invoicing.by_operation_id["createInvoice"].success_status == 201
    assert invoicing.by_operation_id["getInvoice"].success_status == 200
    assert invoicing.by_operation_id["deleteInvoice"].success_status == 204


def test_path_level_parameters_are_merged_into_each_operation(invoicing: SpecIndex) -> None:
    operation = invoicing.by_operation_id["getInvoice"]
    (id_param,) = [p for p in operation.parameters if p.location == "path"]
    assert (id_param.name, id_param.required, id_param.schema["type"]) == ("id", True, "integer")


def test_query_parameters_default_to_explode(petstore: SpecIndex) -> None:
    tags = next(p for p in petstore.by_operation_id["findPetsByTags"].parameters if p.name == "tags")
    assert tags.explode is True
    assert tags.location == "query"


def test_security_requirements_are_kept_per_operation(invoicing: SpecIndex) -> None:
    assert invoicing.by_operation_id["getHealth"].security == ()
    assert invoicing.by_operation_id["listInvoices"].security == (
        {"bearerAuth": ("invoices:read",)},
        {"oauth2": ("invoices:read",)},
    )


def test_operation_without_operation_id_gets_a_name_from_method_and_path() -> None:
    document = widget_spec()
    del document["paths"]["/widgets"]["get"]["operationId"]
    index = SpecIndex.build(document)
    assert "get_widgets" in index.by_operation_id


# --- resources ----------------------------------------------------------------------------------


def test_petstore_user_uses_username_as_a_string_id(petstore: SpecIndex) -> None:
    user = petstore.resources["user"]
    assert user.id_field == "username"
    assert user.id_is_integer is False
    assert petstore.by_operation_id["getUserByName"].kind == "read"


def test_petstore_pet_has_an_integer_id_and_is_creatable(petstore: SpecIndex) -> None:
    pet = petstore.resources["pet"]
    assert (pet.id_field, pet.id_is_integer, pet.creatable, pet.seed_count) == ("id", True, True, 10)


def test_invoice_refs_follow_x_sandbox_ref(invoicing: SpecIndex) -> None:
    assert invoicing.resources["invoices"].refs == {
        "customer_id": "customers",
        "project_id": "projects",
        "currency_id": "currencies",
        "estimate_id": "estimates",
        "creator_id": "users",
    }


def test_payment_refs_include_guessed_and_declared_targets(invoicing: SpecIndex) -> None:
    refs = invoicing.resources["payments"].refs
    assert refs["invoice_id"] == "invoices"
    assert refs["customer_id"] == "customers"
    assert refs["payment_method_id"] == "payment_methods"


def test_unique_fields_and_sequences(invoicing: SpecIndex) -> None:
    resources = invoicing.resources
    assert resources["invoices"].unique == ("invoice_number",)
    assert resources["invoices"].sequences == {"invoice_number": "INV-{:06d}"}
    assert resources["estimates"].sequences == {"estimate_number": "EST-{:06d}"}
    assert resources["payments"].sequences == {"payment_number": "PAY-{:06d}"}
    assert resources["expenses"].sequences == {"expense_number": "EXP-{:06d}"}
    assert resources["users"].unique == ("email",)
    assert resources["customers"].sequences == {}


def test_date_fields(invoicing: SpecIndex) -> None:
    resources = invoicing.resources
    assert resources["invoices"].date_field == "invoice_date"
    assert resources["estimates"].date_field == "estimate_date"
    assert resources["payments"].date_field == "payment_date"
    # No x-sandbox-date-field: the first `format: date` property.
    assert resources["projects"].date_field == "start_date"
    assert resources["customers"].date_field is None


def test_search_fields_declared_or_every_plain_string(invoicing: SpecIndex, petstore: SpecIndex) -> None:
    assert invoicing.resources["customers"].search_fields == (
        "name",
        "email",
        "contact_name",
        "company_name",
        "phone",
    )
    assert invoicing.resources["invoices"].search_fields == ("invoice_number", "reference_number", "notes")
    # The Petstore declares nothing: every plain string property (no enums such as status).
    assert petstore.resources["pet"].search_fields == ("name",)


def test_read_only_and_write_only_fields(invoicing: SpecIndex) -> None:
    invoices = invoicing.resources["invoices"]
    assert {"id", "total", "due_amount", "status", "created_at"} <= invoices.read_only
    assert "customer_id" not in invoices.read_only
    assert invoicing.resources["users"].write_only == frozenset({"password"})
    assert invoicing.resources["webhooks"].write_only == frozenset({"secret"})


def test_seed_counts_come_from_x_sandbox_seed(invoicing: SpecIndex) -> None:
    resources = invoicing.resources
    assert resources["invoices"].seed_count == 40
    assert resources["customers"].seed_count == 25
    assert resources["currencies"].seed_count == 0
    assert resources["webhooks"].seed_count == 0


def test_list_only_collections_are_not_creatable(invoicing: SpecIndex) -> None:
    assert invoicing.resources["currencies"].creatable is False
    assert invoicing.resources["invoices"].creatable is True


def test_an_operation_declared_x_sandbox_kind_operation_makes_no_resource(invoicing: SpecIndex) -> None:
    # /search returns a list, so it would be a collection without its x-sandbox-kind.
    assert invoicing.by_operation_id["search"].kind == "operation"
    assert "search" not in invoicing.resources


# --- a spec we invent: the engine needs no code for plain CRUD -----------------------------------


def widget_spec(**extra_fields: Any) -> dict[str, Any]:
    """A minimal OpenAPI 3.1 document with one plain CRUD resource, ``widgets``."""
    fields: dict[str, Any] = {
        "id": {"type": "integer", "minimum": 1, "readOnly": True},
        "name": {"type": "string", "minLength": 1},
        "made_on": {"type": "string", "format": "date"},
        "shape": {"type": "string", "enum": ["round", "square"]},
        **extra_fields,
    }
    widget = {
        "type": "object",
        "additionalProperties": False,
        "properties": fields,
        "required": ["id", "name"],
    }
    one = {
        "type": "object",
        "properties": {"data": {"$ref": "#/components/schemas/Widget"}},
        "required": ["data"],
    }
    many = {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Widget"}}},
    }

    def body(schema: str) -> dict[str, Any]:
        return {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }

    def ok(status: str, schema: str | None) -> dict[str, Any]:
        if schema is None:
            return {status: {"description": "done"}}
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        return {status: {"description": "ok", "content": content}}

    item_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Widgets", "version": "1"},
        "servers": [{"url": "http://localhost/w/v2"}],
        "paths": {
            "/widgets": {
                "get": {"operationId": "listWidgets", "responses": ok("200", "WidgetList")},
                "post": {
                    "operationId": "createWidget",
                    "requestBody": body("Widget"),
                    "responses": ok("201", "WidgetOne"),
                },
            },
            "/widgets/{id}": {
                "parameters": [item_param],
                "get": {"operationId": "getWidget", "responses": ok("200", "WidgetOne")},
                "put": {
                    "operationId": "replaceWidget",
                    "requestBody": body("Widget"),
                    "responses": ok("200", "WidgetOne"),
                },
                "delete": {"operationId": "deleteWidget", "responses": ok("204", None)},
            },
            "/widgets/{id}/polish": {
                "parameters": [item_param],
                "post": {"operationId": "polishWidget", "responses": ok("200", "WidgetOne")},
            },
            "/widgets/{id}/audit": {
                "parameters": [item_param],
                "post": {
                    "operationId": "auditWidget",
                    "x-sandbox-kind": "operation",
                    "responses": ok("200", "WidgetOne"),
                },
            },
        },
        "components": {"schemas": {"Widget": widget, "WidgetOne": one, "WidgetList": many}},
    }


def test_an_invented_resource_is_indexed_with_plain_crud() -> None:
    index = SpecIndex.build(widget_spec())
    kinds = {op.operation_id: (op.kind, op.resource) for op in index.operations}
    assert kinds == {
        "listWidgets": ("list", "widgets"),
        "createWidget": ("create", "widgets"),
        "getWidget": ("read", "widgets"),
        "replaceWidget": ("replace", "widgets"),
        "deleteWidget": ("delete", "widgets"),
        "polishWidget": ("action", "widgets"),
        "auditWidget": ("operation", "widgets"),
    }
    widgets = index.resources["widgets"]
    assert index.base_path == "/w/v2"
    assert (widgets.id_field, widgets.creatable, widgets.date_field) == ("id", True, "made_on")
    assert widgets.search_fields == ("name",)


def test_x_sandbox_kind_overrides_the_inferred_kind() -> None:
    document = widget_spec()
    document["paths"]["/widgets/{id}/polish"]["post"]["x-sandbox-kind"] = "operation"
    document["paths"]["/widgets/{id}/polish"]["post"]["x-sandbox-resource"] = "widgets"
    polish = SpecIndex.build(document).by_operation_id["polishWidget"]
    assert (polish.kind, polish.resource) == ("operation", "widgets")


def test_a_new_field_in_the_spec_shows_up_in_the_resource_schema() -> None:
    before = SpecIndex.build(widget_spec()).resources["widgets"]
    after = SpecIndex.build(widget_spec(colour={"type": "string", "maxLength": 20})).resources["widgets"]
    assert "colour" not in before.schema["properties"]
    assert after.schema["properties"]["colour"] == {"type": "string", "maxLength": 20}
    assert after.search_fields == ("name", "colour")


def test_a_new_resource_works_end_to_end_through_the_generic_behaviours() -> None:
    index = SpecIndex.build(widget_spec(colour={"type": "string"}))
    clock = Clock(dt.date(2026, 6, 15))
    engine = Engine(index, open_store(index), clock)
    ops = index.by_operation_id
    assert all(engine.has_behaviour(ops[name]) for name in ("listWidgets", "createWidget", "getWidget", "deleteWidget"))

    def call(operation_id: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        operation = ops[operation_id]
        with engine.store.tenant(1) as tenant:
            return engine.dispatch(
                Call(
                    operation=operation,
                    resource=index.resources["widgets"],
                    tenant=tenant,
                    params=params or {},
                    body=body,
                    caller=None,
                    clock=clock,
                    url_of_request=lambda: "http://localhost/w/v2/widgets",
                )
            )

    created = call("createWidget", body={"name": "Sprocket", "colour": "teal"})
    assert created.status == 201
    assert created.body["data"] == {"id": 1, "name": "Sprocket", "colour": "teal"}
    assert call("getWidget", {"id": 1}).body == created.body
    assert call("listWidgets").body == {"data": [created.body["data"]]}
    assert call("deleteWidget", {"id": 1}).status == 204
    assert call("listWidgets").body == {"data": []}


# --- loading OpenAPI 3.0 -----------------------------------------------------------------------------

SPEC_30 = """
openapi: 3.0.3
info: {title: Old style, version: '1'}
paths:
  /things:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/Thing'}
              example: [{id: 1, nickname: null, nullable: true}]
components:
  schemas:
    Thing:
      type: object
      properties:
        id: {type: integer, minimum: 0, exclusiveMinimum: true}
        nickname: {type: string, nullable: true}
        size: {type: number, maximum: 10, exclusiveMaximum: true}
        weight: {type: number, minimum: 1, exclusiveMinimum: false}
        colour: {enum: [red, green], nullable: true}
        tags:
          type: array
          items: {type: string, nullable: true}
"""


@pytest.fixture
def spec_30(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "old.yaml"
    path.write_text(SPEC_30, encoding="utf-8")
    return load_spec(path)


def test_openapi_30_nullable_becomes_a_null_type(spec_30: dict[str, Any]) -> None:
    thing = spec_30["components"]["schemas"]["Thing"]["properties"]
    assert thing["nickname"] == {"type": ["string", "null"]}
    assert thing["tags"]["items"] == {"type": ["string", "null"]}
    assert thing["colour"] == {"enum": ["red", "green", None]}


def test_openapi_30_boolean_exclusive_bounds_become_numbers(spec_30: dict[str, Any]) -> None:
    thing = spec_30["components"]["schemas"]["Thing"]["properties"]
    assert thing["id"] == {"type": "integer", "exclusiveMinimum": 0}
    assert thing["size"] == {"type": "number", "exclusiveMaximum": 10}
    assert thing["weight"] == {"type": "number", "minimum": 1}


def test_openapi_31_nullable_admits_null_too_and_its_bounds_stay_as_written(tmp_path: Path) -> None:
    """OpenAI's 3.1 spec writes ``type: object, nullable: true, default: null`` (Schemathesis reads it as nullable)."""
    path = tmp_path / "new.yaml"
    text = SPEC_30.replace("openapi: 3.0.3", "openapi: 3.1.0")
    assert text != SPEC_30
    path.write_text(text.replace("minimum: 0, exclusiveMinimum: true", "exclusiveMinimum: 0"), encoding="utf-8")
    thing = load_spec(path, check=False)["components"]["schemas"]["Thing"]["properties"]
    assert thing["nickname"] == {"type": ["string", "null"]}
    assert thing["colour"] == {"enum": ["red", "green", None]}
    assert thing["id"] == {"type": "integer", "exclusiveMinimum": 0}


def test_openapi_30_examples_are_left_alone(spec_30: dict[str, Any]) -> None:
    content = spec_30["paths"]["/things"]["get"]["responses"]["200"]["content"]["application/json"]
    assert content["example"] == [{"id": 1, "nickname": None, "nullable": True}]


def test_load_spec_returns_a_private_copy() -> None:
    first = load_spec(SPEC)
    first["paths"].clear()
    assert load_spec(SPEC)["paths"]


def test_load_spec_rejects_what_is_not_openapi_3(tmp_path: Path) -> None:
    from mockserver.spec import SpecError

    path = tmp_path / "swagger.yaml"
    path.write_text("swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not an OpenAPI 3 document"):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.yaml")


# --- resolve: allOf, request and response views, recursion --------------------------------------------


def test_merge_all_of_unions_properties_and_required() -> None:
    schema = {
        "description": "merged",
        "allOf": [
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            {"properties": {"b": {"type": "integer"}}, "required": ["b", "a"]},
        ],
        "required": ["c"],
    }
    merged = merge_all_of(schema)
    assert merged["type"] == "object"
    assert merged["description"] == "merged"
    assert merged["properties"] == {"a": {"type": "string"}, "b": {"type": "integer"}}
    assert merged["required"] == ["a", "b", "c"]
    assert merged["additionalProperties"] is False
    assert "allOf" not in merged


def test_merge_all_of_folds_branches_of_one_other_type_and_leaves_mixed_types_alone() -> None:
    folded = {"allOf": [{"type": "string", "enum": ["a", "b"]}, {"maxLength": 3}, {"description": "Box's idiom"}]}
    assert merge_all_of(copy.deepcopy(folded)) == {
        "type": "string",
        "enum": ["a", "b"],
        "maxLength": 3,
        "description": "Box's idiom",
    }
    mixed = {"allOf": [{"type": "string"}, {"type": "integer"}]}
    assert merge_all_of(copy.deepcopy(mixed)) == mixed


def test_merge_all_of_of_untyped_branches_names_no_type() -> None:
    untyped = {"allOf": [{}, {"example": "Aaron Levie"}, {"description": "any value"}]}
    assert merge_all_of(copy.deepcopy(untyped)) == {"example": "Aaron Levie", "description": "any value"}


def test_resolver_inlines_refs_and_merges_the_spec_fields_idiom(invoicing: SpecIndex) -> None:
    customer = invoicing.resolver.resolve({"$ref": "#/components/schemas/Customer"})
    assert customer["type"] == "object"
    assert customer["additionalProperties"] is False
    assert {"id", "name", "billing"} <= customer["properties"].keys()
    assert "company_id" in customer["required"]
    assert "$ref" not in repr(customer)


REQUEST_SAMPLE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "name": {"type": "string"},
        "secret": {"type": "string", "writeOnly": True},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"total": {"type": "integer", "readOnly": True}, "qty": {"type": "number"}},
                "required": ["total", "qty"],
            },
        },
    },
    "required": ["id", "name", "secret"],
}


def test_request_view_does_not_require_read_only_fields_at_any_depth() -> None:
    view = request_view(REQUEST_SAMPLE)
    assert view["required"] == ["name", "secret"]
    assert view["properties"]["id"] == {"type": "integer", "readOnly": True}
    assert view["properties"]["lines"]["items"]["required"] == ["qty"]


def test_response_view_forbids_write_only_fields_and_does_not_require_them() -> None:
    view = response_view(REQUEST_SAMPLE)
    assert view["properties"]["secret"] is False
    assert view["required"] == ["id", "name"]
    assert view["properties"]["lines"]["items"]["required"] == ["total", "qty"]


def test_views_drop_an_emptied_required_list() -> None:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer", "readOnly": True}},
        "required": ["id"],
    }
    assert "required" not in request_view(schema)


def test_views_do_not_touch_examples_and_enums() -> None:
    schema = {
        "type": "object",
        "properties": {"s": {"type": "string", "enum": ["a"], "writeOnly": False}},
        "example": {"properties": {"x": {"writeOnly": True}}},
    }
    assert response_view(schema)["example"] == schema["example"]


def test_a_recursive_ref_resolves_without_hanging() -> None:
    document = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                        "parent": {"$ref": "#/components/schemas/Node"},
                    },
                }
            }
        }
    }
    node = SchemaResolver(document).resolve({"$ref": "#/components/schemas/Node"})
    assert node["properties"]["name"] == {"type": "string"}
    inner = node["properties"]["children"]["items"]
    assert "recursive reference" in inner["description"]
    assert inner["type"] == "object"  # the target's declared type still holds where it recurs
    assert inner["x-sandbox-recursive"] == "#/components/schemas/Node"
    assert "$ref" not in repr(node)


def test_records_nested_in_themselves_are_faked_valid_and_finite() -> None:
    """Xero's contact -> groups -> contacts came back as names where the schema embeds contacts."""
    document = {
        "components": {
            "schemas": {
                "Contact": {
                    "type": "object",
                    "required": ["name", "manager"],
                    "properties": {
                        "name": {"type": "string"},
                        "groups": {"type": "array", "items": {"$ref": "#/components/schemas/Group"}},
                        "manager": {"$ref": "#/components/schemas/Contact"},
                        "referrer": {"$ref": "#/components/schemas/Contact"},
                    },
                },
                "Group": {
                    "type": "object",
                    "properties": {"contacts": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}}},
                },
            }
        }
    }
    contact = SchemaResolver(document).resolve({"$ref": "#/components/schemas/Contact"})
    factory = FakeRecordFactory(seed=3, today=dt.date(2026, 11, 30))
    for _ in range(20):
        record = factory.record(contact, lambda _resource: None)
        assert record["manager"] == {}  # required: the emptiest object, never an invented name
        assert "referrer" not in record
        assert all(group["contacts"] == [] for group in record.get("groups", []))


def test_a_spec_with_a_recursive_schema_indexes() -> None:
    document = widget_spec(parts={"type": "array", "items": {"$ref": "#/components/schemas/Widget"}})
    widgets = SpecIndex.build(document).resources["widgets"]
    assert "recursive reference" in widgets.schema["properties"]["parts"]["items"]["description"]


def test_only_local_refs_are_supported() -> None:
    with pytest.raises(KeyError, match="only local references"):
        SchemaResolver({}).resolve({"$ref": "other.yaml#/Thing"})
