/* dns: asynchronous lookups over libunbound on a libuv loop, with a small
 * TTL-honouring cache in front.
 *
 * libunbound runs its resolver in a thread of its own (ub_ctx_async) and
 * signals answers through a pipe, ub_fd(); a uv_poll on that fd calls
 * ub_process(), which runs our unbound callback for each answer. Every
 * query also owns a uv_timer: it enforces the timeout (cancelling the
 * unbound query) and delivers answers that do not need unbound (cache
 * hits, bad names) on the next loop turn, so user callbacks never run
 * inside dns_query_*().
 *
 * Query life: dns_query() -> [cache hit | bad name: timer 0] or
 * [ub_resolve_async + timer timeout_ms] -> one of unbound answer, timer,
 * dns_cancel -> query_finish() unlinks it and closes the timer, whose
 * close callback frees it. A query whose ub_cancel() failed for a reason
 * other than "already delivered" stays allocated as a zombie until unbound
 * calls back, so unbound never sees a dangling pointer. */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define DNS_CACHE_TTL_MAX 3600		/* s; a cap on staleness */
#define DNS_CACHE_NEG_TTL_MAX 300	/* s; NXDOMAIN / NODATA */
#define DNS_CACHE_ENTRIES_LIMIT 1000000	/* sanity bound on cache_max */
#define DNS_TIMEOUT_MAX_MS 600000
#define DNS_NAME_ESC_MAX 1024		/* 255 wire octets, escaped */
#define DNS_LABEL_MAX 63
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_CLASS_IN 1

/* A result and the storage its public pointers refer to. */
struct res {
	struct dns_result pub;
	char		*qname;
	char		*canon;
};

struct cache_entry {
	struct cache_entry *hnext;		/* hash chain */
	struct cache_entry *lprev, *lnext;	/* LRU: head = newest */
	uint32_t	 hash;
	uint64_t	 expires;		/* loop time, ms */
	struct res	*res;
};

struct dns {
	uv_loop_t	*loop;
	struct ub_ctx	*ub;
	uv_poll_t	 poll;
	unsigned	 timeout_ms;
	bool		 in_process;	/* inside ub_process() */
	bool		 dying;		/* dns_free() called */
	struct dns_query *queries;		/* outstanding + zombies */
	size_t		 npending;
	struct cache_entry **buckets;
	size_t		 nbuckets;		/* power of two */
	size_t		 cache_max;
	size_t		 cache_count;
	struct cache_entry *lru_head, *lru_tail;
	uint64_t	 hits, misses;
};

struct dns_query {
	struct dns	*dns;
	struct dns_query *prev, *next;
	uv_timer_t	 timer;
	dns_cb		*cb;
	void		*ctx;
	int		 async_id;
	bool		 in_unbound;	/* unbound owes us a callback */
	bool		 finished;	/* no user callback any more */
	uint16_t	 qtype;
	struct res	*ready;		/* deliver when the timer fires */
	char		 qname[DNS_QNAME_MAX];
};

static void dns_destroy(struct dns *dns);
static void dns_closed(uv_handle_t *h);

const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_PERMFAIL:
		return "permfail";
	}
	return "unknown";
}

/* ---- results ---------------------------------------------------------- */

static struct res *
res_new(const char *qname, uint16_t qtype, enum dns_status st,
    const char *why)
{
	struct res *r = xcalloc(1, sizeof(*r));

	r->qname = xstrdup(qname);
	r->pub.qname = r->qname;
	r->pub.canon = r->qname;
	r->pub.qtype = qtype;
	r->pub.status = st;
	r->pub.why = why;
	return r;
}

static void
res_clear_data(struct res *r)
{
	struct dns_result *p = &r->pub;
	size_t i;

	for (i = 0; p->mx != NULL && i < p->count; i++)
		free(p->mx[i].host);
	for (i = 0; p->txt != NULL && i < p->count; i++)
		free(p->txt[i].s);
	for (i = 0; p->names != NULL && i < p->count; i++)
		free(p->names[i]);
	free(p->mx);
	free(p->txt);
	free(p->names);
	free(p->addr);
	p->mx = NULL;
	p->txt = NULL;
	p->names = NULL;
	p->addr = NULL;
	p->count = 0;
	p->null_mx = false;
}

