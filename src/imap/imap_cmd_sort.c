/* imap_cmd_sort: SORT, UID SORT, THREAD and UID THREAD (RFC 5256). The
 * search runs as for SEARCH; the matching messages are read once each
 * (only when a criterion needs their header) and their sort keys handed
 * to the pure helpers of imap_sort.c: base subject, sent date (the
 * internal date when the Date field cannot be read), the first
 * addr-mailbox of From, To and Cc, Message-ID and References (else
 * In-Reply-To).
 *
 * ESORT (RFC 5267): SORT RETURN (MIN MAX COUNT ALL) answers one ESEARCH
 * in the sort order: MIN and MAX are the first and last message of the
 * sorted result, ALL lists them in that order. RETURN (SAVE) saves the
 * result for "$" as SEARCH does (RFC 9051 6.4.4.1). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mime.h"
#include "xalloc.h"

#include "imap_session_private.h"
#include "imap_sort.h"
#include "imap_view.h"

#define SORT_OUT_MAX	(64u * 1024 * 1024)
#define SORT_FIELD_MAX	(64u * 1024)	/* one decoded header value */

/* The strings of one message's sort keys. */
struct sort_strs {
	char	*subject, *from, *to, *cc, *msgid, *refs;
};

static char *
field_raw(const struct mime_message *mm, const char *name)
{
	const struct mime_header *h = mime_header_find(mm->root, name);
	struct buf b;
	const char *s;
	char *r;

	if (h == NULL)
		return NULL;
	buf_init(&b, SORT_FIELD_MAX);
	if (mime_header_unfold(h->value, h->value_len, &b) < 0 ||
	    buf_cstr(&b, &s) < 0) {
		buf_deinit(&b);
		return NULL;
	}
	r = xstrdup(s);
	buf_deinit(&b);
	return r;
}

/* The addr-mailbox of the first address of a field, or NULL. */
static char *
field_mailbox(const struct mime_message *mm, const char *name)
{
	const struct mime_header *h = mime_header_find(mm->root, name);
	struct mime_addr *a, *list;
	char *r = NULL;

	if (h == NULL)
		return NULL;
	list = mime_addr_parse(h->value, h->value_len);
	for (a = list; a != NULL; a = a->next)
		if (a->mailbox != NULL && a->host != NULL) {
			r = xstrdup(a->mailbox);
			break;
		}
	mime_addr_free(&list);
	return r;
}

static void
keys_load(struct imap_session *s, const struct mailbox_msg *m,
    struct imap_sort_msg *k, struct sort_strs *ss, struct buf *data)
{
	const struct mime_header *h;
	struct mime_message *mm;
	struct buf b;
	const char *subj = "";
	char *date;
	int64_t t;

	if (imap_msg_load(s, m, data) < 0)
		return;
	mm = mime_parse(data->data != NULL ? data->data : (const uint8_t *)"",
	    data->len);
	if (mm == NULL)
		return;
	buf_init(&b, SORT_FIELD_MAX);
	if ((h = mime_header_find(mm->root, "Subject")) != NULL &&
	    (mime_header_decode(h->value, h->value_len, &b) < 0 ||
	    buf_cstr(&b, &subj) < 0))
		subj = "";
	ss->subject = xstrdup(subj);
	if (imap_base_subject(ss->subject, &b, &k->reply) == 0 &&
	    buf_cstr(&b, &subj) == 0) {
		free(ss->subject);
		ss->subject = xstrdup(subj);
	}
	buf_deinit(&b);
	k->subject = ss->subject;
	if ((date = field_raw(mm, "Date")) != NULL &&
	    (t = imap_sort_date(date)) >= 0)
		k->date = t;
	free(date);
	ss->from = field_mailbox(mm, "From");
	ss->to = field_mailbox(mm, "To");
	ss->cc = field_mailbox(mm, "Cc");
	ss->msgid = field_raw(mm, "Message-ID");
	if ((ss->refs = field_raw(mm, "References")) == NULL)
		ss->refs = field_raw(mm, "In-Reply-To");
	k->from = ss->from ? ss->from : "";
	k->to = ss->to ? ss->to : "";
	k->cc = ss->cc ? ss->cc : "";
	k->msgid = ss->msgid;
	k->refs = ss->refs;
	mime_message_free(&mm);
}

static bool
needs_header(const struct imap_sort *so)
{
	size_t i;

	if (so == NULL)
		return true;	/* THREAD */
	for (i = 0; i < so->count; i++)
		if (so->criteria[i].key != IMAP_SORT_ARRIVAL &&
		    so->criteria[i].key != IMAP_SORT_SIZE)
			return true;
	return false;
}

