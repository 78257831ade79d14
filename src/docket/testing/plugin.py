"""The pytest plugin (entry point ``pytest11: docket``): fixtures and ``--docket-schemas``.

Every pytest run of an environment with docket installed imports this module, so it imports
neither hypothesis nor docket's core at import time, and works where hypothesis is absent.

- ``pytest --docket-schemas=PATH`` adds one test item per (family, property) for the families
  under ``PATH``; a failure names the property and shows the falsifying container.
- Fixtures: ``docket_registry`` (the families under ``--docket-schemas``, else docket's bundled
  ones) and ``docket_family`` (parametrized over the registry's families, or the ones named by
  ``@pytest.mark.docket_family("name")``).
- Hook ``pytest_docket_registry(config, path)``: implement it in ``conftest.py`` to build the
  registry yourself (Python migrations, rules, converters, a signing key).

Hypothesis settings are the ones of the loaded profile (``--hypothesis-profile``, or
``settings.load_profile`` in ``conftest.py``); shrinking a failure stops after
``DOCKET_SHRINK_SECONDS`` (10 by default), reporting the smallest failing example found.
The items are added after pytest's own collection and reported as collected, so pytest's
"collected N items" line counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from docket.core.family import Family
    from docket.core.registry import Registry

_REGISTRIES = pytest.StashKey[dict[Path | None, "Registry"]]()
GOLDEN_ITEM = "golden"


class DocketHookSpecs:
    """Hooks this plugin adds to pytest."""

    @pytest.hookspec(firstresult=True)
    def pytest_docket_registry(self, config: pytest.Config, path: Path | None) -> Registry | None:
        """Build the registry for the schema directory ``path`` (None: the bundled schemas).

        Return None to let docket build it with ``load_registry(path)``.
        """


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(DocketHookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("docket", "docket container families")
    group.addoption(
        "--docket-schemas",
        metavar="PATH",
        default=None,
        help="run docket's property suite over every container family under PATH "
        "(one test item per family and property)",
    )
    group.addoption(
        "--docket-family",
        action="append",
        default=[],
        metavar="NAME",
        help="with --docket-schemas: only this family (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "docket_family(*names): the families the docket_family fixture runs the test with",
    )


def _schemas_option(config: pytest.Config) -> Path | None:
    value = config.getoption("docket_schemas", None)
    return None if value is None else Path(value)


def registry_for(config: pytest.Config, path: Path | None) -> Registry:
    """The registry for a schema directory (None: bundled), built once per session."""
    cache = config.stash.setdefault(_REGISTRIES, {})
    if path not in cache:
        registry = config.hook.pytest_docket_registry(config=config, path=path)
        if registry is None:
            from docket.core.registry import load_registry

            registry = load_registry(path)
        cache[path] = registry
    return cache[path]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docket_registry(pytestconfig: pytest.Config) -> Registry:
    """The registry of ``--docket-schemas`` (docket's bundled families without it)."""
    return registry_for(pytestconfig, _schemas_option(pytestconfig))


@pytest.fixture(scope="session")
def docket_family(request: pytest.FixtureRequest, docket_registry: Registry) -> Family:
    """One family of ``docket_registry``; tests using it run once per family."""
    name = getattr(request, "param", None)
    if name is None:
        names = docket_registry.families()
        if len(names) != 1:
            pytest.fail(
                f"docket_family: the registry has {len(names)} families ({', '.join(names)}); "
                "name one with @pytest.mark.docket_family('name')",
                pytrace=False,
            )
        name = names[0]
    if name not in docket_registry:
        pytest.fail(
            f"@pytest.mark.docket_family({name!r}): no such family "
            f"(found: {', '.join(docket_registry.families()) or 'none'})",
            pytrace=False,
        )
    return docket_registry.family(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "docket_family" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("docket_family")
    if marker is not None and marker.args:
        names = [str(a) for a in marker.args]
    else:
        from docket.core.errors import DocketError

        try:
            names = registry_for(metafunc.config, _schemas_option(metafunc.config)).families()
        except DocketError as err:  # the registry cannot be built: say why, not where
            pytest.fail(f"docket_family: {err}", pytrace=False)
    metafunc.parametrize("docket_family", names, indirect=True, ids=names, scope="session")


# --- the property suite as test items ------------------------------------------------------


class DocketFamilyNode(pytest.Collector):
    """The property items of one family found under ``--docket-schemas``."""

    def __init__(self, *, family: str, schemas: Path, properties: list[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.family = family
        self.schemas = schemas
        self.properties = properties

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return [DocketPropertyItem.from_parent(self, name=p) for p in self.properties]


class DocketPropertyItem(pytest.Item):
    """One docket property run over one family."""

    parent: DocketFamilyNode

    def runtest(self) -> None:
        family = registry_for(self.config, self.parent.schemas).family(self.parent.family)
        if self.name == GOLDEN_ITEM:
            from docket.testing.golden import check_golden

            check_golden(family)
            return
        from docket.testing import PROPERTIES

        PROPERTIES[self.name](family)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        from docket.core.errors import DocketError

        failures = _docket_failures(excinfo.value)
        if not failures:
            return super().repr_failure(excinfo, style=style)
        parts = []
        for err in failures:
            notes = "\n".join(getattr(err, "__notes__", ()))
            head = str(err) if isinstance(err, DocketError) else f"{type(err).__name__}: {err}"
            parts.append(head + (f"\n{notes}" if notes else ""))
        return "\n\n".join(parts)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.parent.schemas / self.parent.family, None, self.nodeid


def _docket_failures(exc: BaseException) -> list[BaseException]:
    """The docket failures in ``exc`` (hypothesis wraps flaky ones in exception groups)."""
    from docket.core.errors import DocketError

    if isinstance(exc, DocketError):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        found = [f for sub in exc.exceptions for f in _docket_failures(sub)]
        return found
    return []


class _LoadFailure(pytest.Item):
    """Stands for a schema directory that could not be read, so the run shows why."""

    def __init__(self, *, error: BaseException, **kw: Any) -> None:
        super().__init__(**kw)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"{type(excinfo.value).__name__}: {excinfo.value}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid


def _property_items(session: pytest.Session, schemas: Path) -> Iterator[pytest.Item]:
    from docket.core.errors import DocketError

    try:
        from docket.testing import PROPERTIES
    except ImportError as err:
        raise pytest.UsageError(f"--docket-schemas: {err}") from None
    config = session.config
    base = _nodeid_base(config, schemas)
    try:
        registry = registry_for(config, schemas)
    except DocketError as err:
        yield _LoadFailure.from_parent(
            session, name="load", nodeid=f"{base}::load", path=schemas, error=err
        )
        return
    wanted = config.getoption("docket_family") or registry.families()
    for name in wanted:
        if name not in registry:
            raise pytest.UsageError(
                f"--docket-family {name}: no such family under {schemas} "
                f"(found: {', '.join(registry.families()) or 'none'})"
            )
        names = list(PROPERTIES)
        if registry.family(name).golden():
            names.append(GOLDEN_ITEM)
        node = DocketFamilyNode.from_parent(
            session,
            name=name,
            nodeid=f"{base}/{name}",
            path=schemas / name,
            family=name,
            schemas=schemas,
            properties=names,
        )
        items = node.collect()
        # Report the node as collected, as pytest does for the files it collects: the
        # "collected N items" line then counts these items (they are added after collection).
        config.hook.pytest_collectreport(
            report=pytest.CollectReport(node.nodeid, "passed", None, items)
        )
        for item in items:
            assert isinstance(item, pytest.Item)
            yield item


def _nodeid_base(config: pytest.Config, schemas: Path) -> str:
    try:
        return schemas.resolve().relative_to(config.rootpath).as_posix()
    except ValueError:
        return schemas.as_posix()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # tryfirst: the items must exist before -k / -m deselect among them.
    schemas = _schemas_option(config)
    if schemas is not None:
        items.extend(_property_items(session, schemas))