static void
res_free(struct res **rp)
{
	struct res *r = *rp;

	if (r == NULL)
		return;
	res_clear_data(r);
	free(r->qname);
	free(r->canon);
	free(r);
	*rp = NULL;
}

/* Turn r into a failure, dropping any data. */
static void
res_fail(struct res *r, enum dns_status st, const char *why)
{
	res_clear_data(r);
	r->pub.status = st;
	r->pub.why = why;
	r->pub.secure = false;
}

static struct res *
res_dup(const struct res *src)
{
	const struct dns_result *s = &src->pub;
	struct res *r = res_new(src->qname, s->qtype, s->status, s->why);
	struct dns_result *p = &r->pub;
	size_t i, n = s->count;

	p->secure = s->secure;
	p->ttl = s->ttl;
	p->null_mx = s->null_mx;
	if (src->canon != NULL) {
		r->canon = xstrdup(src->canon);
		p->canon = r->canon;
	}
	p->count = n;
	if (s->mx != NULL) {
		p->mx = xreallocarray(NULL, n, sizeof(*p->mx));
		for (i = 0; i < n; i++) {
			p->mx[i].pref = s->mx[i].pref;
			p->mx[i].host = xstrdup(s->mx[i].host);
		}
	}
	if (s->txt != NULL) {
		p->txt = xreallocarray(NULL, n, sizeof(*p->txt));
		for (i = 0; i < n; i++) {
			p->txt[i].len = s->txt[i].len;
			p->txt[i].s = xmemdup(s->txt[i].s, s->txt[i].len + 1);
		}
	}
	if (s->names != NULL) {
		p->names = xreallocarray(NULL, n, sizeof(*p->names));
		for (i = 0; i < n; i++)
			p->names[i] = xstrdup(s->names[i]);
	}
	if (s->addr != NULL)
		p->addr = xmemdup(s->addr, n * sizeof(*p->addr));
	return r;
}

/* ---- names ------------------------------------------------------------ */

/* Query name: any octets but NUL (SPF macros can expand to spaces, RFC
 * 7208 7.3), labels 1..63 octets, at most 253 octets, one optional
 * trailing dot. Lower-cased into out (DNS_QNAME_MAX octets) in unbound's
 * presentation form: octets it would otherwise interpret (controls,
 * space, 8-bit, quotes, backslash, ';', '(', ')') become \DDD. */
static int
name_normalise(const char *in, char *out)
{
	size_t len, i, label = 0, o = 0;

	if (in == NULL)
		return -1;
	len = strnlen(in, DNS_NAME_TEXT_MAX + 2);
	if (len > 1 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_TEXT_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (++label > DNS_LABEL_MAX)
			return -1;
		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '"' ||
		    c == ';' || c == '(' || c == ')') {
			/* UNSAFE: o + 4 < DNS_QNAME_MAX as len <= 253. */
			out[o++] = '\\';
			out[o++] = (char)('0' + c / 100);
			out[o++] = (char)('0' + c / 10 % 10);
			out[o++] = (char)('0' + c % 10);
			continue;
		}
		out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
	}
	out[o] = '\0';
	return 0;
}

static bool
name_octet_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

/* Decode the uncompressed wire name at p[0..len) into presentation form
 * (see dns.h). Returns octets of wire consumed, or -1 when malformed
 * (compression pointer, overrun, longer than DNS_NAME_MAX). */
