"""Attachment policy and bombs over real SMTP ([attachments], the first
content stage): a blocked file name, an executable under an innocent
name, an executable inside a zip, a zip bomb, too deep nesting and too
many parts are refused at the end of DATA; ordinary attachments are
delivered; with action = quarantine the message is accepted, its
envelope carries the reason and delivery moves it to the quarantine. A
zip with octets in front of it is still opened, and a zip whose
directory names one stream many times is refused as a bomb, quickly.
gzip and tar are opened too: an executable in a .tar.gz (or named by a
gzip's FNAME) is refused like one in a zip, a gzip bomb stops at the
budget, a harmless .tar.gz is delivered."""
import base64
import gzip
import io
import re
import struct
import tarfile
import time
import zipfile
import zlib

from conftest import DEMO, OUTSIDE, RawSMTP, make_message, wait_until

# A minimal PE header: "MZ", e_lfanew at 60 pointing at "PE\0\0".
PE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" +
    b"\x00" * 44 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" +
    b"\x4c\x01" + b"\x00" * 100)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


def part(payload, name, ctype="application/octet-stream"):
	b64 = base64.encodebytes(payload).decode().replace("\n", "\r\n")
	return (f"Content-Type: {ctype}\r\n"
	    f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
	    f"Content-Transfer-Encoding: base64\r\n\r\n{b64}")


def message(subject, parts):
	body = "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	for p in parts:
		body += "--b1\r\n" + p
	body += "--b1--\r\n"
	return make_message(subject, body=body, extra_headers=(
	    "MIME-Version: 1.0",
	    'Content-Type: multipart/mixed; boundary="b1"'))


def zipped(members):
	out = io.BytesIO()
	with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
		for name, data in members:
			z.writestr(name, data)
	return out.getvalue()


def tarred(members, mode="w:gz"):
	out = io.BytesIO()
	with tarfile.open(fileobj=out, mode=mode) as t:
		for name, data in members:
			info = tarfile.TarInfo(name)
			info.size = len(data)
			info.mtime = 1700000000
			t.addfile(info, io.BytesIO(data))
	return out.getvalue()


def gzipped(data, fname=""):
	"""A gzip of data; fname goes in its FNAME field."""
	out = io.BytesIO()
	with gzip.GzipFile(filename=fname, mode="wb", fileobj=out,
	    mtime=0) as f:
		f.write(data)
	return out.getvalue()


def send(srv, msg):
	"""(code, first reply line) at the end of DATA."""
	with RawSMTP(srv.smtp_port, source=OUTSIDE, timeout=30) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<sender@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		code, lines = c.cmd(msg.decode() + ".")
		return code, lines[0]


def test_blocked_name_type_and_archive_member(make_server):
	srv = make_server()
	code, line = send(srv, message("exe", [part(b"hello", "setup.exe")]))
	assert code == 554 and line.startswith(b"554 5.7.1 "), line
	assert b'attachment "setup.exe" is not allowed' in line, line
	assert b"name matches *.exe" in line, line
	# Windows runs "x.exe." as x.exe: trailing dots do not hide it.
	code, line = send(srv, message("dot", [part(b"hi", "Invoice.EXE.")]))
	assert code == 554 and b"Invoice.EXE." in line, line
	code, line = send(srv, message("renamed", [part(PE, "notes.txt")]))
	assert code == 554 and line.startswith(b"554 5.7.1 "), line
	assert b'"notes.txt"' in line and b"(type exe)" in line, line
	z = zipped([("readme.txt", b"read me"), ("bin/tool.exe", b"x")])
	code, line = send(srv, message("zip", [part(z, "tools.zip")]))
	assert code == 554 and b'"bin/tool.exe"' in line, line
	assert b"in an archive" in line, line
	assert srv.maildir_files(DEMO) == []
	assert srv.wait_log(r'event=attachment-blocked name="setup.exe" '
	    r'reason="name matches \*\.exe" action=reject', timeout=5)
	assert srv.log_count(r"event=attachment-blocked ") == 4


