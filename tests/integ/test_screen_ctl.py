"""moatctl screen: static allow/deny rules are added, listed, deleted and
imported (all or nothing), refused when they do not validate, kept across
moatctl runs, and "screen test" gives the verdicts of the workers' matcher."""
import pytest

from conftest import DOMAIN


@pytest.fixture
def srv(make_server):
	"""A provisioned data_dir; the daemon is not running."""
	return make_server(start=False)


def fails(srv, *args, code=None, needle=None):
	r = srv.ctl(*args, check=False)
	cmd = " ".join(args)
	assert r.returncode != 0, f"moatctl {cmd} succeeded: {r.stdout}"
	if code is not None:
		assert r.returncode == code, (r.returncode, r.stderr)
	assert r.stderr.strip(), f"moatctl {cmd}: no message on stderr"
	if needle:
		assert needle.lower() in r.stderr.lower(), r.stderr
	return r


def rules(srv, *args):
	"""screen list as a list of 8-field rows."""
	out = srv.ctl("screen", "list", *args).stdout
	rows = [line.split("\t") for line in out.splitlines()]
	for row in rows:
		assert len(row) == 8, row
	return rows


def added_id(r):
	words = r.stdout.split()
	assert words[:2] == ["added", "rule"], r.stdout
	return int(words[2])


def verdict(srv, *args):
	"""The lines of screen test, keyed by their first word."""
	out = srv.ctl("screen", "test", *args).stdout
	return {line.split(" ", 1)[0]: line for line in out.splitlines()}


def test_add_list_del(srv):
	a = added_id(srv.ctl("screen", "deny", "add", "ip", "192.0.2.77/24",
	    "--comment", "documentation net"))
	b = added_id(srv.ctl("screen", "allow", "add", "ip", "192.0.2.7",
	    "--service", "smtp,IMAP"))
	c = added_id(srv.ctl("screen", "deny", "add", "host",
	    "*.Dyn.Example.NET", "--shadow"))
	d = added_id(srv.ctl("screen", "deny", "add", "sender", "@spam.test",
	    "--domain", DOMAIN.upper()))
	assert len({a, b, c, d}) == 4

	# Every change was a separate moatctl run: the rules persisted.
	rows = rules(srv)
	assert [r[0] for r in rows] == [str(a), str(b), str(c), str(d)]
	assert rows[0][1:] == ["deny", "ip", "192.0.2.0/24", "*", "", "enforce",
	    "documentation net"]
	assert rows[1][1:7] == ["allow", "ip", "192.0.2.7", "smtp,imap", "",
	    "enforce"]
	assert rows[2][1:7] == ["deny", "host", "*.dyn.example.net", "*", "",
	    "shadow"]
	assert rows[3][1:7] == ["deny", "sender", "@spam.test", "*", DOMAIN,
	    "enforce"]

	assert [r[0] for r in rules(srv, "allow")] == [str(b)]
	assert [r[0] for r in rules(srv, "deny", "--kind", "ip")] == [str(a)]
	assert [r[0] for r in rules(srv, "--kind", "sender")] == [str(d)]

	srv.ctl("screen", "del", str(a))
	fails(srv, "screen", "del", str(a), code=1, needle="no such rule")
	# By value: the same canonical form, any case.
	srv.ctl("screen", "deny", "del", "host", "*.DYN.example.net")
	fails(srv, "screen", "deny", "del", "host", "*.dyn.example.net",
	    code=1, needle="no such rule")
	# A domain rule is deleted only with its domain.
	fails(srv, "screen", "deny", "del", "sender", "@spam.test", code=1)
	srv.ctl("screen", "deny", "del", "sender", "@spam.test", "--domain",
	    DOMAIN)
	assert [r[0] for r in rules(srv)] == [str(b)]


def test_validation_errors(srv):
	fails(srv, "screen", "deny", "add", "ip", "192.0.2.0/33", code=1,
	    needle="ADDR")
	fails(srv, "screen", "deny", "add", "ip", "not-an-address", code=1)
	fails(srv, "screen", "deny", "add", "host", "bad name", code=1)
	fails(srv, "screen", "deny", "add", "helo", "", code=1)
	fails(srv, "screen", "deny", "add", "sender", "a@b@c.test", code=1)
	fails(srv, "screen", "deny", "add", "rcpt", "user@", code=1)
	fails(srv, "screen", "deny", "add", "sender", "@spam.test", "--domain",
	    "nosuch.test", code=1, needle="no such domain")
	# Usage errors: exit 2.
	fails(srv, "screen", "deny", "add", "ipx", "192.0.2.1", code=2)
	fails(srv, "screen", "deny", "add", "ip", "192.0.2.1", "--service",
	    "ftp", code=2)
	fails(srv, "screen", "maybe", "add", "ip", "192.0.2.1", code=2)
	fails(srv, "screen", "deny", "add", "ip", code=2)
	fails(srv, "screen", "del", "seven", code=2)
	fails(srv, "screen", "test", "--host", "a.example", code=2)
	fails(srv, "screen", "test", "--ip", "192.0.2.0/24", code=2)
	fails(srv, "screen", code=2)
	assert rules(srv) == []

	srv.ctl("screen", "deny", "add", "ip", "192.0.2.1")
	fails(srv, "screen", "deny", "add", "ip", "192.0.2.1/32", code=1,
	    needle="exists")
	assert len(rules(srv)) == 1


GOOD = """\
# static screening rules
deny ip 198.51.100.0/24   # a bad network

allow ip 198.51.100.25 services=smtp,submission
  deny host *.dsl.example.net mode=shadow
deny sender @spam.test domain=example.test
deny rcpt abuse@example.test
deny ip 2001:db8::/32
"""

