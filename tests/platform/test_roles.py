"""Who may open which page: anonymous, annotator, data manager, admin."""

import pytest
from django.urls import reverse

from paddock.platform.accounts.models import Role, User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name", ["home", "console:home", "annotation:workspace"])
def test_anonymous_users_are_redirected_to_login(client, url_name):
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_annotator_gets_403_on_the_data_manager_console(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    response = client.get(reverse("console:home"))
    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.DATA_MANAGER, Role.ADMIN])
def test_managers_and_admins_open_the_console(client, make_user, role):
    from paddock.workers.models import Job

    Job.objects.create(task_name="curation.ingest", queue="curation", label="Ingest C4 sample")
    client.force_login(make_user(role))
    response = client.get(reverse("console:home"))
    assert response.status_code == 200
    assert b"Background jobs" in response.content and b"Ingest C4 sample" in response.content


def test_data_manager_gets_403_on_the_annotator_workspace(client, make_user):
    client.force_login(make_user(Role.DATA_MANAGER))
    assert client.get(reverse("annotation:workspace")).status_code == 403


@pytest.mark.parametrize(
    ("role", "destination"),
    [(Role.ANNOTATOR, "annotation:workspace"), (Role.DATA_MANAGER, "console:home")],
)
def test_home_sends_each_role_to_its_work(client, make_user, role, destination):
    client.force_login(make_user(role))
    response = client.get(reverse("home"))
    assert response["Location"] == reverse(destination)


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.DATA_MANAGER])
def test_django_admin_is_closed_to_everyone_but_admins(client, make_user, role):
    client.force_login(make_user(role))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admins_use_the_django_admin(client, make_user):
    client.force_login(make_user(Role.ADMIN))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_staff_flags_follow_the_role():
    user = User.objects.create_user("flip", role=Role.ADMIN)
    assert user.is_staff and user.is_superuser
    user.role = Role.ANNOTATOR
    user.save(update_fields=["role"])
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser
    assert User.objects.create_superuser("root", password="x").role == Role.ADMIN


def test_login_page_logs_in_and_redirects_by_role(client, make_user):
    user = make_user(Role.ANNOTATOR, password="correct-horse-7")
    assert client.get(reverse("login")).status_code == 200

    wrong = client.post(reverse("login"), {"username": user.username, "password": "nope"})
    assert wrong.status_code == 200 and b"didn't match" in wrong.content

    response = client.post(
        reverse("login"), {"username": user.username, "password": "correct-horse-7"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("annotation:workspace")
    assert b"Nothing to annotate right now" in response.content


def test_logout_needs_a_post_and_ends_the_session(client, make_user):
    client.force_login(make_user(Role.ANNOTATOR))
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_admins_see_jobs_in_the_admin_but_cannot_edit_them(client, make_user):
    from paddock.workers.models import Job

    job = Job.objects.create(task_name="tests.count_words", queue="default", label="demo")
    client.force_login(make_user(Role.ADMIN))
    assert client.get("/admin/workers/job/").status_code == 200
    page = client.get(f"/admin/workers/job/{job.pk}/change/")
    assert page.status_code == 200 and b"demo" in page.content
    assert client.post(f"/admin/workers/job/{job.pk}/change/", {"label": "x"}).status_code == 403
