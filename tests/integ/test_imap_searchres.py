"""SEARCHRES (RFC 5182, RFC 9051 6.4.4.1) and ESORT (RFC 5267) against a
real moatd through Python's imaplib: SEARCH ... RETURN (SAVE) and the "$"
marker in FETCH, STORE, COPY, MOVE, the UID forms and SEARCH keys; the
MIN/MAX-only saves; expunged messages dropping out of "$"; "$" empty
after SELECT, CLOSE and a failing SEARCH ... SAVE; SORT ... RETURN
(MIN MAX COUNT ALL) answering ESEARCH in the sort order."""
import re

from test_imap import deliver, imap_server, login, ok
from test_imap_ext import msg


def five(srv):
	"""alpha 1..5 alternating with beta; dates out of arrival order."""
	deliver(srv,
	    msg("alpha one", date="Wed, 4 Mar 2026 10:00:00 +0000",
	        body="a" * 50 + "\r\n"),
	    msg("beta two", date="Mon, 2 Mar 2026 10:00:00 +0000",
	        body=("b" * 70 + "\r\n") * 40),
	    msg("alpha three", date="Fri, 6 Mar 2026 10:00:00 +0000",
	        body="c" * 10 + "\r\n"),
	    msg("beta four", date="Tue, 3 Mar 2026 10:00:00 +0000",
	        body="d" * 200 + "\r\n"),
	    msg("alpha five", date="Thu, 5 Mar 2026 10:00:00 +0000",
	        body="e" * 100 + "\r\n"))


def cmd(m, name, *args):
	"""A command through imaplib; returns (typ, untagged responses by
	type) with the untagged responses consumed."""
	m.untagged_responses.clear()
	typ, data = m._simple_command(name, *args)
	got = {k: list(v) for k, v in m.untagged_responses.items()}
	m.untagged_responses.clear()
	return typ, data, got


def esearch(got):
	es = got.get("ESEARCH", [])
	assert len(es) == 1, got
	return es[0]


def fetched(m, seqset, uid=False):
	"""{seq: uid} of FETCH seqset (UID), by sequence number."""
	m.untagged_responses.clear()
	if uid:
		typ, data = m.uid("FETCH", seqset, "(UID)")
	else:
		typ, data = m.fetch(seqset, "(UID)")
	assert typ == "OK", (typ, data)
	out = {}
	for d in data:
		if d is None:
			continue
		if isinstance(d, tuple):
			d = d[0]
		g = re.match(rb"(\d+) \(.*UID (\d+)", d)
		assert g, data
		out[int(g.group(1))] = int(g.group(2))
	return out


def search(m, *keys, uid=False):
	if uid:
		data = ok(m.uid("SEARCH", *keys))
	else:
		data = ok(m.search(None, *keys))
	return [int(x) for x in data[0].split()] if data and data[0] else []


def test_capabilities_advertised(make_server):
	srv = imap_server(make_server)
	m = login(srv)
	caps = m.capabilities
	assert "SEARCHRES" in caps and "ESORT" in caps, caps
	assert "ESEARCH" in caps and "SORT" in caps
	m.logout()


def test_save_then_fetch_store_search_move(make_server):
	srv = imap_server(make_server)
	five(srv)
	m = login(srv)
	ok(m.select())
	# RETURN (SAVE) alone: no ESEARCH, only the tagged OK
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "alpha")
	assert typ == "OK" and "ESEARCH" not in got and "SEARCH" not in got, got
	assert fetched(m, "$") == {1: 1, 3: 3, 5: 5}
	assert fetched(m, "$", uid=True) == {1: 1, 3: 3, 5: 5}
	# STORE $ and the flags it set
	ok(m.store("$", "+FLAGS", "(\\Flagged)"))
	assert search(m, "FLAGGED") == [1, 3, 5]
	# UID SEARCH ... SAVE then "$" as sequence numbers
	typ, _, got = cmd(m, "UID", "SEARCH", "RETURN", "(SAVE)", "SUBJECT",
	    "beta")
	assert typ == "OK" and not got.get("ESEARCH"), got
	assert fetched(m, "$") == {2: 2, 4: 4}
	# "$" as a search key, with other keys, and UID $
	assert search(m, "$") == [2, 4]
	assert search(m, "UID", "$") == [2, 4]
	assert search(m, "$", "FLAGGED") == []
	assert search(m, "OR", "$", "1") == [1, 2, 4]
	assert search(m, "UID", "$", "LARGER", "2000") == [2]
	assert search(m, "NOT", "$", uid=True) == [1, 3, 5]
	# a SAVE whose keys use "$": the old value, then the new result
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(SAVE ALL)", "$", "LARGER",
	    "2000")
	assert typ == "OK"
	assert re.search(rb"ALL 2$", esearch(got)), got
	assert fetched(m, "$") == {2: 2}
	# COPY $ and MOVE $ (UID forms too)
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(SAVE)", "FLAGGED")
	assert typ == "OK"
	typ, data = m.copy("$", "Archive")
	assert typ == "OK" and re.search(rb"\[COPYUID \d+ 1,3,5 ", data[0]), \
	    data
	typ, data = m.uid("MOVE", "$", "Trash")
	assert typ == "OK", data
	assert fetched(m, "1:*") == {1: 2, 2: 4}
	# the moved messages left "$" by themselves
	assert fetched(m, "$") == {}
	ok(m.select("Trash"))
	assert len(fetched(m, "1:*")) == 3
	ok(m.select("Archive"))
	assert search(m, "SUBJECT", "alpha") == [1, 2, 3]
	m.logout()


