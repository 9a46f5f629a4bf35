"""The one permission mechanism: who is asking (Actor), what each role may do, what it may see.

Every route declares a ``Permission`` through ``chaoyun.web.deps.requires``; object-level scope
(own organisation, own district) is enforced by the ``visible_orgs`` filter and ``check_org_*``
helpers that service functions call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, true

from chaoyun.errors import Forbidden, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.models import ApiToken, Membership, Organisation, User
from chaoyun.identity.reference import OrgKind, Role


class Permission(StrEnum):
    PUBLIC = "public"  # anyone, logged in or not
    AUTHENTICATED = "authenticated"  # any logged-in user, own account only
    ORG_READ = "org.read"  # read organisations in scope
    ORG_WRITE = "org.write"  # edit organisations in scope
    ORG_APPROVE = "org.approve"  # approve self-registrations in scope
    DIRECTORY_READ = "directory.read"  # the government enterprise directory
    USERS_MANAGE = "users.manage"  # invite and deactivate people in scope
    AUDIT_READ = "audit.read"


_ALL_READ = {Permission.AUTHENTICATED, Permission.ORG_READ}
_ROLE_PERMISSIONS: dict[Role, set[str]] = {
    Role.PLATFORM_ADMIN: {str(p) for p in Permission} - {Permission.PUBLIC},
    Role.CITY_OFFICER: {
        *_ALL_READ,
        Permission.ORG_WRITE,
        Permission.ORG_APPROVE,
        Permission.DIRECTORY_READ,
        Permission.AUDIT_READ,
    },
    Role.DISTRICT_OFFICER: {*_ALL_READ, Permission.ORG_APPROVE, Permission.DIRECTORY_READ},
    Role.EXPERT: {*_ALL_READ, Permission.DIRECTORY_READ},
    # Evaluators read all programme data and change nothing.
    Role.EVALUATOR: {*_ALL_READ, Permission.DIRECTORY_READ, Permission.AUDIT_READ},
    Role.ENTERPRISE_ADMIN: {*_ALL_READ, Permission.ORG_WRITE, Permission.USERS_MANAGE},
    Role.ENTERPRISE_MEMBER: set(_ALL_READ),
    Role.PROVIDER_ADMIN: {*_ALL_READ, Permission.ORG_WRITE, Permission.USERS_MANAGE},
    Role.PROVIDER_MEMBER: set(_ALL_READ),
}
# Permissions that change state: API tokens need the "write" scope for them, evaluators never get them.
WRITE_PERMISSIONS: set[str] = {Permission.ORG_WRITE, Permission.ORG_APPROVE, Permission.USERS_MANAGE}
READ_ONLY_ROLES = {Role.EVALUATOR}
CITY_WIDE_ROLES = {Role.PLATFORM_ADMIN, Role.CITY_OFFICER, Role.EVALUATOR, Role.EXPERT}


def grant(name: str, roles: Iterable[Role], *, write: bool) -> str:
    """Declare a permission of another context: which roles hold it and whether it changes state.

    Platform admins hold every permission. A write permission can never be granted to evaluators.
    """
    roles = set(roles) | {Role.PLATFORM_ADMIN}
    if write:
        if roles & READ_ONLY_ROLES:
            raise ValueError(f"write permission {name} granted to a read-only role")
        WRITE_PERMISSIONS.add(name)
    for role in roles:
        _ROLE_PERMISSIONS[role].add(name)
    return name


def role_permissions(role: Role) -> frozenset[str]:
    return frozenset(_ROLE_PERMISSIONS[role])


@dataclass
class Actor:
    """The person behind a request, acting through one membership."""

    user: User
    membership: Membership
    token: ApiToken | None = None

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    @property
    def org(self) -> Organisation:
        return self.membership.org

    @property
    def org_id(self) -> int:
        return self.membership.org_id

    @property
    def district(self) -> str | None:
        return self.membership.district

    @property
    def audience(self) -> str:
        """Which workspace the user sees: government, enterprise or provider."""
        return str(OrgKind(self.org.kind))

    @property
    def is_city_wide(self) -> bool:
        return self.role in CITY_WIDE_ROLES

    def has(self, perm: str) -> bool:
        if perm not in _ROLE_PERMISSIONS[self.role]:
            return False
        if self.token is not None and perm not in (Permission.PUBLIC, Permission.AUTHENTICATED):
            return _token_allows(self.token, perm)
        return True


def _token_allows(token: ApiToken, perm: str) -> bool:
    scopes = set(token.scopes or [])
    if perm in WRITE_PERMISSIONS:
        return "write" in scopes
    return "read" in scopes or "write" in scopes


def visible_orgs(actor: Actor) -> ColumnElement[bool]:
    """SQL filter over ``Organisation`` for what this actor may read."""
    if actor.is_city_wide:
        return true()
    if actor.role == Role.DISTRICT_OFFICER:
        if actor.district is None:
            return false()
        return Organisation.district == actor.district
    return and_(Organisation.id == actor.org_id)


def can_read_org(actor: Actor, org: Organisation) -> bool:
    if actor.is_city_wide:
        return True
    if actor.role == Role.DISTRICT_OFFICER:
        return actor.district is not None and org.district == actor.district
    return org.id == actor.org_id


def check_org_read(actor: Actor, org: Organisation | None) -> Organisation:
    # Invisible and missing look the same, so ids of others' records leak nothing.
    if org is None or not can_read_org(actor, org):
        raise NotFound(N_("No such organisation, or it is not yours to see."))
    return org


def check_org_write(actor: Actor, org: Organisation | None) -> Organisation:
    org = check_org_read(actor, org)
    if not actor.has(Permission.ORG_WRITE):
        raise Forbidden(N_("Your role may not change this organisation."))
    if actor.role in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER):
        return org
    if org.id != actor.org_id:
        raise Forbidden(N_("Your role may not change this organisation."))
    return org


def check_org_approve(actor: Actor, org: Organisation) -> Organisation:
    org = check_org_read(actor, org)
    if not actor.has(Permission.ORG_APPROVE):
        raise Forbidden(N_("Your role may not approve registrations."))
    return org


def check_users_manage(actor: Actor, org: Organisation | None) -> Organisation:
    org = check_org_read(actor, org)
    if not actor.has(Permission.USERS_MANAGE):
        raise Forbidden(N_("Your role may not manage people in this organisation."))
    if actor.role != Role.PLATFORM_ADMIN and org.id != actor.org_id:
        raise Forbidden(N_("Your role may not manage people in this organisation."))
    return org
