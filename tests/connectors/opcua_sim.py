"""A real OPC UA server (asyncua) for the tests: Basic256Sha256 Sign / SignAndEncrypt, user name and
password, a machine object with a temperature, a counter and a writable setpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

logging.getLogger("asyncua").setLevel(logging.ERROR)

SERVER_URI = "urn:chaoyun:test:opcua-server"


class _Users(UserManager):
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def get_user(self, iserver: Any, username: Any = None, password: Any = None, certificate: Any = None) -> Any:
        if username == self.username and password == self.password:
            return User(role=UserRole.User)
        return None


class OpcUaSim:
    def __init__(self, port: int, cert: Path, key: Path, username: str = "gw", password: str = "secret") -> None:
        self.port = port
        self.cert, self.key = cert, key
        self.username, self.password = username, password
        self.server: Any = None
        self.nodes: dict[str, Any] = {}
        self.ns = 0

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/chaoyun/"

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s=Machine.{name}"

    async def start(self, temp: float = 20.0, count: int = 0, setpoint: float = 50.0) -> OpcUaSim:
        server = Server(user_manager=_Users(self.username, self.password))
        await server.init()
        server.set_endpoint(self.url)
        await server.set_application_uri(SERVER_URI)
        server.set_security_policy([
            ua.SecurityPolicyType.Basic256Sha256_Sign,
            ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        ])
        server.set_security_IDs(["Username"])
        await server.load_certificate(str(self.cert))
        await server.load_private_key(str(self.key))
        self.ns = await server.register_namespace("urn:chaoyun:test")
        machine = await server.nodes.objects.add_object(self.ns, "Machine")
        self.nodes = {
            "Temp": await machine.add_variable(ua.NodeId("Machine.Temp", self.ns), "Temp", float(temp)),
            "Count": await machine.add_variable(
                ua.NodeId("Machine.Count", self.ns), "Count", ua.Variant(count, ua.VariantType.Int32)
            ),
            "Setpoint": await machine.add_variable(ua.NodeId("Machine.Setpoint", self.ns), "Setpoint", float(setpoint)),
        }
        await self.nodes["Setpoint"].set_writable()
        await server.start()
        self.server = server
        return self

    async def set(self, name: str, value: Any) -> None:
        node = self.nodes[name]
        vt = await node.read_data_type_as_variant_type()
        await node.write_value(ua.DataValue(ua.Variant(value, vt)))

    async def get(self, name: str) -> Any:
        return await self.nodes[name].read_value()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
