/* imap_cmd_store: changing messages. STORE and UID STORE (system flags
 * in the Maildir name, keywords in the index; UNCHANGEDSINCE and
 * [MODIFIED], RFC 7162 3.1.3), EXPUNGE and UID EXPUNGE (RFC 4315),
 * COPY/MOVE and their UID forms with COPYUID (RFC 4315, RFC 6851), and
 * APPEND with APPENDUID (keywords go to the index once the UID is
 * known).
 *
 * A message enters a folder the Maildir way: written to tmp/, fsync'd,
 * its mtime set to the internal date, then linked into cur/ under a
 * unique name with the flags in its ":2," suffix, and the folder's index
 * synced to learn its UID (the index orders new files by the time in the
 * name, then the name, whose counter is zero-padded so that a COPY of
 * several messages gets ascending UIDs in the order given). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#include "imap_junk.h"
#include "imap_session_private.h"
#include "imap_view.h"

#define STORE_OUT_MAX	(64u * 1024 * 1024)

static unsigned name_counter;

/* ":2,DFRST" letters for flags, alphabetical (Maildir spec). */
static void
flag_suffix(unsigned flags, char *out)
{
	size_t o = 0;

	out[o++] = ':';
	out[o++] = '2';
	out[o++] = ',';
	if (flags & MAILBOX_F_DRAFT)
		out[o++] = 'D';
	if (flags & MAILBOX_F_FLAGGED)
		out[o++] = 'F';
	if (flags & MAILBOX_F_ANSWERED)
		out[o++] = 'R';
	if (flags & MAILBOX_F_SEEN)
		out[o++] = 'S';
	if (flags & MAILBOX_F_DELETED)
		out[o++] = 'T';
	out[o] = '\0';
}

/* Write one message into folder; its base name into base. */
static int
folder_add(struct imap_session *s, const char *folder, const uint8_t *data,
    size_t len, unsigned flags, time_t idate, char *base, size_t baselen)
{
	char dir[IMAP_PATH_MAX], tmp[IMAP_PATH_MAX + 300];
	char cur[IMAP_PATH_MAX + 320], host[64], suf[16];
	struct timeval tv;
	struct timespec ts[2];
	size_t i, o = 0;
	int fd, n;

	for (i = 0; s->srv->base.cfg->hostname[i] != '\0' &&
	    o + 1 < sizeof(host); i++) {
		char c = s->srv->base.cfg->hostname[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.')
			host[o++] = c;
	}
	host[o] = '\0';
	gettimeofday(&tv, NULL);
	n = snprintf(base, baselen, "%lld.M%06ldP%dQ%08u.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(),
	    ++name_counter, host);
	if (n < 0 || (size_t)n >= baselen ||
	    imap_folder_dir(s, folder, dir, sizeof(dir)) < 0)
		return -1;
	flag_suffix(flags, suf);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, base);
	snprintf(cur, sizeof(cur), "%s/cur/%s%s", dir, base, suf);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ts[0].tv_sec = ts[1].tv_sec = idate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0 ||
	    futimens(fd, ts) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || link(tmp, cur) < 0) {
		unlink(tmp);
		return -1;
	}
	unlink(tmp);
	return 0;
}

/* The UIDs of the named files after a sync of folder. */
static int
folder_uids(struct imap_session *s, const char *folder, char **bases,
    size_t nb, uint32_t *uids, uint32_t *uidvalidity_r)
{
	struct mailbox *mb = NULL;
	struct mailbox_status st;
	struct mailbox_msg *msgs = NULL;
	size_t n = 0, i, k;
	const char *e = NULL;

	if (mailbox_open(s->maildir, folder, &mb, &e) < 0)
		return -1;
	if (mailbox_sync(mb, &e) < 0 || mailbox_status(mb, &st, &e) < 0 ||
	    mailbox_list(mb, &msgs, &n, &e) < 0) {
		mailbox_close(&mb);
		return -1;
	}
	*uidvalidity_r = st.uidvalidity;
	for (k = 0; k < nb; k++) {
		uids[k] = 0;
		for (i = 0; i < n; i++)
			if (strcmp(msgs[i].base, bases[k]) == 0)
				uids[k] = msgs[i].uid;
	}
	mailbox_msgs_free(&msgs, n);
	mailbox_close(&mb);
	for (k = 0; k < nb; k++)
		if (uids[k] == 0)
			return -1;
	return 0;
}

