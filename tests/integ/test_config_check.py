"""moatd -c FILE --check: a good config exits 0; every kind of mistake exits
non-zero with a message naming the problem, without starting the daemon."""
import subprocess

import pytest

from conftest import MOATD, MoatServer


def check(path):
	return subprocess.run([str(MOATD), "-c", str(path), "--check"],
	    capture_output=True, text=True, timeout=20)


@pytest.fixture
def cfg(moat_binaries, moat_user):
	srv = MoatServer()
	yield srv
	srv.cleanup(keep=False)


def test_good_config_passes(cfg):
	r = check(cfg.conf)
	assert r.returncode == 0, r.stdout + r.stderr


def test_check_does_not_start_listening(cfg):
	import socket
	check(cfg.conf)
	with socket.socket() as s:
		# The smtp port is still free: --check must not bind or serve.
		s.bind(("127.0.0.1", cfg.smtp_port))


def bad(cfg, section, key, value):
	cfg.config.setdefault(section, {})[key] = value
	cfg.write_config()
	return check(cfg.conf)


@pytest.mark.parametrize("section,key,value,needle", [
    ("limits", "frobnicate", "1", "frobnicate"),
    ("server", "hostnme", "mx.example.test", "hostnme"),
    ("server", "workers", "0", "workers"),
    ("server", "workers", "two", "workers"),
    ("server", "hostname", "not a host!", "hostname"),
    ("server", "data_dir", "relative/dir", "data_dir"),
    ("limits", "message_size", "lots", "message_size"),
    ("limits", "idle_timeout", "-5", "idle_timeout"),
    ("listen", "smtp", "localhost:25", "smtp"),
    ("listen", "smtp", "127.0.0.1:99999", "smtp"),
    ("listen", "smtp", "127.0.0.1:25,", "smtp"),
    ("listen", "gopher", "127.0.0.1:70", "gopher"),
    ("queue", "retry_min", "soon", "retry_min"),
])
def test_bad_value_is_named(cfg, section, key, value, needle):
	r = bad(cfg, section, key, value)
	assert r.returncode != 0, f"{section}.{key}={value!r} accepted"
	assert needle in r.stderr, \
	    f"error does not name {needle!r}: {r.stderr!r}"


def test_unknown_section(cfg):
	cfg.config["nonsense"] = {"a": "b"}
	cfg.write_config()
	r = check(cfg.conf)
	assert r.returncode != 0
	assert "nonsense" in r.stderr, r.stderr


def test_error_names_file_and_line(cfg):
	cfg.config["limits"]["bogus_key"] = "1"
	cfg.write_config()
	lineno = cfg.conf.read_text().splitlines().index("bogus_key = 1") + 1
	r = check(cfg.conf)
	assert r.returncode != 0
	assert str(cfg.conf) in r.stderr and f":{lineno}" in r.stderr, r.stderr


def test_cert_without_key(cfg):
	cfg.config["tls"] = {"cert": "/nonexistent/cert.pem"}
	cfg.write_config()
	r = check(cfg.conf)
	assert r.returncode != 0
	assert "key" in r.stderr, r.stderr


def test_missing_file(cfg):
	r = check(cfg.base / "does-not-exist.conf")
	assert r.returncode != 0
	assert "does-not-exist.conf" in r.stderr, r.stderr


def test_syntax_error(cfg):
	cfg.conf.write_text("[server\nhostname = x\n")
	r = check(cfg.conf)
	assert r.returncode != 0
	assert r.stderr.strip(), "no message"


def test_daemon_refuses_to_start_with_bad_config(cfg):
	cfg.config["limits"]["frobnicate"] = "1"
	cfg.write_config()
	r = subprocess.run([str(MOATD), "-c", str(cfg.conf)],
	    capture_output=True, text=True, timeout=20)
	assert r.returncode != 0
	assert "frobnicate" in r.stderr, r.stderr


def test_usage_error(moat_binaries):
	r = subprocess.run([str(MOATD), "--no-such-option"],
	    capture_output=True, text=True, timeout=20)
	assert r.returncode != 0
	assert r.stderr.strip()
