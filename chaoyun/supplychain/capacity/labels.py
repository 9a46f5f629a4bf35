"""Codes of capacity sharing and their (translated) names."""

from __future__ import annotations

from chaoyun.i18n import N_

OFFER_STATES = {"published": N_("Published"), "withdrawn": N_("Withdrawn from offer")}
BOOKING_STATES = {
    "requested": N_("Booking requested"),
    "confirmed": N_("Booking confirmed"),
    "declined": N_("Booking declined"),
    "cancelled": N_("Booking cancelled"),
}
