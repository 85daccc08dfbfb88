/* imap_cmd_fetch: FETCH and UID FETCH (RFC 9051 6.4.5): FLAGS,
 * INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY,
 * BODY[section]<partial> and BODY.PEEK, BINARY[part]<partial>,
 * BINARY.PEEK and BINARY.SIZE (RFC 3516), RFC822, RFC822.HEADER,
 * RFC822.TEXT, UID and MODSEQ; CHANGEDSINCE and VANISHED (RFC 7162).
 * Message files are read whole (bounded by IMAP_MSG_MAX) with line ends
 * made CRLF in place, parsed by the MIME parser when an item needs more
 * than the whole message (BODY[], BINARY[] and RFC822 do not), and
 * answered from offsets into that copy; literals of FETCH_LITERAL_DIRECT
 * octets and more go from it to the connection without another copy. ENVELOPE, BODY and BODYSTRUCTURE
 * come from the mailbox index (one query per FETCH_CACHE_BATCH
 * messages; a sync stores ENVELOPE); a message missing a requested one
 * is parsed once and all three are stored, so a FETCH of index items
 * only (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID MODSEQ) opens no
 * file. Output is produced message by
 * message; once IMAP_FETCH_CHUNK octets are queued the session waits for
 * the connection to drain before the next message (reads stop
 * meanwhile), so a slow reader of a large FETCH costs one message of
 * memory, not the whole answer. BODY[], BINARY[] and RFC822 set \Seen
 * unless the mailbox is read-only; the new flags are sent with the
 * response. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mime.h"
#include "xalloc.h"

#include "imap_session_private.h"
#include "imap_view.h"

#define FETCH_ITEM_MAX	(64u * 1024 * 1024)	/* one message's items */
#define FETCH_CACHE_BATCH	512	/* messages per index query */
#define FETCH_LITERAL_DIRECT	4096	/* larger literals skip the copy */

/* A window of cached strings read from the index, and the strings
 * computed for messages that had none, waiting to be stored. */
struct fetch_cache {
	struct mailbox_cache	*c;
	size_t			 n;
	size_t			 pos;
	uint32_t		 hi;	/* the window covers UIDs <= hi */
	bool			 loaded;
	struct mailbox_cache	*put;
	size_t			 nput;
	size_t			 capput;
};

struct imap_fetch_state {
	struct imap_fetch	 f;
	bool			 unknown_cte;	/* a BINARY could not decode */
	bool			 uid;
	bool			*sel;
	size_t			 n;	/* messages when it started */
	size_t			 pos;
	bool			 need_data;
	bool			 need_mime;	/* more than the whole message */
	bool			 need_cache;	/* ENVELOPE, BODY, BODYSTRUCTURE */
	bool			 want_envelope;
	bool			 want_body;
	bool			 want_bodystructure;
	bool			 sets_seen;
};

void
imap_fetch_free(struct imap_session *s)
{
	if (s->fetch == NULL)
		return;
	free(s->fetch->sel);
	free(s->fetch);
	s->fetch = NULL;
}

int
imap_msg_load(struct imap_session *s, const struct mailbox_msg *m,
    struct buf *out)
{
	struct stat st;
	uint8_t *raw;
	const uint8_t *q;
	size_t got = 0, i, j, lfs = 0;
	ssize_t n;
	int fd;

	buf_reset(out);
	fd = mailbox_msg_open(s->mb, m);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > IMAP_MSG_MAX) {
		close(fd);
		return -1;
	}
	raw = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, raw + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	for (q = raw; (q = memchr(q, '\n', got - (size_t)(q - raw))) != NULL;
	    q++)
		if (q == raw || q[-1] != '\r')
			lfs++;
	if (lfs > 0) {
		/* Every bare LF becomes CRLF, in place from the back, a line
		 * at a time: j - i stays the number of bare LFs before i, so
		 * writes never reach octets not yet moved. */
		raw = xreallocarray(raw, got + lfs + 1, 1);
		for (i = got, j = got + lfs; j > i;) {
			size_t p;

			q = memrchr(raw, '\n', i);
			if (q == NULL)
				break;		/* cannot happen: j > i */
			p = (size_t)(q - raw);
			j -= i - p;
			memmove(raw + j, raw + p, i - p);
			i = p;
			if (p == 0 || raw[p - 1] != '\r')
				raw[--j] = '\r';
		}
	}
	/* The block becomes out's storage: no second copy. */
	buf_deinit(out);
	out->data = raw;
	out->len = got + lfs;
	out->cap = got + lfs + 1;
	out->max = got + lfs + 1;
	return 0;
}

