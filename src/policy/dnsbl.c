/* dnsbl: zone-spec parsing, query names, answer codes and the parallel
 * lookups of one address (see dnsbl.h for the syntax and the rules).
 * A check owns a copy of the config, one struct dns query per zone (two
 * in a row when the TXT reason is fetched) and a timer that only serves
 * to deliver a result that needs no lookup from the loop; freeing goes
 * through the timer's close callback so that it is safe from anywhere. */
#include "dnsbl.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define ITEM_MAX 512			/* one ZONE=CODES:WEIGHT */
#define LABEL_MAX 63
#define LOOPBACK_ONE 0x7f000001u	/* 127.0.0.1: never a listing */
#define REFUSED_LO 0x7ffffffcu		/* 127.255.255.252 */
#define REFUSED_HI 0x7fffffffu		/* 127.255.255.255 */

struct zone_lookup {
	struct dnsbl_query	*parent;
	size_t			 idx;
	struct dns_query	*q;		/* outstanding, or NULL */
	char			 qname[DNSBL_QNAME_MAX + 1];
};

struct dnsbl_query {
	struct dns		*dns;
	dnsbl_cb		*cb;
	void			*ctx;
	uv_timer_t		 timer;
	bool			 finished;
	size_t			 pending;	/* zones not done */
	struct dnsbl_config	 cfg;
	char			 ip[INET6_ADDRSTRLEN];
	struct zone_lookup	 look[DNSBL_ZONES_MAX];
	struct dnsbl_result	 res;
};

/* ---- parsing ------------------------------------------------------------ */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim blanks around s[0..*len); returns the new start. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && is_space(s[0])) {
		s++;
		(*len)--;
	}
	while (*len > 0 && is_space(s[*len - 1]))
		(*len)--;
	return s;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal octet at s[*pos]: 1-3 digits, no leading zero, <= 255. */
static int
parse_octet(const char *s, size_t len, size_t *pos, uint8_t *v)
{
	size_t i = *pos, start = i;
	unsigned n = 0;

	while (i < len && is_digit(s[i]) && i - start < 3)
		n = n * 10 + (unsigned)(s[i++] - '0');
	if (i == start || (i < len && is_digit(s[i])) || n > 255 ||
	    (s[start] == '0' && i - start > 1))
		return -1;
	*v = (uint8_t)n;
	*pos = i;
	return 0;
}

/* "a.b.c.d" where each octet may be "[N..M]" when brackets is set. */
static int
parse_octets(const char *s, size_t len, bool brackets, uint8_t lo[4],
    uint8_t hi[4], bool *ranged)
{
	size_t pos = 0;
	int i;

	*ranged = false;
	for (i = 0; i < 4; i++) {
		if (i > 0) {
			if (pos >= len || s[pos] != '.')
				return -1;
			pos++;
		}
		if (brackets && pos < len && s[pos] == '[') {
			pos++;
			if (parse_octet(s, len, &pos, &lo[i]) < 0 ||
			    len - pos < 2 || s[pos] != '.' ||
			    s[pos + 1] != '.')
				return -1;
			pos += 2;
			if (parse_octet(s, len, &pos, &hi[i]) < 0 ||
			    pos >= len || s[pos] != ']' || lo[i] > hi[i])
				return -1;
			pos++;
			*ranged = true;
		} else {
			if (parse_octet(s, len, &pos, &lo[i]) < 0)
				return -1;
			hi[i] = lo[i];
		}
	}
	return pos == len ? 0 : -1;
}

