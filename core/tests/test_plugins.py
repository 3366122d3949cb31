"""Plugin manager and registry: entry-point discovery, broken plugins, duplicates, the disable switch."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

import routellm
from routellm.errors import PluginError, UnknownNameError
from routellm.plugins import PluginInfo, PluginManager, get_plugin_manager
from routellm.records import EmbedderSpec, RouterSpec
from routellm.registry import Registry, get_registry
from routellm.router import Router


class EchoRouter(Router):
    class Config(msgspec.Struct, forbid_unknown_fields=True):
        value: float = 0.25

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return self.config.value


def make_plugin(name: str):
    class Plugin:
        @staticmethod
        @routellm.hookimpl
        def routellm_routers():
            yield RouterSpec(name=name, router_class=EchoRouter, description="test router")

    return Plugin()


def fake_distribution(root: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    """Write an importable module plus a .dist-info with a `routellm` entry point under ``root``."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[routellm]\n{ep_name} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fake_plugin_")]:
        del sys.modules[name]


def test_installed_workspace_plugins_are_discovered_through_entry_points():
    registry = get_registry()
    spec = registry.router("random")
    assert spec.distribution == "routellm-router-random"
    assert spec.version
    assert registry.embedder("huggingface").distribution == "routellm-embedder-huggingface"


def test_in_process_plugin_is_registered_and_builds_from_config():
    pm = PluginManager()
    pm.register_plugin(make_plugin("echo"), PluginInfo("echo", "echo-dist", "1.0"))
    registry = Registry(pm)
    router = registry.create_router("echo", {"value": 0.75})
    assert router.calculate_strong_win_rate("x") == 0.75
    assert registry.router("echo").distribution == "echo-dist"


def test_duplicate_names_disable_only_the_duplicates_naming_both_distributions():
    pm = PluginManager()
    pm.register_plugin(make_plugin("dup"), PluginInfo("one", "dist-one", "1"))
    pm.register_plugin(make_plugin("dup"), PluginInfo("two", "dist-two", "1"))
    pm.register_plugin(make_plugin("fine"), PluginInfo("three", "dist-three", "1"))
    registry = Registry(pm)
    assert list(registry.routers) == ["fine"]
    assert registry.create_router("fine").calculate_strong_win_rate("x") == 0.25
    with pytest.raises(PluginError) as info:
        registry.router("dup")
    assert "dist-one" in str(info.value) and "dist-two" in str(info.value) and "'dup'" in str(info.value)
    (failure,) = pm.failures
    assert failure.distribution == "dist-one, dist-two" and "router 'dup'" in failure.name


def test_a_hook_that_raises_is_logged_listed_and_skipped(caplog):
    class Raising:
        @staticmethod
        @routellm.hookimpl
        def routellm_routers():
            raise RuntimeError("boom")
            yield  # pragma: no cover

        @staticmethod
        @routellm.hookimpl
        def routellm_register_commands(cli):
            raise RuntimeError("no commands today")

    pm = PluginManager()
    pm.register_plugin(Raising(), PluginInfo("raising", "raising-dist", "1"))
    pm.register_plugin(make_plugin("fine"), PluginInfo("fine", "fine-dist", "1"))
    registry = Registry(pm)
    with caplog.at_level(logging.WARNING, logger="routellm.plugins"):
        assert list(registry.routers) == ["fine"]
        import typer

        registry.register_commands(typer.Typer(), typer.Typer())
    assert [(f.name, f.distribution, f.hook) for f in pm.failures] == [
        ("raising", "raising-dist", "routellm_routers"),
        ("raising", "raising-dist", "routellm_register_commands"),
    ]
    assert "RuntimeError: boom" in pm.failures[0].error
    assert any("boom" in r.message and "raising-dist" in r.message for r in caplog.records)


