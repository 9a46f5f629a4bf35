from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

PDF = b"%PDF-1.4\n% evidence\n"


def actor_of(db: Session, username: str) -> Any:
    from chaoyun.identity.models import User
    from chaoyun.identity.permissions import Actor

    user = db.execute(select(User).where(User.username == username)).scalar_one()
    return Actor(user=user, membership=user.memberships[0])


@pytest.fixture()
def city(db: Session) -> Any:
    return actor_of(db, "city")


@pytest.fixture()
def chenghai(db: Session) -> Any:
    return actor_of(db, "chenghai")


@pytest.fixture()
def chaonan(db: Session) -> Any:
    return actor_of(db, "chaonan")


@pytest.fixture()
def factory(db: Session) -> Any:
    return actor_of(db, "factory")


@pytest.fixture()
def factory2(db: Session) -> Any:
    return actor_of(db, "factory2")