static uint32_t
octets_u32(const uint8_t o[4])
{
	return (uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 |
	    (uint32_t)o[2] << 8 | (uint32_t)o[3];
}

static int
parse_code(const char *s, size_t len, struct dnsbl_code *c)
{
	const char *dash = memchr(s, '-', len);
	uint8_t lo[4], hi[4], lo2[4], hi2[4];
	bool ranged;

	memset(c, 0, sizeof(*c));
	if (dash != NULL) {
		size_t l1 = (size_t)(dash - s);

		if (parse_octets(s, l1, false, lo, hi, &ranged) < 0 ||
		    parse_octets(dash + 1, len - l1 - 1, false, lo2, hi2,
		    &ranged) < 0)
			return -1;
		c->lo = octets_u32(lo);
		c->hi = octets_u32(lo2);
		return c->lo <= c->hi ? 0 : -1;
	}
	if (parse_octets(s, len, true, lo, hi, &ranged) < 0)
		return -1;
	if (!ranged) {
		c->lo = c->hi = octets_u32(lo);
		return 0;
	}
	c->octets = true;
	memcpy(c->olo, lo, 4);
	memcpy(c->ohi, hi, 4);
	return 0;
}

static int
parse_codes(const char *s, size_t len, struct dnsbl_zone *z,
    const char **error_r)
{
	size_t n;
	const char *item;

	for (;;) {
		const char *bar = memchr(s, '|', len);

		n = bar != NULL ? (size_t)(bar - s) : len;
		item = trim(s, &n);
		if (n == 0) {
			*error_r = "empty answer code";
			return -1;
		}
		if (z->ncodes == DNSBL_CODES_MAX) {
			*error_r = "too many answer codes for one zone";
			return -1;
		}
		if (parse_code(item, n, &z->codes[z->ncodes]) < 0) {
			*error_r = "expected answer codes like 127.0.0.2, "
			    "127.0.0.2-127.0.0.11 or 127.0.[0..255].2";
			return -1;
		}
		z->ncodes++;
		if (bar == NULL)
			return 0;
		len -= (size_t)(bar - s) + 1;
		s = bar + 1;
	}
}

/* Letters, digits, '-', '_'; at least two labels of 1..63 octets, no
 * label starting or ending with '-', the last one not numeric (so that
 * an address typed where a zone belongs is refused). */
static bool
zone_name_valid(const char *s, size_t len)
{
	size_t i, label = 0, labels = 1;
	bool numeric = true;

	if (len == 0 || len > DNSBL_ZONE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			labels++;
			numeric = true;
			continue;
		}
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!is_digit(c))
			numeric = false;
		if (++label > LABEL_MAX)
			return false;
	}
	return label > 0 && s[len - 1] != '-' && labels >= 2 && !numeric;
}

static int
parse_weight(const char *s, size_t len, int *w, const char **error_r)
{
	char buf[16];
	bool neg = false;
	uint64_t v;
	const char *err;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		len--;
	}
	if (len == 0 || len >= sizeof(buf)) {
		*error_r = "expected an integer weight after ':'";
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_u64(buf, 0, DNSBL_WEIGHT_MAX, &v, &err) < 0) {
		*error_r = "weight must be an integer from -1000 to 1000";
		return -1;
	}
	*w = neg ? -(int)v : (int)v;
	return 0;
}

static int
parse_zone(const char *s, size_t len, struct dnsbl_config *cfg,
    const char **error_r)
{
	struct dnsbl_zone *z;
	const char *colon, *eq, *name;
	size_t nlen, i;

	if (len >= ITEM_MAX) {
		*error_r = "zone spec too long";
		return -1;
	}
	if (cfg->nzones == DNSBL_ZONES_MAX) {
		*error_r = "too many zones";
		return -1;
	}
	z = &cfg->zones[cfg->nzones];
	memset(z, 0, sizeof(*z));
	z->weight = 1;
	colon = memchr(s, ':', len);
	if (colon != NULL) {
		size_t wlen = len - (size_t)(colon - s) - 1;
		const char *w = trim(colon + 1, &wlen);

		if (parse_weight(w, wlen, &z->weight, error_r) < 0)
			return -1;
		len = (size_t)(colon - s);
	}
	eq = memchr(s, '=', len);
	nlen = eq != NULL ? (size_t)(eq - s) : len;
	name = trim(s, &nlen);
	if (nlen > 1 && name[nlen - 1] == '.')
		nlen--;
	if (!zone_name_valid(name, nlen)) {
		*error_r = "bad zone name";
		return -1;
	}
	memcpy(z->name, name, nlen);
	z->name[nlen] = '\0';
	ascii_lower(z->name);
	if (eq != NULL &&
	    parse_codes(eq + 1, len - (size_t)(eq - s) - 1, z, error_r) < 0)
		return -1;
	for (i = 0; i < cfg->nzones; i++) {
		if (strcmp(cfg->zones[i].name, z->name) == 0) {
			*error_r = "zone listed twice";
			return -1;
		}
	}
	cfg->nzones++;
	return 0;
}

