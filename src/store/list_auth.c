/* list_auth: see list_auth.h. Owns the header surgery on a list post
 * (DKIM-Signature removal, the DMARC From rewrite with Reply-To or Cc
 * and X-Original-From) and the list domain's DKIM signature and ARC set.
 *
 * The header block is rewritten by copying the message and leaving out
 * or replacing whole fields (by their offsets from the MIME parser), so
 * every field we do not touch goes out byte for byte, including fields
 * past the parser's index limit. */
#include "list_auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc.h"
#include "authn_sign.h"
#include "dkim.h"
#include "log.h"
#include "mime.h"
#include "util.h"

#define LIST_AUTH_HEADER_MAX	(256 * 1024)	/* header block rewritten */
#define LIST_AUTH_GROWTH_MAX	(64 * 1024)	/* octets we may add */
#define LIST_AUTH_WHO_MAX	330	/* "list=ADDRESS" in log lines */
#define LIST_AUTH_NAME_MAX	200	/* octets of the author's name kept */
#define LIST_AUTH_PHRASE_MAX	512	/* "Name via List", UTF-8 */
#define LIST_AUTH_FIELD_MAX	8192	/* one field value we build */
#define LIST_AUTH_AR_MAX	8192	/* our A-R value, for the AAR */
#define LIST_AUTH_EW_MAX	75	/* RFC 2047 2: one encoded-word */

static bool
field_is(const struct mime_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && ascii_nieq((const char *)h->name, name, n);
}

/* Octets of the header block including the blank line (the whole message
 * when it has no body), or SIZE_MAX when it is longer than
 * LIST_AUTH_HEADER_MAX. */
static size_t
header_len(const uint8_t *msg, size_t len)
{
	size_t lim = len < LIST_AUTH_HEADER_MAX ? len : LIST_AUTH_HEADER_MAX;
	size_t n = mime_header_end(msg, lim);

	return n < lim || len <= LIST_AUTH_HEADER_MAX ? n : SIZE_MAX;
}

/* Does the address list value hold addr (case-insensitive)? */
static bool
addrs_have(const uint8_t *value, size_t len, const char *addr)
{
	struct mime_addr *list = mime_addr_parse(value, len), *a;
	char one[512];
	bool found = false;

	for (a = list; a != NULL && !found; a = a->next) {
		if (a->mailbox == NULL || a->host == NULL)
			continue;
		snprintf(one, sizeof(one), "%s@%s", a->mailbox, a->host);
		found = ascii_ieq(one, addr);
	}
	mime_addr_free(&list);
	return found;
}

/* Octets that stand for themselves in a Q-encoded word of a phrase
 * (RFC 2047 5 (3)); space is written as "_". */
static bool
q_plain(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '!' || c == '*' || c == '+' ||
	    c == '-' || c == '/' || c == ' ';
}

/* Append s (UTF-8, no controls) as a phrase: a quoted-string when it is
 * printable ASCII, else RFC 2047 Q encoded-words of UTF-8 (no character
 * split between words), folded between words. */
