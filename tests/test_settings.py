from pathlib import Path

import pytest

from chaoyun import settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_listed_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [f"CHAOYUN_{v.name}" for v in settings.VARIABLES if f"CHAOYUN_{v.name}" not in text]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_undeclared_settings_are_refused() -> None:
    with pytest.raises(KeyError):
        settings.env("NOT_DECLARED_ANYWHERE")


def test_declared_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.env("MQTT_BATCH") == "2000"
    monkeypatch.setenv("CHAOYUN_MQTT_BATCH", "10")
    assert settings.env("MQTT_BATCH") == "10"
    assert settings.project_path("chaoyun/apps").is_dir()
