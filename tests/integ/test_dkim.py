"""DKIM against an independent implementation (dkimpy, python3-dkim):
messages signed by `moatctl dkim sign` (RSA and Ed25519, every
canonicalization) verify with dkimpy; messages signed by dkimpy
(rsa-sha256 and ed25519-sha256, simple and relaxed) verify with
`moatctl dkim verify`, whose keys come from tests/dns/dnsserver.py through
[dns] resolver; tampered messages fail; key administration commands."""
import base64
import re
import signal
import subprocess

import pytest

from conftest import REPO

dkim = pytest.importorskip("dkim")
nacl_signing = pytest.importorskip("nacl.signing")

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"
DOMAIN = "dkim.example"

MESSAGE = (
    b"From: Alice <alice@dkim.example>\r\n"
    b"To: Bob <bob@other.example>\r\n"
    b"Subject: DKIM interop\r\n"
    b"Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
    b"Message-ID: <interop-1@dkim.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"  this line has   odd  spacing \t \r\n"
    b"\r\n"
    b"-- \r\n"
    b"Alice\r\n"
    b"\r\n"
    b"\r\n")

RECORD_RE = re.compile(
    r'^(\S+)\._domainkey\.(\S+)\. IN TXT((?: "[^"]*")+)( ; disabled)?$')


def parse_records(out):
	"""moatctl's record lines -> {(domain, selector): (txt, enabled)}."""
	recs = {}
	for line in out.splitlines():
		m = RECORD_RE.match(line)
		assert m, f"not a record line: {line!r}"
		parts = re.findall(r'"([^"]*)"', m.group(3))
		assert all(len(p) <= 255 for p in parts), line
		recs[(m.group(2), m.group(1))] = ("".join(parts),
		    m.group(4) is None)
	return recs


@pytest.fixture
def srv(make_server):
	return make_server(provision=False, start=False)


def keygen(srv, *args):
	out = srv.ctl("dkim", "keygen", DOMAIN, *args).stdout
	recs = parse_records(out)
	assert len(recs) == 1
	(_, sel), (txt, _) = next(iter(recs.items()))
	return sel, txt


def dnsfunc_for(records):
	def dnsfunc(name, timeout=5):
		if isinstance(name, bytes):
			name = name.decode()
		name = name.rstrip(".")
		txt = records.get(name)
		return txt.encode() if txt is not None else None
	return dnsfunc


def sign_with_moatctl(srv, tmp_path, msg, *extra):
	"""The message goes in on stdin (moatctl reads files only after it
	dropped to the service user)."""
	r = subprocess.run([str(srv_ctl_path()), "-c", str(srv.conf), "dkim",
	    "sign", "-", "--domain", DOMAIN, *extra], input=msg,
	    capture_output=True, timeout=30)
	assert r.returncode == 0, r.stderr
	return r.stdout


def srv_ctl_path():
	from conftest import MOATCTL
	return MOATCTL


def dkimpy_verify_all(signed, records):
	d = dkim.DKIM(signed)
	n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
	out = []
	for i in range(n):
		try:
			out.append(d.verify(idx=i, dnsfunc=dnsfunc_for(records)))
		except dkim.DKIMException:
			out.append(False)	# dkimpy raises on a bh= mismatch
	return out


@pytest.mark.parametrize("canon", [None, "relaxed/relaxed", "simple/simple",
    "relaxed/simple", "simple/relaxed"])
def test_moatctl_signs_dkimpy_verifies(srv, tmp_path, canon):
	rsa_sel, rsa_txt = keygen(srv, "--selector", "rsa")
	ed_sel, ed_txt = keygen(srv, "--selector", "ed", "--ed25519")
	assert "k=rsa" in rsa_txt and "k=ed25519" in ed_txt
	records = {f"{rsa_sel}._domainkey.{DOMAIN}": rsa_txt,
	    f"{ed_sel}._domainkey.{DOMAIN}": ed_txt}
	extra = ["--canon", canon] if canon else []
	signed = sign_with_moatctl(srv, tmp_path, MESSAGE, *extra)
	assert signed.endswith(MESSAGE)
	head = signed[:len(signed) - len(MESSAGE)]
	assert head.count(b"DKIM-Signature:") == 2
	for line in head.split(b"\r\n"):
		assert len(line) <= 78, line
	if canon:
		assert f"c={canon};".encode() in head.replace(b"\r\n ", b" ")
	assert dkimpy_verify_all(signed, records) == [True, True]
	# Tampered: a header field, the body, an added over-signed field.
	for old, new in ((b"Subject: DKIM interop", b"Subject: DKIM interup"),
	    (b"Hello Bob", b"Hello Eve"),
	    (b"From: Alice", b"To: eve@evil.example\r\nFrom: Alice")):
		bad = signed.replace(old, new, 1)
		assert dkimpy_verify_all(bad, records) == [False, False], old