static int
append_phrase(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n = strlen(s), col;
	bool ascii = true;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			ascii = false;
	if (ascii) {
		if (buf_append(out, "\"", 1) < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (((p[i] == '"' || p[i] == '\\') &&
			    buf_append(out, "\\", 1) < 0) ||
			    buf_append(out, &p[i], 1) < 0)
				return -1;
		return buf_append(out, "\"", 1);
	}
	i = 0;
	while (i < n) {
		if (i > 0 && buf_append(out, "\r\n ", 3) < 0)
			return -1;
		if (buf_append_str(out, "=?UTF-8?Q?") < 0)
			return -1;
		col = 10;
		while (i < n) {
			size_t clen = 1, need = 0, k;

			/* One whole UTF-8 character per step. */
			if (p[i] >= 0xc0)
				clen = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
			if (i + clen > n)
				clen = n - i;
			for (k = 0; k < clen; k++)
				need += q_plain(p[i + k]) ? 1 : 3;
			if (col + need + 2 > LIST_AUTH_EW_MAX && col > 10)
				break;
			for (k = 0; k < clen; k++) {
				unsigned char c = p[i + k];
				char e[3] = { '=', hex[c >> 4], hex[c & 15] };

				if (c == ' ')
					c = '_';
				if (q_plain(p[i + k]) ? buf_append(out, &c,
				    1) < 0 : buf_append(out, e, 3) < 0)
					return -1;
			}
			col += need;
			i += clen;
		}
		if (buf_append(out, "?=", 2) < 0)
			return -1;
	}
	return 0;
}

/* The new From value: "Author via List" <list@domain>. The author's name
 * is the decoded display name, else the local part; controls become
 * spaces and it is cut (at a character boundary) at LIST_AUTH_NAME_MAX. */
static int
munged_from(const struct mime_addr *a, const struct list_auth_params *p,
    struct buf *out)
{
	char name[LIST_AUTH_NAME_MAX + 1], phrase[LIST_AUTH_PHRASE_MAX];
	const char *list_name = p->list_name;
	char list_local[256];
	struct buf dec;
	size_t n = 0, i;

	buf_init(&dec, LIST_AUTH_FIELD_MAX);
	if (a->name != NULL && a->name[0] != '\0' &&
	    mime_header_decode((const uint8_t *)a->name, strlen(a->name),
	    &dec) == 0 && dec.len > 0) {
		n = dec.len < LIST_AUTH_NAME_MAX ? dec.len : LIST_AUTH_NAME_MAX;
		memcpy(name, dec.data, n);
		/* Cut before the character the limit falls in: back up
		 * while the first octet left out continues a character. */
		if (n < dec.len)
			while (n > 0 && (dec.data[n] & 0xc0) == 0x80)
				n--;
	} else if (a->mailbox != NULL) {
		n = moat_strlcpy(name, a->mailbox, sizeof(name));
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
	}
	buf_deinit(&dec);
	name[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = ' ';
	if (list_name == NULL || list_name[0] == '\0')
		list_name = p->list_addr;
	moat_strlcpy(list_local, list_name, sizeof(list_local));
	if (list_name == p->list_addr)
		list_local[strcspn(list_local, "@")] = '\0';
	/* Admin input, but never a header break (a TAB is fine in a
	 * phrase; control octets are not). */
	for (i = 0; list_local[i] != '\0'; i++)
		if ((unsigned char)list_local[i] < 0x20 ||
		    list_local[i] == 0x7f)
			list_local[i] = ' ';
	snprintf(phrase, sizeof(phrase), "%s via %s", name, list_local);
	if (append_phrase(out, phrase) < 0 ||
	    buf_printf(out, " <%s>", p->list_addr) < 0)
		return -1;
	return 0;
}

struct plan {
	const struct mime_header *from;
	const struct mime_header *target;	/* existing Reply-To or Cc */
	const char	*target_name;
	struct mime_addr *head;			/* the From's addresses */
	const struct mime_addr *author;		/* the first with a domain */
	bool		 munge;
};

/* RFC 7960 4.1.3 / Mailman's DMARC mitigation: From becomes the list;
 * the author goes to Reply-To, or to Cc when the list already set
 * Reply-To to itself (so "reply" still goes to the list and "reply all"
 * reaches the author too). */
static void
plan_munge(const struct mime_part *root, const struct list_auth_params *p,
    struct plan *pl)
{
	const struct mime_header *rt;

	memset(pl, 0, sizeof(*pl));
	if (p->author_dmarc == NULL || (!ascii_ieq(p->author_dmarc,
	    "quarantine") && !ascii_ieq(p->author_dmarc, "reject")))
		return;
	if ((pl->from = mime_header_find(root, "From")) == NULL ||
	    mime_header_find_nth(root, "From", 1) != NULL)
		return;		/* DMARC did not apply to it either */
	pl->head = mime_addr_parse(pl->from->value, pl->from->value_len);
	for (pl->author = pl->head; pl->author != NULL &&
	    (pl->author->host == NULL || pl->author->mailbox == NULL);
	    pl->author = pl->author->next)
		;
	if (pl->author == NULL)
		return;
	pl->munge = true;
	rt = mime_header_find(root, "Reply-To");
	if (rt != NULL && addrs_have(rt->value, rt->value_len,
	    p->list_addr)) {
		pl->target_name = "Cc";
		pl->target = mime_header_find(root, "Cc");
	} else {
		pl->target_name = "Reply-To";
		pl->target = rt;
	}
}

/* The fields that replace the From field. */
static int
write_from(struct buf *out, const struct plan *pl,
    const struct list_auth_params *p)
{
	const struct mime_header *f = pl->from;

	if (buf_append_str(out, "From: ") < 0 ||
	    munged_from(pl->author, p, out) < 0 ||
	    buf_append_str(out, "\r\nX-Original-From: ") < 0 ||
	    buf_append(out, f->value, f->value_len) < 0 ||
	    buf_append_str(out, "\r\n") < 0)
		return -1;
	if (pl->target == NULL && (buf_printf(out, "%s: ",
	    pl->target_name) < 0 || buf_append(out, f->value,
	    f->value_len) < 0 || buf_append_str(out, "\r\n") < 0))
		return -1;
	return 0;
}

/* The existing Reply-To (or Cc) with the author added, unless there. */
static int
write_target(struct buf *out, const struct plan *pl)
{
	const struct mime_header *t = pl->target, *f = pl->from;
	struct mime_addr *there = mime_addr_parse(t->value, t->value_len);
	char addr[512];
	int r = 0;

	snprintf(addr, sizeof(addr), "%s@%s", pl->author->mailbox,
	    pl->author->host);
	if (buf_append(out, t->name, t->name_len) < 0 ||
	    buf_append_str(out, ": ") < 0)
		r = -1;
	else if (there == NULL)		/* empty: just the author */
		r = buf_append(out, f->value, f->value_len);
	else if (buf_append(out, t->value, t->value_len) < 0 ||
	    (!addrs_have(t->value, t->value_len, addr) &&
	    (buf_append_str(out, ",\r\n ") < 0 ||
	    buf_append(out, f->value, f->value_len) < 0)))
		r = -1;
	mime_addr_free(&there);
	return r < 0 ? -1 : buf_append_str(out, "\r\n");
}

/* Copy msg (header block hlen octets) into out without the author's
 * DKIM signatures and with the From rewrite of pl. */
static int
rewrite(const struct buf *msg, const struct mime_part *root,
    const struct plan *pl, const struct list_auth_params *p,
    struct buf *out, size_t *stripped_r)
{
	size_t i, pos = 0;

	*stripped_r = 0;
	for (i = 0; i < root->nheaders; i++) {
		const struct mime_header *h = &root->headers[i];
		bool dkim = p->strip_dkim && field_is(h, "DKIM-Signature");
		int r = 0;

		if (h->off < pos || h->off + h->len > msg->len)
			continue;	/* not in order: leave it be */
		if (!dkim && !(pl->munge && (h == pl->from ||
		    h == pl->target || field_is(h, "X-Original-From"))))
			continue;
		if (buf_append(out, msg->data + pos, h->off - pos) < 0)
			return -1;
		pos = h->off + h->len;
		if (dkim)
			(*stripped_r)++;
		else if (h == pl->from)
			r = write_from(out, pl, p);
		else if (h == pl->target)
			r = write_target(out, pl);
		/* else a forged X-Original-From: ours replaces it */
		if (r < 0)
			return -1;
	}
	return buf_append(out, msg->data + pos, msg->len - pos);
}

/* DKIM-sign (every enabled key of the list domain) and ARC-seal (its
 * RSA key) msg in place. No key: sent as it is. */
static void
sign(struct store *st, struct buf *msg, size_t max, const char *ar,
    const struct list_auth_params *p)
{
	struct authn_keys k = { .n = 0 };
	const struct dkim_signer *rsa;
	const char *error = NULL;
	char who[LIST_AUTH_WHO_MAX];
	enum arc_status cv;
	unsigned instance;
	struct buf out;
	int r;

	snprintf(who, sizeof(who), "list=%s", p->list_addr);
	if (st == NULL || authn_keys_load(st, p->list_domain, &k, who) < 0 ||
	    k.n == 0) {
		log_info("event=list-unsigned list=%s domain=%s reason=\"no "
		    "DKIM key for the list domain\"", p->list_addr,
		    p->list_domain);
		goto out;
	}
	buf_init(&out, max);
	if (dkim_sign_message(k.s, k.n, msg->data, msg->len, time(NULL),
	    &out, &error) < 0 || buf_append(&out, msg->data, msg->len) < 0) {
		log_warnx("event=list-dkim-sign-failed list=%s domain=%s "
		    "error=\"%s\"", p->list_addr, p->list_domain,
		    error != NULL ? error : "out of room");
		buf_deinit(&out);
		goto out;
	}
	buf_deinit(msg);
	*msg = out;
	log_info("event=list-dkim-signed list=%s domain=%s signatures=%zu",
	    p->list_addr, p->list_domain, k.n);
	if (!p->arc_seal)
		goto out;
	if ((rsa = authn_keys_rsa(&k)) == NULL) {
		log_info("event=list-arc-not-sealed list=%s reason=\"no RSA "
		    "key for the list domain\"", p->list_addr);
		goto out;
	}
	buf_init(&out, max);
	r = authn_arc_seal(st, rsa, msg->data, msg->len, ar, &out, &instance,
	    &cv, &error);
	if (r == 0 && buf_append(&out, msg->data, msg->len) == 0) {
		buf_deinit(msg);
		*msg = out;
		log_info("event=list-arc-sealed list=%s instance=%u cv=%s",
		    p->list_addr, instance, arc_status_name(cv));
		goto out;
	}
	if (r == 1)
		log_info("event=list-arc-not-sealed list=%s reason=\"chain "
		    "already failed\"", p->list_addr);
	else
		log_warnx("event=list-arc-seal-failed list=%s error=\"%s\"",
		    p->list_addr, error != NULL ? error : "out of room");
	buf_deinit(&out);
out:
	authn_keys_free(&k);
}

int
list_auth_transform(struct store *st, struct buf *msg,
    const struct list_auth_params *p, const char **error_r)
{
	struct mime_message *m;
	struct plan pl;
	struct buf out;
	char ar[LIST_AUTH_AR_MAX];
	size_t hlen, stripped, max;

	if (p->list_addr == NULL || p->list_domain == NULL ||
	    p->hostname == NULL) {
		*error_r = "list address, domain and host name are needed";
		return -1;
	}
	if ((hlen = header_len(msg->data, msg->len)) == SIZE_MAX) {
		*error_r = "header block too large";
		return -1;
	}
	/* 0 (and a limit past SIZE_MAX once grown) is no limit: never a
	 * sum that wraps to a small one. */
	max = msg->max == 0 || msg->max > SIZE_MAX - LIST_AUTH_GROWTH_MAX ?
	    0 : msg->max + LIST_AUTH_GROWTH_MAX;
	m = mime_parse(msg->data, hlen);
	plan_munge(m->root, p, &pl);
	buf_init(&out, max);
	if (rewrite(msg, m->root, &pl, p, &out, &stripped) < 0) {
		mime_addr_free(&pl.head);
		mime_message_free(&m);
		buf_deinit(&out);
		*error_r = "message too large after the header changes";
		return -1;
	}
	authn_our_ar(msg->data, hlen, p->hostname, ar, sizeof(ar));
	if (ar[0] == '\0')
		snprintf(ar, sizeof(ar), "%s; none", p->hostname);
	mime_addr_free(&pl.head);
	mime_message_free(&m);
	buf_deinit(msg);
	*msg = out;
	log_info("event=list-auth list=%s dkim-removed=%zu from-rewritten=%s "
	    "author-dmarc=%s", p->list_addr, stripped, pl.munge ? "yes" : "no",
	    p->author_dmarc != NULL ? p->author_dmarc : "-");
	sign(st, msg, max, ar, p);
	return 0;
}