/* The keys of the messages that match se into a new array. */
static struct imap_sort_msg *
collect(struct imap_session *s, const struct imap_search *se,
    const struct imap_sort *so, bool uid, size_t *n_r,
    struct sort_strs **ss_r)
{
	struct imap_sort_msg *k;
	struct sort_strs *ss;
	struct buf data;
	bool *hit, header = needs_header(so);
	size_t i, n = 0;

	hit = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*hit));
	(void)imap_search_run(s, se, hit);
	k = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*k));
	ss = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*ss));
	buf_init(&data, IMAP_MSG_MAX);
	for (i = 0; i < s->nmsgs; i++) {
		const struct mailbox_msg *m = &s->msgs[i];

		if (!hit[i])
			continue;
		k[n].num = uid ? m->uid : (uint32_t)(i + 1);
		k[n].seq = (uint32_t)(i + 1);
		k[n].arrival = k[n].date = (int64_t)m->internal_date;
		k[n].size = m->size;
		k[n].subject = k[n].from = k[n].to = k[n].cc = "";
		if (header)
			keys_load(s, m, &k[n], &ss[n], &data);
		n++;
	}
	buf_deinit(&data);
	free(hit);
	*n_r = n;
	*ss_r = ss;
	return k;
}

static void
strs_free(struct sort_strs *ss, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ss[i].subject);
		free(ss[i].from);
		free(ss[i].to);
		free(ss[i].cc);
		free(ss[i].msgid);
		free(ss[i].refs);
	}
	free(ss);
}

static bool
charset_ok(const struct imap_search *se)
{
	return !se->has_charset || imap_slice_ieq(se->charset, "UTF-8") ||
	    imap_slice_ieq(se->charset, "US-ASCII");
}

void
imap_cmd_sort(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_sort so;
	struct imap_sort_msg *k;
	struct sort_strs *ss;
	bool uid = imap_cmd_is_uid(c->cmd), save;
	uint32_t *v;
	size_t n, i;
	struct buf out;
	unsigned ret;

	if (imap_parse_sort(s->parser, c, &so, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	save = (so.search.ret & IMAP_SEARCH_RET_SAVE) != 0;
	if (!charset_ok(&so.search)) {
		if (save)
			imap_saved_clear(s);
		imap_tagged(s, "NO", "BADCHARSET (UTF-8 US-ASCII)",
		    "Unsupported charset");
		return;
	}
	k = collect(s, &so.search, &so, uid, &n, &ss);
	imap_sort_msgs(k, n, so.criteria, so.count);
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = k[i].num;
	strs_free(ss, s->nmsgs);
	free(k);
	if (save)
		imap_saved_store(s, so.search.ret, uid, v, n);
	buf_init(&out, SORT_OUT_MAX);
	ret = so.search.ret & ~(unsigned)IMAP_SEARCH_RET_SAVE;
	if (!so.search.esearch) {
		(void)buf_append_str(&out, "* SORT");
		for (i = 0; i < n; i++)
			(void)buf_printf(&out, " %u", v[i]);
		(void)buf_append_str(&out, "\r\n");
	} else if (ret != 0) {
		/* RETURN (SAVE) alone answers no ESEARCH. */
		(void)imap_esearch_append(s, uid, ret, v, n, &out);
		(void)buf_append_str(&out, "\r\n");
	}
	free(v);
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	imap_tagged(s, "OK", NULL, "%sSORT completed%s", uid ? "UID " : "",
	    save ? ", result saved" : "");
}

void
imap_cmd_thread(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_thread th;
	struct imap_sort_msg *k;
	struct sort_strs *ss;
	bool uid = imap_cmd_is_uid(c->cmd);
	size_t n;
	struct buf out;
	int r;

	if (imap_parse_thread(s->parser, c, &th, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (th.alg == IMAP_THREAD_OTHER) {
		imap_bad(s, "Unknown threading algorithm");
		return;
	}
	if (!charset_ok(&th.search)) {
		imap_tagged(s, "NO", "BADCHARSET (UTF-8 US-ASCII)",
		    "Unsupported charset");
		return;
	}
	k = collect(s, &th.search, NULL, uid, &n, &ss);
	buf_init(&out, SORT_OUT_MAX);
	(void)buf_append_str(&out, "* THREAD ");
	if (th.alg == IMAP_THREAD_REFERENCES)
		r = imap_thread_references(k, n, &out);
	else
		r = imap_thread_orderedsubject(k, n, &out);
	if (r == 0 && buf_append_str(&out, "\r\n") == 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	strs_free(ss, s->nmsgs);
	free(k);
	if (r < 0) {
		imap_tagged(s, "NO", "LIMIT", "Too many threads");
		return;
	}
	imap_tagged(s, "OK", NULL, "%sTHREAD completed", uid ? "UID " : "");
}
