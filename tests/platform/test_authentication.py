"""The one-statement token authentication behaves like DRF's."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from paddock.platform.accounts.authentication import FastTokenAuthentication
from paddock.platform.accounts.models import Role

pytestmark = pytest.mark.django_db


def test_a_token_yields_its_user_with_role_and_lazy_other_fields(make_user):
    user = make_user(Role.DATA_MANAGER)
    user.email = "dana@example.org"
    user.save()
    token = Token.objects.create(user=user)
    found, auth = FastTokenAuthentication().authenticate_credentials(token.key)
    assert (found.pk, found.username, found.role, auth) == (user.pk, user.username,
                                                            Role.DATA_MANAGER, token.key)
    assert found.is_data_manager and found.email == "dana@example.org"  # loaded on use


def test_unknown_tokens_and_inactive_users_are_refused(make_user):
    user = make_user(Role.ANNOTATOR)
    token = Token.objects.create(user=user)
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        FastTokenAuthentication().authenticate_credentials("nope")
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed, match="inactive"):
        FastTokenAuthentication().authenticate_credentials(token.key)
