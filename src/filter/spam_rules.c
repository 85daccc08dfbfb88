/* spam_rules: see spam_rules.h. The weights are log-odds: +0.7 roughly
 * doubles the odds that a message is spam, -0.7 halves them. They are
 * deliberately modest — each rule is weak evidence that ham also shows
 * now and then (a home server without reverse DNS, a mailing list with
 * broken DKIM) — and the Bayesian filter, trained on the site's own
 * mail, stays the main voice. */
#include "spam_rules.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "dkim.h"
#include "dmarc.h"
#include "mime.h"
#include "spf.h"

#define P_MIN	0.001	/* Bayesian p is clamped to [P_MIN, 1 - P_MIN] */
#define DATE_FUTURE_MAX	(24 * 3600)		/* a clock off by a day */
#define DATE_PAST_MAX	(30 * 24 * 3600)	/* held a month */
#define DNSBL_WEIGHT	0.5	/* log-odds per listing weight point */
#define DNSBL_WEIGHT_MAX 3.0

/* Rule weights, in one table so that they are read and tuned together. */
enum rule {
	R_DNSBL, R_DNSWL, R_SPF_FAIL, R_SPF_SOFTFAIL, R_SPF_PASS,
	R_SPF_PERMERROR, R_DKIM_FAIL, R_DMARC_FAIL, R_DMARC_PASS, R_NO_RDNS,
	R_NO_FROM, R_NO_DATE, R_NO_MSGID, R_DATE_FUTURE, R_DATE_PAST,
	R_DATE_BAD, R_FROM_NAME_ADDR, R_URL_IP, R_URL_TEXT_MISMATCH,
	R_URL_USERINFO, R_URL_SHORTENER, R_URL_PUNYCODE, R_COUNT
};

static const struct {
	const char	*name;
	double		 weight;
} rules[R_COUNT] = {
	[R_DNSBL] = { "DNSBL_LISTED", 0 },	/* by the listing weights */
	[R_DNSWL] = { "DNSWL_LISTED", -1.0 },
	[R_SPF_FAIL] = { "SPF_FAIL", 1.2 },
	[R_SPF_SOFTFAIL] = { "SPF_SOFTFAIL", 0.5 },
	[R_SPF_PASS] = { "SPF_PASS", -0.2 },
	[R_SPF_PERMERROR] = { "SPF_PERMERROR", 0.3 },
	[R_DKIM_FAIL] = { "DKIM_INVALID", 0.5 },
	[R_DMARC_FAIL] = { "DMARC_FAIL", 1.5 },
	[R_DMARC_PASS] = { "DMARC_PASS", -0.7 },
	[R_NO_RDNS] = { "NO_RDNS", 0.8 },
	[R_NO_FROM] = { "MISSING_FROM", 1.0 },
	[R_NO_DATE] = { "MISSING_DATE", 0.8 },
	[R_NO_MSGID] = { "MISSING_MESSAGE_ID", 0.6 },
	[R_DATE_FUTURE] = { "DATE_IN_FUTURE", 1.0 },
	[R_DATE_PAST] = { "DATE_IN_PAST", 0.4 },
	[R_DATE_BAD] = { "DATE_INVALID", 0.6 },
	[R_FROM_NAME_ADDR] = { "FROM_NAME_OTHER_ADDRESS", 1.2 },
	[R_URL_IP] = { "URL_IP_HOST", 1.0 },
	[R_URL_TEXT_MISMATCH] = { "URL_TEXT_OTHER_HOST", 1.5 },
	[R_URL_USERINFO] = { "URL_USERINFO", 1.5 },
	[R_URL_SHORTENER] = { "URL_SHORTENER", 0.4 },
	[R_URL_PUNYCODE] = { "URL_PUNYCODE", 0.5 },
};

/* Link shorteners: the destination is hidden from the reader. */
static const char *const shorteners[] = {
	"bit.ly", "tinyurl.com", "goo.gl", "ow.ly", "t.co", "is.gd",
	"buff.ly", "cutt.ly", "rebrand.ly", "shorturl.at", "tiny.cc",
	"rb.gy", "t.ly", "s.id", "v.gd",
};

static void
hit(struct spam_rules_result *r, enum rule id, double weight)
{
	size_t i;

	for (i = 0; i < r->nhits; i++)
		if (r->hits[i].name == rules[id].name)
			return;		/* each rule counts once */
	if (r->nhits == SPAM_RULES_HITS_MAX)
		return;
	r->hits[r->nhits].name = rules[id].name;
	r->hits[r->nhits].weight = weight;
	r->nhits++;
	r->sum += weight;
}

