"""``ociport login`` and ``ociport logout``: the commands this plugin adds to the
command line (through ``ociport_cli_commands``), as ``podman login``/``logout`` and
``skopeo login``/``logout`` behave.

This module is imported for ``ociport --help``: it imports click alone; the work
(:mod:`ociport_registry.login`, :mod:`ociport_registry.authfile`, httpx) is imported
when a command runs.
"""

from __future__ import annotations

import sys

import click

__all__ = ["login", "logout"]


@click.command("login")
@click.argument("registry")
@click.option("-u", "--username", help="User name [default: asked on a terminal].")
@click.option(
    "-p",
    "--password",
    help="Password (visible to other users of this machine: prefer --password-stdin).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--authfile",
    metavar="PATH",
    help="Credentials file to write [default: REGISTRY_AUTH_FILE, else "
    "$XDG_RUNTIME_DIR/containers/auth.json, as podman].",
)
@click.option(
    "--tls-verify",
    type=click.BOOL,
    default=True,
    metavar="BOOL",
    help="false allows plain HTTP and unverified HTTPS.  [default: true]",
)
@click.option(
    "--get-login",
    is_flag=True,
    help="Print the user name stored for REGISTRY, and log in to nothing.",
)
def login(
    registry: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    authfile: str | None,
    tls_verify: bool,
    get_login: bool,
) -> None:
    """Log in to a registry (podman login): check, then store credentials.

    REGISTRY is HOST[:PORT], or HOST[:PORT]/NAMESPACE for a part of it. The
    registry checks the credentials (GET /v2/); they are then stored where
    podman, skopeo and ociport read them. Without --username or a password,
    credentials already stored for REGISTRY are tried first; then both are
    asked for on a terminal.
    """
    from ociport_registry.authfile import store_credentials
    from ociport_registry.credentials import Credentials
    from ociport_registry.errors import NotLoggedInError
    from ociport_registry.login import (
        LoginKey,
        check_credentials,
        login_file,
        read_password_stdin,
        stored_credentials,
    )

    key = LoginKey.parse(registry)
    stored = stored_credentials(key, authfile)
    if get_login:
        if stored is None:
            raise NotLoggedInError(key.key)
        click.echo(stored.username)
        return
    if password_stdin:
        if password is not None:
            raise click.UsageError("--password-stdin and --password exclude each other")
        if not username:
            raise click.UsageError("--password-stdin needs --username")
        password = read_password_stdin()
    path = login_file(authfile)
    if username is None and password is None and stored is not None:
        click.echo(f"Authenticating with existing credentials for {key.key}")
        try:
            check_credentials(key, stored, tls_verify=tls_verify)
        except _auth_error():
            click.echo("Existing credentials are invalid, please enter valid ones")
        else:
            click.echo(
                f"Existing credentials are valid. Already logged in to {key.key}"
            )
            return
    if username is None:
        known = stored.username if stored else None
        username = _ask(key.registry, "Username", known, hide=False)
    if password is None:
        password = _ask(key.registry, "Password", None, hide=True)
    credentials = Credentials(username, password)
    check_credentials(key, credentials, tls_verify=tls_verify)
    store_credentials(path, key.key, credentials.username, credentials.password)
    click.echo("Login Succeeded!")


@click.command("logout")
@click.argument("registry", required=False)
@click.option(
    "-a",
    "--all",
    "all_",
    is_flag=True,
    help="Remove the credentials of every registry.",
)
@click.option(
    "--authfile",
    metavar="PATH",
    help="Credentials file to edit [default: the one login writes].",
)
def logout(registry: str | None, all_: bool, authfile: str | None) -> None:
    """Log out of a registry (podman logout): remove stored credentials.

    Removes those of REGISTRY (HOST[:PORT][/NAMESPACE]), or with --all those of
    every registry, from the file login writes."""
    from pathlib import Path

    from ociport_registry.authfile import remove_all_credentials, remove_credentials
    from ociport_registry.errors import CredentialsFileError, NotLoggedInError
    from ociport_registry.login import LoginKey, login_file, stored_credentials

    if all_ == (registry is not None):
        raise click.UsageError("give REGISTRY or --all (not both)")
    if authfile is not None and not Path(authfile).exists():
        raise CredentialsFileError(authfile, "does not exist")
    path = login_file(authfile)
    if registry is None:
        remove_all_credentials(path)
        click.echo("Removed login credentials for all registries")
        return
    key = LoginKey.parse(registry)
    if remove_credentials(path, key.key):
        click.echo(f"Removed login credentials for {key.key}")
        return
    hint = f"{path} has no credentials for it"
    if authfile is None and stored_credentials(key) is not None:
        hint += (
            ", another file ociport reads has (Docker's config.json or "
            "~/.config/containers/auth.json): remove them with the tool that stored "
            "them (docker logout)"
        )
    raise NotLoggedInError(key.key, hint)


def _ask(registry: str, prompt: str, default: str | None, *, hide: bool) -> str:
    """A value typed on the terminal (hidden for a password), as podman asks.

    :raises RegistryAuthError: stdin is no terminal.
    """
    if not sys.stdin.isatty():
        from ociport_registry.errors import RegistryAuthError

        option = "--password-stdin or --password" if hide else "--username"
        reason = f"login: give {option}: there is no terminal to ask on"
        raise RegistryAuthError(registry, "", reason)
    shown = f"{prompt} ({default})" if default else prompt
    value: str = click.prompt(
        shown, default=default or None, hide_input=hide, show_default=False
    )
    return value.strip() if not hide else value


def _auth_error() -> type[Exception]:
    from ociport_registry.errors import RegistryAuthError

    return RegistryAuthError