/* Give the new messages uids[] of folder their keywords (kws[i] may be
 * NULL or empty: none). Best effort: the messages are stored already. */
static void
folder_keywords(struct imap_session *s, const char *folder,
    const uint32_t *uids, char *const *kws, size_t n)
{
	struct mailbox *mb = NULL;
	struct mailbox_msg *msgs = NULL;
	size_t nm = 0, i, k;
	const char *e = NULL;

	for (k = 0; k < n; k++)
		if (kws[k] != NULL && kws[k][0] != '\0')
			break;
	if (k == n || mailbox_open(s->maildir, folder, &mb, &e) < 0)
		return;
	if (mailbox_list(mb, &msgs, &nm, &e) == 0) {
		for (k = 0; k < n; k++) {
			struct mailbox_change ch;

			if (kws[k] == NULL || kws[k][0] == '\0')
				continue;
			for (i = 0; i < nm && msgs[i].uid != uids[k]; i++)
				;
			if (i == nm)
				continue;
			memset(&ch, 0, sizeof(ch));
			ch.flags = msgs[i].flags;
			ch.keywords = kws[k];
			if (mailbox_store(mb, uids[k], &ch, &e) < 0)
				log_warnx("imap session=%s "
				    "event=keywords-failed uid=%u", s->base.id,
				    uids[k]);
		}
	}
	mailbox_msgs_free(&msgs, nm);
	mailbox_close(&mb);
}

static unsigned
flags_bits(const struct imap_flags *fl)
{
	unsigned bits = 0;
	size_t i;

	for (i = 0; i < fl->count; i++)
		bits |= imap_flag_bit(fl->flags[i]);
	return bits;
}

/* Validate a sequence-number set against the view. */
static bool
seqset_ok(struct imap_session *s, const struct imap_seqset *set)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		uint64_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (s->nmsgs == 0 ||
		    (lo != IMAP_SEQ_STAR && lo > s->nmsgs) ||
		    (hi != IMAP_SEQ_STAR && hi > s->nmsgs))
			return false;
	}
	return true;
}

static bool
has_keywords(const struct imap_flags *fl)
{
	size_t i;

	for (i = 0; i < fl->count; i++)
		if (imap_is_keyword(fl->flags[i]))
			return true;
	return false;
}

/* Apply one STORE to message i. Returns 1 changed or unchanged, 0 gone,
 * 2 refused by UNCHANGEDSINCE, -1 on error. */
static int
store_one(struct imap_session *s, const struct imap_store *st, unsigned bits,
    struct mailbox_msg *m)
{
	struct mailbox_change ch;
	char *kw = NULL;
	const char *e = NULL;
	bool kw_change;
	int r;

