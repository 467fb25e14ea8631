"""The grammar of what clients may name: repositories, tags, digests and upload ids.

Everything that later becomes part of a SQL parameter or a storage path passes through here
first, so a name, tag or digest can never reach outside the storage root (``..``, slashes in a
digest, an upload id that is not a UUID are all rejected before anything else happens).
"""

from __future__ import annotations

import dataclasses
import re
import uuid

# Patterns are used with fullmatch (``$`` would accept a trailing newline).
# distribution-spec: <name> components separated by "/", each [a-z0-9]+ joined by ., _, __ or -+
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})+")
TAG_PATTERN = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_PATTERN = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
REPOSITORY_MAX_LENGTH = 255


class InvalidName(ValueError):
    """The string does not follow the grammar; the message says which rule it breaks."""


class InvalidRepositoryName(InvalidName):
    pass


class InvalidDigest(InvalidName):
    pass


class InvalidTag(InvalidName):
    pass


class InvalidUploadId(InvalidName):
    pass


@dataclasses.dataclass(frozen=True)
class RepositoryName:
    """A validated repository name; ``project`` is its first component (Harbor's project)."""

    full: str

    @property
    def project(self) -> str:
        return self.full.split("/", 1)[0]

    @property
    def short(self) -> str:
        """The name inside the project (Harbor's ``name`` in webhook payloads)."""
        return self.full.split("/", 1)[1]

    def __str__(self) -> str:
        return self.full


def repository(name: str) -> RepositoryName:
    """Validate a repository name such as ``project/a/b``; raises InvalidRepositoryName."""
    if len(name) > REPOSITORY_MAX_LENGTH:
        raise InvalidRepositoryName(f"repository name is longer than {REPOSITORY_MAX_LENGTH} characters")
    if not REPOSITORY_PATTERN.fullmatch(name):
        if "/" not in name:
            raise InvalidRepositoryName("repository name must be <project>/<name>")
        raise InvalidRepositoryName(f"invalid repository name {name!r}")
    return RepositoryName(name)


def is_digest(value: str) -> bool:
    return DIGEST_PATTERN.fullmatch(value) is not None


def digest(value: str) -> str:
    """Validate ``sha256:<64 hex>`` or ``sha512:<128 hex>``; raises InvalidDigest."""
    if not DIGEST_PATTERN.fullmatch(value):
        raise InvalidDigest(f"invalid digest {value!r}: expected sha256:<64 hex> or sha512:<128 hex>")
    return value


def tag(value: str) -> str:
    """Validate a tag; raises InvalidTag."""
    if not TAG_PATTERN.fullmatch(value):
        raise InvalidTag(f"invalid tag {value!r}")
    return value


def upload_id(value: str) -> uuid.UUID:
    """Parse an upload session id (a UUID); raises InvalidUploadId."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidUploadId(f"invalid upload id {value!r}") from None
    if str(parsed) != value:  # only the canonical form we hand out
        raise InvalidUploadId(f"invalid upload id {value!r}")
    return parsed
