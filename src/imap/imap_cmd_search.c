/* imap_cmd_search: SEARCH and UID SEARCH (RFC 9051 6.4.4) with every
 * search key of IMAP4rev1/rev2, and ESEARCH results (RFC 4731: RETURN
 * (MIN MAX COUNT ALL), and always after ENABLE IMAP4rev2).
 *
 * Header keys compare against the field values decoded from RFC 2047
 * encoded words; BODY and TEXT against the text of every text part,
 * transfer-decoded and converted to UTF-8 by the MIME parser (HTML
 * reduced to text). Matching is case-insensitive for ASCII letters.
 * A message is read only when a key needs its content, once per
 * message. Dates: INTERNALDATE in UTC, SENT* from the Date field. There
 * is no \Recent (RECENT and NEW never match). MODSEQ (RFC 7162 3.1.5)
 * adds the highest MODSEQ of the hits to the answer.
 *
 * SEARCHRES (RFC 9051 6.4.4.1, RFC 5182): RETURN (SAVE) keeps the result
 * as UIDs in the session (an expunged message drops out because its UID
 * is no longer in the view); "$" in a sequence set or as a search key is
 * that set, resolved to UIDs or sequence numbers for each command, and
 * the empty set when nothing was saved. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"
#include "mime.h"
#include "xalloc.h"

#include "imap_session_private.h"
#include "imap_view.h"

#define SEARCH_TEXT_MAX	(64u * 1024 * 1024)	/* decoded text */
#define SEARCH_HDR_MAX	(1024u * 1024)
#define SEARCH_OUT_MAX	(64u * 1024 * 1024)

struct search_ctx {
	struct imap_session	*s;
	size_t			 idx;
	const struct mailbox_msg *m;
	bool			 loaded, load_failed;
	struct buf		 data;
	struct mime_message	*mm;
	bool			 have_text;
	struct buf		 text;
	struct buf		 hdr;
};

static bool
load(struct search_ctx *x)
{
	if (x->loaded)
		return !x->load_failed;
	x->loaded = true;
	if (imap_msg_load(x->s, x->m, &x->data) < 0) {
		x->load_failed = true;
		return false;
	}
	x->mm = mime_parse(x->data.data ? x->data.data : (const uint8_t *)"",
	    x->data.len);
	return true;
}

static void
collect_text(struct search_ctx *x, const struct mime_part *p, unsigned depth)
{
	const struct mime_part *c;

	if (depth > MIME_DEPTH_MAX)
		return;
	if (p->children == NULL) {
		if (mime_part_text(x->mm, p, &x->text) == 0)
			(void)buf_append(&x->text, "\n", 1);
		return;
	}
	for (c = p->children; c != NULL; c = c->next)
		collect_text(x, c, depth + 1);
}

static bool
body_contains(struct search_ctx *x, struct imap_slice str)
{
	if (!load(x))
		return false;
	if (!x->have_text) {
		x->have_text = true;
		collect_text(x, x->mm->root, 0);
	}
	return imap_ci_contains(x->text.data, x->text.len, str.p, str.len);
}

/* Any field called name (of the message header) contains str. */
static bool
header_contains(struct search_ctx *x, const char *name,
    struct imap_slice str, bool any)
{
	const struct mime_header *h;
	size_t nth;

	if (!load(x))
		return false;
	for (nth = 0; (h = mime_header_find_nth(x->mm->root, name, nth)) !=
	    NULL; nth++) {
		if (any)
			return true;
		buf_reset(&x->hdr);
		if (mime_header_decode(h->value, h->value_len, &x->hdr) < 0)
			continue;
		if (imap_ci_contains(x->hdr.data, x->hdr.len, str.p, str.len))
			return true;
	}
	return false;
}

static bool
text_contains(struct search_ctx *x, struct imap_slice str)
{
	size_t i;

	if (!load(x))
		return false;
	for (i = 0; i < x->mm->root->nheaders; i++) {
		const struct mime_header *h = &x->mm->root->headers[i];

		buf_reset(&x->hdr);
		if (mime_header_decode(h->value, h->value_len, &x->hdr) == 0 &&
		    imap_ci_contains(x->hdr.data, x->hdr.len, str.p, str.len))
			return true;
		if (imap_ci_contains(h->name, h->name_len, str.p, str.len))
			return true;
	}
	return body_contains(x, str);
}

