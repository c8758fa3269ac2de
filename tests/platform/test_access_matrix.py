"""Who gets in where: every URL of the project against every role, and CSRF on every write.

``MATRIX`` has one entry per (URL name, method) with the status each caller gets:
anonymous, two annotators (A owns the assignment, judgement and write-a-prompt request the
URLs point at; B does not), a data manager and an admin. ``test_every_url_is_classified``
walks the project's whole URL tree, so a new URL fails the suite until it is added here.
The Django admin is one entry (``admin:index``) plus a rule: every ``admin:`` URL is for
admins only, which ``test_admin_urls_are_for_admins_only`` checks on each model's pages.

Conventions the statuses follow: anonymous browser pages redirect (302) to the log-in page,
the API answers 401; a wrong role gets 403; another annotator's object answers 404 (as a
missing one does, so an id confirms nothing). Object-owned endpoints are also checked
one by one below with their side effects (``test_annotator_b_*``). Other walks of the same
ground, with more detail on each page: tests/annotation/test_api.py (ENDPOINTS),
tests/platform/test_console.py (CONSOLE_URLS), test_console_pipelines.py, test_roles.py and
tests/curation/test_views.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token

from paddock.annotation.models import Assignment, Judgement
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.curation.models import (
    DomainRule,
    Source,
    SourceFormat,
    SourceStatus,
)
from paddock.curation.services import runs as curation_runs
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job, PipelineRun, RunState
from tests.annotation.factories import make_batch, make_comparisons
from tests.platform.test_console import CONSOLE_URLS

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "annotator_a", "annotator_b", "manager", "admin")
ROLE_OF = {
    "annotator_a": Role.ANNOTATOR, "annotator_b": Role.ANNOTATOR,
    "manager": Role.DATA_MANAGER, "admin": Role.ADMIN,
}
ADMIN_PREFIX = "admin:"
UNSAFE = ("post", "put", "patch", "delete")


# --- The objects the URLs point at --------------------------------------------------------


@dataclass
class World:
    users: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(make_user, settings, tmp_path, monkeypatch) -> Iterator[World]:
    settings.ARTIFACTS_DIR = tmp_path  # exports and uploads of this test only
    # /healthz is public by design; what it reports (Redis, workers) is not under test here.
    monkeypatch.setattr("paddock.platform.health.views.platform_health",
                        lambda **kwargs: {"status": "ok", "checks": {}})
    cache.clear()  # log-in attempts below count towards the log-in limits
    users = {role: make_user(ROLE_OF[role]) for role in ROLE_OF}
    users["anonymous"] = None
    annotator_a, manager = users["annotator_a"], users["manager"]

    batch = make_batch(overlap=2)
    make_comparisons(batch, 3)
    # A's judgement (to continue from) and A's open lease (to submit or skip).
    first = next_assignment(annotator=annotator_a)
    judged = submit_judgement(annotator=annotator_a, assignment_id=first.pk,
                              chosen_side="left", strength="better")
    # A's write-a-prompt request, as the API makes it (its worker never runs here). Made
    # before A's open lease: a prompt hands back the comparison its author had open.
    client = Client()
    client.force_login(annotator_a)
    accepted = client.post(reverse("annotation-api:prompts"),
                           json.dumps({"message": "How do tides work?"}),
                           content_type="application/json")
    assert accepted.status_code == 202, accepted.content
    # Made an hour ago, so it no longer fills A's one open prompt (the quota is
    # tests/security/test_prompt_quotas.py's): here each request is asked whether A may.
    Job.objects.filter(pk=accepted.json()["request"]).update(
        created_at=timezone.now() - timedelta(hours=1))
    lease = next_assignment(annotator=annotator_a)

    source = Source.objects.create(name="web", path=str(tmp_path / "web.jsonl"),
                                   format=SourceFormat.JSONL, fingerprint="f" * 64,
                                   status=SourceStatus.READY)
    values = {
        "batch": batch.pk,
        "assignment": lease.pk,
        "judgement": judged.judgement.pk,
        "prompt_request": accepted.json()["request"],
        "job": Job.objects.create(task_name="tests.count_words", queue="default",
                                  label="demo").pk,
        "run": PipelineRun.objects.create(batch=batch).pk,
        # A failed run of another batch, to re-run (the run above is active).
        "finished_run": PipelineRun.objects.create(batch=make_batch(),
                                                   state=RunState.FAILED).pk,
        "curation_run": curation_runs.run_create(name="people", sources=[source],
                                                 created_by=manager).pk,
        "source": source.pk,
        "rule": DomainRule.objects.create(domain="example.org", action="block").pk,
    }
    yield World(users=users, values=values)
    cache.clear()


# --- The matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    method: str
    expected: dict[str, int]  # role -> status
    args: tuple[str, ...] = ()  # World.values keys, or literal path arguments
    body: dict | None = None
    api: bool = False  # JSON body (the REST API), else a form post
    multipart: bool = False

    @property
    def id(self) -> str:
        return f"{self.method}-{self.name}"

    def url(self, world: World) -> str:
        return reverse(self.name, args=[world.values.get(arg, arg) for arg in self.args])

    def send(self, client: Client, world: World, **extra) -> Any:
        url = self.url(world)
        # A callable value (an upload) is made afresh for each request.
        body = {key: value() if callable(value) else value
                for key, value in (self.body or {}).items()}
        if self.method == "get":
            return client.get(url, body, **extra)
        send = getattr(client, self.method)
        if self.api and not self.multipart:
            return send(url, json.dumps(body), content_type="application/json", **extra)
        if self.method == "post":
            return send(url, body, **extra)
        return send(url, **extra)


def statuses(anonymous, annotator_a, annotator_b, manager, admin) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, annotator_a, annotator_b, manager, admin), strict=True))


def everyone(status: int) -> dict[str, int]:
    return statuses(status, status, status, status, status)


def annotator_api(name, method, status, *, args=(), body=None) -> Entry:
    """For annotators (and admins, who may act in every role); nobody's objects."""
    return Entry(name, method, statuses(401, status, status, 403, status), args, body, api=True)