int
dnsbl_parse(const char *spec, struct dnsbl_config *out,
    const char **error_r)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	out->threshold = DNSBL_THRESHOLD_DEFAULT;
	len = strnlen(spec, DNSBL_SPEC_MAX + 1);
	if (len > DNSBL_SPEC_MAX) {
		*error_r = "zone list too long";
		return -1;
	}
	while (len > 0) {
		const char *comma = memchr(spec, ',', len), *item;
		size_t n = comma != NULL ? (size_t)(comma - spec) : len;

		item = trim(spec, &n);
		/* Empty items (",," or a trailing comma) are harmless. */
		if (n > 0 && parse_zone(item, n, out, error_r) < 0) {
			out->nzones = 0;
			return -1;
		}
		if (comma == NULL)
			break;
		len -= (size_t)(comma - spec) + 1;
		spec = comma + 1;
	}
	return 0;
}

/* ---- addresses and answers --------------------------------------------- */

/* Parse ip; an IPv4-mapped IPv6 address becomes IPv4. */
static int
addr_parse(const char *ip, int *family, uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	memset(a, 0, 16);
	if (inet_pton(AF_INET, ip, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		*family = AF_INET;
		return 0;
	}
	*family = AF_INET6;
	return 0;
}

static const char *
skip_reason(int family, const uint8_t a[16], bool query_loopback)
{
	static const uint8_t zero[16];

	if (family == AF_INET) {
		if (a[0] == 127)
			return query_loopback ? NULL : "loopback";
		if (a[0] == 0)
			return "unspecified";
		if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) ||
		    (a[0] == 100 && (a[1] & 0xc0) == 64))
			return "private";
		if (a[0] == 169 && a[1] == 254)
			return "link-local";
		return NULL;
	}
	if (memcmp(a, zero, 15) == 0) {
		if (a[15] == 0)
			return "unspecified";
		if (a[15] == 1)
			return query_loopback ? NULL : "loopback";
	}
	if ((a[0] & 0xfe) == 0xfc)
		return "private";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	return NULL;
}

const char *
dnsbl_skip_reason(const char *ip, bool query_loopback)
{
	uint8_t a[16];
	int family;

	if (addr_parse(ip, &family, a) < 0)
		return "not an address";
	return skip_reason(family, a, query_loopback);
}

static int
query_name(int family, const uint8_t a[16], const char *zone, char *out,
    size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char rev[65];
	size_t i, n = 0;
	int r;

	if (family == AF_INET)
		r = snprintf(out, len, "%u.%u.%u.%u.%s", a[3], a[2], a[1],
		    a[0], zone);
	else {
		for (i = 16; i-- > 0;) {
			rev[n++] = hex[a[i] & 0x0f];
			rev[n++] = '.';
			rev[n++] = hex[a[i] >> 4];
			rev[n++] = '.';
		}
		rev[n] = '\0';
		r = snprintf(out, len, "%s%s", rev, zone);
	}
	return r < 0 || (size_t)r >= len ? -1 : 0;
}

int
dnsbl_query_name(const char *ip, const char *zone, char *out, size_t len)
{
	uint8_t a[16];
	int family;

	if (addr_parse(ip, &family, a) < 0)
		return -1;
	return query_name(family, a, zone, out, len);
}

static bool
code_match(const struct dnsbl_code *c, uint32_t a)
{
	int i;

	if (!c->octets)
		return a >= c->lo && a <= c->hi;
	for (i = 0; i < 4; i++) {
		uint8_t o = (uint8_t)(a >> (24 - 8 * i));

		if (o < c->olo[i] || o > c->ohi[i])
			return false;
	}
	return true;
}

enum dnsbl_code_kind
dnsbl_code_classify(const struct dnsbl_zone *zone,
    const struct in_addr *addr)
{
	uint32_t a = ntohl(addr->s_addr);
	size_t i, n = zone->ncodes;

	if (a >= REFUSED_LO && a <= REFUSED_HI)
		return DNSBL_CODE_ERROR;
	if (a == LOOPBACK_ONE)
		return DNSBL_CODE_IGNORED;
	if (n == 0)
		return (a >> 24) == 127 ? DNSBL_CODE_LISTED :
		    DNSBL_CODE_IGNORED;
	if (n > DNSBL_CODES_MAX)
		n = DNSBL_CODES_MAX;
	for (i = 0; i < n; i++)
		if (code_match(&zone->codes[i], a))
			return DNSBL_CODE_LISTED;
	return DNSBL_CODE_IGNORED;
}