static int
name_from_wire(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t off = 0, o = 0;
	int n;

	for (;;) {
		uint8_t ll;

		if (off >= len || off >= DNS_NAME_MAX)
			return -1;
		ll = p[off++];
		if (ll == 0)
			break;
		if (ll > DNS_LABEL_MAX || ll > len - off ||
		    off + ll >= DNS_NAME_MAX)
			return -1;
		if (o != 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		for (size_t i = 0; i < ll; i++) {
			unsigned char c = p[off + i];

			/* UNSAFE: o + 4 < outlen leaves room for "\DDD"
			 * and the NUL. */
			if (o + 4 >= outlen)
				return -1;
			if (name_octet_plain(c)) {
				out[o++] = (char)c;
			} else if (c == '.') {
				out[o++] = '\\';
				out[o++] = '.';
			} else {
				n = snprintf(out + o, outlen - o, "\\%03u", c);
				if (n != 4)
					return -1;
				o += 4;
			}
		}
		off += ll;
	}
	if (o == 0) {
		if (outlen < 2)
			return -1;
		out[o++] = '.';
	}
	out[o] = '\0';
	return (int)off;
}

int
dns_reverse_name(const char *ip, char *buf, size_t buflen)
{
	unsigned char a[16];
	size_t o = 0;
	int n, i;

	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, a) == 1) {
		n = snprintf(buf, buflen, "%u.%u.%u.%u.in-addr.arpa", a[3],
		    a[2], a[1], a[0]);
		return (n < 0 || (size_t)n >= buflen) ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	for (i = 15; i >= 0; i--) {
		n = snprintf(buf + o, buflen - o, "%x.%x.", a[i] & 0xf,
		    a[i] >> 4);
		if (n < 0 || (size_t)n >= buflen - o)
			return -1;
		o += (size_t)n;
	}
	n = snprintf(buf + o, buflen - o, "ip6.arpa");
	return (n < 0 || (size_t)n >= buflen - o) ? -1 : 0;
}

/* ---- parsing unbound's answer ----------------------------------------- */

static int
parse_mx(struct res *r, char **data, int *lens, size_t n)
{
	struct dns_result *p = &r->pub;
	char name[DNS_NAME_ESC_MAX];
	size_t i, j;

	p->mx = xcalloc(n, sizeof(*p->mx));
	for (i = 0; i < n; i++) {
		const uint8_t *d = (const uint8_t *)data[i];
		size_t len = (size_t)lens[i];
		int used;

		if (len < 3)
			return -1;
		used = name_from_wire(d + 2, len - 2, name, sizeof(name));
		if (used < 0 || (size_t)used != len - 2)
			return -1;
		/* Insertion sort by preference, stable: n <= ANSWERS_MAX. */
		for (j = p->count; j > 0 &&
		    p->mx[j - 1].pref > (uint16_t)(d[0] << 8 | d[1]); j--)
			p->mx[j] = p->mx[j - 1];
		p->mx[j].pref = (uint16_t)(d[0] << 8 | d[1]);
		p->mx[j].host = xstrdup(name);
		p->count++;
	}
	/* RFC 7505 3: a single MX of preference 0 with the root as target. */
	p->null_mx = (n == 1 && p->mx[0].pref == 0 &&
	    strcmp(p->mx[0].host, ".") == 0);
	return 0;
}

static int
parse_txt(struct res *r, char **data, int *lens, size_t n)
{
	struct dns_result *p = &r->pub;
	size_t i, total = 0;

	p->txt = xcalloc(n, sizeof(*p->txt));
	for (i = 0; i < n; i++) {
		const uint8_t *d = (const uint8_t *)data[i];
		size_t len = (size_t)lens[i], off = 0, o = 0;
		char *s;

		/* RFC 1035 3.3.14: one or more <character-string>. */
		if (len == 0 || len > DNS_TXT_TOTAL_MAX - total)
			return -1;
		/* The concatenation is shorter than the rdata. */
		s = xmalloc(len);
		p->txt[i].s = s;
		p->count++;
		while (off < len) {
			size_t sl = d[off++];

			if (sl > len - off) {
				return -1;
			}
			/* UNSAFE: o + sl <= off - 1 + sl <= len - 1. */
			memcpy(s + o, d + off, sl);
			o += sl;
			off += sl;
		}
		s[o] = '\0';
		p->txt[i].len = o;
		total += len;
	}
	return 0;
}

static int
parse_addr(struct res *r, char **data, int *lens, size_t n, uint16_t qtype)
{
	struct dns_result *p = &r->pub;
	size_t i, want = qtype == DNS_TYPE_A ? 4 : 16;
	int af = qtype == DNS_TYPE_A ? AF_INET : AF_INET6;

	p->addr = xcalloc(n, sizeof(*p->addr));
	for (i = 0; i < n; i++) {
		struct dns_addr *a = &p->addr[i];

		if ((size_t)lens[i] != want)
			return -1;
		a->family = af;
		if (af == AF_INET)
			memcpy(&a->u.v4, data[i], 4);
		else
			memcpy(&a->u.v6, data[i], 16);
		if (inet_ntop(af, &a->u, a->str, sizeof(a->str)) == NULL)
			return -1;
		p->count++;
	}
	return 0;
}

