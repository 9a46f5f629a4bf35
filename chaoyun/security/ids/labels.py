"""Rule names and explanations of the intrusion detector (English msgids, Chinese in this sub-package's catalog)."""

from __future__ import annotations

from chaoyun.i18n import N_

RULE_TITLES: dict[str, str] = {
    "unknown_mac": N_("Unknown network card"),
    "ip_mac_mismatch": N_("Address claimed by another network card"),
    "unknown_protocol": N_("Protocol not seen before"),
    "unknown_host": N_("Unknown host"),
    "unknown_flow": N_("Conversation not in the profile"),
    "tcp_flags": N_("Invalid TCP flags"),
    "malformed_frame": N_("Malformed frame"),
    "modbus_malformed": N_("Malformed Modbus message"),
    "modbus_unit": N_("Modbus unit id not in the profile"),
    "modbus_function": N_("Modbus function code not in the profile"),
    "modbus_address": N_("Modbus address outside the profile"),
    "modbus_write_rate": N_("Burst of Modbus writes"),
    "modbus_request_rate": N_("Burst of Modbus requests"),
    "modbus_unmatched": N_("Modbus response without its request"),
    "modbus_exception": N_("Modbus exception not seen before"),
    "mqtt_malformed": N_("Malformed MQTT packet"),
    "mqtt_type": N_("MQTT packet type not in the profile"),
    "mqtt_topic": N_("MQTT topic not in the profile"),
}
RULE_EXPLANATIONS: dict[str, str] = {
    "unknown_mac": N_(
        "A frame came from an Ethernet address that never appeared while learning: a new device or a "
        "laptop plugged into the control network."
    ),
    "ip_mac_mismatch": N_(
        "An IP address was used or announced (ARP) by another Ethernet address than the one "
        "learned: typical of ARP spoofing and man-in-the-middle attacks."
    ),
    "unknown_protocol": N_("A known device sent a kind of frame (EtherType) it never sent while learning."),
    "unknown_host": N_("An IP address that never appeared while learning sent or received traffic."),
    "unknown_flow": N_(
        "Two known hosts talked on a port (or in a direction) never seen while learning, e.g. a "
        "field device acting as a Modbus master, or a remote shell."
    ),
    "tcp_flags": N_(
        "A TCP segment with an impossible flag combination (NULL, FIN without ACK, SYN+FIN): port "
        "scans and fingerprinting use them."
    ),
    "malformed_frame": N_("A frame too short or with an inconsistent IPv4 header."),
    "modbus_malformed": N_(
        "The Modbus/TCP header (MBAP) or the request contradicts the specification: protocol id "
        "not 0, bad length, byte count not matching the quantity."
    ),
    "modbus_unit": N_("A Modbus request addressed a unit id this master never used with this slave."),
    "modbus_function": N_(
        "A Modbus function code this master never used (for instance diagnostics or a write from "
        "a master that only reads)."
    ),
    "modbus_address": N_(
        "A Modbus read or write touched coils or registers outside the ranges this master used on "
        "this slave while learning."
    ),
    "modbus_write_rate": N_(
        "More Modbus writes in a time window than twice the most seen while learning: a flooding or brute-force write."
    ),
    "modbus_request_rate": N_(
        "More Modbus requests in a time window than twice the most seen while learning: a scan or a denial of service."
    ),
    "modbus_unmatched": N_(
        "A Modbus response whose transaction id matches no pending request (or answers another "
        "function): injected or spoofed responses."
    ),
    "modbus_exception": N_(
        "A slave answered with a Modbus exception code never seen while learning: probing of "
        "unsupported functions or addresses."
    ),
    "mqtt_malformed": N_("An MQTT packet that breaks the protocol (type 0, remaining length too long)."),
    "mqtt_type": N_("An MQTT client sent a packet type it never sent while learning (e.g. a sensor subscribing)."),
    "mqtt_topic": N_("An MQTT client published or subscribed to a topic outside its learned topics."),
}
SEVERITIES = {"critical": N_("critical"), "major": N_("major"), "minor": N_("minor")}