/* ---- the check ---------------------------------------------------------- */

static void
on_close(uv_handle_t *h)
{
	free(h->data);
}

static void
release(struct dnsbl_query *p)
{
	size_t i;

	p->finished = true;
	for (i = 0; i < p->cfg.nzones; i++) {
		if (p->look[i].q != NULL) {
			dns_cancel(p->look[i].q);
			p->look[i].q = NULL;
		}
	}
	(void)uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, on_close);
}

static void
deliver(struct dnsbl_query *p)
{
	struct dnsbl_result *r = &p->res;
	bool any = false;
	size_t i;

	for (i = 0; i < r->nzones; i++) {
		const struct dnsbl_zone_result *z = &r->zones[i];

		if (z->error)
			r->nerrors++;
		if (!z->listed)
			continue;
		any = true;
		r->score += z->weight;
		if (z->weight < 0)
			r->allowlisted = true;
	}
	r->listed = any && r->score >= r->threshold;
	p->finished = true;
	p->cb(r, p->ctx);
	release(p);
}

static void
on_timer(uv_timer_t *t)
{
	deliver(t->data);
}

static void
zone_done(struct dnsbl_query *p)
{
	if (--p->pending == 0)
		deliver(p);
}

static void
zone_error(struct dnsbl_query *p, struct dnsbl_zone_result *z,
    const char *why)
{
	z->error = true;
	z->why = why;
	log_info("dnsbl ip=%s zone=%s error=\"%s\"", p->ip, z->zone, why);
}

/* Numeric order, so that logs do not depend on the RRset order. */
static void
answers_sort(struct dnsbl_zone_result *z)
{
	size_t i, j;

	for (i = 1; i < z->nanswers; i++) {
		struct dnsbl_answer t = z->answers[i];

		for (j = i; j > 0 && ntohl(z->answers[j - 1].addr.s_addr) >
		    ntohl(t.addr.s_addr); j--)
			z->answers[j] = z->answers[j - 1];
		z->answers[j] = t;
	}
}