def test_zip_bomb_refused_quickly(make_server):
	srv = make_server()
	out = io.BytesIO()
	with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
		with z.open("zeros.bin", "w") as f:
			chunk = b"\0" * (1 << 20)
			for _ in range(200):
				f.write(chunk)
	bomb = out.getvalue()
	assert len(bomb) < 400 * 1024
	start = time.monotonic()
	code, line = send(srv, message("bomb", [part(bomb, "data.zip")]))
	took = time.monotonic() - start
	assert code == 552 and line.startswith(b"552 5.3.4 "), line
	assert b"too complex (decoded size)" in line, line
	assert took < 10, took
	# The same zip under a higher limit is read to its end and accepted.
	srv2 = make_server({"attachments": {"max_decoded_size": "300M"}})
	code, line = send(srv2, message("big", [part(bomb, "data.zip")]))
	assert code == 250, line


def test_nesting_and_parts_limits(make_server):
	srv = make_server()
	inner = zipped([("deep.txt", b"bottom")])
	for i in range(6):
		inner = zipped([(f"level{i}.zip", inner)])
	code, line = send(srv, message("nested", [part(inner, "nest.zip")]))
	assert code == 552 and b"too complex (nesting)" in line, line
	# Four levels are within the default of 5.
	inner = zipped([("deep.txt", b"bottom")])
	for i in range(2):
		inner = zipped([(f"level{i}.zip", inner)])
	code, line = send(srv, message("shallow", [part(inner, "ok.zip")]))
	assert code == 250, line
	many = [f"Content-Type: text/plain\r\n\r\npart {i}\r\n"
	    for i in range(600)]
	code, line = send(srv, message("parts", many))
	assert code == 552 and b"too complex (parts)" in line, line
	srv2 = make_server({"attachments": {"max_parts": "1000"}})
	code, line = send(srv2, message("parts ok", many))
	assert code == 250, line


def test_ordinary_attachments_delivered(make_server):
	srv = make_server()
	code, line = send(srv, message("report", [
	    part(PDF, "report.pdf", "application/pdf"),
	    part(b"plain notes\r\n", "notes.txt", "text/plain")]))
	assert code == 250, line
	got = srv.wait_delivered(1)
	assert len(got) == 1 and b'filename="report.pdf"' in got[0]
	assert b'filename="notes.txt"' in got[0]
	assert srv.log_count(r"event=attachment-blocked ") == 0


def test_policy_keys(make_server):
	srv = make_server({"attachments": {"block_names": "*.docm",
	    "block_types": "pdf", "archives": "no"}})
	code, line = send(srv, message("exe allowed", [part(b"hi", "a.exe")]))
	assert code == 250, line
	code, line = send(srv, message("docm", [part(b"hi", "A.DocM")]))
	assert code == 554 and b"name matches *.docm" in line, line
	code, line = send(srv, message("pdf", [part(PDF, "x.bin")]))
	assert code == 554 and b"(type pdf)" in line, line
	z = zipped([("inner.pdf", PDF)])
	code, line = send(srv, message("not opened", [part(z, "x.zip")]))
	assert code == 250, line


def test_quarantine_action_accepts_and_marks(make_server):
	srv = make_server({"attachments": {"action": "quarantine"}})
	code, line = send(srv, message("held", [part(b"hello", "run.exe")]))
	assert code == 250, line
	assert srv.wait_log(r'event=attachment-blocked name="run.exe" .*'
	    r"action=quarantine", timeout=5)
	want = b'quarantine attachment "run.exe" is not allowed ' \
	    b"(name matches *.exe)\n"

	# Delivery moves it to <data_dir>/quarantine/<queue id>, never to
	# the Maildir.
	qid = re.search(rb"queued as (\S+)", line).group(1).decode()
	assert srv.wait_log(rf"event=quarantined id={re.escape(qid)} ",
	    timeout=15), srv.log_tail(30)
	held = srv.data_dir / "quarantine" / qid
	assert held.is_file(), sorted(srv.data_dir.rglob("*"))
	assert want in held.read_bytes()
	assert srv.maildir_files(DEMO) == []
	code, line = send(srv, message("bomb held", [part(zipped([
	    (f"f{i}.txt", b"x") for i in range(600)]), "many.zip")]))
	assert code == 250, line
	assert srv.wait_log(r"event=attachment-blocked name=- "
	    r'reason="limit parts" action=quarantine', timeout=5)


