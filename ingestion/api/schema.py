"""OpenAPI documentation of the track endpoints and credentials (drf-spectacular).

The track views parse raw bodies in four vendor formats, so there is no serializer to
introspect: their request bodies, answers and the seed docs' examples are described here,
attached through ``OpenApiViewExtension`` classes keyed by the view's dotted path. A view
that does not exist (yet) is skipped (``optional``), so a format's documentation appears
as soon as its view lands. Credentials are described by ``OpenApiAuthenticationExtension``
classes, one security scheme each. Imported by ``ingestion.api.views``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from ingestion.api.query import QueryParamsCheckedMixin
from ingestion.canonical import MAX_MS, MIN_MS

# --- security schemes -------------------------------------------------------------------


class _Scheme(OpenApiAuthenticationExtension):
    scheme: dict[str, Any] = {}

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any] | list[dict[str, Any]]:
        return self.scheme


class QueryApiKeyScheme(_Scheme):
    target_class = "ingestion.authentication.QueryApiKeyAuthentication"
    name = "apiKeyQuery"
    scheme = {
        "type": "apiKey",
        "in": "query",
        "name": "apiKey",
        "description": "API key `identifier.secret` of exactly the source in the path, scope `track:events`.",
    }


class BasicApiKeyScheme(_Scheme):
    target_class = "ingestion.authentication.BasicApiKeyAuthentication"
    name = "apiKeyBasic"
    scheme = {
        "type": "http",
        "scheme": "basic",
        "description": "`Authorization: Basic base64(identifier:secret)`, as Intempt's SDKs send the API key: "
        "the same key as `?apiKey=`, of exactly the source in the path.",
    }


class BearerApiKeyScheme(_Scheme):
    target_class = "ingestion.authentication.HeaderApiKeyAuthentication"
    name = "apiKeyBearer"
    scheme = {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <api key>`: an API key `identifier.secret` with scope `track:events`.",
    }


class TokenApiKeyScheme(_Scheme):
    target_class = "ingestion.authentication.TokenApiKeyAuthentication"
    name = "apiKeyToken"
    # "Token" is not a registered HTTP auth scheme, so it is described as a header.
    scheme = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Token <api key>`: an API key `identifier.secret` with scope `track:events`.",
    }


class TrackTokenScheme(_Scheme):
    target_class = "ingestion.authentication.TrackTokenAuthentication"
    name = "trackToken"
    scheme = {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <track token>`: an access token of one source with scope "
        "`track_api` or `telemetry_apis`.",
    }


class WebsiteScheme(_Scheme):
    target_class = "ingestion.authentication.WebsiteAuthentication"
    name = "websiteId"
    scheme = {
        "type": "apiKey",
        "in": "query",
        "name": "website_id",
        "description": "A website UUID, for client-side tracking from the website's allowed origins.",
    }


class DatabuddyScheme(_Scheme):
    """Either credential: a Bearer API key or ``?website_id=`` (an OR of two schemes)."""

    target_class = "ingestion.authentication.DatabuddyAuthentication"
    optional = True
    name = [BearerApiKeyScheme.name, WebsiteScheme.name]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{BearerApiKeyScheme.name: []}, {WebsiteScheme.name: []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [BearerApiKeyScheme.scheme, WebsiteScheme.scheme]


class ReadTokenScheme(_Scheme):
    target_class = "ingestion.authentication.ReadTokenAuthentication"
    name = "readToken"
    scheme = {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <read token>`: an access token of one project with scope `read`. "
        "Create one with `python manage.py create_access_token --org O --project P --scope read`.",
    }


# --- shared pieces ----------------------------------------------------------------------


def _problem_schema(index: dict[str, Any], *, required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One problem. An event's problem has `index` (which event) and `field`; a problem with the "
        "whole request has only `message`, and `field` when one field is to blame.",
        "required": required,
        "properties": {"index": index, "field": {"type": "string"}, "message": {"type": "string"}},
    }


# ThriveStack, Databuddy and Userpilot number the events of a body from 0 (a single
# object is 0); Intempt names the path to the event.
_POSITION = {
    "type": "integer",
    "minimum": 0,
    "description": "The event's position in the body (0 for a single object).",
}
_PATH = {"type": "string", "example": "track[0].payload[2]", "description": "Where the event sits in the body."}
PROBLEM_SCHEMA = _problem_schema(_POSITION, required=["message"])
REJECTED_LIST: dict[str, Any] = {
    "type": "array",
    "items": _problem_schema(_POSITION, required=["index", "field", "message"]),
    "description": "Present when some events were refused and the rest stored.",
}
INTEMPT_REJECTED_LIST: dict[str, Any] = {
    **REJECTED_LIST,
    "items": _problem_schema(_PATH, required=["index", "field", "message"]),
}
_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
# Every endpoint takes 1 to 1,000 events per request (an empty array is a 400).
_EVENTS_PER_REQUEST: dict[str, Any] = {"minItems": 1, "maxItems": 1000}


# Milliseconds since the epoch that the endpoints store: years 1 to 9999 (a datetime's).
# A string of digits is documented up to 14 of them (year 5138): a regular expression
# cannot bound its value, and the schema must not take what the endpoint refuses.
_MILLISECONDS: dict[str, Any] = {"minimum": MIN_MS, "maximum": MAX_MS}
_MILLISECOND_DIGITS: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{1,14}$"}
# An ISO 8601 time as every endpoint takes it: a four-digit year (the read API's filters too).
ISO_8601_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-"}


def _one_of_required(*fields: str) -> list[dict[str, Any]]:
    """``anyOf`` branches: at least one of ``fields`` is present and a non-empty string
    (contract: required means present and not empty; null is the field left out)."""
    return [{"required": [field], "properties": {field: {"type": "string", "minLength": 1}}} for field in fields]


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field: JSON null is taken as the field left out (docs/identity.md), so
    the schema says null is allowed. With ``oneOf`` the first branch takes it (a
    ``nullable`` beside ``oneOf`` means nothing in OpenAPI 3.0)."""
    if "oneOf" in schema:
        first, *rest = schema["oneOf"]
        return {**schema, "oneOf": [{**first, "nullable": True}, *rest]}
    return {**schema, "nullable": True}


