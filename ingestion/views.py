"""The track endpoints: one shared view, one thin subclass per wire format."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.conf import settings
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ingestion import selectors
from ingestion.authentication import (
    BasicApiKeyAuthentication,
    CredentialRejected,
    DatabuddyAuthentication,
    HasTrackCredential,
    QueryApiKeyAuthentication,
    TokenApiKeyAuthentication,
    TrackPrincipal,
    TrackTokenAuthentication,
    track_principal,
)
from ingestion.body import body_read, json_decode
from ingestion.canonical import id_parse, json_scans
from ingestion.credentials import CredentialChanged
from ingestion.formats.base import IngestOutcome, RequestProblem, WireFormatAdapter
from ingestion.formats.databuddy import DatabuddyAdapter, DatabuddyIdentifyAdapter
from ingestion.formats.intempt import IntemptAdapter
from ingestion.formats.thrivestack import ThriveStackAdapter
from ingestion.formats.userpilot import UserpilotAdapter
from ingestion.services import new_request_id, wire_document_ingest
from ingestion.throttling import CredentialRateThrottle
from ops import metrics
from ops.api import RETRY_AFTER_SECONDS
from ops.context import request_uuid

logger = logging.getLogger(__name__)


class TrackView(APIView):
    """Authenticate, read within limits, split, validate, store, answer: for any format.

    Subclasses set ``adapter`` and ``authentication_classes`` and nothing else; the work
    between reading the body and answering is ``services.wire_document_ingest``.
    """

    adapter: ClassVar[WireFormatAdapter]
    permission_classes = [HasTrackCredential]
    # The body is read raw (see ``body_read``); DRF's parsers are never used.
    parser_classes = []
    throttle_classes = [CredentialRateThrottle]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # Every answer is JSON written by the adapter (``json_response``), never rendered
        # by DRF: skip negotiating a renderer on each request.
        return JSONRenderer(), JSONRenderer.media_type

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The id the logs and the X-Request-ID header carry (``RequestIdMiddleware``), so a
        # producer can quote ThriveStack's response_id to an operator; a new UUID where
        # the client's own X-Request-ID is not one (response_id is documented as a UUID).
        self.request_id = request_uuid(request._request)
        if request.method == "OPTIONS":
            return  # a CORS preflight carries no credentials: the adapter answers it alone
        if request.method != "POST":
            # Before authentication: a GET is a 405 whether or not it carries a credential.
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    # DRF's dispatch takes any HttpResponse from a handler; the stubs say Response only.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        return self.adapter.preflight(request._request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # ``_auth`` is set once authentication ran; reading ``request.auth`` would run it again.
        principal = request.__dict__.get("_auth")
        for key, value in self.adapter.response_headers(request._request, principal=principal).items():
            response[key] = value
        return response

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        principal = track_principal(request)
        received_at = timezone.now()
        body = body_read(request._request, limit=settings.TRACKHUB_MAX_BODY_BYTES)
        document = json_decode(body)
        scan_nul, scan_depth = json_scans(body)

        def ingest(principal: TrackPrincipal) -> IngestOutcome:
            return wire_document_ingest(
                adapter=self.adapter, source=principal.source, document=document, received_at=received_at,
                scan_nul=scan_nul, scan_depth=scan_depth, credential_check=principal.check,
            )  # fmt: skip

        try:
            outcome = ingest(principal)
        except CredentialChanged:
            # This process's copy of the credential is stale (revoked, rescoped, moved):
            # nothing was written. Judge the credential as it is now; a refusal propagates.
            principal = self._principal_reread(request)
            outcome = ingest(principal)
        metrics.track_outcome_observe(
            source_id=principal.source.id, wire_format=self.adapter.wire_format, outcome=outcome
        )
        if not outcome.accepted:
            return self.adapter.error(
                status=400, message="Invalid request body", kind="invalid_body", problems=outcome.rejected,
                request_id=self.request_id,
            )  # fmt: skip
        return self.adapter.success(outcome, request_id=self.request_id)

    def _principal_reread(self, request: Request) -> TrackPrincipal:
        """Authenticate the request again from the database, dropping this process's copy
        of its credential; CredentialRejected if the credential may no longer write."""
        selectors.track_credential_forget(credential=track_principal(request).credential)
        request.auth = None
        for authenticator in self.get_authenticators():
            result = authenticator.authenticate(request)
            if result is not None:
                request.user, request.auth = result
                break
        return track_principal(request)

    def _refusal_if_stale(self, exc: Exception) -> Exception:
        """For a request that ends in an error and whose credential came from this
        process's cache: no write checked that credential, so read it afresh first. One
        revoked meanwhile gets its refusal (401), never another answer."""
        principal = self.request.__dict__.get("_auth")
        if (
            not isinstance(principal, TrackPrincipal)
            or principal.check is None
            or isinstance(exc, CredentialRejected | DatabaseError)
        ):
            return exc
        try:
            self._principal_reread(self.request)
        except CredentialRejected as refusal:
            return refusal
        except DatabaseError:
            pass  # the database is unreachable: nothing was written, the error stands
        return exc

    # DRF's dispatch takes any HttpResponse from handle_exception; the stubs say Response only.
    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]
        exc = self._refusal_if_stale(exc)
        response = self._error_response(exc)
        principal = self.request.__dict__.get("_auth")
        if isinstance(principal, TrackPrincipal):
            source_id: int | None = principal.source.id
        elif isinstance(exc, CredentialRejected) and exc.source_id is not None:
            source_id = exc.source_id
        else:
            source_id = None if isinstance(exc, DatabaseError) else self._path_source_id()
        metrics.request_rejection_observe(
            source_id=source_id, wire_format=self.adapter.wire_format, status=response.status_code
        )
        return response

    def _path_source_id(self) -> int | None:
        """The source id in the path (Intempt's), if it names a source: the request's
        metrics are counted under it. The path is the client's text: labelled as it came,
        each made-up id (``/o/projects/p/sources/<anything>/track``, no credential needed)
        added a metric series to every web process for good, and to the files and the
        scrape of ``/metrics`` (1,000 such requests: 4 MB more of both)."""
        source_id = id_parse(str(self.kwargs.get("source_id", "")))
        if source_id is None:
            return None
        try:
            source = selectors.source_get(source_id=source_id)
        except DatabaseError:
            return None
        return source.id if source is not None else None

    def _error_response(self, exc: Exception) -> HttpResponse:
        request_id = getattr(self, "request_id", None) or new_request_id()
        if isinstance(exc, RequestProblem):
            return self.adapter.error(
                status=exc.status, message=exc.message, kind=exc.kind, field=exc.field, request_id=request_id
            )
        if isinstance(exc, CredentialRejected):
            status = self.adapter.credential_status(exc.kind)
            return self.adapter.error(status=status, message=str(exc.detail), kind=exc.kind, request_id=request_id)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
            return self.adapter.error(
                status=401, message="Credentials are missing", kind="missing_credentials", request_id=request_id
            )
        if isinstance(exc, exceptions.MethodNotAllowed):
            return self.adapter.error(status=405, message=str(exc.detail), kind="method", request_id=request_id)
        if isinstance(exc, exceptions.Throttled):
            wait = str(int(exc.wait or 1))  # type: ignore[attr-defined]  # DRF sets it; the stubs omit it
            return self.adapter.error(
                status=429, message="Too many requests", kind="rate_limited", request_id=request_id,
                headers={"Retry-After": wait},
            )  # fmt: skip
        if isinstance(exc, DataError):
            # Values PostgreSQL cannot store (a NUL character in a string, say).
            return self.adapter.error(
                status=400, message="Invalid request body: a value cannot be stored", kind="invalid_body",
                request_id=request_id,
            )  # fmt: skip
        if isinstance(exc, DatabaseError):
            # Nothing was committed: the client may retry. A lost connection is expected
            # during a restart; anything else deserves a traceback in the logs.
            if isinstance(exc, OperationalError | InterfaceError):
                logger.warning("database unavailable: %s", exc)
            else:
                logger.exception("database error on track request")
            return self.adapter.error(
                status=503, message="Service temporarily unavailable, retry later", kind="unavailable",
                request_id=request_id, headers={"Retry-After": RETRY_AFTER_SECONDS},
            )  # fmt: skip
        return super().handle_exception(exc)


class IntemptTrackView(TrackView):
    adapter = IntemptAdapter()
    # ``?apiKey=`` (the docs) first, then ``Authorization: Basic`` (Intempt's SDKs).
    authentication_classes = [QueryApiKeyAuthentication, BasicApiKeyAuthentication]


class ThriveStackTrackView(TrackView):
    adapter = ThriveStackAdapter()
    authentication_classes = [TrackTokenAuthentication]


class DatabuddyTrackView(TrackView):
    adapter = DatabuddyAdapter()
    authentication_classes = [DatabuddyAuthentication]


class DatabuddyIdentifyView(DatabuddyTrackView):
    adapter = DatabuddyIdentifyAdapter()


class UserpilotTrackView(TrackView):
    adapter = UserpilotAdapter()
    authentication_classes = [TokenApiKeyAuthentication]
