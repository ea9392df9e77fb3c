"""Read API shapes (contract: Read API)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ingestion.canonical import format_timestamp
from ingestion.models import Event, RejectedEvent


class ContractTimestampField(serializers.DateTimeField):
    """Always ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""

    def to_representation(self, value: Any) -> str | None:
        return None if value is None else format_timestamp(value)


EVENT_FIELDS = (
    "id", "name", "namespace", "event_id", "timestamp", "received_at", "user_id", "profile_id",
    "anonymous_id", "account_id", "session_id", "page_id", "properties", "context", "source_id",
    "wire_format", "profile",
)  # fmt: skip


class EventSerializer(serializers.ModelSerializer):
    timestamp = ContractTimestampField()
    received_at = ContractTimestampField()
    source_id = serializers.IntegerField()
    properties = serializers.JSONField()
    context = serializers.JSONField()
    profile = serializers.SerializerMethodField(help_text="TrackHub's profile id once resolved, else null.")

    class Meta:
        model = Event
        fields = EVENT_FIELDS

    def get_profile(self, event: Event) -> int | None:
        # Resolved for the whole page at once by the view (no query per event).
        profiles: dict[str, int] = self.context.get("profiles_by_identifier", {})
        return profiles.get(event.identity_key) if event.identity_key else None


class RejectedEventSerializer(serializers.ModelSerializer):
    received_at = ContractTimestampField()
    source_id = serializers.IntegerField()
    payload = serializers.JSONField()

    class Meta:
        model = RejectedEvent
        fields = ("id", "received_at", "wire_format", "source_id", "index", "field", "message", "payload")