def _wire_object(properties: dict[str, Any], *, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A wire format's JSON object: ``required`` fields, every other one optional (null
    taken), and fields it does not list accepted (kept in the event's context)."""
    return {
        "type": "object",
        **({"required": list(required)} if required else {}),
        "additionalProperties": True,
        **extra,
        "properties": {key: value if key in required else _optional(value) for key, value in properties.items()},
    }


TRACK_RULES = (
    "At most 1,000 events and 2 MiB (after decompression; `Content-Encoding: gzip` accepted) per request. "
    "A request-level problem (not JSON, wrong shape, over a limit, bad credentials) stores nothing. An "
    "event-level problem refuses only that event: the others are stored and the success answer carries "
    "`rejected`; if none is valid the answer is 400 listing each problem. Refused events are kept with their "
    "payload (`GET /api/v1/rejected-events/`). Events are deduplicated per project by (name, event id); an "
    "event without an id gets a content hash when it has its own timestamp, else a random id. Fields the "
    "format does not list are kept in the event's `context`."
)


def _error_responses(error_schema: dict[str, Any], *, scope_status: int = 401) -> dict[int, OpenApiResponse]:
    responses = {
        400: OpenApiResponse(error_schema, description="Invalid body, over a limit, or no valid event."),
        401: OpenApiResponse(error_schema, description="Missing, unknown, revoked or expired credential."),
        415: OpenApiResponse(error_schema, description="A `Content-Encoding` other than `gzip` (or none)."),
        429: OpenApiResponse(error_schema, description="Rate-limited; see `Retry-After`."),
        503: OpenApiResponse(error_schema, description="Database unavailable; retry after `Retry-After`."),
    }
    if scope_status != 401:
        responses[scope_status] = OpenApiResponse(error_schema, description="The API key lacks `track:events`.")
    return responses


def _examples(examples: dict[str, Any]) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, request_only=True) for name, value in examples.items()]


def _track_extension(
    *,
    operation_id: str,
    summary: str,
    description: str,
    request: dict[str, Any],
    examples: dict[str, Any],
    responses: dict[int, OpenApiResponse],
    parameters: list[OpenApiParameter] | None = None,
) -> Any:
    """A decorator for a track view class documenting its POST."""
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            tags=["track"],
            summary=summary,
            description=f"{description}\n\n{TRACK_RULES}",
            request={"application/json": request},
            responses=responses,
            examples=_examples(examples),
            parameters=parameters or [],
        )
    )


