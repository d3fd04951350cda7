"""API errors of the emulator, rendered as Kubernetes ``Status`` objects with the real status codes.

Clients (kopf, the kubernetes client, kubectl) branch on the code and on ``reason``, so both follow
the API server: 404 NotFound, 409 AlreadyExists/Conflict, 422 Invalid with ``details.causes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class KubeEmulatorError(Exception):
    """Root of every error the emulator package raises."""


@dataclass(frozen=True)
class FieldCause:
    """One invalid field, as in ``Status.details.causes[]``."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"


@dataclass
class ApiError(KubeEmulatorError):
    """An error answer of the API: HTTP status code, Kubernetes reason and a Status body."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    def status_body(self) -> dict[str, Any]:
        """The ``v1 Status`` object the API server sends with an error code."""
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
            "details": self.details,
        }


def _details(kind: str, group: str, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind, "group": group}
    if name is not None:
        details["name"] = name
    return details


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{_qualified(plural, group)} "{name}" not found', _details(plural, group, name)
    )


def unknown_resource(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})", {})


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(plural, group)} "{name}" already exists',
        _details(plural, group, name),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(plural, group, name))


def invalid(kind: str, group: str, name: str | None, causes: Sequence[FieldCause]) -> ApiError:
    """422 with every offending field named, the shape ``kubectl`` prints for schema violations."""
    listed = ", ".join(f"{cause.field}: {cause.message}" for cause in causes)
    qualified = f"{kind}.{group}" if group else kind
    details = _details(kind, group, name)
    details["causes"] = [
        {"reason": cause.reason, "message": cause.message, "field": cause.field} for cause in causes
    ]
    return ApiError(422, "Invalid", f'{qualified} "{name or ""}" is invalid: {listed}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message, {})


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "Forbidden", message, {})


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format: "
        f"accepted media types include: application/json-patch+json, "
        f"application/merge-patch+json, application/apply-patch+yaml (got {content_type})",
        {},
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message, {})