static void
hit_rule(struct spam_rules_result *r, enum rule id)
{
	hit(r, id, rules[id].weight);
}

void
spam_facts_init(struct spam_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->spf = f->dkim = f->dmarc = -1;
	f->now = time(NULL);
}

/* ---- the session's facts -------------------------------------------- */

static void
eval_facts(const struct spam_facts *f, struct spam_rules_result *r)
{
	double w;

	if (f->dnsbl_score > 0) {
		w = DNSBL_WEIGHT * f->dnsbl_score;
		hit(r, R_DNSBL, w > DNSBL_WEIGHT_MAX ? DNSBL_WEIGHT_MAX : w);
	} else if (f->dnsbl_score < 0)
		hit_rule(r, R_DNSWL);
	switch (f->spf) {
	case SPF_FAIL:
		hit_rule(r, R_SPF_FAIL);
		break;
	case SPF_SOFTFAIL:
		hit_rule(r, R_SPF_SOFTFAIL);
		break;
	case SPF_PASS:
		hit_rule(r, R_SPF_PASS);
		break;
	case SPF_PERMERROR:
		hit_rule(r, R_SPF_PERMERROR);
		break;
	default:
		break;
	}
	if (f->dkim == DKIM_FAIL)
		hit_rule(r, R_DKIM_FAIL);
	if (f->dmarc == DMARC_FAIL)
		hit_rule(r, R_DMARC_FAIL);
	else if (f->dmarc == DMARC_PASS)
		hit_rule(r, R_DMARC_PASS);
	if (f->rdns_missing)
		hit_rule(r, R_NO_RDNS);
}

/* ---- the header ------------------------------------------------------- */

static int
month_of(const char *s)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	size_t i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(s, months + 3 * i, 3) == 0)
			return (int)i;
	return -1;
}

/* An RFC 5322 date-time ("[Day,] D Mon YYYY HH:MM[:SS] +ZZZZ", obsolete
 * zone names taken as UTC) to a time, or -1. */
static time_t
parse_date(const char *s)
{
	struct tm tm;
	char mon[4], zone[8];
	int day, year, hh, mm, ss = 0, n = 0, off = 0;
	const char *p = strchr(s, ',');
	time_t t;

	p = p != NULL ? p + 1 : s;
	memset(&tm, 0, sizeof(tm));
	zone[0] = '\0';
	if (sscanf(p, " %d %3s %d %d:%d%n", &day, mon, &year, &hh, &mm,
	    &n) != 5)
		return -1;
	p += n;
	if (*p == ':') {
		if (sscanf(p, ":%d%n", &ss, &n) != 1)
			return -1;
		p += n;
	}
	if (sscanf(p, " %7s", zone) == 1 && (zone[0] == '+' ||
	    zone[0] == '-') && strlen(zone) == 5 &&
	    isdigit((unsigned char)zone[1])) {
		int z = (zone[1] - '0') * 1000 + (zone[2] - '0') * 100 +
		    (zone[3] - '0') * 10 + (zone[4] - '0');

		off = (z / 100) * 3600 + (z % 100) * 60;
		if (zone[0] == '-')
			off = -off;
	}
	if (year < 100)
		year += year < 50 ? 2000 : 1900;	/* RFC 5322 4.3 */
	if ((tm.tm_mon = month_of(mon)) < 0 || day < 1 || day > 31 ||
	    year < 1970 || year > 9999 || hh < 0 || hh > 23 || mm < 0 ||
	    mm > 59 || ss < 0 || ss > 60)
		return -1;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return t - off;
}

static void
header_text(const struct mime_header *h, struct buf *out)
{
	buf_reset(out);
	if (mime_header_decode(h->value, h->value_len, out) < 0 ||
	    buf_append(out, "", 1) < 0)
		buf_reset(out);
}

/* The domain of the address in the display name of From, when there is
 * one and it differs from the real address's domain: "PayPal
 * <service@paypal.com>" <x@evil.example>. */
static bool
from_name_other(const struct mime_header *h, struct buf *tmp)
{
	struct mime_addr *list = mime_addr_parse(h->value, h->value_len);
	const char *name, *at, *dom, *end;
	bool other = false;

	if (list == NULL)
		return false;
	if (list->name != NULL && list->host != NULL) {
		buf_reset(tmp);
		if (mime_header_decode((const uint8_t *)list->name,
		    strlen(list->name), tmp) == 0 &&
		    buf_append(tmp, "", 1) == 0) {
			name = (const char *)tmp->data;
			if ((at = strchr(name, '@')) != NULL && at > name &&
			    !isspace((unsigned char)at[-1])) {
				dom = at + 1;
				for (end = dom; *end != '\0' &&
				    (isalnum((unsigned char)*end) ||
				    *end == '.' || *end == '-'); end++)
					;
				other = end > dom && strchr(dom, '.') !=
				    NULL && ((size_t)(end - dom) !=
				    strlen(list->host) || strncasecmp(dom,
				    list->host, (size_t)(end - dom)) != 0);
			}
		}
	}
	mime_addr_free(&list);
	return other;
}