def test_hooks_are_called_through_pluggy_wrappers_and_tracing_see_them():
    seen = []

    class Wrapper:
        @staticmethod
        @routellm.hookimpl(wrapper=True)
        def routellm_routers():
            result = yield
            seen.append([r.name for records in result for r in records])
            return [*result, [RouterSpec(name="added_by_wrapper", router_class=EchoRouter)]]

    pm = PluginManager()
    pm.register_plugin(make_plugin("echo"), PluginInfo("echo", "echo-dist", "1"))
    pm.register_plugin(Wrapper(), PluginInfo("wrapper", "wrapper-dist", "1"))
    calls = []
    undo = pm.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append(name), lambda *a: None)
    registry = Registry(pm)
    assert set(registry.routers) == {"echo", "added_by_wrapper"}
    undo()
    assert seen == [["echo"]]
    assert "routellm_routers" in calls


def test_an_implementation_may_take_fewer_arguments_than_its_spec():
    import typer

    class OnlyCli:
        @staticmethod
        @routellm.hookimpl
        def routellm_register_commands(cli):
            @cli.command()
            def hello():
                typer.echo("hi")

    pm = PluginManager()
    pm.register_plugin(OnlyCli(), PluginInfo("only-cli", "only-cli-dist", "1"))
    app = typer.Typer()
    Registry(pm).register_commands(app, typer.Typer())
    assert [c.callback.__name__ for c in app.registered_commands] == ["hello"]
    assert pm.failures == []


def test_wrong_record_type_is_a_listed_failure():
    class Bad:
        @staticmethod
        @routellm.hookimpl
        def routellm_routers():
            yield EmbedderSpec(name="oops", embedder_class=object)  # type: ignore[arg-type]

    pm = PluginManager()
    pm.register_plugin(Bad(), PluginInfo("bad", "bad-dist", "1"))
    assert Registry(pm).routers == {}
    (failure,) = pm.failures
    assert failure.distribution == "bad-dist" and "expected RouterSpec" in failure.error


def test_unknown_name_lists_the_choices():
    with pytest.raises(UnknownNameError, match=r"unknown router 'nope' \(available: .*random"):
        get_registry().router("nope")


def test_broken_plugin_is_skipped_with_a_warning_and_others_keep_working(site, caplog):
    fake_distribution(site, "fake-broken", "fake_plugin_broken", "raise ImportError('missing dependency foo')", "broken")
    fake_distribution(
        site,
        "fake-good",
        "fake_plugin_good",
        """
        import routellm
        from routellm.records import RouterSpec
        from routellm_router_random import RandomRouter

        @routellm.hookimpl
        def routellm_routers():
            yield RouterSpec(name="good_random", router_class=RandomRouter)
        """,
        "good",
    )
    pm = PluginManager()
    with caplog.at_level(logging.WARNING, logger="routellm.plugins"):
        pm.load_entry_points()
    assert any("broken" in r.message and "missing dependency foo" in r.message for r in caplog.records)
    assert [f.name for f in pm.failures] == ["broken"]
    assert pm.failures[0].distribution == "fake-broken"
    routers = Registry(pm).routers
    assert routers["good_random"].distribution == "fake-good"
    assert "random" in routers


@pytest.mark.parametrize("value", ["1", "all"])
def test_disable_env_turns_off_external_plugins(monkeypatch, value):
    monkeypatch.setenv("ROUTELLM_DISABLE_PLUGINS", value)
    pm = PluginManager()
    pm.load_entry_points()
    assert Registry(pm).routers == {}


def test_disable_env_can_name_single_plugins(monkeypatch):
    monkeypatch.setenv("ROUTELLM_DISABLE_PLUGINS", "random, routellm-embedder-huggingface")
    pm = PluginManager()
    pm.load_entry_points()
    registry = Registry(pm)
    assert "random" not in registry.routers
    assert "huggingface" not in registry.embedders


def test_plugin_manager_is_built_once():
    assert get_plugin_manager() is get_plugin_manager()


