"""Read API shapes (contract: Read API)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ingestion.canonical import format_timestamp
from ingestion.models import Event, RejectedEvent


class ContractTimestampField(serializers.DateTimeField):
    """Always ``YYYY-MM-DDTHH:MM:SS.mmmZ``. A null is answered by the serializer itself
    (``Serializer.to_representation`` never hands None to a field)."""

    def to_representation(self, value: datetime) -> str:
        return format_timestamp(value)


EVENT_FIELDS = (
    "id", "name", "namespace", "event_id", "timestamp", "received_at", "user_id", "profile_id",
    "anonymous_id", "account_id", "session_id", "page_id", "properties", "context", "source_id",
    "wire_format", "profile",
)  # fmt: skip


def event_record(event: Mapping[str, Any], *, profile: int | None) -> dict[str, Any]:
    """An event's column values (by attribute name) in the read API's shape, fields in the
    contract's order.

    The one place the shape is built: the list endpoints (through ``EventSerializer``) and
    the streamed exports, which read plain rows and skip DRF's per-field machinery for
    speed, both use it.
    """
    return {
        "id": event["id"],
        "name": event["name"],
        "namespace": event["namespace"],
        "event_id": event["event_id"],
        "timestamp": format_timestamp(event["timestamp"]),
        "received_at": format_timestamp(event["received_at"]),
        "user_id": event["user_id"],
        "profile_id": event["profile_id"],
        "anonymous_id": event["anonymous_id"],
        "account_id": event["account_id"],
        "session_id": event["session_id"],
        "page_id": event["page_id"],
        "properties": event["properties"],
        "context": event["context"],
        "source_id": event["source_id"],
        "wire_format": event["wire_format"],
        "profile": profile,
    }


class EventSerializer(serializers.ModelSerializer):
    timestamp = ContractTimestampField()
    received_at = ContractTimestampField()
    source_id = serializers.IntegerField()
    properties = serializers.DictField(help_text="The event's own properties (Intempt data, Userpilot metadata).")
    profile = serializers.SerializerMethodField(help_text="TrackHub's profile id once resolved, else null.")

    class Meta:
        model = Event
        fields = EVENT_FIELDS
        # Always in the answer, null when not sent: the schema would call a null=True model
        # field optional (this serializer only ever writes responses).
        extra_kwargs = {
            field: {"required": True}
            for field in ("namespace", "user_id", "profile_id", "anonymous_id", "account_id", "session_id", "page_id")
        }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here, not as a class attribute: a class attribute named ``context`` reads
        # (to type checkers) as replacing the serializer's own ``context``.
        fields["context"] = serializers.DictField(help_text="Every other field the producer sent, under its own name.")
        return fields

    def get_profile(self, event: Event) -> int | None:
        # Resolved for the whole page at once by the view (no query per event).
        profiles: dict[str, int] = self.context.get("profiles_by_identifier", {})
        return profiles.get(event.identity_key) if event.identity_key else None

    def to_representation(self, instance: Event) -> dict[str, Any]:
        return event_record(vars(instance), profile=self.get_profile(instance))


# An event's place in the request: Intempt's "track[0].payload[2]" (and an import's line
# number, "6"), the array position as a number for the other formats.
_INDEX_SCHEMA = {"oneOf": [{"type": "string"}, {"type": "integer"}], "example": "track[0].payload[2]"}


@extend_schema_field(_INDEX_SCHEMA)
class ProblemIndexField(serializers.Field):
    """An index as the track answer gave it (read only)."""

    def to_representation(self, value: Any) -> Any:
        return value


class ProblemSerializer(serializers.Serializer):
    """One problem of a rejected event: the contract's ``{"index", "field", "message"}``."""

    index = ProblemIndexField()
    field = serializers.CharField()
    message = serializers.CharField()


class RejectedEventSerializer(serializers.ModelSerializer):
    received_at = ContractTimestampField()
    source_id = serializers.IntegerField()
    index = serializers.SerializerMethodField(help_text="Where the event was in its request, as the answer gave it.")
    payload = serializers.JSONField(
        allow_null=True,  # an event nested too deep to keep is stored without its payload
        help_text="The smallest fragment of the wire format carrying just this event.",
    )

    class Meta:
        model = RejectedEvent
        fields = ("id", "received_at", "wire_format", "source_id", "index", "field", "message", "errors", "payload")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here, not on the class: ``errors`` would shadow ``Serializer.errors``.
        fields["errors"] = ProblemSerializer(
            many=True,
            read_only=True,
            help_text="Every problem of the event as {index, field, message}, the first one first.",
        )
        return fields

    @extend_schema_field(_INDEX_SCHEMA)
    def get_index(self, rejected: RejectedEvent) -> Any:
        # The column is text, so the array formats' position 1 was read back as "1" while
        # the track answer and ``errors`` say 1: the first problem's index is the one given.
        first = rejected.errors[0] if rejected.errors else None
        if isinstance(first, dict) and str(first.get("index")) == rejected.index:
            return first["index"]
        return rejected.index