	memset(&ch, 0, sizeof(ch));
	ch.flags = st->op == IMAP_STORE_SET ? bits : st->op == IMAP_STORE_ADD ?
	    (m->flags | bits) : (m->flags & ~bits);
	if (st->op == IMAP_STORE_SET || has_keywords(&st->flags)) {
		kw = imap_keywords_apply(m->keywords, (int)st->op, &st->flags);
		if (kw == NULL)
			return -1;
	}
	kw_change = kw != NULL && strcmp(kw, m->keywords ? m->keywords :
	    "") != 0;
	if (ch.flags == m->flags && !kw_change) {
		free(kw);
		/* Nothing to change; UNCHANGEDSINCE still applies. */
		return st->has_unchangedsince &&
		    m->modseq > st->unchangedsince ? 2 : 1;
	}
	ch.keywords = kw_change ? kw : NULL;
	ch.check_unchanged = st->has_unchangedsince;
	ch.unchangedsince = st->unchangedsince;
	r = mailbox_store(s->mb, m->uid, &ch, &e);
	if (r == 1) {
		m->flags = ch.flags;
		m->modseq = ch.modseq;
		if (kw_change) {
			free(m->keywords);
			m->keywords = kw;
			kw = NULL;
		}
	} else if (r < 0) {
		log_warnx("imap session=%s event=store-failed uid=%u "
		    "error=\"%s\"", s->base.id, m->uid, e ? e : "-");
	}
	free(kw);
	return r;
}

void
imap_cmd_store(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_store st;
	bool uid = imap_cmd_is_uid(c->cmd), *sel;
	uint32_t *modified;
	size_t i, nmod = 0;
	unsigned bits;
	struct buf out;

	if (imap_parse_store(s->parser, c, &st, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_saved_resolve(s, uid, &st.set);
	if (!uid && !seqset_ok(s, &st.set)) {
		imap_bad(s, "Invalid message sequence number");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "CANNOT", "Mailbox is read-only");
		return;
	}
	if (st.has_unchangedsince)
		s->condstore = true;	/* RFC 7162 3.1: enabling command */
	bits = flags_bits(&st.flags);
	sel = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(bool));
	modified = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*modified));
	(void)imap_seqset_select(&st.set, uid, s->msgs, s->nmsgs, sel);
	buf_init(&out, STORE_OUT_MAX);
	for (i = 0; i < s->nmsgs; i++) {
		struct mailbox_msg *m = &s->msgs[i];
		int r;

		if (!sel[i])
			continue;
		r = store_one(s, &st, bits, m);
		if (r == 2) {
			modified[nmod++] = uid ? m->uid : (uint32_t)(i + 1);
			continue;
		}
		if (r != 1 || (st.silent && !s->condstore))
			continue;
		(void)buf_printf(&out, "* %zu FETCH (", i + 1);
		if (uid)
			(void)buf_printf(&out, "UID %u ", m->uid);
		if (s->condstore)
			(void)buf_printf(&out, "MODSEQ (%llu)%s",
			    (unsigned long long)m->modseq,
			    st.silent ? "" : " ");
		if (!st.silent) {
			(void)buf_append_str(&out, "FLAGS (");
			(void)imap_msg_flags_append(m, &out);
			(void)buf_append_str(&out, ")");
		}
		(void)buf_append_str(&out, ")\r\n");
	}
	free(sel);
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_reset(&out);
	if (nmod > 0) {
		const char *code = NULL;

		(void)buf_append_str(&out, "MODIFIED ");
		(void)imap_numbers_append(modified, nmod, &out);
		if (buf_cstr(&out, &code) < 0)
			code = "MODIFIED";
		imap_tagged(s, "OK", code, "Conditional %sSTORE failed",
		    uid ? "UID " : "");
	} else {
		imap_tagged(s, "OK", NULL, "%sSTORE completed",
		    uid ? "UID " : "");
	}
	free(modified);
	buf_deinit(&out);
}

int
imap_expunge_deleted(struct imap_session *s, const bool *set)
{
	uint32_t *uids;
	size_t i, n = 0;
	const char *e = NULL;
	int r = 0;

	if (s->mb == NULL || s->nmsgs == 0)
		return 0;
	uids = xcalloc(s->nmsgs, sizeof(*uids));
	for (i = 0; i < s->nmsgs; i++)
		if ((s->msgs[i].flags & MAILBOX_F_DELETED) &&
		    (set == NULL || set[i]))
			uids[n++] = s->msgs[i].uid;
	if (n > 0 && mailbox_expunge(s->mb, uids, n, &e) < 0)
		r = -1;
	free(uids);
	return r;
}