def test_prefixed_zip_opened(make_server):
	"""One octet in front of a zip (or a self-extracting stub): unzip
	and Python still list its members, so the policy sees them too."""
	srv = make_server()
	z = b"#" + zipped([("evil.exe", PE)])
	assert zipfile.ZipFile(io.BytesIO(z)).namelist() == ["evil.exe"]
	code, line = send(srv, message("prefixed", [part(z, "invoice.zip",
	    "application/zip")]))
	assert code == 554 and line.startswith(b"554 5.7.1 "), line
	assert b'"evil.exe"' in line and b"in an archive" in line, line
	assert srv.maildir_files(DEMO) == []


def repeated_entries_zip(entries, stream_len):
	"""One local header whose deflate stream is empty stored blocks
	(inflating to nothing), named by every central directory entry."""
	data = b"\x00\x00\x00\xff\xff" * (stream_len // 5) + \
	    b"\x01\x00\x00\xff\xff"
	local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, 0,
	    len(data), 0, 5, 0) + b"a.txt" + data
	cd = b""
	for i in range(entries):
		nm = b"f%d.txt" % i
		cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0,
		    8, 0, 0, 0, len(data), 0, len(nm), 0, 0, 0, 0, 0, 0) + nm
	return local + cd + struct.pack("<IHHHHIIH", 0x06054b50, 0, 0,
	    entries, entries, len(cd), len(local), 0)


def test_overlapping_members_refused_quickly(make_server):
	"""The reviewer's CPU bomb: 60 MB of empty deflate blocks named by
	500 directory entries, deflated again into a 90 KB outer zip. It
	used to keep a pool thread busy for ~28 s; now the directory is
	refused before the stream is inflated even once."""
	srv = make_server()
	inner = repeated_entries_zip(500, 60 * 1024 * 1024)
	comp = zlib.compressobj(9, zlib.DEFLATED, -15)
	packed = comp.compress(inner) + comp.flush()
	crc = zlib.crc32(inner)
	local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, crc,
	    len(packed), len(inner), 9, 0) + b"inner.zip"
	cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0,
	    0, crc, len(packed), len(inner), 9, 0, 0, 0, 0, 0, 0) + \
	    b"inner.zip"
	outer = local + packed + cd + struct.pack("<IHHHHIIH", 0x06054b50,
	    0, 0, 1, 1, len(cd), len(local) + len(packed), 0)
	assert len(outer) < 200 * 1024
	start = time.monotonic()
	code, line = send(srv, message("cpu bomb", [part(outer, "x.zip",
	    "application/zip")]))
	took = time.monotonic() - start
	assert code == 552 and line.startswith(b"552 5.3.4 "), line
	assert b"too complex (overlapping members)" in line, line
	assert took < 5, took
	assert srv.wait_log(r'event=attachment-blocked name=- '
	    r'reason="limit overlapping members" action=reject', timeout=5)


