"""Display names of enum values, marked for translation (the templates translate them by value)."""

from chaoyun.i18n import N_

LABELS = (
    # roles
    N_("platform_admin"),
    N_("city_officer"),
    N_("district_officer"),
    N_("expert"),
    N_("evaluator"),
    N_("enterprise_admin"),
    N_("enterprise_member"),
    N_("provider_admin"),
    N_("provider_member"),
    # organisation kinds and statuses
    N_("government"),
    N_("enterprise"),
    N_("provider"),
    N_("pending"),
    N_("active"),
    N_("rejected"),
    # size classes and provider types
    N_("large"),
    N_("medium"),
    N_("small"),
    N_("micro"),
    N_("platform"),
    N_("service"),
    # audit actions
    N_("create"),
    N_("update"),
    N_("delete"),
    N_("approve"),
    N_("reject"),
    N_("login"),
    N_("login_failed"),
    N_("register"),
    N_("invite"),
    N_("activate"),
    N_("deactivate"),
    N_("password_change"),
    N_("revoke"),
    N_("token_use"),
    N_("export"),
    N_("seed"),
)
