"""``plugins``: the registered drivers and plugins with their distributions."""

from __future__ import annotations

import json

import click

from ociport.cli.app import cli

__all__ = ["plugins"]


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def plugins(as_json: bool) -> None:
    """List registered drivers and plugins with their distributions."""
    from ociport.plugins import (
        distribution_of,
        driver_registry,
        get_plugin_manager,
        list_plugins,
    )

    pm = get_plugin_manager()
    drivers = []
    for cls in driver_registry(pm).drivers():
        dist, version = distribution_of(cls.__module__, pm)
        drivers.append(
            {
                "name": cls.name,
                "summary": cls.summary,
                "distribution": dist,
                "version": version,
            }
        )
    loaded = [
        {
            "name": p.name,
            "module": p.module,
            "distribution": p.distribution,
            "version": p.version,
        }
        for p in list_plugins(pm)
    ]
    if as_json:
        click.echo(json.dumps({"drivers": drivers, "plugins": loaded}, indent=2))
        return
    click.echo("DRIVERS")
    for d in drivers:
        click.echo(
            f"  {d['name']:<16} {d['distribution']} {d['version']}  {d['summary']}"
        )
    click.echo("PLUGINS")
    for p in loaded:
        click.echo(
            f"  {p['name']:<16} {p['distribution']} {p['version']}  ({p['module']})"
        )
