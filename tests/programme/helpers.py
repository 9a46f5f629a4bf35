from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Membership, User
from chaoyun.identity.permissions import Actor


def actor(db: Session, username: str) -> Actor:
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)).scalars().first()
    assert m is not None
    return Actor(user=user, membership=m)
