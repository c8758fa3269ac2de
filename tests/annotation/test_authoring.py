"""Write-a-prompt mode and continuing a conversation from the chosen response."""

import pytest

from paddock.annotation.generation import StandInGenerator
from paddock.annotation.models import Axis, Conversation, Judgement, Strength
from paddock.annotation.services.assignment import (
    InvalidJudgement,
    next_assignment,
    submit_judgement,
)
from paddock.annotation.services.authoring import conversation_continue, prompt_submit
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch

pytestmark = pytest.mark.django_db


def test_own_prompt_is_leased_to_its_author_and_continued_from_the_choice(make_user):
    author = make_user(Role.ANNOTATOR)
    batch = make_batch(model_versions=["policy-v2", "policy-v1"])
    lease = prompt_submit(annotator=author, batch=batch, message="How do I brew tea?",
                          generator=StandInGenerator())
    comparison = lease.comparison
    assert lease.annotator == author
    assert {comparison.response_a.model_version, comparison.response_b.model_version} == {
        "stand-in:policy-v2", "stand-in:policy-v1"}
    assert "no model was run" in comparison.response_a.text

    judgement = submit_judgement(annotator=author, assignment_id=lease.pk, chosen_side="right",
                                 strength=Strength.SLIGHTLY_BETTER).judgement
    follow_up = conversation_continue(annotator=author, judgement=judgement,
                                      message="And green tea?", generator=StandInGenerator())
    turns = list(follow_up.comparison.conversation.turns.values_list("role", "content"))
    assert turns == [("user", "How do I brew tea?"), ("assistant", judgement.chosen.text),
                     ("user", "And green tea?")]
    assert follow_up.comparison.conversation.continues == comparison
    # Other annotators' queues never serve it to the author, but do serve it to others.
    assert next_assignment(annotator=author).pk == follow_up.pk
    other = make_user(Role.ANNOTATOR)
    assert next_assignment(annotator=other) is None  # overlap 1: the author holds it


def test_safety_prompts_need_a_risk_category_and_keep_it_when_continued(make_user):
    author = make_user(Role.ANNOTATOR)
    batch = make_batch()
    with pytest.raises(InvalidJudgement, match="risk category"):
        prompt_submit(annotator=author, batch=batch, message="x", axis=Axis.SAFETY,
                      generator=StandInGenerator())
    lease = prompt_submit(annotator=author, batch=batch, message="How to pick a lock?",
                          axis=Axis.SAFETY, risk_category="illicit_criminal",
                          generator=StandInGenerator())
    judgement = submit_judgement(annotator=author, assignment_id=lease.pk, chosen_side="left",
                                 strength=Strength.BETTER, left_safe=True,
                                 right_safe=False).judgement
    follow_up = conversation_continue(annotator=author, judgement=judgement, message="Why not?",
                                      generator=StandInGenerator())
    conversation = follow_up.comparison.conversation
    assert (conversation.axis, conversation.risk_category) == ("safety", "illicit_criminal")


def test_nobody_continues_someone_elses_judgement(make_user):
    author, other = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    batch = make_batch()
    lease = prompt_submit(annotator=author, batch=batch, message="Hi", generator=StandInGenerator())
    judgement = submit_judgement(annotator=author, assignment_id=lease.pk, chosen_side="left",
                                 strength=Strength.BETTER).judgement
    with pytest.raises(Judgement.DoesNotExist):
        conversation_continue(annotator=other, judgement=judgement, message="x",
                              generator=StandInGenerator())
    assert Conversation.objects.count() == 1