static int64_t
internal_day(const struct mailbox_msg *m)
{
	int64_t t = (int64_t)m->internal_date;

	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

static int64_t
sent_day(struct search_ctx *x)
{
	const struct mime_header *h;

	if (!load(x) || (h = mime_header_find(x->mm->root, "Date")) == NULL)
		return -1;
	return imap_rfc5322_day(h->value, h->value_len);
}

/* KEYWORD \Seen works as SEEN does (some clients send it). */
static bool
keyword_match(const struct mailbox_msg *m, struct imap_slice kw)
{
	unsigned bit = imap_flag_bit(kw);

	if (bit != 0)
		return (m->flags & bit) != 0;
	return imap_keyword_has(m->keywords, kw);
}

static bool
has_modseq_key(const struct imap_search_key *k, unsigned depth)
{
	for (; k != NULL && depth <= IMAP_DEPTH_MAX + 2; k = k->next)
		if (k->op == IMAP_SEARCH_MODSEQ ||
		    has_modseq_key(k->child, depth + 1))
			return true;
	return false;
}

static bool
match(struct search_ctx *x, const struct imap_search_key *k, unsigned depth)
{
	const struct mailbox_msg *m = x->m;
	const struct imap_search_key *c;
	int64_t day, d;
	char field[256];

	if (depth > IMAP_DEPTH_MAX + 2)
		return false;
	switch (k->op) {
	case IMAP_SEARCH_AND:
		for (c = k->child; c != NULL; c = c->next)
			if (!match(x, c, depth + 1))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return k->child != NULL && (match(x, k->child, depth + 1) ||
		    (k->child->next != NULL &&
		    match(x, k->child->next, depth + 1)));
	case IMAP_SEARCH_NOT:
		return k->child != NULL && !match(x, k->child, depth + 1);
	case IMAP_SEARCH_ALL:
	case IMAP_SEARCH_OLD:
		return true;
	case IMAP_SEARCH_NEW:
	case IMAP_SEARCH_RECENT:
		return false;
	case IMAP_SEARCH_KEYWORD:
		return keyword_match(m, k->str);
	case IMAP_SEARCH_UNKEYWORD:
		return !keyword_match(m, k->str);
	case IMAP_SEARCH_ANSWERED:
		return (m->flags & MAILBOX_F_ANSWERED) != 0;
	case IMAP_SEARCH_DELETED:
		return (m->flags & MAILBOX_F_DELETED) != 0;
	case IMAP_SEARCH_DRAFT:
		return (m->flags & MAILBOX_F_DRAFT) != 0;
	case IMAP_SEARCH_FLAGGED:
		return (m->flags & MAILBOX_F_FLAGGED) != 0;
	case IMAP_SEARCH_SEEN:
		return (m->flags & MAILBOX_F_SEEN) != 0;
	case IMAP_SEARCH_UNANSWERED:
		return (m->flags & MAILBOX_F_ANSWERED) == 0;
	case IMAP_SEARCH_UNDELETED:
		return (m->flags & MAILBOX_F_DELETED) == 0;
	case IMAP_SEARCH_UNDRAFT:
		return (m->flags & MAILBOX_F_DRAFT) == 0;
	case IMAP_SEARCH_UNFLAGGED:
		return (m->flags & MAILBOX_F_FLAGGED) == 0;
	case IMAP_SEARCH_UNSEEN:
		return (m->flags & MAILBOX_F_SEEN) == 0;
	case IMAP_SEARCH_BCC:
		return header_contains(x, "Bcc", k->str, false);
	case IMAP_SEARCH_CC:
		return header_contains(x, "Cc", k->str, false);
	case IMAP_SEARCH_FROM:
		return header_contains(x, "From", k->str, false);
	case IMAP_SEARCH_TO:
		return header_contains(x, "To", k->str, false);
	case IMAP_SEARCH_SUBJECT:
		return header_contains(x, "Subject", k->str, false);
	case IMAP_SEARCH_HEADER:
		if (k->str.len == 0 || k->str.len >= sizeof(field) ||
		    memchr(k->str.p, '\0', k->str.len) != NULL)
			return false;
		memcpy(field, k->str.p, k->str.len);
		field[k->str.len] = '\0';
		return header_contains(x, field, k->str2, k->str2.len == 0);
	case IMAP_SEARCH_BODY:
		return body_contains(x, k->str);
	case IMAP_SEARCH_TEXT:
		return text_contains(x, k->str);
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		d = imap_days(k->date.year, k->date.month, k->date.day);
		if (k->op == IMAP_SEARCH_BEFORE || k->op == IMAP_SEARCH_ON ||
		    k->op == IMAP_SEARCH_SINCE)
			day = internal_day(m);
		else if ((day = sent_day(x)) < 0)
			return false;
		if (k->op == IMAP_SEARCH_BEFORE ||
		    k->op == IMAP_SEARCH_SENTBEFORE)
			return day < d;
		if (k->op == IMAP_SEARCH_ON || k->op == IMAP_SEARCH_SENTON)
			return day == d;
		return day >= d;
	case IMAP_SEARCH_LARGER:
		return m->size > k->num;
	case IMAP_SEARCH_SMALLER:
		return m->size < k->num;
	case IMAP_SEARCH_MODSEQ:
		return m->modseq >= k->num;
	case IMAP_SEARCH_UID:
		if (k->set.saved)
			return imap_saved_has(x->s, m->uid);
		return x->s->nmsgs > 0 && imap_seqset_has(&k->set, m->uid,
		    x->s->msgs[x->s->nmsgs - 1].uid);
	case IMAP_SEARCH_SEQSET:
		if (k->set.saved)
			return imap_saved_has(x->s, m->uid);
		return imap_seqset_has(&k->set, x->idx + 1, x->s->nmsgs);
	}
	return false;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
imap_saved_store(struct imap_session *s, unsigned ret, bool uid,
    const uint32_t *v, size_t n)
{
	bool minmax = (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) ==
	    0 && (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) != 0;
	uint32_t *u;
	size_t i, k = 0;

	u = xcalloc(n ? n : 1, sizeof(*u));
	for (i = 0; i < n; i++) {
		if (minmax && !(i == 0 && (ret & IMAP_SEARCH_RET_MIN)) &&
		    !(i == n - 1 && (ret & IMAP_SEARCH_RET_MAX)))
			continue;
		if (uid)
			u[k++] = v[i];
		else if (v[i] >= 1 && v[i] <= s->nmsgs)
			u[k++] = s->msgs[v[i] - 1].uid;
	}
	qsort(u, k, sizeof(*u), uid_cmp);
	free(s->saved);
	s->saved = u;
	s->nsaved = k;
}

void
imap_saved_clear(struct imap_session *s)
{
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
}

bool
imap_saved_has(const struct imap_session *s, uint32_t uid)
{
	return s->nsaved > 0 && bsearch(&uid, s->saved, s->nsaved,
	    sizeof(*s->saved), uid_cmp) != NULL;
}

/* The index of the message with this UID in the view, or -1. */
static ssize_t
view_index(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nmsgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
imap_saved_resolve(struct imap_session *s, bool uid, struct imap_seqset *set)
{
	struct imap_seq_range *r;
	size_t i, k = 0;
	ssize_t idx;
	uint64_t v;

	if (!set->saved)
		return;
	free(s->dollar);
	r = s->dollar = xcalloc(s->nsaved ? s->nsaved : 1, sizeof(*r));
	for (i = 0; i < s->nsaved; i++) {
		if ((idx = view_index(s, s->saved[i])) < 0)
			continue;	/* expunged */
		v = uid ? s->saved[i] : (uint64_t)idx + 1;
		if (k > 0 && r[k - 1].hi + 1 == v) {
			r[k - 1].hi = v;
			continue;
		}
		r[k].lo = r[k].hi = v;
		k++;
	}
	set->ranges = r;
	set->count = k;
	set->saved = false;
}

int
imap_esearch_append(struct imap_session *s, bool uid, unsigned ret,
    const uint32_t *v, size_t n, struct buf *out)
{
	if (buf_append_str(out, "* ESEARCH (TAG ") < 0 ||
	    mime_imap_nstring(s->tag, strlen(s->tag), out) < 0 ||
	    buf_append(out, ")", 1) < 0 ||
	    (uid && buf_append_str(out, " UID") < 0))
		return -1;
	if ((ret & IMAP_SEARCH_RET_MIN) && n > 0 &&
	    buf_printf(out, " MIN %u", v[0]) < 0)
		return -1;
	if ((ret & IMAP_SEARCH_RET_MAX) && n > 0 &&
	    buf_printf(out, " MAX %u", v[n - 1]) < 0)
		return -1;
	if ((ret & IMAP_SEARCH_RET_COUNT) &&
	    buf_printf(out, " COUNT %zu", n) < 0)
		return -1;
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0 &&
	    (buf_append_str(out, " ALL ") < 0 ||
	    imap_numbers_append(v, n, out) < 0))
		return -1;
	return 0;
}

static bool
charset_ok(const struct imap_search *se)
{
	return !se->has_charset || imap_slice_ieq(se->charset, "UTF-8") ||
	    imap_slice_ieq(se->charset, "US-ASCII");
}

size_t
imap_search_run(struct imap_session *s, const struct imap_search *se,
    bool *hit)
{
	struct search_ctx x;
	size_t i, n = 0;

	memset(&x, 0, sizeof(x));
	x.s = s;
	buf_init(&x.text, SEARCH_TEXT_MAX);
	buf_init(&x.hdr, SEARCH_HDR_MAX);
	buf_init(&x.data, IMAP_MSG_MAX);
	for (i = 0; i < s->nmsgs; i++) {
		x.idx = i;
		x.m = &s->msgs[i];
		x.loaded = x.load_failed = x.have_text = false;
		buf_reset(&x.text);
		hit[i] = se->root != NULL && match(&x, se->root, 0);
		n += hit[i];
		mime_message_free(&x.mm);
	}
	buf_deinit(&x.text);
	buf_deinit(&x.hdr);
	buf_deinit(&x.data);
	return n;
}

void
imap_cmd_search(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_search se;
	bool uid = imap_cmd_is_uid(c->cmd);
	uint32_t *hits;
	bool *hit, with_modseq, save;
	uint64_t maxmod = 0;
	size_t i, n = 0;
	struct buf out;
	unsigned ret;

	if (imap_parse_search(s->parser, c, &se, &err) < 0) {
		imap_parse_failed(s, &err);	/* BAD: "$" stays */
		return;
	}
	save = (se.ret & IMAP_SEARCH_RET_SAVE) != 0;
	if (!charset_ok(&se)) {
		if (save)
			imap_saved_clear(s);	/* RFC 9051 6.4.4.1 */
		imap_tagged(s, "NO", "BADCHARSET (UTF-8 US-ASCII)",
		    "Unsupported charset");
		return;
	}
	with_modseq = has_modseq_key(se.root, 0);
	if (with_modseq)
		s->condstore = true;	/* RFC 7162 3.1: enabling */
	hit = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*hit));
	hits = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*hits));
	(void)imap_search_run(s, &se, hit);
	for (i = 0; i < s->nmsgs; i++) {
		if (!hit[i])
			continue;
		hits[n++] = uid ? s->msgs[i].uid : (uint32_t)(i + 1);
		if (s->msgs[i].modseq > maxmod)
			maxmod = s->msgs[i].modseq;
	}
	free(hit);
	/* After the search: a "$" in its keys was the previous result. */
	if (save)
		imap_saved_store(s, se.ret, uid, hits, n);
	buf_init(&out, SEARCH_OUT_MAX);
	ret = se.esearch ? se.ret & ~(unsigned)IMAP_SEARCH_RET_SAVE :
	    IMAP_SEARCH_RET_ALL;
	if (se.esearch && ret == 0) {
		/* RETURN (SAVE) alone: no ESEARCH (RFC 9051 6.4.4). */
	} else if (se.esearch || s->rev2) {
		(void)imap_esearch_append(s, uid, ret, hits, n, &out);
		if (with_modseq && n > 0)
			(void)buf_printf(&out, " MODSEQ %llu",
			    (unsigned long long)maxmod);
		(void)buf_append_str(&out, "\r\n");
	} else {
		(void)buf_append_str(&out, "* SEARCH");
		for (i = 0; i < n; i++)
			(void)buf_printf(&out, " %u", hits[i]);
		if (with_modseq && n > 0)
			(void)buf_printf(&out, " (MODSEQ %llu)",
			    (unsigned long long)maxmod);
		(void)buf_append_str(&out, "\r\n");
	}
	free(hits);
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	imap_tagged(s, "OK", NULL, "%sSEARCH completed%s", uid ? "UID " : "",
	    save ? ", result saved" : "");
}