static bool
atom_safe(struct imap_slice f)
{
	size_t i;

	if (f.len == 0)
		return false;
	for (i = 0; i < f.len; i++) {
		uint8_t c = f.p[i];

		if (c <= ' ' || c >= 0x7f || c == '(' || c == ')' ||
		    c == '{' || c == '"' || c == '\\' || c == ']' ||
		    c == '%' || c == '*')
			return false;
	}
	return true;
}

/* The section spec as the client will find it in the response. */
static int
section_append(const struct imap_section *sec, struct buf *out)
{
	static const char *const names[] = {
		[IMAP_SECTION_ALL] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	size_t i;

	for (i = 0; i < sec->nparts; i++)
		if (buf_printf(out, "%s%u", i ? "." : "", sec->parts[i]) < 0)
			return -1;
	if (sec->text != IMAP_SECTION_ALL &&
	    buf_printf(out, "%s%s", sec->nparts ? "." : "",
	    names[sec->text]) < 0)
		return -1;
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if (buf_append_str(out, " (") < 0)
			return -1;
		for (i = 0; i < sec->nfields; i++) {
			struct imap_slice f = sec->fields[i];
			int r;

			if (i > 0 && buf_append(out, " ", 1) < 0)
				return -1;
			if (atom_safe(f))
				r = buf_append(out, f.p, f.len);
			else
				r = mime_imap_nstring((const char *)f.p, f.len,
				    out);
			if (r < 0)
				return -1;
		}
		if (buf_append(out, ")", 1) < 0)
			return -1;
	}
	return 0;
}

static bool
field_listed(const struct imap_section *sec, const struct mime_header *h)
{
	size_t i;

	for (i = 0; i < sec->nfields; i++)
		if (sec->fields[i].len == h->name_len &&
		    imap_ci_contains(h->name, h->name_len, sec->fields[i].p,
		    sec->fields[i].len))
			return true;
	return false;
}

/* The octets a section names into tmp or as a slice of the message. */
static void
section_data(const struct mime_message *mm, const struct imap_section *sec,
    struct buf *tmp, const uint8_t **p_r, size_t *len_r)
{
	const struct mime_part *p = mm->root;
	char num[IMAP_SECTION_PARTS_MAX * 11];
	size_t i, o = 0;

	*p_r = (const uint8_t *)"";
	*len_r = 0;
	if (sec->nparts > 0) {
		for (i = 0; i < sec->nparts && o + 12 < sizeof(num); i++) {
			int n = snprintf(num + o, sizeof(num) - o, "%s%u",
			    i ? "." : "", sec->parts[i]);

			if (n < 0)
				return;
			o += (size_t)n;
		}
		p = mime_part_by_section(mm, num, o);
		if (p == NULL)
			return;
		if (sec->text == IMAP_SECTION_ALL) {
			*p_r = mm->data + p->body_off;
			*len_r = p->body_len;
			return;
		}
		if (sec->text == IMAP_SECTION_MIME) {
			*p_r = mm->data + p->hdr_off;
			*len_r = p->hdr_len;
			return;
		}
		/* HEADER/TEXT of an encapsulated message */
		if ((p->flags & MIME_PART_MESSAGE) == 0 || p->children == NULL)
			return;
		p = p->children;
	} else if (sec->text == IMAP_SECTION_ALL) {
		*p_r = mm->data;
		*len_r = mm->len;
		return;
	}
	switch (sec->text) {
	case IMAP_SECTION_HEADER:
		*p_r = mm->data + p->hdr_off;
		*len_r = p->hdr_len;
		return;
	case IMAP_SECTION_TEXT:
		*p_r = mm->data + p->body_off;
		*len_r = p->body_len;
		return;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		buf_reset(tmp);
		for (i = 0; i < p->nheaders; i++) {
			const struct mime_header *h = &p->headers[i];
			bool listed = field_listed(sec, h);

			if (listed != (sec->text == IMAP_SECTION_HEADER_FIELDS))
				continue;
			if (buf_append(tmp, mm->data + h->off, h->len) < 0)
				break;
		}
		(void)buf_append(tmp, "\r\n", 2);
		*p_r = tmp->data != NULL ? tmp->data : (const uint8_t *)"";
		*len_r = tmp->len;
		return;
	default:
		return;
	}
}