static int
parse_names(struct res *r, char **data, int *lens, size_t n)
{
	struct dns_result *p = &r->pub;
	char name[DNS_NAME_ESC_MAX];
	size_t i;

	p->names = xcalloc(n, sizeof(*p->names));
	for (i = 0; i < n; i++) {
		int used = name_from_wire((const uint8_t *)data[i],
		    (size_t)lens[i], name, sizeof(name));

		if (used < 0 || used != lens[i])
			return -1;
		p->names[i] = xstrdup(name);
		p->count++;
	}
	return 0;
}

/* The unbound callback's arguments as a result. */
static struct res *
res_from_unbound(const char *qname, uint16_t qtype, int err,
    struct ub_result *ub)
{
	struct res *r = res_new(qname, qtype, DNS_OK, NULL);
	struct dns_result *p = &r->pub;
	size_t n = 0, len;
	int rc;

	if (err != 0 || ub == NULL) {
		res_fail(r, DNS_TEMPFAIL, "resolver error");
		return r;
	}
	if (ub->bogus) {
		res_fail(r, DNS_TEMPFAIL, "dnssec bogus");
		return r;
	}
	p->secure = ub->secure != 0;
	p->ttl = ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
	if (ub->canonname != NULL) {
		len = strnlen(ub->canonname, DNS_NAME_ESC_MAX);
		if (len == DNS_NAME_ESC_MAX) {
			res_fail(r, DNS_PERMFAIL, "canonical name too long");
			return r;
		}
		if (len > 1 && ub->canonname[len - 1] == '.')
			len--;
		r->canon = xstrndup(ub->canonname, len);
		p->canon = r->canon;
	}
	if (ub->rcode == DNS_RCODE_NXDOMAIN || ub->nxdomain) {
		p->status = DNS_NXDOMAIN;
		p->why = "no such domain";
		return r;
	}
	if (ub->rcode != 0) {
		res_fail(r, DNS_TEMPFAIL, ub->rcode == DNS_RCODE_SERVFAIL ?
		    "servfail" : "server error");
		return r;
	}
	while (ub->havedata && ub->data != NULL && ub->data[n] != NULL) {
		if (++n > DNS_ANSWERS_MAX) {
			res_fail(r, DNS_PERMFAIL, "too many records");
			return r;
		}
	}
	if (n == 0) {
		p->status = DNS_NODATA;
		p->why = "no records of this type";
		return r;
	}
	switch (qtype) {
	case DNS_TYPE_MX:
		rc = parse_mx(r, ub->data, ub->len, n);
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		rc = parse_txt(r, ub->data, ub->len, n);
		break;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		rc = parse_addr(r, ub->data, ub->len, n, qtype);
		break;
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
		rc = parse_names(r, ub->data, ub->len, n);
		break;
	default:
		/* Other types: status and count only. */
		p->count = n;
		rc = 0;
		break;
	}
	if (rc != 0)
		res_fail(r, DNS_PERMFAIL, "malformed record");
	return r;
}

/* ---- cache ------------------------------------------------------------ */

static uint32_t
cache_hash(const char *name, uint16_t qtype)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	h = (h ^ (qtype & 0xff)) * 16777619u;
	return (h ^ (qtype >> 8)) * 16777619u;
}

