"""Artifact API against real PostgreSQL: listing with Harbor's flags and q, get, delete, copy."""

from __future__ import annotations

import pytest

from support.content import (
    COSIGN_SIGNATURE,
    SBOM,
    CoreWorld,
    count_rows,
    make_project,
    outbox_events,
    push_accessory,
    push_image,
    push_index,
    quota_used,
    tag,
)


def _url(world: CoreWorld, repo: str = "app", suffix: str = "", project=None) -> str:
    project = project or world.private
    return f"/api/v2.0/projects/{project.name}/repositories/{repo}/artifacts{suffix}"


def _get(world: CoreWorld, url: str, who: str = "guest"):
    response = world.client.get(url, headers=world.headers(who))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


# ----------------------------------------------------------------------------------------------
# Reading


def test_list_shows_images_and_indexes_not_children_or_accessories(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1"])
        signature = push_accessory(cur, world.private, "app", image)
        sbom = push_accessory(cur, world.private, "app", image, artifact_type=SBOM)
        index, children = push_index(cur, world.private, "app", ["multi"])
        untagged = push_image(cur, world.private, "app")
    response = _get(world, _url(world) + "?with_accessory=true")
    body = response.get_json()
    assert response.headers["X-Total-Count"] == "3"
    assert {a["digest"] for a in body} == {image.digest, index.digest, untagged.digest}
    by_digest = {a["digest"]: a for a in body}
    art = by_digest[image.digest]
    assert art["tags"][0]["name"] == "v1" and art["tags"][0]["immutable"] is False
    assert {a["digest"] for a in art["accessories"]} == {signature.digest, sbom.digest}
    types = {a["digest"]: a["type"] for a in art["accessories"]}
    assert types == {signature.digest: "signature.cosign", sbom.digest: "subject.accessory"}
    assert all(a["subject_artifact_digest"] == image.digest for a in art["accessories"])
    refs = by_digest[index.digest]["references"]
    assert {r["child_digest"] for r in refs} == {c.digest for c in children}
    assert {r["platform"]["architecture"] for r in refs} == {"amd64", "arm64"}
    assert by_digest[untagged.digest]["tags"] == []
    for key in ("id", "type", "media_type", "manifest_media_type", "project_id", "repository_id", "digest", "size",
                "push_time", "pull_time", "extra_attrs", "annotations", "references", "addition_links"):
        assert key in art
    assert art["size"] == image.size and art["extra_attrs"] == {"architecture": "amd64", "os": "linux"}


def test_children_with_their_own_tags_are_listed(world) -> None:
    with world.cursor() as cur:
        _index, children = push_index(cur, world.private, "app", ["multi"])
        tag(cur, children[0], "amd64-only")
    digests = {a["digest"] for a in _get(world, _url(world)).get_json()}
    assert children[0].digest in digests and children[1].digest not in digests


def test_flags_shape_the_output(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    plain = _get(world, _url(world) + "?with_tag=false").get_json()[0]
    assert "tags" not in plain and "accessories" not in plain and "labels" not in plain
    full = _get(world, _url(world) + "?with_tag=true&with_accessory=true&with_label=true&with_scan_overview=true").get_json()[0]
    assert full["tags"] and full["accessories"] == [] and full["labels"] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=tags%3D*", {"tagged", "both"}),
        ("q=tags%3Dnil", {"untagged"}),
        ("q=tags%3Dv1", {"tagged"}),
        ("q=tags%3D~rc", {"both"}),
        ("q=tags%3D%7Bv1%20rc-2%7D", {"tagged", "both"}),
        ("q=tags%3D(stable%20rc-2)", {"both"}),
        ("q=size%3D%5B5000~%5D", {"both"}),
        ("q=media_type%3Dapplication%2Fvnd.oci.image.config.v1%2Bjson", {"tagged", "untagged", "both"}),
    ],
)
def test_q_filters(world, query: str, expected: set[str]) -> None:
    with world.cursor() as cur:
        arts = {
            "tagged": push_image(cur, world.private, "app", ["v1"]),
            "untagged": push_image(cur, world.private, "app"),
            "both": push_image(cur, world.private, "app", ["rc-2", "stable"], layer_sizes=(9000,)),
        }
    names = {digest: name for name, digest in ((n, a.digest) for n, a in arts.items())}
    response = _get(world, f"{_url(world)}?{query}")
    assert {names[a["digest"]] for a in response.get_json()} == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