void
imap_cmd_expunge(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_seqset set;
	bool *sel = NULL;
	int r;

	if (c->cmd == IMAP_CMD_UID_EXPUNGE) {
		if (imap_parse_uid_expunge(s->parser, c, &set, &err) < 0) {
			imap_parse_failed(s, &err);
			return;
		}
		imap_saved_resolve(s, true, &set);
		sel = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(bool));
		(void)imap_seqset_select(&set, true, s->msgs, s->nmsgs, sel);
	} else if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (s->readonly) {
		free(sel);
		imap_tagged(s, "NO", "CANNOT", "Mailbox is read-only");
		return;
	}
	r = imap_expunge_deleted(s, sel);
	free(sel);
	if (r < 0) {
		log_warnx("imap session=%s event=expunge-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Expunge failed");
		return;
	}
	/* The refresh before the tagged reply sends the EXPUNGEs. */
	imap_tagged(s, "OK", NULL, "EXPUNGE completed");
}

void
imap_cmd_copy(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_copy cp;
	enum imap_cmd base = imap_cmd_base(c->cmd);
	bool uid = imap_cmd_is_uid(c->cmd), move = base == IMAP_CMD_MOVE;
	char folder[IMAP_NAME_MAX + 1];
	const char *e = NULL;
	bool *sel;
	char **bases, **kws;
	uint32_t *src, *dst, uidvalidity = 0;
	size_t i, n = 0, cnt;
	struct buf msg, out;
	struct imap_junk *junk;
	int failed = 0;

	if (imap_parse_copy(s->parser, c, &cp, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_saved_resolve(s, uid, &cp.set);
	if (!uid && !seqset_ok(s, &cp.set)) {
		imap_bad(s, "Invalid message sequence number");
		return;
	}
	if (imap_folder_from_client(s, &cp.mailbox, folder, sizeof(folder),
	    &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "TRYCREATE", "No such mailbox");
		return;
	}
	if (move && s->readonly) {
		imap_tagged(s, "NO", "CANNOT", "Mailbox is read-only");
		return;
	}
	sel = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(bool));
	cnt = imap_seqset_select(&cp.set, uid, s->msgs, s->nmsgs, sel);
	if (cnt == 0) {
		free(sel);
		imap_tagged(s, "OK", NULL, "No messages");
		return;
	}
	bases = xcalloc(cnt, sizeof(*bases));
	kws = xcalloc(cnt, sizeof(*kws));
	src = xcalloc(cnt, sizeof(*src));
	dst = xcalloc(cnt, sizeof(*dst));
	buf_init(&msg, IMAP_MSG_MAX);
	junk = imap_junk_begin(s, folder);	/* into/out of Junk: learn */
	for (i = 0; i < s->nmsgs && !failed; i++) {
		char b[MAILBOX_NAME_MAX + 1];

		if (!sel[i])
			continue;
		if (imap_msg_load(s, &s->msgs[i], &msg) < 0)
			continue;	/* expunged meanwhile */
		if (folder_add(s, folder, msg.data ? msg.data :
		    (const uint8_t *)"", msg.len, s->msgs[i].flags,
		    s->msgs[i].internal_date, b, sizeof(b)) < 0) {
			failed = 1;
			break;
		}
		imap_junk_add(junk, msg.data, msg.len);
		bases[n] = xstrdup(b);
		kws[n] = s->msgs[i].keywords;
		src[n++] = s->msgs[i].uid;
	}
	buf_deinit(&msg);
	if (!failed && n > 0 &&
	    folder_uids(s, folder, bases, n, dst, &uidvalidity) < 0)
		failed = 1;
	if (!failed && n > 0)
		folder_keywords(s, folder, dst, kws, n);
	buf_init(&out, STORE_OUT_MAX);
	if (!failed && n > 0) {
		(void)buf_printf(&out, "COPYUID %u ", uidvalidity);
		(void)imap_numbers_append(src, n, &out);
		(void)buf_append(&out, " ", 1);
		(void)imap_numbers_append(dst, n, &out);
		(void)buf_cstr(&out, &e);
	}
	if (failed)
		imap_junk_free(&junk);
	else
		imap_junk_commit(&junk);	/* the pool learns; no waiting */
	if (failed) {
		log_warn("imap session=%s event=copy-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Copy failed");
	} else if (move) {
		if (n > 0 && mailbox_expunge(s->mb, src, n, &e) < 0)
			log_warnx("imap session=%s event=move-expunge-failed",
			    s->base.id);
		if (n > 0)
			conn_printf(s->base.conn, "* OK [%s] Moved\r\n",
			    (const char *)out.data);
		imap_tagged(s, "OK", NULL, "%sMOVE completed", uid ? "UID " :
		    "");
	} else if (n > 0) {
		imap_tagged(s, "OK", (const char *)out.data, "%sCOPY completed",
		    uid ? "UID " : "");
	} else {
		imap_tagged(s, "OK", NULL, "COPY completed");
	}
	buf_deinit(&out);
	for (i = 0; i < n; i++)
		free(bases[i]);
	free(bases);
	free(kws);
	free(src);
	free(dst);
	free(sel);
}

void
imap_cmd_append(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_append ap;
	struct imap_junk *junk;
	char folder[IMAP_NAME_MAX + 1], b[MAILBOX_NAME_MAX + 1], code[64];
	char *bp = b;
	const char *e = NULL;
	uint32_t uid = 0, uidvalidity = 0;
	time_t idate = time(NULL);

	if (imap_parse_append(s->parser, c, &ap, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (imap_folder_from_client(s, &ap.mailbox, folder, sizeof(folder),
	    &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "TRYCREATE", "No such mailbox");
		return;
	}
	if (ap.data.len == 0) {
		imap_tagged(s, "NO", NULL, "Empty message");
		return;
	}
	if (ap.data.len > s->srv->base.cfg->message_size) {
		imap_tagged(s, "NO", "TOOBIG", "Message too big");
		return;
	}
	if (!imap_quota_allows(s, ap.data.len)) {
		imap_tagged(s, "NO", "OVERQUOTA", "Quota exceeded");
		return;
	}
	if (ap.binary && memchr(ap.data.p, '\0', ap.data.len) != NULL) {
		imap_tagged(s, "NO", "UNKNOWN-CTE", "NUL octets refused");
		return;
	}
	if (ap.has_date)
		idate = (time_t)(imap_days(ap.date.year, ap.date.month,
		    ap.date.day) * 86400 + ap.date.hour * 3600 +
		    ap.date.min * 60 + ap.date.sec - ap.date.zone * 60);
	if (folder_add(s, folder, ap.data.p, ap.data.len,
	    ap.has_flags ? flags_bits(&ap.flags) : 0, idate, b,
	    sizeof(b)) < 0 ||
	    folder_uids(s, folder, &bp, 1, &uid, &uidvalidity) < 0) {
		log_warn("imap session=%s event=append-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Cannot store the message");
		return;
	}
	if (ap.has_flags && has_keywords(&ap.flags)) {
		char *kw = imap_keywords_apply(NULL, IMAP_STORE_ADD, &ap.flags);

		if (kw != NULL)
			folder_keywords(s, folder, &uid, &kw, 1);
		free(kw);
	}
	junk = imap_junk_begin_append(s, folder);	/* into Junk: spam */
	imap_junk_add(junk, (const uint8_t *)ap.data.p, ap.data.len);
	imap_junk_commit(&junk);
	snprintf(code, sizeof(code), "APPENDUID %u %u", uidvalidity, uid);
	imap_tagged(s, "OK", code, "APPEND completed");
}
