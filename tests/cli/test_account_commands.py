"""``focus whoami | wallet | jobs | print-token | logout`` and the error paths every command
shares, run as a user runs them against a real emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from focus_middleware.client import FocusClient
from focus_middleware.credentials_store import CredentialStore
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .runner import Cli, Result


def store_token(cli: Cli, base_url: str, token: str) -> None:
    """What a finished ``focus login`` leaves behind (without a secure keyring)."""
    CredentialStore(base_url, environ=cli.env, use_keyring=False).save(token)


def one_line(result: Result) -> str:
    lines = result.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


@pytest.fixture
def pat(cli: Cli, emulator: FocusEmulator, person: EmulatedUser) -> str:
    token = person.pat()
    store_token(cli, emulator.url, token)
    return token


def test_whoami_as_a_table_and_as_json(cli: Cli, emulator: FocusEmulator, person: EmulatedUser, pat: str) -> None:
    table = cli.run("whoami", "--base-url", emulator.url)
    assert table.code == 0, table
    rows = dict(line.split(None, 1) for line in table.out.replace("Token from", "Token_from").splitlines())
    assert rows["User"] == person.clerk_id and rows["Credits"] == "10" and rows["Focus"] == emulator.url
    assert rows["Token_from"] == f"{cli.credentials_file} (readable only by you)"
    data = json.loads(cli.run("whoami", "--json", "--base-url", emulator.url).out)
    assert data == {
        "base_url": emulator.url, "clerk_id": person.clerk_id, "account_id": person.account_id,
        "plan": data["plan"], "credits": 10, "token_source": "file",
    }
    cli.assert_never_printed(pat)


def test_focus_api_url_is_the_default_base_url(cli: Cli, emulator: FocusEmulator, person: EmulatedUser, pat: str) -> None:
    me = cli.run("whoami", "--json", FOCUS_API_URL=emulator.url + "/")
    assert me.code == 0, me
    assert json.loads(me.out)["base_url"] == emulator.url


def test_focus_token_overrides_the_stored_token(cli: Cli, emulator: FocusEmulator, pat: str) -> None:
    other = emulator.create_user(credits=3)
    me = cli.run("whoami", "--json", "--base-url", emulator.url, FOCUS_TOKEN=other.pat())
    data = json.loads(me.out)
    assert (data["clerk_id"], data["token_source"]) == (other.clerk_id, "env")
    out = cli.run("logout", "--base-url", emulator.url, FOCUS_TOKEN="fcs_whatever")
    assert out.code == 0 and "FOCUS_TOKEN is still set" in out.err
    cli.assert_never_printed(pat)


def test_wallet_app_reads_without_granting_and_lists_only_that_app(
        cli: Cli, emulator: FocusEmulator, person: EmulatedUser, pat: str) -> None:
    # The contract: GET /api/wallet?app= grants the app's starter credits. `focus wallet
    # --app` is a read (issue 25), so it asks without ?app= and filters the answer.
    emulator.create_app("video", starter_credits=20)
    emulator.create_app("audio", starter_credits=5)
    unused = cli.run("wallet", "--app", "video", "--json", "--base-url", emulator.url)
    assert unused.code == 0, unused
    wallet = json.loads(unused.out)
    assert wallet["account"]["credits"] == 10 and wallet["apps"] == [] and "app_grant" not in wallet
    assert person.credits == 10  # nothing granted
    none = cli.run("wallet", "--app", "video", "--base-url", emulator.url)
    assert none.code == 0 and "No credits from video yet" in none.out
    with FocusClient(emulator.url, pat) as client:  # the app's first use grants, once
        client.wallet(app="video")
        client.wallet(app="audio")
    table = cli.run("wallet", "--base-url", emulator.url, FOCUS_APP="video")
    assert table.code == 0
    lines = table.out.splitlines()
    assert "Credits  35" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("APP"))
    assert lines[header].split() == ["APP", "STARTER", "CREDITS", "GRANTED", "GRANTED", "AT"]
    assert [line.split()[:3] for line in lines[header + 1:]] == [["video", "20", "yes"]]  # audio filtered out
    everything = json.loads(cli.run("wallet", "--json", "--base-url", emulator.url).out)
    assert sorted(a["slug"] for a in everything["apps"]) == ["audio", "video"]
    assert person.credits == 35
    cli.assert_never_printed(pat)


def test_jobs_filters_limits_and_escapes(cli: Cli, emulator: FocusEmulator, pat: str) -> None:
    with FocusClient(emulator.url, pat) as client:
        done = client.create_job("video", "render", 3, {"description": "intro \x1b[2J cut"})
        client.complete_job(done.job_id, 2)
        failed = client.create_job("video", "upscale", 2)
        client.fail_job(failed.job_id)
        client.create_job("audio", "mix", 1)

    everything = json.loads(cli.run("jobs", "--json", "--base-url", emulator.url).out)["jobs"]
    assert sorted(j["status"] for j in everything) == ["completed", "failed", "started"]
    completed = json.loads(cli.run("jobs", "--json", "--status", "completed", "--base-url", emulator.url).out)
    assert [(j["id"], j["actual_cost"]) for j in completed["jobs"]] == [(done.job_id, 2)]
    assert completed["jobs"][0]["metadata"]["description"] == "intro \x1b[2J cut"  # exact in JSON
    video = json.loads(cli.run("jobs", "--json", "--base-url", emulator.url, FOCUS_APP="video").out)["jobs"]
    assert {j["app"] for j in video} == {"video"} and len(video) == 2
    assert len(json.loads(cli.run("jobs", "--json", "--limit", "1", "--base-url", emulator.url).out)["jobs"]) == 1

    table = cli.run("jobs", "--status", "completed", "--base-url", emulator.url)
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "APP", "ACTION", "STATUS", "ESTIMATE", "ACTUAL", "CREATED", "DESCRIPTION"]
    assert row.startswith(done.job_id) and "intro ?[2J cut" in row and "\x1b" not in table.out
    none = cli.run("jobs", "--app", "nothing-here", "--base-url", emulator.url)
    assert (none.code, none.out) == (0, "No jobs.\n")
    cli.assert_never_printed(pat)


# -- failures: one line, the documented exit code ----------------------------------------------


@pytest.mark.parametrize("command", ["whoami", "wallet", "jobs", "print-token"])
def test_not_logged_in_exits_3(cli: Cli, emulator: FocusEmulator, command: str) -> None:
    result = cli.run(command, "--base-url", emulator.url)
    assert (result.code, result.out) == (3, "")
    assert one_line(result) == (
        f"focus {command}: not logged in: no Focus credentials for {emulator.url}:"
        f" run `focus login --base-url {emulator.url}` or set FOCUS_TOKEN"
    )


def test_a_token_for_another_base_url_is_not_used(cli: Cli, emulator: FocusEmulator, pat: str) -> None:
    port = int(emulator.url.rsplit(":", 1)[1])
    assert cli.run("whoami", "--base-url", f"http://127.0.0.1:{port + 1}").code == 3


def test_a_login_to_localhost_is_found_for_127_0_0_1(cli: Cli, emulator: FocusEmulator,
                                                      person: EmulatedUser) -> None:
    # `focus demo` prints http://localhost:PORT; the same emulator as 127.0.0.1 (issue 25).
    token = person.pat()
    store_token(cli, emulator.url.replace("127.0.0.1", "localhost") + "/", token)
    me = cli.run("whoami", "--json", "--base-url", emulator.url)
    assert me.code == 0, me
    assert json.loads(me.out)["clerk_id"] == person.clerk_id
    cli.assert_never_printed(token)


def test_a_refused_token_exits_3_and_says_which(cli: Cli, emulator: FocusEmulator, person: EmulatedUser, pat: str) -> None:
    from_env = cli.run("whoami", "--base-url", emulator.url, FOCUS_TOKEN="fcs_" + "x" * 40)
    assert from_env.code == 3
    assert one_line(from_env) == f"focus whoami: Focus at {emulator.url} refused the token in FOCUS_TOKEN"
    person.revoke_pats()
    stored = cli.run("jobs", "--base-url", emulator.url)
    assert stored.code == 3
    assert one_line(stored) == (
        f"focus jobs: Focus at {emulator.url} refused the stored token (expired or revoked):"
        f" run `focus login --base-url {emulator.url}` again"
    )
    cli.assert_never_printed(pat)


def test_unavailable_exits_5_and_debug_adds_a_scrubbed_traceback(cli: Cli) -> None:
    token = "fcs_" + "s" * 40
    down = cli.run("wallet", "--base-url", "http://127.0.0.1:9", FOCUS_TOKEN=token)
    assert down.code == 5
    assert one_line(down) == (
        "focus wallet: could not connect to Focus at http://127.0.0.1:9 (GET /api/wallet: failed (ConnectError)):"
        " is it running? For the local emulator run `focus emulator` (or `focus demo`); for another service"
        " set FOCUS_API_URL or --base-url")
    from_env = cli.run("jobs", FOCUS_TOKEN=token, FOCUS_API_URL="http://127.0.0.1:9/")
    assert from_env.code == 5 and "could not connect to Focus at http://127.0.0.1:9 " in one_line(from_env)
    debug = cli.run("wallet", "--base-url", "http://127.0.0.1:9", FOCUS_TOKEN=token, FOCUS_DEBUG="1")
    assert debug.code == 5 and "Traceback" in debug.err
    assert debug.err.splitlines()[-1] == one_line(down)
    cli.assert_never_printed(token)


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["jobs", "--limit", "0"], {}, "must be at least 1"),
        (["jobs", "--status", "paused"], {}, "invalid choice"),
        (["whoami", "--base-url", "ftp://example.test"], {}, "not an http(s) URL"),
        (["whoami"], {"FOCUS_API_URL": "not a url"}, "FOCUS_API_URL: not an http(s) URL"),
        (["nonsense"], {}, "invalid choice: 'nonsense'"),
        ([], {}, "required"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str], env: dict[str, str], fragment: str) -> None:
    result = cli.run(*args, **env)
    assert result.code == 2 and fragment in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["walet"], "did you mean 'wallet'?"),
        (["logni"], "did you mean 'login'?"),
        (["print_token"], "did you mean 'print-token'?"),
        (["jobs", "--status", "complted"], "did you mean 'completed'?"),
        (["demo", "--framework", "flsk"], "did you mean 'flask'?"),
    ],
)
def test_a_typo_gets_a_suggestion_and_exits_2(cli: Cli, args: list[str], suggestion: str) -> None:
    result = cli.run(*args)
    assert result.code == 2 and result.out == ""
    last = result.err.splitlines()[-1]
    assert last.startswith("focus") and "invalid choice" in last and last.endswith(suggestion), result.err


def test_nothing_close_gets_no_suggestion(cli: Cli) -> None:
    result = cli.run("xyzzy")
    assert result.code == 2 and "invalid choice: 'xyzzy'" in result.err and "did you mean" not in result.err


def test_help_documents_the_exit_codes(cli: Cli) -> None:
    for args in (["--help"], ["login", "--help"]):
        shown = cli.run(*args).out
        for line in ("0    success", "2    usage error", "3    not logged in", "4    insufficient credits",
                     "5    Focus unavailable", "130  interrupted"):
            assert line in shown, (args, shown)


def test_a_closed_pipe_is_not_a_traceback(cli: Cli, emulator: FocusEmulator, pat: str) -> None:
    process = subprocess.Popen(
        cli.command("whoami", "--base-url", emulator.url), env=cli.env, cwd=cli.tmp,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: gone before the answer is written
    err = process.stderr.read().decode()
    assert process.wait(20) == 1
    assert "Traceback" not in err and pat not in err


def test_print_token_prints_only_the_token(cli: Cli, emulator: FocusEmulator, pat: str, tmp_path: Path) -> None:
    printed = cli.run("print-token", "--base-url", emulator.url)
    assert (printed.code, printed.out, printed.err) == (0, pat + "\n", "")
