/* list_digest: keeping posts for a list's digest and sending it. See
 * list_digest.h; the storage is store_list_digest.c, the copies (list
 * header fields, signing, VERP, queueing) list_expand.c's. */
#include "list_digest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "list_expand.h"
#include "log.h"
#include "mime.h"
#include "store_list_digest.h"
#include "util.h"
#include "xalloc.h"

#define DIGEST_BOUNDARY_TRIES	4
#define DIGEST_DUE_LISTS	LIST_DIGEST_DUE_MAX

int
list_digest_keep(struct store *st, const struct queue_envelope *env,
    const struct list_info *li, const uint8_t *msg, size_t len,
    bool *due_r, char *reason, size_t reasonlen)
{
	const char *error = NULL;
	uint64_t waiting = 0;
	size_t n = 0;

	*due_r = false;
	if (store_list_digest_members(st, li->address, &n) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return -1;
	}
	if (n == 0)
		return 0;
	if (store_list_digest_add(st, li->address, env->id, time(NULL), msg,
	    len, &waiting, &error) < 0) {
		log_warnx("event=list-digest-keep-failed id=%s list=%s "
		    "error=\"%s\"", env->id, li->address, error);
		snprintf(reason, reasonlen, "4.3.0 digest: %.100s", error);
		return -1;
	}
	*due_r = waiting >= li->digest_size;
	return 0;
}

/* ---- building a digest -------------------------------------------------- */

struct dpost {
	uint8_t	*data;
	size_t	 len;
};

struct dposts {
	struct dpost	*v;
	size_t		 n;
};

static void
collect_post(void *ctx, int64_t id, time_t t, const uint8_t *data,
    size_t len)
{
	struct dposts *p = ctx;

	(void)id;
	(void)t;
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n].data = xmalloc(len + 1);
	memcpy(p->v[p->n].data, data, len);
	p->v[p->n].len = len;
	p->n++;
}

static void
dposts_free(struct dposts *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i].data);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* A header field of a post, decoded (RFC 2047) to one line of at most
 * LIST_DIGEST_TOC_LINE_MAX / 2 octets, controls made spaces, into out;
 * "(none)" when it has none. */
static void
toc_field(const struct mime_part *root, const char *name, char *out,
    size_t outlen)
{
	const struct mime_header *h = mime_header_find(root, name);
	size_t max = LIST_DIGEST_TOC_LINE_MAX / 2, n, i;
	struct buf v;
	const char *p;

	moat_strlcpy(out, "(none)", outlen);
	if (h == NULL)
		return;
	buf_init(&v, 4096);
	if (mime_header_decode(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0) {
		while (*p == ' ' || *p == '\t')
			p++;
		n = strlen(p);
		if (n > max) {
			n = max;
			/* Not in the middle of a UTF-8 sequence. */
			while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
				n--;
		}
		if (n >= outlen)
			n = outlen - 1;
		for (i = 0; i < n; i++)
			out[i] = (unsigned char)p[i] < 0x20 ||
			    p[i] == 0x7f ? ' ' : p[i];
		out[n] = '\0';
	}
	buf_deinit(&v);
}

/* A boundary no post holds ("--" + it would end a part early). */
static int
pick_boundary(const struct dposts *p, char *b, size_t blen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];
	char h[33];
	unsigned t;
	size_t i;
	bool used;

	for (t = 0; t < DIGEST_BOUNDARY_TRIES; t++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		for (i = 0; i < sizeof(rnd); i++) {
			h[2 * i] = hex[rnd[i] >> 4];
			h[2 * i + 1] = hex[rnd[i] & 15];
		}
		h[32] = '\0';
		snprintf(b, blen, "=_moat_digest_%s", h);
		used = false;
		for (i = 0; i < p->n && !used; i++)
			used = memmem(p->v[i].data, p->v[i].len, b,
			    strlen(b)) != NULL;
		if (!used)
			return 0;
	}
	return -1;
}

static bool
has_8bit(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] & 0x80)
			return true;
	return false;
}

/* The digest's header fields (without List-Unsubscribe) into head and
 * its body into body. */