def test_disabled_key_does_not_sign(srv, tmp_path):
	keygen(srv, "--selector", "one", "--ed25519")
	keygen(srv, "--selector", "two", "--ed25519")
	srv.ctl("dkim", "disable", DOMAIN, "two")
	signed = sign_with_moatctl(srv, tmp_path, MESSAGE)
	assert signed.count(b"DKIM-Signature:") == 1
	assert b"s=one;" in signed
	srv.ctl("dkim", "del", DOMAIN, "one")
	path = srv.base / "m.eml"
	path.write_bytes(MESSAGE)
	path.chmod(0o644)
	r = srv.ctl("dkim", "sign", str(path), "--domain", DOMAIN, check=False)
	assert r.returncode != 0 and "no enabled DKIM key" in r.stderr


def test_keygen_show_and_admin(srv):
	sel, txt = keygen(srv)
	assert re.fullmatch(r"moat\d{6}", sel), sel
	p = re.search(r"p=([A-Za-z0-9+/=]+)$", txt).group(1)
	assert len(base64.b64decode(p)) > 256	# RSA 2048 SubjectPublicKeyInfo
	keygen(srv, "--selector", "Ed1", "--ed25519")
	recs = parse_records(srv.ctl("dkim", "show").stdout)
	assert set(recs) == {(DOMAIN, sel), (DOMAIN, "ed1")}
	assert recs[(DOMAIN, sel)] == (txt, True)
	srv.ctl("dkim", "disable", DOMAIN, "ed1")
	recs = parse_records(srv.ctl("dkim", "show").stdout)
	assert recs[(DOMAIN, "ed1")][1] is False
	srv.ctl("dkim", "enable", DOMAIN, "ed1")
	srv.ctl("dkim", "del", DOMAIN, "ed1")
	assert set(parse_records(srv.ctl("dkim", "show").stdout)) == \
	    {(DOMAIN, sel)}
	r = srv.ctl("dkim", "keygen", DOMAIN, "--selector", sel, check=False)
	assert r.returncode != 0 and "exists" in r.stderr
	r = srv.ctl("dkim", "del", DOMAIN, "nosuch", check=False)
	assert r.returncode != 0 and r.stderr.strip()
	r = srv.ctl("dkim", "keygen", "not a domain", check=False)
	assert r.returncode != 0


def test_private_key_not_readable_by_others(srv):
	keygen(srv, "--ed25519")
	db = srv.data_dir / "moat.db"
	assert db.stat().st_mode & 0o077 == 0


# ---- dkimpy signs, moatctl verifies through a real DNS server ----------------

def rsa_keypair(tmp_path, bits=2048):
	key = tmp_path / f"rsa{bits}.pem"
	subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key),
	    str(bits)], check=True, capture_output=True, timeout=60)
	der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True,
	    timeout=30).stdout
	return key.read_bytes(), base64.b64encode(der).decode()


def ed_keypair():
	sk = nacl_signing.SigningKey.generate()
	return base64.b64encode(bytes(sk)), \
	    base64.b64encode(bytes(sk.verify_key)).decode()


def zone_txt(name, txt):
	parts = [txt[i:i + 255] for i in range(0, len(txt), 255)]
	return f"{name} TXT " + " ".join(f'"{p}"' for p in parts) + "\n"


@pytest.fixture
def dkimpy_site(srv, tmp_path):
	rsa_priv, rsa_pub = rsa_keypair(tmp_path)
	ed_priv, ed_pub = ed_keypair()
	zone = (f"$ORIGIN {DOMAIN}.\n$TTL 60\n"
	    f"@ SOA ns hostmaster 1 3600 600 86400 60\n")
	zone += zone_txt("rsa._domainkey", f"v=DKIM1; k=rsa; p={rsa_pub}")
	zone += zone_txt("ed._domainkey", f"v=DKIM1; k=ed25519; p={ed_pub}")
	zone += zone_txt("testing._domainkey",
	    f"v=DKIM1; k=ed25519; t=y; p={ed_pub}")
	zone += zone_txt("revoked._domainkey", "v=DKIM1; k=rsa; p=")
	zone += "broken._domainkey SERVFAIL\n"
	zf = tmp_path / "dkim.zone"
	zf.write_text(zone)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zf)], stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], f"dnsserver did not start: {line}"
	srv.config["dns"] = {"resolver": f"127.0.0.1:{line[1]}",
	    "timeout": "2000"}
	srv.write_config()
	yield {"rsa": rsa_priv, "ed": ed_priv}
	proc.send_signal(signal.SIGTERM)
	try:
		proc.wait(timeout=5)
	except subprocess.TimeoutExpired:
		proc.kill()
		proc.wait()