class _TrackViewExtension(OpenApiViewExtension):
    optional = True  # the view may not exist yet in this checkout
    decorator: Any = None

    def view_replacement(self) -> Any:
        decorate = type(self).decorator  # a plain function, not bound to the extension

        view_class: Any = self.target  # the view class this extension matched

        class Documented(view_class):
            pass

        Documented.__name__ = view_class.__name__
        Documented.__doc__ = view_class.__doc__
        return decorate(Documented)


# --- Intempt ----------------------------------------------------------------------------

INTEMPT_EVENT: dict[str, Any] = _wire_object(
    {
        "eventId": {"type": "string", "description": "Dedupe key with the group's name; optional."},
        "userId": {"type": "string"},
        "profileId": {"type": "string", "description": "A user identifier (the producer's, not TrackHub's)."},
        "timestamp": {
            # "" is not set, as 0 is (the seed: "if not set, the current timestamp will be applied").
            "oneOf": [
                {"type": "integer", "format": "int64", **_MILLISECONDS},
                {**_MILLISECOND_DIGITS, "pattern": "^[0-9]{0,14}$"},
            ],
            "description": 'Milliseconds (years 1 to 9999), as a number or a string of digits; 0, "" or absent: '
            "the time received.",
        },
        "accountId": {"type": "string"},
        "sessionId": {"type": "string"},
        "pageId": {"type": "string"},
        "anotherUserId": {"type": "string", "description": "Links this user identifier to userId."},
        "anotherAccountId": {"type": "string", "description": "Links this account identifier to accountId."},
        "data": {"oneOf": [_ANY_OBJECT, {"type": "string"}], "description": "Event properties."},
        "userAttributes": {"oneOf": [_ANY_OBJECT, {"type": "string"}]},
        "accountAttributes": {"oneOf": [_ANY_OBJECT, {"type": "string"}]},
    },
    description="One event. `data`, `userAttributes`, `accountAttributes` accept an object or a string "
    "holding a JSON object. One of `userId`, `profileId`, `anotherUserId` is required (not empty).",
    anyOf=_one_of_required("userId", "profileId", "anotherUserId"),
)
INTEMPT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["track"],
    "properties": {
        "track": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "payload"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "description": "The event name of every item."},
                    # A group of no events is taken beside others, but a body of no events at
                    # all is a 400; the schema documents what is always taken.
                    "payload": {"type": "array", "minItems": 1, "items": INTEMPT_EVENT},
                },
            },
        }
    },
}
INTEMPT_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": _problem_schema(_PATH, required=["message"])}},
}
INTEMPT_EXAMPLES: dict[str, Any] = {
    "Single event (curl)": {
        "track": [
            {
                "name": "Purchase",
                "payload": [
                    {
                        "eventId": "generated-event-id",
                        "profileId": "generated-profile-id",
                        "userId": "custom@intempt.com",
                        "timestamp": 1714631904000,
                        "accountId": "Intempt",
                        "sessionId": "generated-session-id",
                        "pageId": "generated-page-id",
                        "anotherUserId": "+111111111",
                        "anotherAccountId": "no-reply@intempt.com",
                        "data": {"amount": 150, "productName": "Wine", "quantity": 4, "locationLatitude": 51.509865},
                        "userAttributes": {"location": "USA"},
                        "accountAttributes": {"founded": 2000},
                    }
                ],
            }
        ]
    },
    "Several events of one type": {
        "track": [
            {
                "name": "Purchase",
                "payload": [
                    {
                        "eventId": "evt_purchase_001",
                        "profileId": "profile_user_1",
                        "userId": "user1@example.com",
                        "timestamp": 1714631904000,
                        "sessionId": "sess_001",
                        "pageId": "checkout_page",
                        "data": {"amount": 200, "productName": "Whiskey", "quantity": 2},
                    },
                    {
                        "eventId": "evt_purchase_002",
                        "profileId": "profile_user_2",
                        "userId": "user2@example.com",
                        "timestamp": 1714631910000,
                        "sessionId": "sess_002",
                        "pageId": "checkout_page",
                        "data": {"amount": 90, "productName": "Beer", "quantity": 6},
                    },
                ],
            }
        ]
    },
    "Several event types": {
        "track": [
            {
                "name": "Signup",
                "payload": [
                    {
                        "eventId": "evt_signup_001",
                        "profileId": "profile_new_user",
                        "userId": "newuser@example.com",
                        "timestamp": 1714631800000,
                        "data": {"signupMethod": "email"},
                        "userAttributes": {"plan": "trial", "country": "IN"},
                    }
                ],
            },
            {
                "name": "Purchase",
                "payload": [
                    {
                        "eventId": "evt_purchase_003",
                        "profileId": "profile_new_user",
                        "userId": "newuser@example.com",
                        "timestamp": 1714631904000,
                        "data": {"amount": 120, "productName": "Vodka", "quantity": 1},
                    }
                ],
            },
        ]
    },
}