static void
lru_unlink(struct dns *dns, struct cache_entry *e)
{
	if (e->lprev != NULL)
		e->lprev->lnext = e->lnext;
	else
		dns->lru_head = e->lnext;
	if (e->lnext != NULL)
		e->lnext->lprev = e->lprev;
	else
		dns->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void
lru_push(struct dns *dns, struct cache_entry *e)
{
	e->lprev = NULL;
	e->lnext = dns->lru_head;
	if (dns->lru_head != NULL)
		dns->lru_head->lprev = e;
	dns->lru_head = e;
	if (dns->lru_tail == NULL)
		dns->lru_tail = e;
}

static void
cache_remove(struct dns *dns, struct cache_entry *e)
{
	struct cache_entry **pp = &dns->buckets[e->hash & (dns->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(dns, e);
	res_free(&e->res);
	free(e);
	dns->cache_count--;
}

static struct cache_entry *
cache_find(struct dns *dns, const char *name, uint16_t qtype)
{
	uint32_t h = cache_hash(name, qtype);
	struct cache_entry *e = dns->buckets[h & (dns->nbuckets - 1)];

	for (; e != NULL; e = e->hnext) {
		if (e->hash == h && e->res->pub.qtype == qtype &&
		    strcmp(e->res->qname, name) == 0)
			return e;
	}
	return NULL;
}

/* A copy of the cached result with the TTL left, or NULL. */
static struct res *
cache_get(struct dns *dns, const char *name, uint16_t qtype)
{
	struct cache_entry *e = cache_find(dns, name, qtype);
	uint64_t now = uv_now(dns->loop);
	struct res *r;

	if (e == NULL) {
		dns->misses++;
		return NULL;
	}
	if (e->expires <= now) {
		cache_remove(dns, e);
		dns->misses++;
		return NULL;
	}
	lru_unlink(dns, e);
	lru_push(dns, e);
	dns->hits++;
	r = res_dup(e->res);
	r->pub.ttl = (uint32_t)((e->expires - now + 999) / 1000);
	r->pub.from_cache = true;
	return r;
}

static void
cache_put(struct dns *dns, const struct res *r)
{
	const struct dns_result *p = &r->pub;
	struct cache_entry *e;
	uint32_t ttl = p->ttl;
	size_t b;

	switch (p->status) {
	case DNS_OK:
		if (ttl > DNS_CACHE_TTL_MAX)
			ttl = DNS_CACHE_TTL_MAX;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		if (ttl > DNS_CACHE_NEG_TTL_MAX)
			ttl = DNS_CACHE_NEG_TTL_MAX;
		break;
	default:
		return;		/* failures are not cached */
	}
	if (ttl == 0)
		return;
	if ((e = cache_find(dns, r->qname, p->qtype)) != NULL)
		cache_remove(dns, e);
	while (dns->cache_count >= dns->cache_max && dns->lru_tail != NULL)
		cache_remove(dns, dns->lru_tail);
	e = xcalloc(1, sizeof(*e));
	e->res = res_dup(r);
	e->res->pub.from_cache = false;
	e->hash = cache_hash(r->qname, p->qtype);
	e->expires = uv_now(dns->loop) + (uint64_t)ttl * 1000;
	b = e->hash & (dns->nbuckets - 1);
	e->hnext = dns->buckets[b];
	dns->buckets[b] = e;
	lru_push(dns, e);
	dns->cache_count++;
}

static void
cache_clear(struct dns *dns)
{
	while (dns->lru_tail != NULL)
		cache_remove(dns, dns->lru_tail);
}

void
dns_cache_stats(const struct dns *dns, uint64_t *hits_r, uint64_t *misses_r)
{
	*hits_r = dns->hits;
	*misses_r = dns->misses;
}

/* ---- queries ---------------------------------------------------------- */

static void
query_closed(uv_handle_t *h)
{
	struct dns_query *q = h->data;

	res_free(&q->ready);
	free(q);
}

static void
query_unlink(struct dns_query *q)
{
	struct dns *dns = q->dns;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Stop unbound's work on q. Returns true when q may be freed, false when
 * it must wait for unbound's callback (zombie). */
static bool
query_stop_unbound(struct dns_query *q)
{
	int rc;

	if (!q->in_unbound)
		return true;
	rc = ub_cancel(q->dns->ub, q->async_id);
	if (rc == 0 || rc == UB_NOID) {
		q->in_unbound = false;
		return true;
	}
	log_warnx("dns event=cancel-failed error=\"%s\"", ub_strerror(rc));
	return false;
}

static void
query_mark_finished(struct dns_query *q)
{
	if (q->finished)
		return;
	q->finished = true;
	q->cb = NULL;
	q->dns->npending--;
	uv_timer_stop(&q->timer);
}

/* No user callback for q any more; free it now or when unbound answers. */
static void
query_finish(struct dns_query *q)
{
	query_mark_finished(q);
	if (!query_stop_unbound(q))
		return;
	query_unlink(q);
	uv_close((uv_handle_t *)&q->timer, query_closed);
}

static void
query_deliver(struct dns_query *q, struct res *r)
{
	dns_cb *cb = q->cb;
	void *ctx = q->ctx;

	query_finish(q);
	if (cb != NULL)
		cb(&r->pub, ctx);
}

static void
on_unbound(void *arg, int err, struct ub_result *ub)
{
	struct dns_query *q = arg;
	struct dns *dns = q->dns;
	struct res *r;

	q->in_unbound = false;
	/* dns_free() ran in an earlier callback of this ub_process(). */
	if (dns->dying)
		query_mark_finished(q);
	if (q->finished) {			/* zombie */
		ub_resolve_free(ub);
		query_unlink(q);
		uv_close((uv_handle_t *)&q->timer, query_closed);
		return;
	}
	r = res_from_unbound(q->qname, q->qtype, err, ub);
	ub_resolve_free(ub);
	if (r->pub.status != DNS_OK)
		log_debug("dns name=%s type=%u status=%s why=\"%s\"",
		    q->qname, q->qtype, dns_status_name(r->pub.status),
		    r->pub.why);
	cache_put(dns, r);
	query_deliver(q, r);
	res_free(&r);
}

static void
on_timer(uv_timer_t *t)
{
	struct dns_query *q = t->data;
	struct res *r;

	if (q->ready != NULL) {
		r = q->ready;
		q->ready = NULL;
	} else {
		log_debug("dns name=%s type=%u event=timeout", q->qname,
		    q->qtype);
		r = res_new(q->qname, q->qtype, DNS_TEMPFAIL, "timeout");
	}
	query_deliver(q, r);
	res_free(&r);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct dns *dns = h->data;
	int rc;

	(void)events;
	if (status < 0) {
		/* Not expected on a pipe; stop rather than spin. Queries
		 * then end by their timeouts, as DNS_TEMPFAIL. */
		log_warnx("dns event=poll-error error=\"%s\"",
		    uv_strerror(status));
		(void)uv_poll_stop(h);
		return;
	}
	dns->in_process = true;
	rc = ub_process(dns->ub);
	dns->in_process = false;
	if (rc != 0)
		log_warnx("dns event=process-error error=\"%s\"",
		    ub_strerror(rc));
	if (dns->dying)
		dns_destroy(dns);
}

struct dns_query *
dns_query(struct dns *dns, const char *name, uint16_t qtype, dns_cb *cb,
    void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	unsigned timeout = 0;
	int rc;

	q->dns = dns;
	q->cb = cb;
	q->ctx = ctx;
	q->qtype = qtype;
	if (uv_timer_init(dns->loop, &q->timer) != 0)
		fatalx("dns: uv_timer_init failed");
	q->timer.data = q;
	q->next = dns->queries;
	if (dns->queries != NULL)
		dns->queries->prev = q;
	dns->queries = q;
	dns->npending++;

	if (dns->dying) {
		q->ready = res_new("", qtype, DNS_TEMPFAIL, "shutting down");
	} else if (name_normalise(name, q->qname) != 0) {
		q->ready = res_new("", qtype, DNS_PERMFAIL, "invalid name");
	} else if ((q->ready = cache_get(dns, q->qname, qtype)) == NULL) {
		rc = ub_resolve_async(dns->ub, q->qname, qtype, DNS_CLASS_IN,
		    q, on_unbound, &q->async_id);
		if (rc != 0) {
			log_warnx("dns name=%s event=resolve-error "
			    "error=\"%s\"", q->qname, ub_strerror(rc));
			q->ready = res_new(q->qname, qtype, DNS_TEMPFAIL,
			    "resolver error");
		} else {
			q->in_unbound = true;
			timeout = dns->timeout_ms;
		}
	}
	if (uv_timer_start(&q->timer, on_timer, timeout, 0) != 0)
		fatalx("dns: uv_timer_start failed");
	return q;
}

struct dns_query *
dns_query_mx(struct dns *dns, const char *name, dns_cb *cb, void *ctx)
{
	return dns_query(dns, name, DNS_TYPE_MX, cb, ctx);
}

struct dns_query *
dns_query_a(struct dns *dns, const char *name, dns_cb *cb, void *ctx)
{
	return dns_query(dns, name, DNS_TYPE_A, cb, ctx);
}

struct dns_query *
dns_query_aaaa(struct dns *dns, const char *name, dns_cb *cb, void *ctx)
{
	return dns_query(dns, name, DNS_TYPE_AAAA, cb, ctx);
}

struct dns_query *
dns_query_txt(struct dns *dns, const char *name, dns_cb *cb, void *ctx)
{
	return dns_query(dns, name, DNS_TYPE_TXT, cb, ctx);
}

struct dns_query *
dns_query_ptr(struct dns *dns, const char *ip, dns_cb *cb, void *ctx)
{
	char name[DNS_NAME_TEXT_MAX + 1];

	if (dns_reverse_name(ip, name, sizeof(name)) != 0)
		name[0] = '\0';		/* invalid name: DNS_PERMFAIL */
	return dns_query(dns, name, DNS_TYPE_PTR, cb, ctx);
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL || q->finished)
		return;
	query_finish(q);
}

size_t
dns_pending(const struct dns *dns)
{
	return dns->npending;
}

/* ---- setup ------------------------------------------------------------ */

/* "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 address to
 * unbound's "ADDR@PORT". */
static int
forwarder_parse(const char *s, char *out, size_t outlen, const char **error_r)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char tmp[16];
	const char *port = NULL, *end, *colon;
	uint64_t pv = 53;
	size_t alen;
	int n;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			*error_r = "missing ']'";
			return -1;
		}
		alen = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0') {
			*error_r = "junk after ']'";
			return -1;
		}
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		alen = (size_t)(colon - s);
		port = colon + 1;
	} else {
		alen = strlen(s);
	}
	if (alen == 0 || alen >= sizeof(addr)) {
		*error_r = "bad address";
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, tmp) != 1 &&
	    inet_pton(AF_INET6, addr, tmp) != 1) {
		*error_r = "not an IP address";
		return -1;
	}
	if (port != NULL && parse_u64(port, 1, 65535, &pv, error_r) != 0)
		return -1;
	n = snprintf(out, outlen, "%s@%u", addr, (unsigned)pv);
	if (n < 0 || (size_t)n >= outlen) {
		*error_r = "too long";
		return -1;
	}
	return 0;
}