def dkimpy_sign(msg, selector, key, canon, alg):
	c = tuple(x.encode() for x in canon.split("/"))
	sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), key,
	    canonicalize=c, signature_algorithm=alg.encode(),
	    include_headers=[b"from", b"to", b"subject", b"date",
	    b"message-id"])
	return sig + msg


def moatctl_verify(srv, tmp_path, msg):
	path = srv.base / "verify.eml"	# readable by the service user
	path.write_bytes(msg)
	path.chmod(0o644)
	r = srv.ctl("dkim", "verify", str(path), check=False)
	lines = [ln.split("\t") for ln in r.stdout.splitlines()]
	return r.returncode, lines


@pytest.mark.parametrize("alg,sel", [("rsa-sha256", "rsa"),
    ("ed25519-sha256", "ed")])
@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed",
    "relaxed/simple", "simple/relaxed"])
def test_dkimpy_signs_moatctl_verifies(srv, tmp_path, dkimpy_site, alg, sel,
    canon):
	signed = dkimpy_sign(MESSAGE, sel, dkimpy_site[sel], canon, alg)
	rc, lines = moatctl_verify(srv, tmp_path, signed)
	assert lines == [[DOMAIN, sel, "pass"]], lines
	assert rc == 0
	rc, lines = moatctl_verify(srv, tmp_path,
	    signed.replace(b"Subject: DKIM interop", b"Subject: changed"))
	assert lines == [[DOMAIN, sel, "fail (signature did not verify)"]]
	assert rc != 0
	rc, lines = moatctl_verify(srv, tmp_path,
	    signed.replace(b"Hello Bob", b"Hello Eve"))
	assert lines == [[DOMAIN, sel, "fail (body hash mismatch)"]]


def test_verify_lf_file_and_several_signatures(srv, tmp_path, dkimpy_site):
	signed = dkimpy_sign(MESSAGE, "rsa", dkimpy_site["rsa"],
	    "relaxed/relaxed", "rsa-sha256")
	signed = dkimpy_sign(signed, "ed", dkimpy_site["ed"], "relaxed/relaxed",
	    "ed25519-sha256")
	# As a Unix mail file: LF line ends.
	rc, lines = moatctl_verify(srv, tmp_path, signed.replace(b"\r\n", b"\n"))
	assert sorted(map(tuple, lines)) == [(DOMAIN, "ed", "pass"),
	    (DOMAIN, "rsa", "pass")], lines
	assert rc == 0


def test_verify_key_problems(srv, tmp_path, dkimpy_site):
	ed = dkimpy_site["ed"]
	cases = {
	    "testing": "pass (testing key (t=y))",
	    "revoked": "permerror (key revoked)",
	    "broken": "temperror (key lookup failed temporarily)",
	    "missing": "permerror (no key record)",
	}
	for sel, want in cases.items():
		signed = dkimpy_sign(MESSAGE, sel, ed, "relaxed/relaxed",
		    "ed25519-sha256")
		rc, lines = moatctl_verify(srv, tmp_path, signed)
		assert lines == [[DOMAIN, sel, want]], (sel, lines)


def test_verify_rsa_sha1(srv, tmp_path, dkimpy_site):
	signed = dkim.sign(MESSAGE, b"rsa", DOMAIN.encode(), dkimpy_site["rsa"],
	    signature_algorithm=b"rsa-sha1")
	rc, lines = moatctl_verify(srv, tmp_path, signed + MESSAGE)
	assert lines == [[DOMAIN, "rsa",
	    "fail (rsa-sha1 is not accepted (RFC 8301))"]], lines
	assert rc != 0


def test_verify_unsigned(srv, tmp_path):
	rc, lines = moatctl_verify(srv, tmp_path, MESSAGE)
	assert rc != 0 and lines == [["no DKIM signature"]]