def test_min_max_save_and_expunge(make_server):
	srv = imap_server(make_server)
	five(srv)
	m = login(srv)
	ok(m.select())
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(SAVE MIN)", "SUBJECT",
	    "alpha")
	assert typ == "OK"
	assert esearch(got).endswith(b" MIN 1"), got
	assert fetched(m, "$") == {1: 1}
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(MAX SAVE)", "SUBJECT",
	    "alpha")
	assert esearch(got).endswith(b" MAX 5"), got
	assert fetched(m, "$") == {5: 5}
	typ, _, got = cmd(m, "UID", "SEARCH", "RETURN", "(MAX SAVE MIN)",
	    "SUBJECT", "beta")
	assert esearch(got).endswith(b" UID MIN 2 MAX 4"), got
	assert fetched(m, "$") == {2: 2, 4: 4}
	# with COUNT (or ALL) the whole result is saved
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(MIN SAVE COUNT)", "SUBJECT",
	    "alpha")
	assert esearch(got).endswith(b" MIN 1 COUNT 3"), got
	assert fetched(m, "$") == {1: 1, 3: 3, 5: 5}
	# expunge a saved message: it drops out, the others renumber
	ok(m.store("3", "+FLAGS", "(\\Deleted)"))
	ok(m.expunge())
	assert fetched(m, "$") == {1: 1, 4: 5}
	assert fetched(m, "$", uid=True) == {1: 1, 4: 5}
	assert search(m, "$") == [1, 4]
	# UID EXPUNGE $ (UIDPLUS)
	ok(m.store("$", "+FLAGS", "(\\Deleted)"))
	typ, data = m.uid("EXPUNGE", "$")
	assert typ == "OK", data
	assert fetched(m, "1:*") == {1: 2, 2: 4}
	assert fetched(m, "$") == {}
	m.logout()