class IntemptTrackViewSchema(_TrackViewExtension):
    target_class = "ingestion.views.IntemptTrackView"
    decorator = _track_extension(
        operation_id="track_intempt",
        summary="Track events (Intempt format)",
        description="Intempt's `Track data` API. Events are grouped by name in `track[]`; each `payload[]` item is "
        "one event. Problems are reported with `index` = `track[g].payload[i]`.",
        request=INTEMPT_REQUEST,
        examples=INTEMPT_EXAMPLES,
        parameters=[
            OpenApiParameter("org_name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization name."),
            OpenApiParameter("project_name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Project name."),
            OpenApiParameter("source_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="Source id."),
        ],
        responses={
            200: OpenApiResponse(
                {"type": "object", "properties": {"rejected": INTEMPT_REJECTED_LIST}},
                description="Stored (`{}`), with `rejected` when some events were refused.",
            ),
            **_error_responses(INTEMPT_ERROR),
        },
    )


# --- ThriveStack ------------------------------------------------------------------------

THRIVESTACK_EVENT: dict[str, Any] = _wire_object(
    {
        "user_id": {"type": "string", "minLength": 1},
        "event_name": {"type": "string", "minLength": 1},
        "timestamp": {
            **ISO_8601_SCHEMA,
            "description": "ISO 8601 with a four-digit year, e.g. `2024-05-02T06:38:24.000Z`; offsets become UTC.",
        },
        "properties": _ANY_OBJECT,
        "context": {
            **_ANY_OBJECT,
            "description": "Kept as is in the event's context; `group_id` also fills `account_id`.",
        },
    },
    required=("user_id", "event_name", "timestamp"),
)
THRIVESTACK_REQUEST: dict[str, Any] = {
    "oneOf": [{"type": "array", "items": THRIVESTACK_EVENT, **_EVENTS_PER_REQUEST}, THRIVESTACK_EVENT]
}
THRIVESTACK_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["success", "response_id", "message"],
    "properties": {
        "success": {"type": "boolean"},
        "response_id": {"type": "string", "format": "uuid"},
        "message": {"type": "string"},
        "rejected": REJECTED_LIST,
        "errors": {"type": "array", "items": PROBLEM_SCHEMA, "description": "On a 400: what is wrong."},
    },
}
THRIVESTACK_EXAMPLES: dict[str, Any] = {
    # The docs' example sends "20-11-23T22:28:55.111Z", which is not ISO 8601 and is refused
    # with a 400 naming timestamp; the example shows the accepted form.
    "signed_up (docs example, four-digit year)": [
        {
            "event_name": "signed_up",
            "properties": {
                "email": "JohnDoe@acmelabs.com",
                "name": "John Doe",
                "first name": "John",
                "last name": "Doe",
            },
            "user_id": "3e474abe-5943-41fd-8b7b-4c87ad95b0c7",
            "timestamp": "2020-11-23T22:28:55.111Z",
            "context": {"group_id": "55444abe-41fd-5943-d95b-4c87ad95b674"},
        }
    ]
}


class ThriveStackTrackViewSchema(_TrackViewExtension):
    target_class = "ingestion.views.ThriveStackTrackView"
    decorator = _track_extension(
        operation_id="track_thrivestack",
        summary="Track events (ThriveStack format)",
        description="ThriveStack's `Track` API: an array of events (a single object is accepted too). The docs' "
        "example timestamp `20-11-23T22:28:55.111Z` is refused with a 400 naming `timestamp`: send a four-digit "
        "year.",
        request=THRIVESTACK_REQUEST,
        examples=THRIVESTACK_EXAMPLES,
        responses={
            200: OpenApiResponse(
                THRIVESTACK_ANSWER,
                description='`{"success": true, "response_id": ..., "message": "Event tracked successfully"}`.',
            ),
            **_error_responses(THRIVESTACK_ANSWER),
        },
    )