def test_sort_and_paging(world) -> None:
    with world.cursor() as cur:
        sizes = [push_image(cur, world.private, "app", [f"t{i}"], layer_sizes=(1000 * (i + 1),)).size for i in range(4)]
    page = _get(world, f"{_url(world)}?sort=-size&page=2&page_size=2").get_json()
    assert [a["size"] for a in page] == sorted(sizes, reverse=True)[2:]


@pytest.mark.parametrize(
    "query",
    ["with_tag=maybe", "with_accessory=2", "q=tags%3D%5Ba~b%5D", "q=labels%3D(1)", "sort=repository_id", "q=size%3D~1", "page_size=0"],
)
def test_bad_list_parameters_are_400(world, query: str) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.get(f"{_url(world)}?{query}", headers=world.headers("guest"))
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "BAD_REQUEST"


def test_get_by_tag_and_digest(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "a/b", ["v1"])
    by_tag = _get(world, _url(world, "a%252Fb", "/v1")).get_json()
    by_digest = _get(world, _url(world, "a%252Fb", f"/{image.digest}")).get_json()
    assert by_tag == by_digest and by_tag["id"] == image.id
    assert by_tag["repository_name"] == f"{world.private.name}/a/b"


@pytest.mark.parametrize(
    ("reference", "status"),
    [("v9", 404), ("sha256:" + "0" * 64, 404), ("..", 400), ("-x", 400), ("sha256:", 400), ("a" * 200, 400)],
)
def test_get_unknown_or_bad_reference(world, reference: str, status: int) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "app", ["v1"])
    response = world.client.get(_url(world, suffix=f"/{reference}"), headers=world.headers("guest"))
    assert response.status_code == status


def test_project_artifacts_span_repositories(world) -> None:
    with world.cursor() as cur:
        a = push_image(cur, world.private, "one", ["v1"])
        b = push_image(cur, world.private, "two", ["v1"])
        push_image(cur, world.public, "elsewhere", ["v1"])
    for ref in (world.private.name, str(world.private.project_id)):
        body = _get(world, f"/api/v2.0/projects/{ref}/artifacts?sort=repository_name").get_json()
        assert [x["digest"] for x in body] == [a.digest, b.digest]
    filtered = _get(world, f"/api/v2.0/projects/{world.private.name}/artifacts?q=repository_name%3D~two").get_json()
    assert [x["digest"] for x in filtered] == [b.digest]


def test_latest_in_repository(world) -> None:
    with world.cursor() as cur:
        push_image(cur, world.private, "one", ["old"])
        cur.execute("UPDATE artifacts SET push_time = now() - interval '1 hour' WHERE project_id = %s", (world.private.project_id,))
        newest = push_image(cur, world.private, "one", ["new"])
        other = push_image(cur, world.private, "two", ["v1"])
    url = f"/api/v2.0/projects/{world.private.name}/artifacts?latest_in_repository=true&q=media_type%3D~config"
    assert {x["digest"] for x in _get(world, url).get_json()} == {newest.digest, other.digest}