static void
eval_header(const struct spam_facts *f, const struct mime_part *root,
    struct spam_rules_result *r)
{
	const struct mime_header *h;
	struct buf tmp;
	time_t t;

	buf_init(&tmp, MIME_HEADER_MAX * 4);
	if ((h = mime_header_find(root, "From")) == NULL)
		hit_rule(r, R_NO_FROM);
	else if (from_name_other(h, &tmp))
		hit_rule(r, R_FROM_NAME_ADDR);
	if (mime_header_find(root, "Message-ID") == NULL)
		hit_rule(r, R_NO_MSGID);
	if ((h = mime_header_find(root, "Date")) == NULL)
		hit_rule(r, R_NO_DATE);
	else {
		header_text(h, &tmp);
		t = tmp.len > 0 ? parse_date((const char *)tmp.data) : -1;
		if (t < 0)
			hit_rule(r, R_DATE_BAD);
		else if (t > f->now + DATE_FUTURE_MAX)
			hit_rule(r, R_DATE_FUTURE);
		else if (t < f->now - DATE_PAST_MAX)
			hit_rule(r, R_DATE_PAST);
	}
	buf_deinit(&tmp);
}

/* ---- links ---------------------------------------------------------- */

/* The host of the URL at p (after "scheme://"), lower-cased into host;
 * *userinfo_r when an '@' comes before the host ends. Returns false
 * when there is no host. */
static bool
url_host(const uint8_t *p, const uint8_t *end, char *host, size_t hostlen,
    bool *userinfo_r)
{
	const uint8_t *q, *h = p;
	size_t n;

	*userinfo_r = false;
	for (q = p; q < end && *q != '/' && *q != '?' && *q != '#' &&
	    *q != '"' && *q != '\'' && *q != '>' && *q != '<' &&
	    !isspace(*q); q++)
		if (*q == '@') {
			*userinfo_r = true;
			h = q + 1;
		}
	n = 0;
	for (p = h; p < q && *p != ':' && n + 1 < hostlen; p++)
		host[n++] = (char)tolower(*p);
	host[n] = '\0';
	while (n > 0 && host[n - 1] == '.')
		host[--n] = '\0';
	return n > 0;
}

static bool
host_is_ip(const char *h)
{
	size_t dots = 0;

	if (h[0] == '[')
		return true;		/* [2001:db8::1] */
	for (; *h != '\0'; h++) {
		if (*h == '.')
			dots++;
		else if (!isdigit((unsigned char)*h))
			return false;
	}
	return dots == 3;
}

/* Does host equal d or end in ".d"? */
static bool
host_in(const char *host, const char *d)
{
	size_t hl = strlen(host), dl = strlen(d);

	return hl >= dl && strcmp(host + hl - dl, d) == 0 &&
	    (hl == dl || host[hl - dl - 1] == '.');
}

static void
check_host(const char *host, bool userinfo, struct spam_rules_result *r)
{
	size_t i;

	if (userinfo)
		hit_rule(r, R_URL_USERINFO);
	if (host_is_ip(host))
		hit_rule(r, R_URL_IP);
	if (strncmp(host, "xn--", 4) == 0 || strstr(host, ".xn--") != NULL)
		hit_rule(r, R_URL_PUNYCODE);
	for (i = 0; i < sizeof(shorteners) / sizeof(shorteners[0]); i++)
		if (host_in(host, shorteners[i])) {
			hit_rule(r, R_URL_SHORTENER);
			break;
		}
}

/* Find "http://" or "https://" (any case) in [p, end): the octet after
 * "//", or NULL. */
static const uint8_t *
find_url(const uint8_t *p, const uint8_t *end)
{
	for (; end - p >= 8; p++) {
		if ((*p | 0x20) != 'h' || strncasecmp((const char *)p, "http",
		    4) != 0)
			continue;
		if (strncmp((const char *)p + 4, "://", 3) == 0)
			return p + 7;
		if ((p[4] | 0x20) == 's' && end - p >= 9 &&
		    strncmp((const char *)p + 5, "://", 3) == 0)
			return p + 8;
	}
	return NULL;
}