# --- Databuddy --------------------------------------------------------------------------

DATABUDDY_EVENT: dict[str, Any] = _wire_object(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "namespace": {"type": "string", "maxLength": 64},
        "timestamp": {
            "oneOf": [{"type": "number", **_MILLISECONDS}, ISO_8601_SCHEMA, _MILLISECOND_DIGITS],
            "description": "Milliseconds (years 1 to 9999; a number or a string of digits) or ISO 8601 with a "
            "four-digit year; default: received.",
        },
        "properties": _ANY_OBJECT,
        "anonymousId": {"type": "string", "maxLength": 256},
        "profileId": {"type": "string", "maxLength": 256},
        "sessionId": {"type": "string", "maxLength": 256},
        "websiteId": {
            "oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}],
            "description": "Must be a website of the same project; empty (or null): none named.",
        },
        "source": {"type": "string", "maxLength": 64},
    },
    required=("name",),
)
DATABUDDY_REQUEST: dict[str, Any] = {
    "oneOf": [DATABUDDY_EVENT, {"type": "array", "items": DATABUDDY_EVENT, **_EVENTS_PER_REQUEST}]
}
DATABUDDY_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["success", "error"]},
        "type": {"type": "string", "enum": ["custom_event"]},
        "count": {"type": "integer", "description": "Events accepted (duplicates included)."},
        "message": {"type": "string"},
        "rejected": REJECTED_LIST,
        "errors": {"type": "array", "items": PROBLEM_SCHEMA, "description": "On a 400: what is wrong."},
    },
}
DATABUDDY_EXAMPLES: dict[str, Any] = {
    "Single event": {
        "name": "button_clicked",
        "namespace": "ui",
        "properties": {"button_id": "signup", "page": "/pricing"},
        "anonymousId": "user-123",
        "sessionId": "session-456",
    },
    "Multiple events": [
        {"name": "page_viewed", "properties": {"path": "/dashboard"}},
        {"name": "feature_used", "namespace": "product", "properties": {"feature": "export", "format": "csv"}},
    ],
    "With website_id (client-side)": {
        "name": "video_played",
        "properties": {"video_id": "intro-2024", "duration": 120},
    },
}


class DatabuddyTrackViewSchema(_TrackViewExtension):
    target_class = "ingestion.views.DatabuddyTrackView"
    decorator = _track_extension(
        operation_id="track_databuddy",
        summary="Track events (Databuddy format)",
        description="Databuddy's `Track Event` API: one event object or an array. Authenticate with an API key "
        "(`Authorization: Bearer`) or, client-side, `?website_id=`; with both, the key decides and the website must "
        "belong to its project. Errors: 400 `Invalid request body`, 401 `API key or website_id required`, 401 "
        "`Invalid API key`, 403 `API key missing track:events scope`, 404 `Website not found`.",
        request=DATABUDDY_REQUEST,
        examples=DATABUDDY_EXAMPLES,
        responses={
            200: OpenApiResponse(
                DATABUDDY_ANSWER, description='`{"status": "success", "type": "custom_event", "count": N}`.'
            ),
            **_error_responses(DATABUDDY_ANSWER, scope_status=403),
            404: OpenApiResponse(DATABUDDY_ANSWER, description="`Website not found` (also for another project's)."),
        },
    )


DATABUDDY_IDENTIFY_REQUEST: dict[str, Any] = _wire_object(
    {
        "profileId": {"type": "string", "maxLength": 256},
        "anonymousId": {"type": "string", "maxLength": 256},
        "traits": {**_ANY_OBJECT, "description": "Merged into the profile's attributes."},
        "websiteId": DATABUDDY_EVENT["properties"]["websiteId"],
    },
    anyOf=_one_of_required("profileId", "anonymousId"),
)
DATABUDDY_IDENTIFY_ANSWER: dict[str, Any] = {
    **DATABUDDY_ANSWER,
    "properties": {**DATABUDDY_ANSWER["properties"], "type": {"type": "string", "enum": ["identify"]}},
}