static int
ub_setup(struct ub_ctx *ub, const struct dns_config *cfg, char *err,
    size_t errlen)
{
	char fwd[INET6_ADDRSTRLEN + 8];
	const char *error;
	size_t i;
	int rc;

	/* Resolver thread, not a forked process: no child to reap. */
	if ((rc = ub_ctx_async(ub, 1)) != 0)
		goto fail;
	/* Forwarders and resolv.conf entries may be on 127.0.0.1. */
	if ((rc = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")))
		goto fail;
	/* Reverse zones of private and documentation ranges go to the
	 * resolvers like any other (internal relays have PTRs there);
	 * unbound would answer NXDOMAIN itself. localhost., test., invalid.
	 * and onion. stay local (RFC 6761, 7686). */
	if ((rc = ub_ctx_set_option(ub, "unblock-lan-zones:", "yes")) ||
	    (rc = ub_ctx_set_option(ub, "insecure-lan-zones:", "yes")))
		goto fail;
	if (cfg->nforwarders > DNS_FORWARDERS_MAX) {
		snprintf(err, errlen, "too many DNS forwarders");
		return -1;
	}
	for (i = 0; i < cfg->nforwarders; i++) {
		if (cfg->forwarders[i] == NULL ||
		    forwarder_parse(cfg->forwarders[i], fwd, sizeof(fwd),
		    &error) != 0) {
			snprintf(err, errlen, "DNS forwarder \"%.80s\": %s",
			    cfg->forwarders[i] ? cfg->forwarders[i] : "",
			    cfg->forwarders[i] ? error : "missing");
			return -1;
		}
		if ((rc = ub_ctx_set_fwd(ub, fwd)) != 0)
			goto fail;
	}
	/* With resolvers of its own, the loopback reverse zone is theirs
	 * too: host rules and forward-confirmed rDNS for clients on
	 * 127.0.0.0/8 (tests, local relays) need the real PTR, not
	 * unbound's built-in "localhost". */
	if (cfg->nforwarders > 0 && (rc = ub_ctx_set_option(ub,
	    "local-zone:", "127.in-addr.arpa. transparent")) != 0)
		goto fail;
	if (cfg->nforwarders == 0) {
		if ((rc = ub_ctx_resolvconf(ub, NULL)) != 0) {
			snprintf(err, errlen, "/etc/resolv.conf: %s",
			    ub_strerror(rc));
			return -1;
		}
		/* A missing /etc/hosts is not an error. */
		if ((rc = ub_ctx_hosts(ub, NULL)) != 0)
			log_debug("dns event=no-hosts error=\"%s\"",
			    ub_strerror(rc));
	}
	if (cfg->trust_anchor_file != NULL &&
	    (rc = ub_ctx_add_ta_file(ub, cfg->trust_anchor_file)) != 0) {
		snprintf(err, errlen, "DNSSEC trust anchor %.200s: %s",
		    cfg->trust_anchor_file, ub_strerror(rc));
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
	return -1;
}

struct dns *
dns_new(uv_loop_t *loop, const struct dns_config *cfg, char *err,
    size_t errlen)
{
	struct dns *dns;
	size_t nb = 16;
	int fd, rc;

	if (cfg->timeout_ms > DNS_TIMEOUT_MAX_MS ||
	    cfg->cache_max > DNS_CACHE_ENTRIES_LIMIT) {
		snprintf(err, errlen, "DNS timeout or cache size out of range");
		return NULL;
	}
	dns = xcalloc(1, sizeof(*dns));
	dns->loop = loop;
	dns->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms :
	    DNS_TIMEOUT_DEFAULT_MS;
	dns->cache_max = cfg->cache_max ? cfg->cache_max :
	    DNS_CACHE_DEFAULT_MAX;
	while (nb < dns->cache_max)
		nb *= 2;
	dns->nbuckets = nb;
	dns->buckets = xcalloc(nb, sizeof(*dns->buckets));
	if ((dns->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "libunbound: cannot create context");
		goto fail;
	}
	if (ub_setup(dns->ub, cfg, err, errlen) != 0)
		goto fail;
	if ((fd = ub_fd(dns->ub)) < 0) {
		snprintf(err, errlen, "libunbound: no file descriptor");
		goto fail;
	}
	if ((rc = uv_poll_init(loop, &dns->poll, fd)) != 0) {
		snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
		goto fail;
	}
	dns->poll.data = dns;
	if ((rc = uv_poll_start(&dns->poll, UV_READABLE, on_poll)) != 0) {
		snprintf(err, errlen, "uv_poll_start: %s", uv_strerror(rc));
		ub_ctx_delete(dns->ub);
		/* The handle lives in dns: free it in the close callback. */
		uv_close((uv_handle_t *)&dns->poll, dns_closed);
		return NULL;
	}
	return dns;
fail:
	if (dns->ub != NULL)
		ub_ctx_delete(dns->ub);
	free(dns->buckets);
	free(dns);
	return NULL;
}

static void
dns_closed(uv_handle_t *h)
{
	struct dns *dns = h->data;

	free(dns->buckets);
	free(dns);
}

/* Cancel all queries, delete the unbound context, close the poll handle;
 * the memory goes in dns_closed. */
static void
dns_destroy(struct dns *dns)
{
	struct dns_query *q;

	while ((q = dns->queries) != NULL) {
		query_mark_finished(q);
		/* Deleting the context below drops unbound's references. */
		q->in_unbound = false;
		query_unlink(q);
		uv_close((uv_handle_t *)&q->timer, query_closed);
	}
	cache_clear(dns);
	/* Stop polling before unbound closes the fd. */
	(void)uv_poll_stop(&dns->poll);
	ub_ctx_delete(dns->ub);
	dns->ub = NULL;
	uv_close((uv_handle_t *)&dns->poll, dns_closed);
}

void
dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	if (dns->dying)
		return;
	dns->dying = true;
	if (!dns->in_process)
		dns_destroy(dns);
}
