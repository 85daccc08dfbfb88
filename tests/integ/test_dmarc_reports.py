"""DMARC aggregate reports (RFC 7489 7.2, appendix C) end to end. Mail
from outside (127.0.0.2, 127.0.0.3) with aligned and unaligned SPF and
DKIM (signed by dkimpy) records a row per message; a DNS server on
loopback publishes the _dmarc records: sender.example asks for reports at
reports@reports.example (a local account; reports.example authorizes it
with sender.example._report._dmarc.reports.example, RFC 7489 7.1), unauth.example asks
for the same address without that authorization (skipped, its rows
kept); reports.example's authorization may name another address of its
own (used instead) or of another host (neither is used); a record that
does not resolve now keeps the rows for later. `moatctl dmarc report`
prints the XML, `--send` queues the mail:
the attachment is gunzipped and the XML checked per source and result,
and the rows it covered are gone. The queue runner prunes rows past
[authn] dmarc_report_retention, sends nothing unless [authn]
dmarc_reports is on, and sends the previous period's report when it is.
Row values that are not UTF-8 still make a well-formed document."""
import base64
import email
import gzip
import smtplib
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

import dkim
import pytest

from conftest import DEMO, HOSTNAME, OUTSIDE, wait_until
from test_screening import DNSServer, dns_config

REPORTS = "reports@reports.example"	# local, its own domain
OTHER = "other@reports.example"		# reports.example's override
OUTSIDE2 = "127.0.0.3"		# outside, not in sender.example's SPF


def zone(dkim_pub):
	chunks = " ".join(f'"{dkim_pub[i:i + 200]}"'
	    for i in range(0, len(dkim_pub), 200))
	# (unbound answers names under test. itself: .example here)
	return f"""$ORIGIN example.
$TTL 60
sender TXT "v=spf1 ip4:{OUTSIDE} -all"
_dmarc.sender TXT "v=DMARC1; p=none; rua=https://sender.example/r,mailto:{REPORTS},mailto:small@reports.example!10"
sel._domainkey.sender TXT "v=DKIM1; k=rsa; p=" {chunks}
sender.example._report._dmarc.reports TXT "v=DMARC1"
unauth TXT "v=spf1 ip4:{OUTSIDE} -all"
_dmarc.unauth TXT "v=DMARC1; p=none; rua=mailto:{REPORTS}"
_dmarc.override TXT "v=DMARC1; p=none; rua=mailto:{REPORTS}"
override.example._report._dmarc.reports TXT "v=DMARC1; rua=mailto:{OTHER}"
_dmarc.forbid TXT "v=DMARC1; p=none; rua=mailto:{REPORTS}"
forbid.example._report._dmarc.reports TXT "v=DMARC1; rua=mailto:x@elsewhere.example"
_dmarc.tempfail SERVFAIL
"""


@pytest.fixture
def site(make_server, tmp_path):
	key = tmp_path / "k.pem"
	subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
	    check=True, capture_output=True, timeout=60)
	pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True,
	    timeout=30).stdout
	d = DNSServer(tmp_path / "r.zone", zone(base64.b64encode(pub).decode()))

	def provision(srv):
		srv.provision()
		srv.ctl("domain", "add", "reports.example")
		srv.add_account(REPORTS, "reports-password-1")
		srv.add_account(OTHER, "other-password-1")

	try:
		srv = make_server(overrides={"dns": dns_config(d),
		    "authn": {"spf": "yes", "dkim_verify": "yes"}},
		    provision=provision)
		yield srv, key.read_bytes()
	finally:
		d.stop()


def send(srv, ip, mail_from, from_hdr, key=None):
	msg = (f"From: {from_hdr}\r\nTo: {DEMO}\r\nSubject: report me\r\n"
	    "\r\nbody\r\n").encode()
	if key is not None:
		msg = dkim.sign(msg, b"sel", b"sender.example", key,
		    include_headers=[b"from", b"to", b"subject"]) + msg
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
	    source_address=(ip, 0)) as s:
		assert s.sendmail(mail_from, [DEMO], msg) == {}


def rows(srv, domain=None):
	db = sqlite3.connect(str(srv.data_dir / "moat.db"))
	try:
		if domain is None:
			return db.execute("SELECT count(*) FROM dmarc_reports"
			    ).fetchone()[0]
		return db.execute("SELECT count(*) FROM dmarc_reports WHERE "
		    "policy_domain = ?", (domain,)).fetchone()[0]
	finally:
		db.close()


def report_of(raw):
	"""(message, XML root) of a report mail."""
	m = email.message_from_bytes(raw)
	parts = [p for p in m.walk()
	    if p.get_content_type() == "application/gzip"]
	assert len(parts) == 1, m.as_string()[:2000]
	return m, parts[0], ET.fromstring(gzip.decompress(
	    parts[0].get_payload(decode=True)))