static void
on_txt(const struct dns_result *res, void *ctx)
{
	struct zone_lookup *zl = ctx;
	struct dnsbl_query *p = zl->parent;
	struct dnsbl_zone_result *z = &p->res.zones[zl->idx];
	size_t i, n = 0;

	zl->q = NULL;
	if (res->status == DNS_OK && res->count > 0) {
		const struct dns_txt *t = &res->txt[0];

		for (i = 0; i < t->len && n < DNSBL_TXT_MAX; i++) {
			unsigned char c = (unsigned char)t->s[i];

			z->txt[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		z->txt[n] = '\0';
		z->has_txt = true;
	}
	zone_done(p);
}

static void
on_a(const struct dns_result *res, void *ctx)
{
	struct zone_lookup *zl = ctx;
	struct dnsbl_query *p = zl->parent;
	const struct dnsbl_zone *cz = &p->cfg.zones[zl->idx];
	struct dnsbl_zone_result *z = &p->res.zones[zl->idx];
	bool listed = false, refused = false;
	size_t i;

	zl->q = NULL;
	switch (res->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		zone_done(p);
		return;
	default:
		zone_error(p, z, res->why != NULL ? res->why :
		    dns_status_name(res->status));
		zone_done(p);
		return;
	}
	/* Every record is read; only the first DNSBL_ANSWERS_MAX are kept. */
	for (i = 0; i < res->count; i++) {
		const struct dns_addr *a = &res->addr[i];
		enum dnsbl_code_kind k;

		if (a->family != AF_INET)
			continue;
		k = dnsbl_code_classify(cz, &a->u.v4);
		if (k == DNSBL_CODE_ERROR)
			refused = true;
		else if (k == DNSBL_CODE_LISTED)
			listed = true;
		if (z->nanswers < DNSBL_ANSWERS_MAX) {
			struct dnsbl_answer *an = &z->answers[z->nanswers++];

			an->addr = a->u.v4;
			an->kind = k;
			if (inet_ntop(AF_INET, &a->u.v4, an->text,
			    sizeof(an->text)) == NULL)
				moat_strlcpy(an->text, "?", sizeof(an->text));
		}
	}
	answers_sort(z);
	if (refused) {
		/* Spamhaus and others answer 127.255.255.252-255 to queries
		 * they refuse (public resolvers, no key): not a listing, and
		 * worth a warning, for every check through that zone fails. */
		z->error = true;
		z->why = "query refused by the zone";
		log_warnx("dnsbl ip=%s zone=%s error=\"query refused by the "
		    "zone (a public or unregistered resolver?)\"", p->ip,
		    z->zone);
		zone_done(p);
		return;
	}
	z->listed = listed;
	if (listed && p->cfg.fetch_txt && cz->weight > 0) {
		zl->q = dns_query_txt(p->dns, zl->qname, on_txt, zl);
		return;
	}
	zone_done(p);
}

struct dnsbl_query *
dnsbl_check(uv_loop_t *loop, struct dns *dns, const struct dnsbl_config *cfg,
    const char *ip, dnsbl_cb *cb, void *ctx)
{
	struct dnsbl_query *p;
	uint8_t a[16];
	int family;
	size_t i;

	if (addr_parse(ip, &family, a) < 0)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->dns = dns;
	p->cb = cb;
	p->ctx = ctx;
	p->cfg = *cfg;
	if (p->cfg.nzones > DNSBL_ZONES_MAX)
		p->cfg.nzones = DNSBL_ZONES_MAX;
	if (uv_timer_init(loop, &p->timer) != 0)
		fatalx("dnsbl: uv_timer_init failed");
	p->timer.data = p;
	moat_strlcpy(p->ip, ip, sizeof(p->ip));
	p->res.ip = p->ip;
	p->res.threshold = p->cfg.threshold;
	p->res.skipped = skip_reason(family, a, p->cfg.query_loopback);
	if (p->res.skipped == NULL) {
		p->res.nzones = p->cfg.nzones;
		for (i = 0; i < p->cfg.nzones; i++) {
			struct zone_lookup *zl = &p->look[i];
			struct dnsbl_zone_result *z = &p->res.zones[i];

			zl->parent = p;
			zl->idx = i;
			z->zone = p->cfg.zones[i].name;
			z->weight = p->cfg.zones[i].weight;
			if (query_name(family, a, z->zone, zl->qname,
			    sizeof(zl->qname)) < 0) {
				/* Only a config not made by dnsbl_parse. */
				zone_error(p, z, "zone name too long");
				continue;
			}
			zl->q = dns_query_a(dns, zl->qname, on_a, zl);
			p->pending++;
		}
	}
	if (p->pending == 0 && uv_timer_start(&p->timer, on_timer, 0, 0) != 0)
		fatalx("dnsbl: uv_timer_start failed");
	return p;
}

void
dnsbl_cancel(struct dnsbl_query *p)
{
	if (p == NULL || p->finished)
		return;
	release(p);
}

/* ---- formatting --------------------------------------------------------- */

struct fmt {
	char	*buf;
	size_t	 len, off;
};

static void
fmt_add(struct fmt *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fmt_add(struct fmt *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (f->off + 1 >= f->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(f->buf + f->off, f->len - f->off, fmt, ap);
	va_end(ap);
	if (n < 0)
		f->buf[f->off] = '\0';
	else if ((size_t)n >= f->len - f->off)
		f->off = f->len - 1;	/* truncated */
	else
		f->off += (size_t)n;
}

const char *
dnsbl_result_format(const struct dnsbl_result *res, char *buf, size_t len)
{
	struct fmt f = { .buf = buf, .len = len, .off = 0 };
	size_t i, j;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (res->skipped != NULL) {
		fmt_add(&f, "skipped=%s", res->skipped);
		return buf;
	}
	for (i = 0; i < res->nzones; i++) {
		const struct dnsbl_zone_result *z = &res->zones[i];
		bool first = true;

		fmt_add(&f, "%s=", z->zone);
		if (z->error)
			fmt_add(&f, "error");
		else if (!z->listed)
			fmt_add(&f, "-");
		else {
			for (j = 0; j < z->nanswers; j++) {
				if (z->answers[j].kind != DNSBL_CODE_LISTED)
					continue;
				fmt_add(&f, "%s%s", first ? "" : ",",
				    z->answers[j].text);
				first = false;
			}
		}
		if (z->listed)
			fmt_add(&f, "(%+d) ", z->weight);
		else
			fmt_add(&f, "(0) ");
	}
	fmt_add(&f, "score=%d", res->score);
	return buf;
}