def test_accessories_endpoint(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1"])
        sig = push_accessory(cur, world.private, "app", image)
        push_accessory(cur, world.private, "app", image, artifact_type=SBOM)
    response = _get(world, _url(world, suffix="/v1/accessories?q=type%3Dsignature.cosign"))
    assert [a["digest"] for a in response.get_json()] == [sig.digest]
    assert response.headers["X-Total-Count"] == "1"
    all_of_them = _get(world, _url(world, suffix="/v1/accessories")).get_json()
    assert len(all_of_them) == 2 and all(a["subject_artifact_id"] == image.id for a in all_of_them)


# ----------------------------------------------------------------------------------------------
# Deleting


def test_delete_artifact_removes_tags_and_accessories_and_queues_event(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1", "latest"])
        signature = push_accessory(cur, world.private, "app", image)
        push_accessory(cur, world.private, "app", signature, artifact_type=COSIGN_SIGNATURE)  # signature of the signature
        other = push_image(cur, world.private, "app", ["v2"], shared_layers=())
        blobs = count_rows(cur, "blobs")
    response = world.client.delete(_url(world, suffix="/v1"), headers=world.headers("maintainer"))
    assert response.status_code == 200, response.get_data(as_text=True)
    full = f"{world.private.name}/app"
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "repository_name = %(n)s", {"n": full}) == 1
        assert count_rows(cur, "tags", "artifact_id = %(id)s", {"id": image.id}) == 0
        assert count_rows(cur, "blobs") == blobs  # left for garbage collection
        assert quota_used(cur, world.private) == other.size
        ((kind, payload),) = outbox_events(cur, full)
        cur.execute("SELECT operation, resource_type, resource, username FROM audit_log ORDER BY id DESC LIMIT 2")
        audit = set(cur.fetchall())
    assert kind == "DELETE_ARTIFACT"
    assert payload["type"] == "DELETE_ARTIFACT" and isinstance(payload["occur_at"], int)
    assert {r["tag"] for r in payload["event_data"]["resources"]} == {"v1", "latest"}
    assert all(r["digest"] == image.digest for r in payload["event_data"]["resources"])
    who = world.people["maintainer"].username
    assert audit == {("delete", "artifact", f"{full}:v1", who), ("delete", "artifact", f"{full}:latest", who)}
    assert payload["event_data"]["repository"]["date_created"] > 0
    assert world.client.get(_url(world, suffix=f"/{image.digest}"), headers=world.headers("guest")).status_code == 404


def test_shared_layers_stay_counted(world) -> None:
    with world.cursor() as cur:
        base = push_image(cur, world.private, "app", ["base"], layer_sizes=(5000,))
        cur.execute(
            "SELECT b.digest FROM blobs b JOIN artifact_blobs ab ON ab.blob_id = b.blob_id WHERE ab.artifact_id = %s AND b.size = 5000",
            (base.id,),
        )
        (layer,) = cur.fetchone()
        derived = push_image(cur, world.private, "other", ["v1"], layer_sizes=(10,), shared_layers=(layer,))
    assert world.client.delete(_url(world, suffix="/base"), headers=world.headers("admin")).status_code == 200
    with world.cursor() as cur:
        assert quota_used(cur, world.private) == derived.size  # the shared 5000-byte layer is still paid for once


def test_delete_index_removes_unshared_children_only(world) -> None:
    with world.cursor() as cur:
        index, children = push_index(cur, world.private, "app", ["multi"])
        # A second index shares the first child; the second child gets its own tag.
        push_index(cur, world.private, "app", ["other"], children=[children[0]])
        tag(cur, children[1], "arm64")
    assert world.client.delete(_url(world, suffix="/multi"), headers=world.headers("project_admin")).status_code == 200
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": index.id}) == 0
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": children[0].id}) == 1  # still in "other"
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": children[1].id}) == 1  # tagged itself


def test_delete_index_deletes_untagged_children(world) -> None:
    with world.cursor() as cur:
        index, children = push_index(cur, world.private, "app", ["multi"])
    assert world.client.delete(_url(world, suffix=f"/{index.digest}"), headers=world.headers("admin")).status_code == 200
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "artifact_id = ANY(%(ids)s)", {"ids": [c.id for c in children]}) == 0
        assert count_rows(cur, "artifact_references", "parent_id = %(id)s", {"id": index.id}) == 0


def test_child_of_an_index_cannot_be_deleted_alone(world) -> None:
    with world.cursor() as cur:
        _index, children = push_index(cur, world.private, "app", ["multi"])
    response = world.client.delete(_url(world, suffix=f"/{children[0].digest}"), headers=world.headers("admin"))
    assert response.status_code == 412
    assert response.get_json()["errors"][0]["code"] == "PRECONDITION"
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": children[0].id}) == 1
        assert outbox_events(cur, f"{world.private.name}/app") == []


def test_developer_cannot_delete_an_artifact(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "app", ["v1"])
        audit_before = count_rows(cur, "audit_log")
    response = world.client.delete(_url(world, suffix="/v1"), headers=world.headers("developer"))
    assert response.status_code == 403
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "artifact_id = %(id)s", {"id": image.id}) == 1
        assert count_rows(cur, "tags", "artifact_id = %(id)s", {"id": image.id}) == 1
        assert outbox_events(cur, f"{world.private.name}/app") == []
        assert count_rows(cur, "audit_log") == audit_before