/* Every URL of plain text. */
static size_t
scan_text(const uint8_t *p, size_t len, size_t budget,
    struct spam_rules_result *r)
{
	const uint8_t *end = p + len, *u;
	char host[SPAM_RULES_HOST_MAX + 1];
	bool ui;
	size_t n = 0;

	while (n < budget && (u = find_url(p, end)) != NULL) {
		if (url_host(u, end, host, sizeof(host), &ui))
			check_host(host, ui, r);
		n++;
		p = u;
	}
	return n;
}

/* HTML: every href, and a link whose text is itself a URL naming
 * another host ("<a href=http://evil/>https://bank.example/</a>"). */
static size_t
scan_html(const uint8_t *p, size_t len, size_t budget,
    struct spam_rules_result *r)
{
	const uint8_t *end = p + len, *a, *gt, *close, *u, *t;
	char host[SPAM_RULES_HOST_MAX + 1], shown[SPAM_RULES_HOST_MAX + 1];
	bool ui, ui2;
	size_t n = 0;

	while (n < budget && p < end &&
	    (a = memchr(p, '<', (size_t)(end - p))) != NULL) {
		p = a + 1;
		if (end - p < 2 || (p[0] | 0x20) != 'a' || !isspace(p[1]))
			continue;
		if ((gt = memchr(p, '>', (size_t)(end - p))) == NULL)
			break;
		u = find_url(p, gt);
		p = gt + 1;
		if (u == NULL || !url_host(u, gt, host, sizeof(host), &ui))
			continue;
		n++;
		check_host(host, ui, r);
		/* The link text, up to "</a". */
		for (close = p; close + 3 <= end && !(close[0] == '<' &&
		    close[1] == '/' && (close[2] | 0x20) == 'a'); close++)
			;
		if (close + 3 > end)
			continue;
		if ((t = find_url(p, close)) != NULL &&
		    url_host(t, close, shown, sizeof(shown), &ui2) &&
		    !host_in(host, shown) && !host_in(shown, host))
			hit_rule(r, R_URL_TEXT_MISMATCH);
		p = close;
	}
	return n;
}

static void
eval_links(const struct mime_message *m, struct spam_rules_result *r)
{
	const struct mime_part *part;
	struct buf text;
	size_t parts = 0, urls = 0;

	buf_init(&text, SPAM_RULES_TEXT_MAX);
	/* Depth first over the tree, text parts only. */
	for (part = m->root; part != NULL && parts < SPAM_RULES_PARTS_MAX &&
	    urls < SPAM_RULES_URLS_MAX; part = mime_part_next(part)) {
		if (part->children == NULL && (part->type == NULL ||
		    strcmp(part->type, "text") == 0)) {
			bool html = part->subtype != NULL &&
			    strcmp(part->subtype, "html") == 0;
			bool bad;

			parts++;
			buf_reset(&text);
			/* Decoded, not converted: hosts are ASCII. */
			(void)mime_part_decode(m, part, &text, &bad);
			urls += html ? scan_html(text.data, text.len,
			    SPAM_RULES_URLS_MAX - urls, r) :
			    scan_text(text.data, text.len,
			    SPAM_RULES_URLS_MAX - urls, r);
		}
	}
	buf_deinit(&text);
}

void
spam_rules_eval(const struct spam_facts *f, const uint8_t *msg, size_t len,
    struct spam_rules_result *r)
{
	struct mime_message *m;

	memset(r, 0, sizeof(*r));
	eval_facts(f, r);
	if ((m = mime_parse(msg, len)) == NULL)
		return;
	eval_header(f, m->root, r);
	eval_links(m, r);
	mime_message_free(&m);
}

double
spam_rules_combine(double p, double sum)
{
	double logit;

	if (p < P_MIN)
		p = P_MIN;
	if (p > 1.0 - P_MIN)
		p = 1.0 - P_MIN;
	logit = log(p / (1.0 - p)) + sum;
	return 1.0 / (1.0 + exp(-logit));
}

void
spam_rules_format(const struct spam_rules_result *r, char *out,
    size_t outlen)
{
	size_t i, used = 0;
	int n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (r->nhits == 0) {
		snprintf(out, outlen, "none");
		return;
	}
	for (i = 0; i < r->nhits; i++) {
		n = snprintf(out + used, outlen - used, "%s%s=%.1f",
		    i > 0 ? "," : "", r->hits[i].name, r->hits[i].weight);
		if (n < 0 || (size_t)n >= outlen - used) {
			out[used] = '\0';	/* whole entries only */
			return;
		}
		used += (size_t)n;
	}
}