static bool
fetch_has(const struct imap_fetch *f, enum imap_fetch_att att)
{
	size_t i;

	for (i = 0; i < f->count; i++)
		if (f->items[i].att == att)
			return true;
	return false;
}

/* BINARY[section] (RFC 3516): the part's content with its transfer
 * encoding undone into tmp; the whole message for BINARY[]. Returns 0,
 * or -1 for an encoding we cannot undo ([UNKNOWN-CTE]). */
static int
binary_data(const struct mime_message *mm, const struct imap_section *sec,
    struct buf *tmp, const uint8_t **p_r, size_t *len_r)
{
	const struct mime_part *p = mm->root;
	char num[IMAP_SECTION_PARTS_MAX * 11];
	size_t i, o = 0;

	*p_r = (const uint8_t *)"";
	*len_r = 0;
	if (sec->nparts == 0) {
		*p_r = mm->data;
		*len_r = mm->len;
		return 0;
	}
	for (i = 0; i < sec->nparts && o + 12 < sizeof(num); i++) {
		int n = snprintf(num + o, sizeof(num) - o, "%s%u",
		    i ? "." : "", sec->parts[i]);

		if (n < 0)
			return 0;
		o += (size_t)n;
	}
	if ((p = mime_part_by_section(mm, num, o)) == NULL)
		return 0;
	if (p->cte == MIME_CTE_UNKNOWN)
		return -1;
	if ((p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0) {
		*p_r = mm->data + p->body_off;
		*len_r = p->body_len;
		return 0;
	}
	buf_reset(tmp);
	if (mime_part_decode(mm, p, tmp, NULL) < 0)
		return -1;
	*p_r = tmp->data != NULL ? tmp->data : (const uint8_t *)"";
	*len_r = tmp->len;
	return 0;
}

/* A literal: large ones go to the connection from where they are, after
 * what out holds so far, instead of through out. */
static void
literal_out(struct conn *c, struct buf *out, const uint8_t *p, size_t len)
{
	(void)buf_printf(out, "{%zu}\r\n", len);
	if (len < FETCH_LITERAL_DIRECT) {
		(void)buf_append(out, p, len);
		return;
	}
	conn_write(c, out->data, out->len);
	buf_reset(out);
	conn_write(c, p, len);
}

static void
fetch_cache_flush(struct imap_session *s, struct fetch_cache *fc)
{
	const char *e = NULL;

	if (fc->nput > 0 && mailbox_cache_put(s->mb, fc->put, fc->nput,
	    &e) < 0)
		log_warnx("imap session=%s event=cache-store-failed error=%s",
		    s->base.id, e != NULL ? e : "?");
	mailbox_cache_free(&fc->put, fc->nput);
	fc->nput = 0;
	fc->capput = 0;
}

static void
fetch_cache_deinit(struct imap_session *s, struct fetch_cache *fc)
{
	fetch_cache_flush(s, fc);
	mailbox_cache_free(&fc->c, fc->n);
	fc->n = 0;
}

/* The index's cached strings of message idx, reading the next window
 * when idx is past the current one; NULL when the index has no row. */
static const struct mailbox_cache *
fetch_cache_find(struct imap_session *s, struct fetch_cache *fc, size_t idx)
{
	uint32_t uid = s->msgs[idx].uid;
	const char *e = NULL;

	if (!fc->loaded || uid > fc->hi) {
		size_t last = idx + FETCH_CACHE_BATCH;

		mailbox_cache_free(&fc->c, fc->n);
		fc->n = 0;
		fc->pos = 0;
		if (last > s->nmsgs)
			last = s->nmsgs;
		fc->hi = s->msgs[last - 1].uid;
		fc->loaded = true;
		if (mailbox_cache_get(s->mb, uid, fc->hi, &fc->c, &fc->n,
		    &e) < 0) {
			log_warnx("imap session=%s event=cache-read-failed "
			    "error=%s", s->base.id, e != NULL ? e : "?");
			return NULL;
		}
	}
	while (fc->pos < fc->n && fc->c[fc->pos].uid < uid)
		fc->pos++;
	if (fc->pos < fc->n && fc->c[fc->pos].uid == uid)
		return &fc->c[fc->pos];
	return NULL;
}

/* A FETCH string computed into b, as a C string to store; NULL when it
 * holds a NUL (such a string is sent, not stored). */
static char *
cache_string(const struct buf *b)
{
	char *t;

	if (b->len > 0 && memchr(b->data, '\0', b->len) != NULL)
		return NULL;
	t = xmalloc(b->len + 1);
	if (b->len > 0)
		memcpy(t, b->data, b->len);
	t[b->len] = '\0';
	return t;
}

/* Compute the ENVELOPE, BODY and BODYSTRUCTURE of mm into env, body and
 * bs, and queue them for the index. */
static void
fetch_cache_fill(struct fetch_cache *fc, uint32_t uid,
    const struct mime_message *mm, struct buf *env, struct buf *body,
    struct buf *bs)
{
	struct mailbox_cache *c;