def test_every_hookspec_has_an_example_plugin_in_its_docstring():
    from routellm import hookspecs

    names = [n for n in dir(hookspecs) if n.startswith("routellm_")]
    assert set(names) == {"routellm_routers", "routellm_benchmarks", "routellm_embedders", "routellm_register_commands"}
    for name in names:
        doc = getattr(hookspecs, name).__doc__
        assert "[project.entry-points.routellm]" in doc and "@routellm.hookimpl" in doc, name


def test_hookspec_docstring_examples_run(tmp_path):
    """Each docstring's example module, executed, yields a working component."""
    import re

    import numpy as np

    from routellm import hookspecs

    for name in ("routellm_routers", "routellm_benchmarks", "routellm_embedders"):
        doc = textwrap.dedent(getattr(hookspecs, name).__doc__.split("::", 1)[1])
        code = doc.split("# routellm_", 1)[1].split("\n", 1)[1]
        namespace: dict = {}
        exec(compile(code, f"<{name} example>", "exec"), namespace)
        hook = namespace[name]
        pm = PluginManager()

        class Plugin:
            pass

        setattr(Plugin, name, staticmethod(hook))
        pm.register_plugin(Plugin(), PluginInfo("example", "example-dist", "0.1"))
        registry = Registry(pm)
        if name == "routellm_routers":
            router = registry.create_router("length", {"scale": 10})
            assert router.calculate_strong_win_rate("12345") == 0.5
        elif name == "routellm_benchmarks":
            data = registry.create_benchmark("tiny").load()
            assert len(data) == 3
        else:
            vectors = registry.create_embedder("hashing", {"dim": 16}).embed(["a b", "c"])
            assert vectors.shape == (2, 16)
            np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
        assert re.search(r"yield \w+Spec", code)


def test_lazy_class_reference_loads_on_first_use():
    spec = get_registry().embedder("huggingface")
    assert isinstance(spec.embedder_class, str)
    assert spec.load().__name__ == "HuggingFaceEmbedder"


def test_broken_lazy_reference_names_plugin_and_reference():
    spec = RouterSpec(name="ghost", router_class="no_such_module_xyz:Ghost", distribution="ghost-dist")
    with pytest.raises(PluginError, match=r"'ghost' from ghost-dist: cannot load 'no_such_module_xyz:Ghost'"):
        spec.load()


def test_two_distributions_with_the_same_entry_point_name_are_both_loaded(site):
    source = """
        import routellm
        from routellm.records import RouterSpec
        from routellm_router_random import RandomRouter

        @routellm.hookimpl
        def routellm_routers():
            yield RouterSpec(name="{name}", router_class=RandomRouter)
        """
    fake_distribution(site, "fake-first", "fake_plugin_first", source.format(name="first"), "same")
    fake_distribution(site, "fake-second", "fake_plugin_second", source.format(name="second"), "same")
    pm = PluginManager()
    pm.load_entry_points()
    routers = Registry(pm).routers
    assert routers["first"].distribution == "fake-first"
    assert routers["second"].distribution == "fake-second"


def _cli(site: Path, *args: str):
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "routellm.cli", *args], env=env, capture_output=True, text=True)


def test_cli_survives_a_raising_hook_and_lists_it_and_command_only_plugins(site):
    fake_distribution(
        site,
        "fake-raising",
        "fake_plugin_raising",
        """
        import routellm

        @routellm.hookimpl
        def routellm_register_commands(cli, train):
            raise RuntimeError("broken command hook")
        """,
        "raising",
    )
    fake_distribution(
        site,
        "fake-hello",
        "fake_plugin_hello",
        """
        import typer
        import routellm

        @routellm.hookimpl
        def routellm_register_commands(cli):
            @cli.command()
            def hello():
                typer.echo("Hello!")
        """,
        "hello",
    )
    helped = _cli(site, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "hello" in helped.stdout
    listed = _cli(site, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("commands") and "fake-hello" in line for line in listed.stdout.splitlines())
    assert "fake-raising" in listed.stderr and "broken command hook" in listed.stderr
    assert _cli(site, "hello").stdout.strip() == "Hello!"