BAD = """\
deny ip 203.0.113.0/24
deny helo fine.example.net
deny ip 203.0.113.300
deny helo also-fine.example.net
"""


def rules_file(srv, name, text):
	"""A file moatctl can read after it drops to the service user."""
	path = srv.base / name
	path.write_text(text)
	path.chmod(0o644)
	return path


def test_import(srv):
	good = rules_file(srv, "good.rules", GOOD)
	out = srv.ctl("screen", "import", str(good)).stdout
	assert "imported 6 rules" in out, out
	rows = rules(srv)
	assert len(rows) == 6
	assert rows[0][1:] == ["deny", "ip", "198.51.100.0/24", "*", "",
	    "enforce", "a bad network"]
	assert rows[1][4] == "smtp,submission"
	assert rows[2][6] == "shadow"
	assert rows[3][5] == DOMAIN

	# Again, from stdin: nothing new, nothing doubled.
	out = srv.ctl("screen", "import", "-", input=GOOD).stdout
	assert "imported 0 rules, 6 already present" in out, out
	assert len(rules(srv)) == 6

	# One bad line: it is named, and nothing of the file is imported.
	bad = rules_file(srv, "bad.rules", BAD)
	r = fails(srv, "screen", "import", str(bad), code=1, needle="line 3")
	assert "nothing imported" in r.stderr
	assert len(rules(srv)) == 6
	bad.write_text("deny ip 203.0.113.0/24\nallow nosuchkind x\n")
	fails(srv, "screen", "import", str(bad), needle="line 2")
	bad.write_text("deny ip 203.0.113.0/24 colour=blue\n")
	fails(srv, "screen", "import", str(bad), needle="line 1")
	bad.write_text("deny sender @x.test domain=nosuch.test\n")
	fails(srv, "screen", "import", str(bad), needle="no such domain")
	fails(srv, "screen", "import", str(srv.base / "missing.rules"), code=1)
	assert len(rules(srv)) == 6


def test_screen_test_verdicts(srv):
	srv.ctl("screen", "deny", "add", "ip", "10.0.0.0/8")
	allow = added_id(srv.ctl("screen", "allow", "add", "ip", "10.1.2.3"))
	v6 = added_id(srv.ctl("screen", "deny", "add", "ip", "2001:db8::/32"))
	wild = added_id(srv.ctl("screen", "deny", "add", "host",
	    "*.example.net"))
	shadow = added_id(srv.ctl("screen", "deny", "add", "helo", "win-*",
	    "--shadow"))
	imap = added_id(srv.ctl("screen", "deny", "add", "ip", "192.0.2.0/24",
	    "--service", "imap"))
	dom = added_id(srv.ctl("screen", "deny", "add", "rcpt", "*@*.test",
	    "--domain", DOMAIN))

	v = verdict(srv, "--ip", "10.1.2.3")
	assert v["ip"].startswith("ip 10.1.2.3 allow"), v
	assert f"#{allow}" in v["ip"]
	assert v["verdict"].startswith("verdict allow"), v
	v = verdict(srv, "--ip", "10.9.9.9")
	assert v["verdict"].startswith(
	    "verdict deny rule=deny ip 10.0.0.0/8"), v
	# IPv4-mapped IPv6 is the IPv4 address.
	v = verdict(srv, "--ip", "::ffff:10.9.9.9")
	assert v["verdict"].startswith("verdict deny"), v
	v = verdict(srv, "--ip", "2001:DB8:1::2")
	assert f"#{v6}" in v["verdict"], v
	assert verdict(srv, "--ip", "2001:db9::1")["verdict"] == "verdict none"

	# *.example.net: names below it, not example.net itself.
	v = verdict(srv, "--ip", "192.0.2.1", "--host", "Mail.Example.Net")
	assert v["host"].startswith("host Mail.Example.Net deny"), v
	assert f"#{wild}" in v["verdict"], v
	v = verdict(srv, "--ip", "192.0.2.1", "--host", "example.net")
	assert v["verdict"] == "verdict none", v

	# Shadow: reported, not enforced.
	v = verdict(srv, "--ip", "192.0.2.1", "--helo", "WIN-12345")
	assert v["verdict"].startswith("verdict none shadow=deny"), v
	assert f"#{shadow} shadow" in v["verdict"], v

	# Per service.
	assert verdict(srv, "--ip", "192.0.2.1")["verdict"] == "verdict none"
	v = verdict(srv, "--ip", "192.0.2.1", "--service", "imap")
	assert f"#{imap}" in v["verdict"], v

	# Per domain: the rule applies only in its domain's scope.
	v = verdict(srv, "--ip", "192.0.2.1", "--rcpt", "bob@x.test")
	assert v["verdict"] == "verdict none", v
	v = verdict(srv, "--ip", "192.0.2.1", "--rcpt", "bob@x.test",
	    "--domain", DOMAIN)
	assert f"#{dom}" in v["verdict"], v

	# An allowed address beats a denied recipient.
	v = verdict(srv, "--ip", "10.1.2.3", "--rcpt", "bob@x.test",
	    "--domain", DOMAIN)
	assert v["rcpt"].startswith("rcpt bob@x.test deny"), v
	assert v["verdict"].startswith("verdict allow"), v


def test_rules_with_running_daemon(moat_server):
	"""moatctl changes rules while moatd has the database open."""
	srv = moat_server
	srv.ctl("screen", "deny", "add", "ip", "198.51.100.0/24")
	assert len(rules(srv)) == 1
	assert srv.running()
	srv.ctl("screen", "deny", "del", "ip", "198.51.100.0/24")
	assert rules(srv) == []