class DatabuddyIdentifyViewSchema(_TrackViewExtension):
    target_class = "ingestion.views.DatabuddyIdentifyView"
    decorator = _track_extension(
        operation_id="identify_databuddy",
        summary="Identify a visitor (Databuddy SDKs' identify)",
        description="What Databuddy's SDKs send for `identify({profileId, anonymousId, traits})` (not in the "
        "track docs). Stored as one event named `$identify` at the time received: its `anonymousId` and "
        "`profileId` join one profile, as on any Databuddy event carrying both, and `traits` (kept as "
        "`context.userAttributes`) are merged into that profile's attributes. Same credentials as `/track`. Every "
        "problem is the request's: 400 `Invalid request body` with `errors`, nothing kept.",
        request=DATABUDDY_IDENTIFY_REQUEST,
        examples={
            "Identify": {
                "profileId": "user_42",
                "anonymousId": "anon_7f3a",
                "traits": {"plan": "pro", "email": "ada@example.com"},
            }
        },
        responses={
            200: OpenApiResponse(DATABUDDY_IDENTIFY_ANSWER, description='`{"status": "success", "type": "identify"}`.'),
            **_error_responses(DATABUDDY_IDENTIFY_ANSWER, scope_status=403),
            404: OpenApiResponse(DATABUDDY_IDENTIFY_ANSWER, description="`Website not found`."),
        },
    )


# --- Userpilot --------------------------------------------------------------------------

USERPILOT_EVENT: dict[str, Any] = _wire_object(
    {
        "user_id": {"type": "string", "minLength": 1},
        "event_name": {"type": "string", "minLength": 1},
        "metadata": {**_ANY_OBJECT, "description": "Event properties."},
    },
    required=("user_id", "event_name"),
)
USERPILOT_REQUEST: dict[str, Any] = {
    "oneOf": [USERPILOT_EVENT, {"type": "array", "items": USERPILOT_EVENT, **_EVENTS_PER_REQUEST}]
}
USERPILOT_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "details": {"type": "string"},
                    "error": {"type": "string"},
                    "error_code": {"type": "string"},
                    "message": {"type": "string"},
                    "index": _POSITION,
                    "field": {"type": "string"},
                },
            },
        }
    },
}
USERPILOT_EXAMPLES: dict[str, Any] = {
    "schedule_appointment": {
        "user_id": "user_789456",
        "event_name": "schedule_appointment",
        "metadata": {
            "appointment_date": "2024-02-01T10:00:00Z",
            "appointment_type": "Initial Consultation",
            "scheduled_by": "Sarah Johnson",
            "specialty": "Cardiology",
            "provider_id": "dr_smith_123",
            "appointment_status": "confirmed",
        },
    }
}


class UserpilotTrackViewSchema(_TrackViewExtension):
    target_class = "ingestion.views.UserpilotTrackView"
    decorator = _track_extension(
        operation_id="track_userpilot",
        summary="Track an event (Userpilot format)",
        description="Userpilot's `Track Events` API: one event per request (an array of them is taken as a batch), "
        "no timestamp (the time received is used). `Authorization: Token <api key>`.",
        request=USERPILOT_REQUEST,
        examples=USERPILOT_EXAMPLES,
        responses={
            202: OpenApiResponse(
                {"type": "object", "properties": {"rejected": REJECTED_LIST}}, description="Accepted."
            ),
            **_error_responses(USERPILOT_ERROR),
        },
    )


def track_intempt_v1_hidden(endpoints: list[Any], **kwargs: Any) -> list[Any]:
    """A preprocessing hook: the Intempt endpoint's ``/v1/...`` URL (Intempt's SDKs) is the
    same operation as the documented one, so the schema shows it once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/v1/{org_name}/")]


def track_paths_tidy(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A postprocessing hook: show the track paths as their docs give them (``.../track``,
    ``/identify``); the URL patterns also accept a trailing slash, which drf-spectacular renders.
    Their body is required (an empty one is a 400), which drf-spectacular only says of a
    serializer's."""
    result["paths"] = {
        (path[:-1] if path.endswith(("/track/", "/identify/")) else path): item
        for path, item in result["paths"].items()
    }
    for item in result["paths"].values():
        operation = item.get("post", {})
        if "track" in operation.get("tags", []) and "requestBody" in operation:
            operation["requestBody"]["required"] = True
    return result


# The read API's error answers, the same on every endpoint (docs/read-api.md).
_READ_ERROR_SCHEMAS: dict[str, Any] = {
    "ParameterErrors": {
        "type": "object",
        "description": "Each invalid query parameter, with why.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"since": ["since must be ISO 8601 (2024-05-02T06:38:24Z) or milliseconds"]},
    },
    "Detail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "example": {"detail": "Authentication credentials were not provided."},
    },
}


