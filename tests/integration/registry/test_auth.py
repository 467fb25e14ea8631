"""Bearer-token authorization: 401 with the right challenge, 403 DENIED, and what each action allows."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from support.oci_client import FlaskTransport, OCIClient, digest_of, expect
from support.tokens import access, catalog


def challenge(reply) -> str:
    assert reply.status == 401
    assert reply.error_codes == ["UNAUTHORIZED"]
    return reply.headers["WWW-Authenticate"]


def test_base_endpoint_needs_a_valid_token(registry):
    anonymous = registry.anonymous()
    first_ping = anonymous.request("GET", "/v2/")
    assert first_ping.headers["Docker-Distribution-API-Version"] == "registry/2.0"  # docker checks it on the 401
    header = challenge(first_ping)
    assert header == 'Bearer realm="https://registry.example.test/service/token",service="berth-registry"'
    ok = registry.client()  # a token without any access is still a login
    reply = ok.ping()
    assert reply.json() == {}


def test_challenge_names_the_scope(registry):
    repo = registry.repo()
    anonymous = registry.anonymous()
    assert challenge(anonymous.get_manifest(repo, "latest")).endswith(f'scope="repository:{repo}:pull"')
    assert challenge(anonymous.request("POST", f"/v2/{repo}/blobs/uploads/")).endswith(f'scope="repository:{repo}:pull,push"')
    assert challenge(anonymous.delete_manifest(repo, "latest")).endswith(f'scope="repository:{repo}:delete"')
    assert challenge(anonymous.catalog()).endswith('scope="registry:catalog:*"')


@pytest.mark.parametrize(
    "mutation",
    [
        {"ttl": -120},  # expired beyond the leeway
        {"issuer": "someone-else"},
        {"audience": "another-registry"},
        {"not_before": time.time() + 3600},
        {"private_key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
        {"algorithm": "HS256"},
    ],
    ids=["expired", "issuer", "audience", "not-before", "foreign-key", "hs256"],
)
def test_bad_tokens_are_rejected(registry, mutation):
    repo = registry.repo()
    if mutation.get("algorithm") == "HS256":
        import jwt

        token = jwt.encode(
            {"iss": "berth-token-issuer", "aud": "berth-registry", "exp": int(time.time()) + 60, "access": []}, "s" * 32, algorithm="HS256"
        )
    else:
        token = registry.keys.mint([access(repo, "*")], **mutation)
    client = OCIClient(FlaskTransport(registry.app.test_client()), token=token)
    header = challenge(client.get_manifest(repo, "latest"))
    assert 'error="invalid_token"' in header
    assert challenge(client.request("GET", "/v2/"))


def test_garbage_authorization_headers(registry):
    client = registry.anonymous()
    for value in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000):
        reply = client.request("GET", "/v2/", headers={"Authorization": value})
        assert reply.status == 401


def test_pull_only_token_cannot_push_or_delete(registry):
    repo = registry.repo()
    pusher = registry.client(repo)
    digest, _ = pusher.push_image(repo, "v1", [b"layer"])
    reader = registry.client(repo, actions=["pull"])

    expect(reader.get_manifest(repo, "v1"), 200)
    for reply in (
        reader.request("POST", f"/v2/{repo}/blobs/uploads/"),
        reader.request("PUT", f"/v2/{repo}/manifests/v2", headers={"Content-Type": "application/json"}, body=b"{}"),
        reader.delete_manifest(repo, digest),
        reader.delete_blob(repo, digest),
    ):
        assert reply.status == 403
        assert reply.error_codes == ["DENIED"]


def test_push_does_not_imply_pull_or_delete(registry):
    repo = registry.repo()
    pusher = registry.client(repo, actions=["push"])
    digest = pusher.push_blob(repo, b"data")
    assert pusher.get_blob(repo, digest).error_codes == ["DENIED"]
    assert pusher.delete_blob(repo, digest).error_codes == ["DENIED"]
    deleter = registry.client(repo, actions=["delete"])
    assert deleter.delete_blob(repo, digest).status == 202


def test_access_to_one_repository_is_not_access_to_another(registry):
    mine, theirs = registry.repo(), registry.repo()
    registry.client(theirs).push_image(theirs, "v1", [b"x"])
    client = registry.client(mine)
    assert client.get_manifest(theirs, "v1").error_codes == ["DENIED"]
    assert client.tags(theirs).error_codes == ["DENIED"]
    assert client.referrers(theirs, digest_of(b"x")).error_codes == ["DENIED"]


def test_catalog_grant(registry):
    assert registry.client(with_catalog=True).catalog().status == 200
    token = registry.keys.mint([{"type": "registry", "name": "catalog", "actions": ["pull"]}])
    client = OCIClient(FlaskTransport(registry.app.test_client()), token=token)
    assert client.catalog().error_codes == ["DENIED"]
    client = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.keys.mint([catalog()]))
    assert client.catalog().status == 200


def test_token_source_answers_challenges(registry):
    """The client side of the flow: a challenge names the scope, a token for it succeeds."""
    repo = registry.repo()
    scopes = []

    def token_source(scope: str) -> str:
        scopes.append(scope)
        name, actions = scope.split(":")[1], scope.split(":")[2].split(",")
        return registry.keys.mint([access(name, *actions)])

    client = OCIClient(FlaskTransport(registry.app.test_client()), token_source=token_source)
    client.push_blob(repo, b"via challenge")
    assert scopes[0] == f"repository:{repo}:pull,push"


def test_anonymous_token_without_the_action_is_challenged_not_denied(registry):
    """Harbor's answer to an anonymous pull of a private repository: 401, so clients log in."""
    repo = registry.repo()
    registry.client(repo).push_image(repo, "v1", [b"private"])
    anonymous = OCIClient(FlaskTransport(registry.app.test_client()), token=registry.keys.mint([], sub=""))
    reply = anonymous.get_manifest(repo, "v1")
    header = challenge(reply)
    assert 'error="insufficient_scope"' in header and f'scope="repository:{repo}:pull"' in header
    assert challenge(anonymous.catalog()).count("registry:catalog:*") == 1
    # A signed-in user without the grant is refused outright.
    assert registry.client(registry.repo()).get_manifest(repo, "v1").error_codes == ["DENIED"]