static int
digest_build(const struct list_info *li, const struct dposts *p,
    uint64_t issue, struct buf *head, struct buf *body, bool *eightbit_r)
{
	char b[64], subject[LIST_DIGEST_TOC_LINE_MAX];
	char from[LIST_DIGEST_TOC_LINE_MAX];
	char date[64], day[16], rnd[9];
	struct mime_message *mm;
	time_t now = time(NULL);
	struct tm tm;
	uint32_t r32 = 0;
	size_t i;
	bool any8;
	int r = 0;

	if (pick_boundary(p, b, sizeof(b)) < 0)
		return -1;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0 ||
	    localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		return -1;
	if (getrandom(&r32, sizeof(r32), 0) != (ssize_t)sizeof(r32))
		return -1;
	snprintf(rnd, sizeof(rnd), "%08" PRIx32, r32);
	r |= list_header_fields(li, head);
	r |= buf_printf(head, "From: \"%s\" <%s>\r\n", li->name, li->address);
	r |= buf_printf(head, "To: <%s>\r\n", li->address);
	if (li->reply_to == LIST_REPLY_LIST)
		r |= buf_printf(head, "Reply-To: <%s>\r\n", li->address);
	r |= buf_printf(head, "Subject: %s digest %s #%" PRIu64 "\r\n",
	    li->prefix[0] != '\0' ? li->prefix : li->name, day, issue);
	r |= buf_printf(head, "Date: %s\r\n", date);
	r |= buf_printf(head, "Message-ID: <digest.%" PRIu64 ".%s.%s@%s>\r\n",
	    issue, rnd, li->local, li->domain);
	r |= buf_append_str(head, "MIME-Version: 1.0\r\n");
	r |= buf_printf(head, "Content-Type: multipart/mixed; "
	    "boundary=\"%s\"\r\n", b);

	r |= buf_append_str(body, "This is a digest of the list in MIME "
	    "format.\r\n");
	r |= buf_printf(body, "\r\n--%s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	    "Content-Description: Table of contents\r\n\r\n", b);
	r |= buf_printf(body, "%s digest #%" PRIu64 ", %zu message%s\r\n\r\n",
	    li->name, issue, p->n, p->n == 1 ? "" : "s");
	for (i = 0; i < p->n && r == 0; i++) {
		mm = mime_parse(p->v[i].data, mime_header_end(p->v[i].data,
		    p->v[i].len));
		toc_field(mm->root, "Subject", subject, sizeof(subject));
		toc_field(mm->root, "From", from, sizeof(from));
		mime_message_free(&mm);
		r |= buf_printf(body, "%4zu. %s\r\n      From: %s\r\n", i + 1,
		    subject, from);
	}
	/* A post with 8-bit octets says so (RFC 2045 6.4: a message or
	 * multipart is 7bit, 8bit or binary); one with UTF-8 in its header
	 * is a message/global (RFC 6532 3.7), not a message/rfc822. So is
	 * every container around it. */
	for (i = 0, any8 = false; i < p->n; i++)
		any8 |= has_8bit(p->v[i].data, p->v[i].len);
	r |= buf_printf(body, "\r\n--%s\r\nContent-Type: multipart/digest; "
	    "boundary=\"%s_d\"\r\n%s\r\n", b, b, any8 ?
	    "Content-Transfer-Encoding: 8bit\r\n" : "");
	for (i = 0; i < p->n && r == 0; i++) {
		size_t hl = mime_header_end(p->v[i].data, p->v[i].len);
		bool h8 = has_8bit(p->v[i].data, hl);

		r |= buf_printf(body, "--%s_d\r\nContent-Type: message/%s"
		    "\r\n%s\r\n", b, h8 ? "global" : "rfc822", h8 ||
		    has_8bit(p->v[i].data + hl, p->v[i].len - hl) ?
		    "Content-Transfer-Encoding: 8bit\r\n" : "");
		r |= buf_append(body, p->v[i].data, p->v[i].len);
		r |= buf_append_str(body, "\r\n");
	}
	r |= buf_printf(body, "--%s_d--\r\n\r\n--%s--\r\n", b, b);
	*eightbit_r = has_8bit(body->data, body->len);
	if (*eightbit_r)
		r |= buf_append_str(head, "Content-Transfer-Encoding: 8bit\r\n");
	return r < 0 ? -1 : 0;
}

int
list_digest_send(struct store *st, const struct config *cfg,
    const struct list_info *li, size_t *posts_r)
{
	struct dposts p = { NULL, 0 };
	struct queue_envelope env;
	struct buf head, body;
	char reason[256] = "";
	uint64_t issue = 0;
	size_t copies = 0, octets = 0;
	bool eightbit = false;
	int n;

	if (posts_r != NULL)
		*posts_r = 0;
	/* What a digest holds must leave room, within the queue's message
	 * size, for the contents table, the MIME framing and the headers:
	 * an eighth. A larger digest could never be delivered. */
	if ((n = store_list_digest_claim(st, li->address, time(NULL),
	    cfg->message_size - cfg->message_size / 8, &issue, collect_post,
	    &p)) <= 0) {
		if (n < 0)
			log_warnx("event=list-digest-failed list=%s "
			    "error=\"database\"", li->address);
		dposts_free(&p);
		return n < 0 ? -1 : 0;
	}
	memset(&env, 0, sizeof(env));
	queue_id_new(env.id);
	env.session = "-";
	buf_init(&head, LIST_HEADERS_MAX + 8192);
	buf_init(&body, 0);
	if (digest_build(li, &p, issue, &head, &body, &eightbit) < 0) {
		snprintf(reason, sizeof(reason), "cannot build the digest");
	} else {
		env.eightbit = eightbit;
		if (list_send_copies(st, cfg, &env, li, &head, body.data,
		    body.len, true, &copies, reason, sizeof(reason)) ==
		    LIST_DONE) {
			reason[0] = '\0';
		}
	}
	octets = body.len;
	buf_deinit(&head);
	buf_deinit(&body);
	if (reason[0] != '\0') {
		/* Given back: the next try sends them. */
		(void)store_list_digest_release(st, li->address, issue);
		log_warnx("event=list-digest-failed list=%s issue=%" PRIu64
		    " posts=%zu error=\"%s\"", li->address, issue, p.n,
		    reason);
		dposts_free(&p);
		return -1;
	}
	/* Queued and fsync'd: the posts may go. Should this fail, they go
	 * out again in the next digest (a duplicate, never a loss). */
	if (store_list_digest_done(st, li->address, issue) < 0)
		log_warnx("event=list-digest-failed list=%s issue=%" PRIu64
		    " note=\"posts not deleted: sent again\"", li->address,
		    issue);
	log_info("event=list-digest id=%s list=%s issue=%" PRIu64 " posts=%zu "
	    "octets=%zu copies=%zu", env.id, li->address, issue, p.n,
	    octets, copies);
	if (posts_r != NULL)
		*posts_r = p.n;
	dposts_free(&p);
	return 0;
}

int
list_digest_flush(struct store *st, const struct config *cfg,
    const char *list)
{
	struct list_info li;
	uint64_t posts = 0, octets = 0;
	const char *error = NULL;

	if (store_list_digest_pending(st, list, &posts, &octets) < 0)
		return -1;
	if (posts == 0)
		return 0;
	if (store_list_get(st, list, &li, &error) < 0)
		return -1;
	/* Everything that waits, in as many digests as it takes. */
	while (posts > 0) {
		size_t sent = 0;

		if (list_digest_send(st, cfg, &li, &sent) < 0)
			return -1;
		if (sent == 0)
			break;	/* the rest is claimed by a send in flight */
		posts = sent < posts ? posts - sent : 0;
	}
	return 0;
}

struct due {
	char	**v;
	size_t	  n;
};

static void
collect_due(void *ctx, const char *const *cols, int ncols)
{
	struct due *d = ctx;

	if (ncols < 1 || d->n == DIGEST_DUE_LISTS)
		return;
	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n++] = xstrdup(cols[0]);
}

void
list_digest_run(struct store *st, const struct config *cfg, time_t now)
{
	struct due d = { NULL, 0 };
	struct list_info li;
	const char *error = NULL;
	size_t i;

	if (store_list_digest_due(st, now, collect_due, &d) < 0)
		log_warnx("event=list-digest-check-failed");
	for (i = 0; i < d.n; i++) {
		if (store_list_get(st, d.v[i], &li, &error) == 0)
			(void)list_digest_send(st, cfg, &li, NULL);
		free(d.v[i]);
	}
	free(d.v);
}