def _error(description: str, schema: str, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def read_api_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A postprocessing hook: every read API operation documents the errors it can answer
    (400 for a bad query parameter, 401, 404 on a path with an id, 406 for an Accept
    without JSON on a JSON one, 429 over the token's rate limit, 503 while its database
    is unreachable), each with its body's shape, not only its 200."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(_READ_ERROR_SCHEMAS)
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    for path, item in result["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            # Even an operation without parameters: an unknown one is a 400 (ingestion.api.query).
            responses["400"] = _error(
                "A query parameter is invalid, unknown to this endpoint, given twice or not UTF-8.", "ParameterErrors"
            )
            responses["401"] = _error("The read token is missing, unknown, revoked or expired.", "Detail")
            if "{" in path:
                responses["404"] = _error("No such object in the token's project.", "Detail")
            if "application/json" in responses.get("200", {}).get("content", {}):
                # DRF's content negotiation: only JSON is rendered, so an Accept that
                # excludes it (text/csv, text/html) is refused. The exports answer their
                # own media type whatever Accept says, so they never do this.
                responses["406"] = _error("The Accept header excludes application/json.", "Detail")
            responses["429"] = _error(
                "Over the token's rate limit (TRACKHUB_RATE_LIMIT requests a minute); retry after the given seconds.",
                "Detail",
                headers=retry_after,
            )
            responses["503"] = _error(
                "The database is unreachable; retry after the given seconds.", "Detail", headers=retry_after
            )
    return result


def read_api_nonempty_parameters(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A postprocessing hook: a text query parameter of the read API that is refused when
    empty (``?user_id=`` is a 400, not "every event": ``ingestion.api.query``) documents
    ``minLength: 1``, so a generated client or a schema-driven test does not send the empty
    string the schema allowed and get a 400 the schema did not predict."""
    may_be_empty = set(QueryParamsCheckedMixin.empty_query_params)
    for name, schema in _read_api_text_query_parameters(result):
        if name not in may_be_empty:
            schema["minLength"] = 1
    return result


def _read_api_text_query_parameters(result: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The name and schema of each free-text query parameter of the read API's operations
    (a string without an enum: an enum holds neither an empty nor a NUL member already)."""
    for path, item in result["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("type") == "string" and "enum" not in schema:
                    yield parameter["name"], schema


def read_api_parameters_without_nul(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """A postprocessing hook: a text query parameter of the read API holding a NUL
    character is a 400 (Django's form fields refuse it: PostgreSQL text cannot hold one),
    so its schema says so with a ``pattern``, as ``read_api_nonempty_parameters`` documents
    the empty ones (schemathesis sent ``?property=%00``, which the schema allowed)."""
    for _, schema in _read_api_text_query_parameters(result):
        schema.setdefault("pattern", "^[^\\x00]*$")
    return result


API_DESCRIPTION = """
TrackHub stores events sent in four vendor wire formats (the **track** endpoints below) and
serves them back through a read API.

**Reading.** Every `/api/v1/` endpoint takes `Authorization: Bearer <read token>` (scope
`read`, one project; `python manage.py create_access_token --org O --project P --scope read
--json`). Lists are newest first and paged with keyset cursors: follow `next` (and
`previous`) as given; events arriving meanwhile are never skipped or repeated.
`page_size` is 1..1000. Times (`since` inclusive, `until` exclusive) are ISO 8601 or
milliseconds. Event timestamps are always `YYYY-MM-DDTHH:MM:SS.mmmZ`. A query parameter
the endpoint does not take, given twice, empty or not UTF-8 is a 400 naming it, never
ignored.

**Exporting.** `GET /api/v1/events/export.ndjson` and `export.csv` take the same filters and
stream every matching event.

**Importing.** `python manage.py import_events FILE --source-id N --format
intempt|thrivestack|databuddy|userpilot|ndjson` loads a history file through the same
validation and dedupe as the track endpoints: for a wire format each line is one request
body, for `ndjson` each line is one event as the NDJSON export writes it (so an export
re-imports as is). Rejected lines go to `FILE.rejected.ndjson` with their reasons; running
it twice stores nothing new.
""".strip()


def api_description(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A postprocessing hook: the guide shown at the top of /api/docs/."""
    result["info"]["description"] = API_DESCRIPTION
    return result