def records(root):
	"""{(source_ip, disposition, dkim, spf, header_from, envelope_from,
	auth dkim result or None, auth spf result): count}"""
	out = {}
	for r in root.findall("record"):
		row = r.find("row")
		pe = row.find("policy_evaluated")
		auth = r.find("auth_results")
		d = auth.find("dkim")
		key = (row.findtext("source_ip"), pe.findtext("disposition"),
		    pe.findtext("dkim"), pe.findtext("spf"),
		    r.find("identifiers").findtext("header_from"),
		    r.find("identifiers").findtext("envelope_from"),
		    None if d is None else (d.findtext("domain"),
		    d.findtext("result")),
		    auth.find("spf").findtext("result"))
		out[key] = out.get(key, 0) + int(row.findtext("count"))
	return out


def insert_row(srv, when, domain, ip=OUTSIDE):
	db = sqlite3.connect(str(srv.data_dir / "moat.db"))
	try:
		db.execute("INSERT INTO dmarc_reports (time, source_ip,"
		    " header_from, envelope_from, policy_domain, policy,"
		    " disposition, dmarc, dkim, dkim_domain, dkim_aligned, spf,"
		    " spf_domain, spf_aligned, pct) VALUES (?, ?, ?, ?, ?,"
		    " 'none', 'none', 'pass', 'none', '', 0, 'pass', ?, 1, 100)",
		    (int(when), ip, domain, domain, domain, domain))
		db.commit()
	finally:
		db.close()


def test_report_sent_on_demand(site):
	srv, key = site
	# aligned SPF, twice
	send(srv, OUTSIDE, "a@sender.example", "A <a@sender.example>")
	send(srv, OUTSIDE, "a@sender.example", "A <a@sender.example>")
	# aligned DKIM, SPF of another domain (none)
	send(srv, OUTSIDE, "b@elsewhere.example", "B <b@sender.example>", key=key)
	# neither: SPF fails from an address outside the record (p=none)
	send(srv, OUTSIDE2, "c@sender.example", "C <c@sender.example>")
	# the domain whose external rua is not authorized
	send(srv, OUTSIDE, "d@unauth.example", "D <d@unauth.example>")
	# (rows are written before the reply to DATA)
	assert rows(srv, "sender.example") == 4
	assert rows(srv, "unauth.example") == 1

	# Without --send: the XML, nothing sent, nothing deleted.
	r = srv.ctl("dmarc", "report", "sender.example")
	root = ET.fromstring(r.stdout)
	assert root.find("policy_published").findtext("domain") == \
	    "sender.example"
	assert sum(records(root).values()) == 4
	assert f"rua={REPORTS}" in r.stderr
	assert rows(srv, "sender.example") == 4

	# 7.1 step 8: reports.example names another address of its own
	# for override.example (used), one elsewhere for forbid.example
	# (neither used); tempfail.example's record does not resolve now.
	for d in ("override.example", "forbid.example", "tempfail.example"):
		insert_row(srv, time.time(), d)

	r = srv.ctl("dmarc", "report", "--send", check=False)
	assert r.returncode == 1, r.stdout + r.stderr	# one deferred
	assert "domains 5 queued 2 deferred 1 skipped 2" in r.stdout, \
	    r.stdout + r.stderr
	assert "not authorized" in r.stderr and "unauth.example" in r.stderr
	assert "forbid.example" in r.stderr and "another host" in r.stderr
	got = srv.wait_delivered(1, user=OTHER)
	m, _, root = report_of(got[0])
	assert m["To"] == f"<{OTHER}>"
	assert root.find("policy_published").findtext("domain") == \
	    "override.example"
	assert rows(srv, "override.example") == 0
	assert rows(srv, "forbid.example") == 1
	assert rows(srv, "tempfail.example") == 1
	got = srv.wait_delivered(1, user=REPORTS)
	assert len(got) == 1
	m, part, root = report_of(got[0])

	assert m["From"] == "<postmaster@example.test>"
	assert m["To"] == f"<{REPORTS}>"	# not the !10 one, not https
	subject = " ".join(m["Subject"].split())
	assert subject.startswith("Report Domain: sender.example Submitter: "
	    f"{HOSTNAME} Report-ID: <"), subject
	meta = root.find("report_metadata")
	assert meta.findtext("org_name") == HOSTNAME
	assert meta.findtext("email") == "postmaster@example.test"
	assert meta.findtext("report_id") in subject
	begin = int(meta.find("date_range").findtext("begin"))
	end = int(meta.find("date_range").findtext("end"))
	assert begin % 86400 == 0 and begin <= time.time() and end >= begin
	assert part.get_filename() == \
	    f"{HOSTNAME}!sender.example!{begin}!{end}.xml.gz"
	pp = root.find("policy_published")
	assert (pp.findtext("domain"), pp.findtext("p"), pp.findtext("sp"),
	    pp.findtext("pct"), pp.findtext("adkim")) == \
	    ("sender.example", "none", "none", "100", "r")
	assert records(root) == {
	    (OUTSIDE, "none", "fail", "pass", "sender.example", "sender.example",
	     None, "pass"): 2,
	    (OUTSIDE, "none", "pass", "fail", "sender.example", "elsewhere.example",
	     ("sender.example", "pass"), "none"): 1,
	    (OUTSIDE2, "none", "fail", "fail", "sender.example", "sender.example",
	     None, "fail"): 1,
	}

	# The rows reported are gone; unauth.example's stay for the prune.
	assert rows(srv, "sender.example") == 0
	assert rows(srv, "unauth.example") == 1
	r = srv.ctl("dmarc", "report", "--send", check=False)
	assert "queued 0 deferred 1" in r.stdout
	time.sleep(1)
	assert len(srv.maildir_files(REPORTS)) == 1
	assert len(srv.maildir_files(OTHER)) == 1


