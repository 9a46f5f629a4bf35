"""Connectivity of the devices context: MQTT ingest, broker configuration, OPC UA and Modbus collectors,
the edge gateway with its store-and-forward buffer, and write-back commands.

See docs/connectivity.md.
"""