	(void)mime_envelope(mm, mm->root, env);
	(void)mime_bodystructure(mm, mm->root, false, body);
	(void)mime_bodystructure(mm, mm->root, true, bs);
	if (fc->nput == fc->capput) {
		fc->capput = fc->capput ? fc->capput * 2 : 64;
		fc->put = xreallocarray(fc->put, fc->capput, sizeof(*fc->put));
	}
	c = &fc->put[fc->nput];
	c->uid = uid;
	c->envelope = cache_string(env);
	c->body = cache_string(body);
	c->bodystructure = cache_string(bs);
	if (c->envelope == NULL && c->body == NULL &&
	    c->bodystructure == NULL)
		return;
	fc->nput++;
}

/* One message's response. Returns 0, or -1 when the file is gone. */
static int
fetch_one(struct imap_session *s, size_t idx, struct buf *msg,
    struct buf *out, struct buf *tmp, struct fetch_cache *fc)
{
	struct imap_fetch_state *fs = s->fetch;
	struct mailbox_msg *m = &s->msgs[idx];
	struct mime_message *mm = NULL, whole;
	const struct mime_message *v = &whole;	/* what items read */
	const struct mailbox_cache *ce = NULL;
	struct buf env, body, bs;
	bool flags_sent = false, first = true, uid_sent = false;
	bool need_data = fs->need_data, computed = false, miss = false;
	size_t i;