def owned_api(name, method, status, *, args, body=None) -> Entry:
    """About annotator A's own object: B and the admin get 404, like a missing id."""
    return Entry(name, method, statuses(401, status, 404, 403, 404), args, body, api=True)


def manager_api(name, method, status, *, args=(), body=None, multipart=False) -> Entry:
    return Entry(name, method, statuses(401, 403, 403, status, status), args, body, api=True,
                 multipart=multipart)


def manager_page(name, method, status, *, args=(), body=None) -> Entry:
    return Entry(name, method, statuses(302, 403, 403, status, status), args, body)


MATRIX: list[Entry] = [
    # Everyone's pages.
    Entry("home", "get", everyone(302)),  # to the log-in page, or to each role's work
    Entry("healthz", "get", everyone(200)),  # for load balancers: status only, no data
    Entry("login", "get", statuses(200, 302, 302, 302, 302)),
    Entry("login", "post", statuses(200, 302, 302, 302, 302),
          body={"username": "nobody", "password": "wrong"}),
    Entry("logout", "get", everyone(405)),
    Entry("logout", "post", everyone(302)),
    # The annotator's workspace and API.
    Entry("annotation:workspace", "get", statuses(302, 200, 200, 403, 200)),
    annotator_api("annotation-api:next", "post", 200),
    annotator_api("annotation-api:my-judgements", "get", 200),
    annotator_api("annotation-api:progress", "get", 200),
    annotator_api("annotation-api:prompts", "post", 202, body={"message": "Why is the sky blue?"}),
    owned_api("annotation-api:submit", "post", 201, args=("assignment",),
              body={"chosen": "left", "strength": "better"}),
    owned_api("annotation-api:skip", "post", 201, args=("assignment",), body={"reason": "unclear"}),
    owned_api("annotation-api:release", "post", 204, args=("assignment",)),
    owned_api("annotation-api:continue", "post", 202, args=("judgement",),
              body={"message": "And at the equator?"}),
    owned_api("annotation-api:prompt-status", "get", 200, args=("prompt_request",)),
    # The data manager's API.
    manager_api("annotation-api:batches", "get", 200),
    manager_api("annotation-api:batches", "post", 201, body={"name": "week 2"}),
    manager_api("annotation-api:batch", "get", 200, args=("batch",)),
    manager_api("annotation-api:batch", "patch", 200, args=("batch",), body={"overlap": 3}),
    manager_api("annotation-api:batch-status", "post", 200, args=("batch",),
                body={"status": "closed"}),
    manager_api("annotation-api:batch-stats", "get", 200, args=("batch",)),
    manager_api("annotation-api:batch-export", "get", 404, args=("batch",)),  # none finished
    manager_api("annotation-api:batch-export", "post", 202, args=("batch",), body={"kind": "raw"}),
    manager_api("annotation-api:batch-import", "post", 202, args=("batch",), multipart=True,
                body={"file": lambda: SimpleUploadedFile("p.jsonl", b'{"prompt": "Hi"}\n'),
                      "kind": "prompts"}),
    manager_api("annotation-api:batch-judgements", "get", 200, args=("batch",)),
    manager_api("annotation-api:judgement", "get", 200, args=("judgement",)),
    manager_api("annotation-api:judgement-mark", "post", 201, args=("judgement",),
                body={"state": "review", "reason": "strength looks off"}),
    manager_api("api-job", "get", 200, args=("job",)),
    # The weekly cycle: the batch's active run answers a start (200).
    manager_api("annotation-api:batch-pipeline", "post", 200, args=("batch",), body={}),
    manager_api("api-pipeline-run", "get", 200, args=("run",)),
    manager_api("api-pipeline-run-cancel", "post", 200, args=("run",), body={}),
    manager_api("api-pipeline-run-rerun", "post", 202, args=("finished_run",),
                body={"from_step": "close_batch"}),
    manager_api("api-curation-run-start", "post", 202, args=("curation_run",),
                body={}),
    # The schema maps every endpoint: data managers and admins only (SERVE_PERMISSIONS).
    Entry("api-schema", "get", statuses(401, 403, 403, 200, 200), api=True),
    # The interactive API page (Swagger UI): the same people as the schema it shows.
    Entry("api-docs", "get", statuses(302, 403, 403, 200, 200)),
    # The console: every URL of test_console.CONSOLE_URLS, with its status for managers.
    *(manager_page(name, method, status, args=args, body=body)
      for method, name, args, body, status in CONSOLE_URLS),
    manager_page("console:batch_edit", "post", 200, args=("batch",), body={"name": ""}),
    # Curation.
    manager_page("curation:home", "get", 200),
    manager_page("curation:ingest", "post", 302,  # refused (outside the ingest roots), back home
                 body={"path": "/no/such/file.jsonl", "name": "x", "format": "auto"}),
    manager_page("curation:run_create", "post", 302, body={}),  # refused, back home
    manager_page("curation:run", "get", 200, args=("curation_run",)),
    manager_page("curation:run_start", "post", 302, args=("curation_run",)),
    manager_page("curation:run_progress", "get", 200, args=("curation_run",)),
    manager_page("curation:source_problems", "get", 200, args=("source",)),
    manager_page("curation:domain_rule_set", "post", 302,
                 body={"domain": "lookup-people.example", "action": "block"}),
    manager_page("curation:domain_rule_delete", "post", 302, args=("rule",)),
    # The Django admin: this entry, and every other admin: URL by the ADMIN_PREFIX rule.
    Entry("admin:index", "get", statuses(302, 302, 302, 302, 200)),
]


