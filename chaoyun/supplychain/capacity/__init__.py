"""Shared manufacturing capacity (制造能力共享): idle hours per machine type computed from the machines' real OEE
loading and the shift calendar, offers published by the owner, searched and booked by other enterprises; a
confirmed booking blocks the hours on one machine (planned downtime: OEE leaves it out, the scheduler plans around
it) and becomes a purchase order between the two. See docs/supply-chain-capacity-terms.md."""
