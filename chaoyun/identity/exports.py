"""Excel export of the enterprise directory (what the filters show, in the viewer's scope)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chaoyun.i18n import N_, gettext
from chaoyun.identity import service
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import INDUSTRIES
from chaoyun.web import excel
from chaoyun.web.render import cluster_name, district_name

HEADERS = (
    N_("Credit code"),
    N_("Name"),
    N_("District"),
    N_("Industry code"),
    N_("Industry"),
    N_("Cluster"),
    N_("Size class"),
    N_("Employees"),
    N_("Annual revenue (10k yuan)"),
    N_("Doubling enterprise"),
    N_("Lead enterprise"),
    N_("Status"),
)


def directory_xlsx(db: Session, actor: Actor, f: service.DirectoryFilter) -> bytes:
    rows: list[list[object]] = []
    q = service.directory_query(actor, f).order_by(Organisation.id)
    yes, no = gettext(N_("Yes")), gettext(N_("No"))
    for org in db.execute(q).unique().scalars():
        e = org.enterprise
        rows.append(
            [
                org.credit_code,
                org.name,
                district_name(org.district),
                e.industry_code if e else "",
                INDUSTRIES.get(e.industry_code, ("", None))[0] if e else "",
                cluster_name(e.cluster) if e else "",
                gettext(e.size_class) if e else "",
                e.employees if e else None,
                float(e.annual_revenue) if e else None,
                (yes if e.is_doubling else no) if e else "",
                (yes if e.is_lead else no) if e else "",
                gettext(org.status),
            ]
        )
    wb = excel.workbook(write_only=True)
    excel.write_table(excel.sheet(wb, gettext(N_("Enterprises"))), [gettext(h) for h in HEADERS], rows)
    return excel.to_bytes(wb)