def test_runner_prunes_and_reports_only_when_enabled(site):
	srv, _ = site
	srv.stop()
	now = time.time()
	yesterday = now - now % 86400 - 3600
	insert_row(srv, now - 10 * 86400, "sender.example")	# past 7d
	insert_row(srv, yesterday, "sender.example")
	insert_row(srv, yesterday, "sender.example", ip=OUTSIDE2)
	insert_row(srv, now, "sender.example")	# this period: not yet
	assert rows(srv) == 4

	# Off by default: the hourly prune (it runs at start) drops the old
	# row; no report is sent.
	srv.start()
	assert wait_until(lambda: rows(srv) == 3, 10), rows(srv)
	assert srv.wait_log(r"event=dmarc-prune rows=1")
	time.sleep(2)
	assert srv.maildir_files(REPORTS) == []
	assert srv.log_count(r"event=dmarc-report") == 0
	assert rows(srv) == 3

	# On: the previous period's rows are reported at start.
	srv.stop()
	srv.config["authn"]["dmarc_reports"] = "yes"
	srv.config["authn"]["dmarc_report_org"] = "Example & Co"
	srv.write_config()
	srv.start()
	got = srv.wait_delivered(1, user=REPORTS, timeout=20)
	_, _, root = report_of(got[0])
	assert root.find("report_metadata").findtext("org_name") == \
	    "Example & Co"
	assert sum(records(root).values()) == 2
	dr = root.find("report_metadata").find("date_range")
	assert int(dr.findtext("begin")) == yesterday - yesterday % 86400
	assert int(dr.findtext("end")) == now - now % 86400 - 1
	assert wait_until(lambda: rows(srv) == 1, 10), rows(srv)


def test_report_well_formed_with_bad_octets(site):
	"""Row values whose octets are not UTF-8 (a client's HELO name is the
	null sender's envelope_from and SPF domain; dmarc.c checks it as a
	domain today, but the rows are stored text): the report stays
	well-formed XML, each bad octet U+FFFD, valid UTF-8 kept, and
	appendix C's <version> comes first."""
	srv, _ = site
	srv.stop()
	db = sqlite3.connect(str(srv.data_dir / "moat.db"))
	try:
		db.execute("INSERT INTO dmarc_reports (time, source_ip,"
		    " header_from, envelope_from, policy_domain, policy,"
		    " disposition, dmarc, dkim, dkim_domain, dkim_aligned, spf,"
		    " spf_domain, spf_aligned, pct) VALUES (?, ?,"
		    " 'sender.example', CAST(? AS TEXT), 'sender.example',"
		    " 'none', 'none', 'fail', 'none', '', 0, 'none',"
		    " CAST(? AS TEXT), 0, 100)", (int(time.time()), OUTSIDE,
		    b"mx.\xff\xfe", b"caf\xc3\xa9\xc0\xaf.example"))
		db.commit()
	finally:
		db.close()
	srv.start()

	r = srv.ctl("dmarc", "report", "--send")
	assert "queued 1" in r.stdout, r.stdout + r.stderr
	_, _, root = report_of(srv.wait_delivered(1, user=REPORTS)[0])
	assert [e.tag for e in root][:3] == ["version", "report_metadata",
	    "policy_published"]
	assert root.findtext("version") == "1.0"
	rec = root.find("record")
	assert rec.find("identifiers").findtext("envelope_from") == \
	    "mx.\ufffd\ufffd"
	assert rec.find("auth_results").find("spf").findtext("domain") == \
	    "caf\u00e9\ufffd\ufffd.example"
	assert rows(srv, "sender.example") == 0
