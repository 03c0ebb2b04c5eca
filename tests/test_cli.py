"""The one entry point: subcommand routing and clean one-line errors."""

import pytest

from ecgviewer import cli


def test_version_does_not_start_the_app(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "ecgviewer" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["gui"]),
        (["scan.png"], ["gui", "scan.png"]),
        (["--screenshot", "x.png", "scan.png"], ["gui", "--screenshot", "x.png", "scan.png"]),
        (["digitize", "a.png", "-o", "out"], ["digitize", "a.png", "-o", "out"]),
    ],
)
def test_files_and_app_flags_open_the_app(monkeypatch, argv, expected):
    seen = {}

    def fake_parse(self, args=None, namespace=None):
        seen["argv"] = list(args)
        raise SystemExit(0)

    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", fake_parse)
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert seen["argv"] == expected


def test_core_error_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nothing.hea"
    code = cli.main(["classify", str(missing)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code != 0
    assert "Traceback" not in text and "nothing.hea: no such file" in text