def test_reset_on_select_close_and_failed_save(make_server):
	srv = imap_server(make_server)
	five(srv)
	m = login(srv)
	ok(m.select())
	# "$" with nothing saved is the empty set, not an error
	assert fetched(m, "$") == {}
	typ, data = m.copy("$", "Archive")
	assert typ == "OK", data
	ok(m.store("$", "+FLAGS", "(\\Seen)"))
	assert search(m, "SEEN") == []
	assert search(m, "$") == []
	typ, _, _ = cmd(m, "SEARCH", "RETURN", "(SAVE)", "ALL")
	assert typ == "OK"
	assert len(fetched(m, "$")) == 5
	# SELECT (even of the same mailbox) empties it
	ok(m.select())
	assert fetched(m, "$") == {}
	assert search(m, "UID", "$", uid=True) == []
	# so do EXAMINE, CLOSE and UNSELECT
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "ALL")
	ok(m.select(readonly=True))
	assert fetched(m, "$") == {}
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "ALL")
	ok(m.close())
	ok(m.select())
	assert fetched(m, "$") == {}
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "ALL")
	ok(m.unselect())
	ok(m.select())
	assert fetched(m, "$") == {}
	# a SEARCH ... SAVE that fails (NO) empties it
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "alpha")
	assert len(fetched(m, "$")) == 3
	typ, data, _ = cmd(m, "SEARCH", "RETURN", "(SAVE)", "CHARSET",
	    "KOI8-R", "ALL")
	assert typ == "NO" and b"BADCHARSET" in data[0], (typ, data)
	assert fetched(m, "$") == {}
	# a NO without SAVE and a syntax error (BAD) leave it alone
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "alpha")
	typ, _, _ = cmd(m, "SEARCH", "CHARSET", "KOI8-R", "ALL")
	assert typ == "NO"
	try:
		cmd(m, "SEARCH", "RETURN", "(SAVE)", "NOSUCHKEY")
		raise AssertionError("BAD expected")
	except m.error as e:
		assert "BAD" in str(e) or "invalid" in str(e), e
	assert fetched(m, "$") == {1: 1, 3: 3, 5: 5}
	# a SAVE that finds nothing saves the empty set
	cmd(m, "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "nothing-matches")
	assert fetched(m, "$") == {}
	m.logout()


def test_esort(make_server):
	srv = imap_server(make_server)
	five(srv)
	m = login(srv)
	ok(m.select())
	# plain SORT is unchanged
	typ, data = m.sort("(DATE)", "UTF-8", "ALL")
	assert typ == "OK" and data[0] == b"2 4 1 5 3", data
	# MIN/MAX are the first and last of the sorted result
	typ, _, got = cmd(m, "SORT", "RETURN", "(MIN MAX COUNT)", "(DATE)",
	    "UTF-8", "ALL")
	assert typ == "OK" and "SORT" not in got, got
	assert re.fullmatch(rb'\(TAG "[^"]+"\) MIN 2 MAX 3 COUNT 5',
	    esearch(got)), got
	typ, _, got = cmd(m, "SORT", "RETURN", "(ALL)", "(DATE)", "UTF-8",
	    "ALL")
	assert esearch(got).endswith(b" ALL 2,4,1,5,3"), got
	# RETURN () means ALL; UID SORT answers UID
	typ, _, got = cmd(m, "UID", "SORT", "RETURN", "()", "(REVERSE SIZE)",
	    "UTF-8", "SUBJECT", "alpha")
	assert typ == "OK"
	assert esearch(got).endswith(b" UID ALL 5,1,3"), got
	typ, _, got = cmd(m, "UID", "SORT", "RETURN", "(COUNT MIN)",
	    "(ARRIVAL)", "UTF-8", "SUBJECT", "beta")
	assert esearch(got).endswith(b" UID MIN 2 COUNT 2"), got
	# ascending runs in the sort order are ranges
	typ, _, got = cmd(m, "SORT", "RETURN", "(ALL)", "(ARRIVAL)", "UTF-8",
	    "ALL")
	assert esearch(got).endswith(b" ALL 1:5"), got
	# nothing found: COUNT 0, no MIN/MAX/ALL
	typ, _, got = cmd(m, "SORT", "RETURN", "(MIN MAX ALL COUNT)",
	    "(DATE)", "UTF-8", "SUBJECT", "nothing-matches")
	assert re.fullmatch(rb'\(TAG "[^"]+"\) COUNT 0', esearch(got)), got
	# SORT ... RETURN (SAVE): no answer, "$" holds the result
	typ, _, got = cmd(m, "SORT", "RETURN", "(SAVE)", "(DATE)", "UTF-8",
	    "SUBJECT", "alpha")
	assert typ == "OK" and not got.get("ESEARCH") and \
	    not got.get("SORT"), got
	assert fetched(m, "$") == {1: 1, 3: 3, 5: 5}
	# SAVE MIN keeps the first in the sort order
	typ, _, got = cmd(m, "SORT", "RETURN", "(SAVE MIN)", "(DATE)",
	    "UTF-8", "SUBJECT", "alpha")
	assert esearch(got).endswith(b" MIN 1"), got
	assert fetched(m, "$") == {1: 1}
	typ, _, got = cmd(m, "SORT", "RETURN", "(SAVE MAX)", "(DATE)",
	    "UTF-8", "$")
	assert esearch(got).endswith(b" MAX 1"), got
	# "$" in the SORT keys
	typ, _, got = cmd(m, "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "beta")
	typ, data = m.sort("(REVERSE DATE)", "UTF-8", "OR", "$", "3")
	assert data[0] == b"3 4 2", data
	# bad return option
	try:
		cmd(m, "SORT", "RETURN", "(FOO)", "(DATE)", "UTF-8", "ALL")
		raise AssertionError("BAD expected")
	except m.error:
		pass
	m.logout()
