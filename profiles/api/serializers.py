"""Read API shapes of profiles and accounts (contract: Read API)."""

from __future__ import annotations

from rest_framework import serializers

from ingestion.api import ContractTimestampField


class ProfileSerializer(serializers.Serializer):
    """Serializes ``profiles.selectors.ProfileDetail``."""

    id = serializers.IntegerField(help_text="TrackHub's profile id (the survivor's, after a merge).")
    identifiers = serializers.ListField(child=serializers.CharField(), help_text="User identifiers, sorted.")
    attributes = serializers.DictField(help_text="userAttributes merged per key, latest event timestamp wins.")
    accounts = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the profile's accounts.")
    first_seen = ContractTimestampField()
    last_seen = ContractTimestampField()


class AccountSerializer(serializers.Serializer):
    """Serializes ``profiles.selectors.AccountDetail``."""

    id = serializers.IntegerField(help_text="TrackHub's account id (the survivor's, after a merge).")
    identifiers = serializers.ListField(child=serializers.CharField(), help_text="Account identifiers, sorted.")
    attributes = serializers.DictField(help_text="accountAttributes merged per key, latest event timestamp wins.")
    members = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the member profiles.")