def test_exe_in_tar_gz_refused_like_zip(make_server):
	"""An .exe inside a .tar.gz gets the very reply an .exe inside a zip
	gets; by type too (an exe named .jpg in a tar), and by a gzip's
	FNAME. A .tar.gz of harmless files is delivered."""
	srv = make_server()
	files = [("docs/readme.txt", b"read me\n"),
	    ("docs/invoice.pdf.exe", PE)]
	tgz = tarred(files)
	assert tarfile.open(fileobj=io.BytesIO(tgz)).getnames() == \
	    ["docs/readme.txt", "docs/invoice.pdf.exe"]
	code, line = send(srv, message("tgz", [part(tgz, "invoice.tar.gz",
	    "application/gzip")]))
	assert code == 554 and line.startswith(b"554 5.7.1 "), line
	zcode, zline = send(srv, message("zip", [part(zipped(files),
	    "invoice.zip", "application/zip")]))
	# the same words (a reply may end with its own " [ref ID]")
	line, zline = (re.sub(rb" \[ref \w+\]$", b"", x) for x in (line,
	    zline))
	assert (code, line) == (zcode, zline), (line, zline)
	assert line == b'554 5.7.1 Message refused: attachment ' \
	    b'"docs/invoice.pdf.exe" is not allowed (name matches *.exe, ' \
	    b'in an archive)', line
	code, line = send(srv, message("by type", [part(tarred([
	    ("photo.jpg", PE)]), "photos.tgz")]))
	assert code == 554 and b'"photo.jpg"' in line, line
	assert b"(type exe, in an archive)" in line, line
	code, line = send(srv, message("fname", [part(gzipped(PE,
	    "setup.exe"), "archive.gz")]))
	assert code == 554 and b'"setup.exe"' in line, line
	assert b"name matches *.exe, in an archive" in line, line
	# gunzip writes the outer name less its suffix, whatever FNAME says;
	# every gzip suffix counts
	for outer in ("run.vbs.gz", "run.vbs.z", "run.vbs-gz", "run.vbs_z"):
		code, line = send(srv, message("outer " + outer, [part(
		    gzipped(b"MsgBox 1\n", "notes.txt"), outer)]))
		assert code == 554 and b'"run.vbs"' in line, (outer, line)
	# a NUL ends a file name, also past its padding
	code, line = send(srv, message("nul", [
	    'Content-Type: application/octet-stream\r\n'
	    "Content-Disposition: attachment; filename*=UTF-8''evil.vbs%00" +
	    "a" * 300 + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	    base64.b64encode(b"MsgBox 1\n").decode() + "\r\n"]))
	assert code == 554 and b'"evil.vbs"' in line, line
	code, line = send(srv, message("plain tar", [part(tarred(files,
	    "w"), "docs.tar")]))
	assert code == 554 and b'"docs/invoice.pdf.exe"' in line, line
	assert srv.maildir_files(DEMO) == []
	assert srv.wait_log(r'event=attachment-blocked '
	    r'name="docs/invoice.pdf.exe" reason="name matches \*\.exe, '
	    r'in an archive" action=reject', timeout=5)
	code, line = send(srv, message("harmless", [part(tarred([
	    ("notes.txt", b"notes\n"), ("report.pdf", PDF)]), "docs.tar.gz",
	    "application/gzip")]))
	assert code == 250, line
	got = srv.wait_delivered(1)
	assert len(got) == 1 and b'filename="docs.tar.gz"' in got[0]


def test_gzip_bomb_refused_quickly(make_server):
	"""200 MB of zeros in a .tar.gz (~200 KB) stop at the decoded-size
	budget; gzips nested past max_nesting stop at the nesting limit."""
	srv = make_server()
	out = io.BytesIO()
	with gzip.GzipFile(filename="zeros.tar", mode="wb", fileobj=out,
	    mtime=0) as f:
		info = tarfile.TarInfo("zeros.img")
		info.size = 200 << 20
		f.write(info.tobuf(format=tarfile.USTAR_FORMAT))
		chunk = b"\0" * (1 << 20)
		for _ in range(200):
			f.write(chunk)
		f.write(b"\0" * 1024)
	bomb = out.getvalue()
	assert len(bomb) < 400 * 1024
	start = time.monotonic()
	code, line = send(srv, message("gz bomb", [part(bomb, "zeros.tgz")]))
	took = time.monotonic() - start
	assert code == 552 and line.startswith(b"552 5.3.4 "), line
	assert b"too complex (decoded size)" in line, line
	assert took < 10, took
	nested = gzipped(b"bottom", "deep.txt")
	for _ in range(6):
		nested = gzipped(nested)
	code, line = send(srv, message("gz nest", [part(nested, "n.gz")]))
	assert code == 552 and b"too complex (nesting)" in line, line