def url_names(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[str]:
    """Every URL pattern's namespaced name (unnamed ones by their route), recursively."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or f'<unnamed {pattern.pattern}>'}"


def is_static(name: str) -> bool:
    prefixes = [p.strip("/") for p in (django_settings.STATIC_URL, django_settings.MEDIA_URL) if p]
    return name.startswith("<unnamed ") and any(
        name.removeprefix("<unnamed ").startswith(prefix) for prefix in prefixes if prefix
    )


def test_every_url_is_classified():
    """A new URL must say who may reach it: add it to MATRIX (admin: URLs excepted)."""
    names = {name for name in url_names() if not is_static(name)}
    classified = {entry.name for entry in MATRIX}
    missing = sorted(n for n in names - classified if not n.startswith(ADMIN_PREFIX))
    if missing:
        print("URL patterns missing from the access matrix:", *missing, sep="\n  ")
    assert missing == [], f"unclassified URLs, add them to MATRIX: {missing}"
    assert classified <= names, f"stale MATRIX entries: {sorted(classified - names)}"
    assert "admin:index" in names and len(MATRIX) == len({e.id for e in MATRIX})


def client_for(world: World, role: str, **defaults) -> Client:
    client = Client(**defaults)
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("entry", MATRIX, ids=[entry.id for entry in MATRIX])
def test_access_matrix(world, entry, role):
    response = entry.send(client_for(world, role), world)
    assert response.status_code == entry.expected[role], (
        f"{entry.method.upper()} {entry.name} as {role}: {response.status_code}, "
        f"expected {entry.expected[role]}: {response.content[:300]!r}"
    )
    if role == "anonymous" and response.status_code == 302 and entry.name != "logout":
        login = "/admin/login/" if entry.name.startswith(ADMIN_PREFIX) else reverse("login")
        assert response["Location"].startswith(login)


# --- Annotator B and annotator A's objects, with their side effects ---------------------


def api_post(client: Client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_annotator_b_cannot_submit_or_skip_annotator_as_assignment(world):
    b = client_for(world, "annotator_b")
    assignment_id = world.values["assignment"]
    before = Assignment.objects.values().get(pk=assignment_id)
    judgements = Judgement.objects.count()
    for name, body in (("annotation-api:submit", {"chosen": "left", "strength": "better"}),
                       ("annotation-api:skip", {"reason": "nope"}),
                       ("annotation-api:release", None)):
        response = api_post(b, reverse(name, args=[assignment_id]), body)
        assert response.status_code == 404
        assert str(assignment_id) not in response.content.decode()
        # The same answer as an id that does not exist: a 404 confirms nothing.
        missing = api_post(b, reverse(name, args=[assignment_id + 10_000]), body)
        assert (missing.status_code, missing.json()) == (404, response.json())
    assert Assignment.objects.values().get(pk=assignment_id) == before
    assert Judgement.objects.count() == judgements
    # A's own lease still works.
    a = client_for(world, "annotator_a")
    submitted = api_post(a, reverse("annotation-api:submit", args=[assignment_id]),
                         {"chosen": "right", "strength": "better"})
    assert submitted.status_code == 201


def test_annotator_b_cannot_continue_from_annotator_as_judgement(world):
    b = client_for(world, "annotator_b")
    jobs = Job.objects.count()
    url = reverse("annotation-api:continue", args=[world.values["judgement"]])
    response = api_post(b, url, {"message": "Tell me more"})
    assert response.status_code == 404
    assert Job.objects.count() == jobs  # nothing was queued for B
    mine = b.get(reverse("annotation-api:my-judgements"))
    assert mine.status_code == 200 and mine.json() == []  # A's judgement is not listed to B


def test_annotator_b_cannot_read_annotator_as_prompt_status(world):
    url = reverse("annotation-api:prompt-status", args=[world.values["prompt_request"]])
    assert client_for(world, "annotator_b").get(url).status_code == 404
    own = client_for(world, "annotator_a").get(url)
    assert own.status_code == 200 and own.json()["request"] == world.values["prompt_request"]
    # Nor may a data manager read it here (the console's job pages are theirs).
    assert client_for(world, "manager").get(url).status_code == 403


# --- The admin: every admin: URL is for admins only -------------------------------------


def admin_urls() -> list[str]:
    """The admin's pages that need no object id: index, each app and each model's list and
    add form (the change/delete/history pages go through the same admin_view check)."""
    urls = []
    for name in sorted(set(url_names())):
        if not name.startswith(ADMIN_PREFIX) or name in ("admin:login", "admin:logout"):
            continue
        short = name.removeprefix(ADMIN_PREFIX)
        if name.endswith(("_changelist", "_add")) or short in (
            "index", "password_change", "password_change_done", "autocomplete", "jsi18n"
        ):
            urls.append(reverse(name))
    urls += [reverse("admin:app_list", args=[label]) for label in ("accounts", "workers")]
    assert len(urls) > 10
    return urls


@pytest.mark.parametrize("role", ["anonymous", "annotator_a", "manager"])
def test_admin_urls_are_for_admins_only(world, role):
    client = client_for(world, role)
    for url in admin_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_admins_reach_the_admin_urls(world):
    client = client_for(world, "admin")
    for url in admin_urls():
        response = client.get(url)
        # 403 where a model's admin allows no adding (jobs are the workers' to write).
        assert response.status_code in (200, 403), url
        assert not response.get("Location", "").startswith("/admin/login/"), url


# --- CSRF ---------------------------------------------------------------------------------

UNSAFE_ENTRIES = [entry for entry in MATRIX if entry.method in UNSAFE]


def csrf_role(entry: Entry) -> str:
    """Someone whose request would be accepted (below 400) when it carries its token."""
    for role in ("annotator_a", "manager", "admin", "anonymous"):
        if entry.expected[role] < 400:
            return role
    raise AssertionError(f"{entry.id}: nobody is allowed, nothing to check")


def with_csrf_token(client: Client) -> dict[str, str]:
    token = get_random_string(32)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    return {"HTTP_X_CSRFTOKEN": token}


def test_every_write_is_checked_for_csrf():
    assert {e.name for e in UNSAFE_ENTRIES} >= {
        "login", "logout", "annotation-api:submit", "annotation-api:prompts",
        "console:batch_move", "curation:domain_rule_delete",
    }


@pytest.mark.parametrize("entry", UNSAFE_ENTRIES, ids=[entry.id for entry in UNSAFE_ENTRIES])
def test_writes_without_a_csrf_token_are_refused(world, entry):
    """With the session cookie of a user who may make the request, but no CSRF token: 403
    (Django's middleware on pages; DRF's SessionAuthentication on the API). The same
    request with the token then gets the matrix's status: the 403 was the missing token."""
    role = csrf_role(entry)
    client = client_for(world, role, enforce_csrf_checks=True)
    refused = entry.send(client, world)
    assert refused.status_code == 403, (role, refused.status_code, refused.content[:300])
    assert b"CSRF" in refused.content
    allowed = entry.send(client, world, **with_csrf_token(client))
    assert allowed.status_code == entry.expected[role], (role, allowed.content[:300])


def test_token_clients_need_no_csrf_token(world):
    """API tokens are exempt by design: a script's Authorization header is not something
    a browser attaches on its own, so a forged cross-site request cannot carry it (DRF's
    TokenAuthentication does not check CSRF; SessionAuthentication does)."""
    client = Client(enforce_csrf_checks=True)
    token = Token.objects.create(user=world.users["annotator_a"])
    response = client.post(reverse("annotation-api:next"),
                           HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["assignment_id"] == world.values["assignment"]
    manager = Token.objects.create(user=world.users["manager"])
    created = client.post(reverse("annotation-api:batches"), json.dumps({"name": "by script"}),
                          content_type="application/json",
                          HTTP_AUTHORIZATION=f"Token {manager.key}")
    assert created.status_code == 201