	memset(&whole, 0, sizeof(whole));
	if (fs->need_cache) {
		ce = fetch_cache_find(s, fc, idx);
		miss = ce == NULL ||
		    (fs->want_envelope && ce->envelope == NULL) ||
		    (fs->want_body && ce->body == NULL) ||
		    (fs->want_bodystructure && ce->bodystructure == NULL);
		if (miss)
			need_data = true;
	}
	if (need_data && imap_msg_load(s, m, msg) < 0)
		return -1;
	if (need_data && (fs->need_mime || miss)) {
		mm = mime_parse(msg->data != NULL ? msg->data :
		    (const uint8_t *)"", msg->len);
	} else if (need_data) {
		/* BODY[], BINARY[] and RFC822 need the octets only. */
		whole.data = msg->data != NULL ? msg->data :
		    (const uint8_t *)"";
		whole.len = msg->len;
	}
	if (mm != NULL)
		v = mm;
	buf_init(&env, FETCH_ITEM_MAX);
	buf_init(&body, FETCH_ITEM_MAX);
	buf_init(&bs, FETCH_ITEM_MAX);
	if (miss) {
		fetch_cache_fill(fc, m->uid, mm, &env, &body, &bs);
		computed = true;
	}
	if (fs->sets_seen && !s->readonly &&
	    (m->flags & MAILBOX_F_SEEN) == 0) {
		struct mailbox_change ch;
		const char *e = NULL;

		memset(&ch, 0, sizeof(ch));
		ch.flags = m->flags | MAILBOX_F_SEEN;
		if (mailbox_store(s->mb, m->uid, &ch, &e) == 1) {
			m->flags |= MAILBOX_F_SEEN;
			m->modseq = ch.modseq;
		} else

			flags_sent = true;	/* nothing changed to show */
	} else {
		flags_sent = true;
	}
	buf_reset(out);
	(void)buf_printf(out, "* %zu FETCH (", idx + 1);
#define SEP() do { if (!first) (void)buf_append(out, " ", 1); \
		first = false; } while (0)
	if (fs->uid) {
		SEP();
		(void)buf_printf(out, "UID %u", m->uid);
		uid_sent = true;
	}
	if (fs->f.has_changedsince && !fetch_has(&fs->f, IMAP_FETCH_MODSEQ)) {
		/* RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ. */
		SEP();
		(void)buf_printf(out, "MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	}
	for (i = 0; i < fs->f.count; i++) {
		const struct imap_fetch_item *it = &fs->f.items[i];
		const uint8_t *p;
		size_t len;

		switch (it->att) {
		case IMAP_FETCH_UID:
			if (uid_sent)
				continue;
			SEP();
			(void)buf_printf(out, "UID %u", m->uid);
			uid_sent = true;
			break;
		case IMAP_FETCH_FLAGS:
			SEP();
			(void)buf_append_str(out, "FLAGS (");
			(void)imap_msg_flags_append(m, out);
			(void)buf_append(out, ")", 1);
			flags_sent = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			SEP();
			(void)buf_append_str(out, "INTERNALDATE ");
			(void)imap_date_append(m->internal_date, out);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			SEP();
			(void)buf_printf(out, "RFC822.SIZE %llu",
			    (unsigned long long)m->size);
			break;
		case IMAP_FETCH_MODSEQ:
			SEP();
			(void)buf_printf(out, "MODSEQ (%llu)",
			    (unsigned long long)m->modseq);
			break;
		case IMAP_FETCH_ENVELOPE:
			SEP();
			(void)buf_append_str(out, "ENVELOPE ");
			if (computed)
				(void)buf_append(out, env.data, env.len);
			else
				(void)buf_append_str(out, ce->envelope);
			break;
		case IMAP_FETCH_BODYSTRUCTURE:
			SEP();
			(void)buf_append_str(out, "BODYSTRUCTURE ");
			if (computed)
				(void)buf_append(out, bs.data, bs.len);
			else
				(void)buf_append_str(out, ce->bodystructure);
			break;
		case IMAP_FETCH_BODY:
			SEP();
			(void)buf_append_str(out, "BODY ");
			if (computed)
				(void)buf_append(out, body.data, body.len);
			else
				(void)buf_append_str(out, ce->body);
			break;
		case IMAP_FETCH_RFC822:
			SEP();
			(void)buf_append_str(out, "RFC822 ");
			literal_out(s->base.conn, out, v->data, v->len);
			break;
		case IMAP_FETCH_RFC822_HEADER:
			SEP();
			(void)buf_append_str(out, "RFC822.HEADER ");
			literal_out(s->base.conn, out,
			    v->data + v->root->hdr_off, v->root->hdr_len);
			break;
		case IMAP_FETCH_RFC822_TEXT:
			SEP();
			(void)buf_append_str(out, "RFC822.TEXT ");
			literal_out(s->base.conn, out,
			    v->data + v->root->body_off, v->root->body_len);
			break;
		case IMAP_FETCH_BODY_SECTION:
			SEP();
			section_data(v, &it->section, tmp, &p, &len);
			(void)buf_append_str(out, "BODY[");
			(void)section_append(&it->section, out);
			(void)buf_append(out, "]", 1);
			if (it->partial) {
				(void)buf_printf(out, "<%llu>",
				    (unsigned long long)it->offset);
				if (it->offset >= len) {
					len = 0;
				} else {
					p += it->offset;
					len -= (size_t)it->offset;
					if (it->count < len)
						len = (size_t)it->count;
				}
			}
			(void)buf_append(out, " ", 1);
			literal_out(s->base.conn, out, p, len);
			break;
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			SEP();
			if (binary_data(v, &it->section, tmp, &p, &len) < 0) {
				fs->unknown_cte = true;
				(void)buf_printf(out, "%s[", it->att ==
				    IMAP_FETCH_BINARY ? "BINARY" :
				    "BINARY.SIZE");
				(void)section_append(&it->section, out);
				(void)buf_append_str(out, "] NIL");
				break;
			}
			if (it->att == IMAP_FETCH_BINARY_SIZE) {
				(void)buf_append_str(out, "BINARY.SIZE[");
				(void)section_append(&it->section, out);
				(void)buf_printf(out, "] %zu", len);
				break;
			}
			(void)buf_append_str(out, "BINARY[");
			(void)section_append(&it->section, out);
			(void)buf_append(out, "]", 1);
			if (it->partial) {
				(void)buf_printf(out, "<%llu>",
				    (unsigned long long)it->offset);
				if (it->offset >= len) {
					len = 0;
				} else {
					p += it->offset;
					len -= (size_t)it->offset;
					if (it->count < len)
						len = (size_t)it->count;
				}
			}
			(void)buf_append(out, " ", 1);
			/* RFC 3516 4.2: literal8 when there are NULs. */
			if (len > 0 && memchr(p, '\0', len) != NULL)
				(void)buf_append(out, "~", 1);
			literal_out(s->base.conn, out, p, len);
			break;
		default:
			break;
		}
	}
	if (!flags_sent) {
		SEP();
		(void)buf_append_str(out, "FLAGS (");
		(void)imap_msg_flags_append(m, out);
		(void)buf_append(out, ")", 1);
	}
#undef SEP
	(void)buf_append_str(out, ")\r\n");
	mime_message_free(&mm);
	buf_deinit(&env);
	buf_deinit(&body);
	buf_deinit(&bs);
	conn_write(s->base.conn, out->data, out->len);
	return 0;
}

/* Run until done or until enough output waits for the socket. Returns
 * true when the FETCH is complete (tagged reply written). */
static bool
fetch_run(struct imap_session *s)
{
	struct imap_fetch_state *fs = s->fetch;
	struct fetch_cache fc;
	struct buf msg, out, tmp;

	memset(&fc, 0, sizeof(fc));
	buf_init(&msg, IMAP_MSG_MAX);
	buf_init(&out, FETCH_ITEM_MAX + IMAP_MSG_MAX);
	buf_init(&tmp, IMAP_MSG_MAX);
	while (fs->pos < fs->n && !s->base.conn_gone && !s->base.conn->closing) {
		size_t i = fs->pos++;

		if (!fs->sel[i] || i >= s->nmsgs)
			continue;
		if (fs->f.has_changedsince &&
		    s->msgs[i].modseq <= fs->f.changedsince)
			continue;
		if (fetch_one(s, i, &msg, &out, &tmp, &fc) < 0)
			log_info("imap session=%s event=fetch-gone uid=%u",
			    s->base.id, s->msgs[i].uid);
		if (fc.nput >= FETCH_CACHE_BATCH)
			fetch_cache_flush(s, &fc);
		if (s->base.conn->out.len >= IMAP_FETCH_CHUNK &&
		    fs->pos < fs->n) {
			fetch_cache_deinit(s, &fc);
			buf_deinit(&msg);
			buf_deinit(&out);
			buf_deinit(&tmp);
			conn_flush(s->base.conn);
			return false;
		}
	}
	fetch_cache_deinit(s, &fc);
	buf_deinit(&msg);
	buf_deinit(&out);
	buf_deinit(&tmp);
	if (fs->unknown_cte) {
		imap_fetch_free(s);
		imap_tagged(s, "NO", "UNKNOWN-CTE", "Cannot decode a part");
		return true;
	}
	imap_fetch_free(s);
	imap_tagged(s, "OK", NULL, "%sFETCH completed",
	    imap_cmd_is_uid(s->cmd) ? "UID " : "");
	return true;
}

void
imap_fetch_more(struct imap_session *s)
{
	if (s->base.conn_gone)
		return;
	if (fetch_run(s))
		imap_cmd_finish(s);
}

/* "* VANISHED (EARLIER) uids" for the UIDs of set expunged after
 * modseq (RFC 7162 3.2.6). */
void
imap_vanished_earlier(struct imap_session *s, const struct imap_seqset *set,
    uint64_t modseq)
{
	uint32_t *v = NULL;
	size_t n = 0, i, o = 0;
	const char *e = NULL;
	struct buf out;

	if (mailbox_vanished(s->mb, modseq, &v, &n, &e) < 0) {
		log_warnx("imap session=%s event=vanished-failed", s->base.id);
		return;
	}
	for (i = 0; i < n; i++)
		if (set == NULL || imap_seqset_has(set, v[i], UINT32_MAX))
			v[o++] = v[i];
	if (o > 0) {
		buf_init(&out, 0);
		(void)buf_append_str(&out, "* VANISHED (EARLIER) ");
		(void)imap_numbers_append(v, o, &out);
		(void)buf_append_str(&out, "\r\n");
		conn_write(s->base.conn, out.data, out.len);
		buf_deinit(&out);
	}
	free(v);
}

void
imap_cmd_fetch(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_fetch_state *fs;
	size_t i;

	fs = xcalloc(1, sizeof(*fs));
	if (imap_parse_fetch(s->parser, c, &fs->f, &err) < 0) {
		free(fs);
		imap_parse_failed(s, &err);
		return;
	}
	fs->uid = imap_cmd_is_uid(c->cmd);
	if (fs->f.vanished && (!s->qresync || !fs->uid ||
	    !fs->f.has_changedsince)) {
		/* RFC 7162 3.2.6: UID FETCH only, QRESYNC enabled. */
		free(fs);
		imap_bad(s, "VANISHED needs UID FETCH, CHANGEDSINCE and "
		    "ENABLE QRESYNC");
		return;
	}
	if (fs->f.has_changedsince || fetch_has(&fs->f, IMAP_FETCH_MODSEQ))
		s->condstore = true;	/* RFC 7162 3.1: enabling */
	for (i = 0; i < fs->f.count; i++) {
		const struct imap_fetch_item *it = &fs->f.items[i];

		switch (it->att) {
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			if (it->section.text != IMAP_SECTION_ALL) {
				free(fs);
				imap_bad(s, "BINARY takes part numbers only");
				return;
			}
			if (it->section.nparts > 0)
				fs->need_mime = true;
			if (it->att == IMAP_FETCH_BINARY && !it->peek)
				fs->sets_seen = true;
			fs->need_data = true;
			break;
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_TEXT:
			if (!it->peek)
				fs->sets_seen = true;
			fs->need_data = true;
			if (it->att == IMAP_FETCH_RFC822_TEXT ||
			    (it->att == IMAP_FETCH_BODY_SECTION &&
			    (it->section.nparts > 0 ||
			    it->section.text != IMAP_SECTION_ALL)))
				fs->need_mime = true;
			break;
		case IMAP_FETCH_ENVELOPE:
			fs->want_envelope = fs->need_cache = true;
			break;
		case IMAP_FETCH_BODYSTRUCTURE:
			fs->want_bodystructure = fs->need_cache = true;
			break;
		case IMAP_FETCH_BODY:
			fs->want_body = fs->need_cache = true;
			break;
		case IMAP_FETCH_RFC822_HEADER:
			fs->need_data = fs->need_mime = true;
			break;
		default:
			break;
		}
	}
	imap_saved_resolve(s, fs->uid, &fs->f.set);
	fs->n = s->nmsgs;
	fs->sel = xcalloc(fs->n ? fs->n : 1, sizeof(bool));
	if (!fs->uid) {
		for (i = 0; i < fs->f.set.count; i++) {
			uint64_t lo = fs->f.set.ranges[i].lo;
			uint64_t hi = fs->f.set.ranges[i].hi;

			if ((lo != IMAP_SEQ_STAR && lo > s->nmsgs) ||
			    (hi != IMAP_SEQ_STAR && hi > s->nmsgs) ||
			    s->nmsgs == 0) {
				free(fs->sel);
				free(fs);
				imap_bad(s, "Invalid message sequence number");
				return;
			}
		}
	}
	(void)imap_seqset_select(&fs->f.set, fs->uid, s->msgs, s->nmsgs,
	    fs->sel);
	if (fs->f.vanished)
		imap_vanished_earlier(s, &fs->f.set, fs->f.changedsince);
	s->fetch = fs;
	if (!fetch_run(s)) {
		/* Waiting for the drain: no reads (the command's slices
		 * point into the input buffer). */
		conn_pause(s->base.conn);
	}
}