# ----------------------------------------------------------------------------------------------
# Copying


def test_copy_by_tag_brings_tags_children_accessories_and_quota(world) -> None:
    with world.cursor() as cur:
        index, children = push_index(cur, world.public, "src", ["v1", "stable"])
        sig = push_accessory(cur, world.public, "src", index)
    source = f"{world.public.name}/src:v1"
    response = world.client.post(_url(world, "dst%252Fcopy") + f"?from={source}", headers=world.headers("developer"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/artifacts/v1")
    copied = _get(world, _url(world, "dst%252Fcopy", "/v1?with_accessory=true")).get_json()
    assert copied["digest"] == index.digest
    assert {t["name"] for t in copied["tags"]} == {"v1", "stable"}
    assert {r["child_digest"] for r in copied["references"]} == {c.digest for c in children}
    assert [a["digest"] for a in copied["accessories"]] == [sig.digest]
    with world.cursor() as cur:
        assert quota_used(cur, world.private) > 0
        events = outbox_events(cur, f"{world.private.name}/dst/copy")
        assert [kind for kind, _ in events] == ["PUSH_ARTIFACT"]
        cur.execute("SELECT operation, resource_type, resource, operation_description FROM audit_log ORDER BY id DESC LIMIT 2")
        rows = cur.fetchall()
    assert {r[2] for r in rows} == {f"{world.private.name}/dst/copy:v1", f"{world.private.name}/dst/copy:stable"}
    assert all(r[:2] == ("push", "artifact") and r[3].startswith(f"copied from {world.public.name}/src@") for r in rows)


def test_copy_by_digest_and_again_is_idempotent(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.private, "src", ["v1"])
    source = f"{world.private.name}/src@{image.digest}"
    for _ in range(2):
        assert world.client.post(_url(world, "dst") + f"?from={source}", headers=world.headers("admin")).status_code == 201
    with world.cursor() as cur:
        assert count_rows(cur, "artifacts", "repository_name = %(n)s", {"n": f"{world.private.name}/dst"}) == 1


def test_copy_over_quota_is_denied_and_writes_nothing(world) -> None:
    with world.cursor() as cur:
        small = make_project(cur, world.people["admin"], storage_limit=1000)
        push_image(cur, world.public, "big", ["v1"], layer_sizes=(50_000,))
    response = world.client.post(
        f"/api/v2.0/projects/{small.name}/repositories/copy/artifacts?from={world.public.name}/big:v1", headers=world.headers("admin")
    )
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "DENIED"
    with world.cursor() as cur:
        assert count_rows(cur, "repositories", "project_id = %(p)s", {"p": small.project_id}) == 0
        assert quota_used(cur, small) == 0
        assert outbox_events(cur, f"{small.name}/copy") == []


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("", 400),
        ("nope", 400),
        ("proj/repo", 400),
        ("proj/repo@v1", 400),
        ("../../etc/passwd:v1", 400),
        ("no-such-project/repo:v1", 404),
        ("{public}/missing:v1", 404),
        ("{public}/src:nope", 404),
    ],
)
def test_copy_bad_sources(world, source: str, status: int) -> None:
    with world.cursor() as cur:
        push_image(cur, world.public, "src", ["v1"])
    source = source.replace("{public}", world.public.name)
    response = world.client.post(_url(world, "dst") + f"?from={source}", headers=world.headers("admin"))
    assert response.status_code == status, response.get_data(as_text=True)
    with world.cursor() as cur:
        assert count_rows(cur, "repositories", "name = %(n)s", {"n": f"{world.private.name}/dst"}) == 0


def test_copy_of_an_accessory_is_denied(world) -> None:
    with world.cursor() as cur:
        image = push_image(cur, world.public, "src", ["v1"])
        sig = push_accessory(cur, world.public, "src", image)
    response = world.client.post(_url(world, "dst") + f"?from={world.public.name}/src@{sig.digest}", headers=world.headers("admin"))
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "DENIED"
