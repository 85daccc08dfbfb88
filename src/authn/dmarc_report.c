/* dmarc_report: aggregate reports (RFC 7489 7.2, appendix C): the XML
 * document, its gzip and mail, rua= destinations and their 7.1
 * verification, and the run over the stored rows. See dmarc_report.h. */
#include "dmarc_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>
#include <zlib.h>

#include "dns.h"
#include "dns_config.h"
#include "log.h"
#include "queue.h"
#include "store.h"
#include "store_dmarc.h"
#include "util.h"
#include "xalloc.h"

#define REPORT_GROUP_COLS	14	/* store_dmarc_groups() columns */
#define REPORT_B64_LINE		76	/* RFC 2045 6.8 */
#define REPORT_NAME_MAX		(DNS_NAME_TEXT_MAX + 1)
#define REPORT_EMAIL_MAX	256

/* ---- the XML document ---------------------------------------------------- */

/* The length of the UTF-8 sequence at s (NUL-terminated, s[0] >= 0x80)
 * if it is well-formed (RFC 3629 4: no overlong form, no surrogate,
 * nothing above U+10FFFF) and an XML 1.0 Char (2.2: not U+FFFE or
 * U+FFFF), else 0. */
static size_t
utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0xc2)	/* a continuation, or an overlong lead */
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	/* The NUL ends a truncated sequence here too. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

int
dmarc_report_xml_escape(struct buf *out, const char *s)
{
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n;

		/* The document says UTF-8: row values are whatever the
		 * client sent (a HELO name becomes the SPF domain), so an
		 * octet that does not start a valid character is U+FFFD
		 * (one per octet), or the document is not XML. */
		if (c >= 0x80) {
			n = utf8_len((const unsigned char *)s);
			if (n == 0) {
				r = buf_append_str(out, "\xef\xbf\xbd");
			} else {
				r = buf_append(out, s, n);
				s += n - 1;
			}
			continue;
		}
		switch (c) {
		case '&':
			r = buf_append_str(out, "&amp;");
			break;
		case '<':
			r = buf_append_str(out, "&lt;");
			break;
		case '>':
			r = buf_append_str(out, "&gt;");
			break;
		case '"':
			r = buf_append_str(out, "&quot;");
			break;
		case '\'':
			r = buf_append_str(out, "&apos;");
			break;
		default:
			/* XML 1.0 2.2: no C0 controls but TAB, LF, CR (and
			 * none of them belongs in a one-line value). */
			if (c < 0x20 || c == 0x7f)
				c = '?';
			r = buf_append(out, &c, 1);
		}
	}
	return r;
}

/* <name>escaped value</name> */
static int
elem(struct buf *b, const char *indent, const char *name, const char *v)
{
	return buf_printf(b, "%s<%s>", indent, name) |
	    dmarc_report_xml_escape(b, v) | buf_printf(b, "</%s>\n", name);
}

static const char *
policy_text(enum dmarc_policy p)
{
	return p == DMARC_P_UNSET ? "none" : dmarc_policy_name(p);
}

static void
fo_text(unsigned fo, char *out, size_t outlen)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} v[] = { { DMARC_FO_0, "0" }, { DMARC_FO_1, "1" },
	    { DMARC_FO_D, "d" }, { DMARC_FO_S, "s" } };
	size_t i;

	out[0] = '\0';
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if ((fo & v[i].bit) == 0)
			continue;
		if (out[0] != '\0')
			(void)moat_strlcat(out, ":", outlen);
		(void)moat_strlcat(out, v[i].name, outlen);
	}
	if (out[0] == '\0')
		moat_strlcpy(out, "0", outlen);
}

int
dmarc_report_xml(const struct dmarc_report_meta *m,
    const struct dmarc_report_group *g, size_t n, struct buf *b)
{
	const struct dmarc_record *rec = m->rec;
	char fo[16];
	size_t i;
	int r = 0;

	fo_text(rec->fo, fo, sizeof(fo));
	r |= buf_append_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback>\n  <version>1.0</version>\n"
	    "  <report_metadata>\n");
	r |= elem(b, "    ", "org_name", m->org_name);
	r |= elem(b, "    ", "email", m->email);
	r |= elem(b, "    ", "report_id", m->report_id);
	r |= buf_printf(b, "    <date_range>\n      <begin>%lld</begin>\n"
	    "      <end>%lld</end>\n    </date_range>\n  </report_metadata>\n"
	    "  <policy_published>\n", (long long)m->begin, (long long)m->end);
	r |= elem(b, "    ", "domain", m->domain);
	r |= buf_printf(b, "    <adkim>%s</adkim>\n    <aspf>%s</aspf>\n"
	    "    <p>%s</p>\n    <sp>%s</sp>\n    <pct>%u</pct>\n"
	    "    <fo>%s</fo>\n  </policy_published>\n",
	    rec->adkim == DMARC_ALIGN_STRICT ? "s" : "r",
	    rec->aspf == DMARC_ALIGN_STRICT ? "s" : "r", policy_text(rec->p),
	    policy_text(rec->sp != DMARC_P_UNSET ? rec->sp : rec->p),
	    rec->pct, fo);
	for (i = 0; i < n && r == 0; i++) {
		const struct dmarc_report_group *x = &g[i];

		r |= buf_append_str(b, "  <record>\n    <row>\n");
		r |= elem(b, "      ", "source_ip", x->source_ip);
		r |= buf_printf(b, "      <count>%" PRIu64 "</count>\n"
		    "      <policy_evaluated>\n", x->count);
		r |= elem(b, "        ", "disposition", x->disposition);
		r |= buf_printf(b, "        <dkim>%s</dkim>\n"
		    "        <spf>%s</spf>\n      </policy_evaluated>\n"
		    "    </row>\n    <identifiers>\n",
		    x->dkim_aligned ? "pass" : "fail",
		    x->spf_aligned ? "pass" : "fail");
		r |= elem(b, "      ", "envelope_from", x->envelope_from);
		r |= elem(b, "      ", "header_from", x->header_from);
		r |= buf_append_str(b, "    </identifiers>\n"
		    "    <auth_results>\n");
		if (x->dkim_domain[0] != '\0') {
			r |= buf_append_str(b, "      <dkim>\n");
			r |= elem(b, "        ", "domain", x->dkim_domain);
			r |= elem(b, "        ", "result", x->dkim);
			r |= buf_append_str(b, "      </dkim>\n");
		}
		/* Always one spf (appendix C); the null sender's is HELO's
		 * name, which the rows do not tell apart: mfrom. */
		r |= buf_append_str(b, "      <spf>\n");
		r |= elem(b, "        ", "domain", x->spf_domain);
		r |= buf_append_str(b, "        <scope>mfrom</scope>\n");
		r |= elem(b, "        ", "result", x->spf);
		r |= buf_append_str(b, "      </spf>\n    </auth_results>\n"
		    "  </record>\n");
	}
	r |= buf_append_str(b, "</feedback>\n");
	return r ? -1 : 0;
}

/* ---- gzip, base64 -------------------------------------------------------- */

int
dmarc_report_gzip(const void *in, size_t len, struct buf *out)
{
	z_stream z;
	uint8_t chunk[16384];
	int zr;

	memset(&z, 0, sizeof(z));
	/* 16 + MAX_WBITS: a gzip header and trailer (zlib manual). */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS,
	    8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	/* The documents are bounded by DMARC_REPORT_XML_MAX. */
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR || buf_append(out, chunk,
		    sizeof(chunk) - z.avail_out) < 0) {
			(void)deflateEnd(&z);
			return -1;
		}
	} while (zr != Z_STREAM_END);
	return deflateEnd(&z) == Z_OK ? 0 : -1;
}

static int
base64_lines(struct buf *b, const uint8_t *p, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[REPORT_B64_LINE + 2];
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t k = len - i >= 3 ? 3 : len - i;

		if (k > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (k > 2)
			v |= p[i + 2];
		line[o++] = tab[(v >> 18) & 63];
		line[o++] = tab[(v >> 12) & 63];
		line[o++] = k > 1 ? tab[(v >> 6) & 63] : '=';
		line[o++] = k > 2 ? tab[v & 63] : '=';
		i += k;
		if (o == REPORT_B64_LINE || i == len) {
			line[o++] = '\r';
			line[o++] = '\n';
			if (buf_append(b, line, o) < 0)
				return -1;
			o = 0;
		}
	}
	return 0;
}

/* ---- destinations -------------------------------------------------------- */

static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$&'*+-/=^_`{|}~.", c) != NULL;
}

static bool
is_ldh_name(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > DMARC_DOMAIN_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return s[n - 1] != '-';
}

int
dmarc_report_mailto(const char *uri, char *addr, size_t addrlen,
    uint64_t *limit_r)
{
	const char *a, *bang, *at, *e;
	uint64_t size = 0;
	size_t i, n;

	*limit_r = 0;
	addr[0] = '\0';
	if (strncasecmp(uri, "mailto:", 7) != 0)
		return 1;
	a = uri + 7;
	bang = strchr(a, '!');
	e = bang != NULL ? bang : a + strlen(a);
	n = (size_t)(e - a);
	/* "%" (escapes) and "?" (hfields) are refused, not decoded: rua
	 * addresses are plain in practice. */
	if (n == 0 || n > DMARC_REPORT_ADDR_MAX || n >= addrlen ||
	    (at = memchr(a, '@', n)) == NULL || at == a ||
	    memchr(at + 1, '@', (size_t)(e - at - 1)) != NULL)
		return -1;
	for (i = 0; a + i < at; i++)
		if (!is_atext((unsigned char)a[i]) || a[i] == '!')
			return -1;
	if (!is_ldh_name(at + 1, (size_t)(e - at - 1)))
		return -1;
	if (bang != NULL) {
		const char *p = bang + 1;
		unsigned shift = 0;

		if (*p < '0' || *p > '9')
			return -1;
		/* A size past 2^64 saturates: it is no limit, not the
		 * wrapped remainder. */
		for (; *p >= '0' && *p <= '9'; p++)
			size = size > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
			    size * 10 + (uint64_t)(*p - '0');
		switch (*p) {
		case 'k': case 'K':
			shift = 10;
			break;
		case 'm': case 'M':
			shift = 20;
			break;
		case 'g': case 'G':
			shift = 30;
			break;
		case 't': case 'T':
			shift = 40;
			break;
		default:
			break;
		}
		if (shift != 0) {
			size = size > (UINT64_MAX >> shift) ? UINT64_MAX :
			    size << shift;
			p++;
		}
		if (*p != '\0' || size == 0)
			return -1;
		*limit_r = size;
	}
	memcpy(addr, a, n);
	addr[n] = '\0';
	ascii_lower(addr + (at - a) + 1);
	return 0;
}

bool
dmarc_report_authorizes(const char *txt, size_t len)
{
	size_t i = 0;

	/* tag-spec: "v" *WSP "=" *WSP "DMARC1" *WSP, then ";" or the end
	 * (RFC 7489 6.4). */
	if (len < 1 || txt[0] != 'v')
		return false;
	for (i = 1; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	if (i >= len || txt[i++] != '=')
		return false;
	for (; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	if (len - i < 6 || strncmp(txt + i, "DMARC1", 6) != 0)
		return false;
	for (i += 6; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	return i == len || txt[i] == ';';
}

/* ---- synchronous DNS on a private loop ----------------------------------- */

struct run {
	const struct config	*cfg;
	struct store		*st;
	time_t			 end;
	int64_t			 max_id;
	enum dmarc_report_mode	 mode;
	FILE			*out;
	uv_loop_t		 loop;
	struct dns		*dns;
	struct dmarc_report_stats stats;
	char			 org[256];
	char			 email[REPORT_EMAIL_MAX];
};

struct txt_answer {
	bool		 done;
	enum dns_status	 status;
	size_t		 n;
	struct dns_txt	 txt[DNS_ANSWERS_MAX];
};

static void
on_txt(const struct dns_result *res, void *ctx)
{
	struct txt_answer *a = ctx;
	size_t i;

	a->done = true;
	a->status = res->status;
	for (i = 0; res->status == DNS_OK && i < res->count &&
	    i < DNS_ANSWERS_MAX; i++) {
		a->txt[i].s = xmalloc(res->txt[i].len + 1);
		memcpy(a->txt[i].s, res->txt[i].s, res->txt[i].len);
		a->txt[i].s[res->txt[i].len] = '\0';
		a->txt[i].len = res->txt[i].len;
		a->n++;
	}
}

static void
txt_lookup(struct run *r, const char *name, struct txt_answer *a)
{
	memset(a, 0, sizeof(*a));
	(void)dns_query_txt(r->dns, name, on_txt, a);
	/* Bounded: every query ends within the [dns] timeout. */
	while (!a->done && uv_run(&r->loop, UV_RUN_ONCE) != 0)
		;
	if (!a->done) {
		a->done = true;
		a->status = DNS_TEMPFAIL;
	}
}

static void
txt_free(struct txt_answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->txt[i].s);
	a->n = 0;
}

/* ---- one policy domain --------------------------------------------------- */

struct dest {
	char		 addr[DMARC_REPORT_ADDR_MAX + 1];
	uint64_t	 limit;
};

struct dests {
	struct dest	 v[DMARC_URIS_MAX];
	size_t		 n;
};

static void
add_dest(struct dests *d, const struct dest *x)
{
	size_t j;

	for (j = 0; j < d->n; j++)
		if (ascii_ieq(d->v[j].addr, x->addr))
			return;
	if (d->n < DMARC_URIS_MAX)
		d->v[d->n++] = *x;
}

/* The destination host's answer at <domain>._report._dmarc.<host>
 * (RFC 7489 7.1). 1: authorized, into *x (step 8: the record's own
 * mailto: rua= of the same host replace the requested one; any of
 * another host forbids both); 0: not; -1: temporary DNS failure. */
static int
verify_external(struct run *r, const char *domain, const char *host,
    struct dests *d, const struct dest *x)
{
	char name[DNS_QNAME_MAX + 1];
	struct dmarc_record over;
	struct dests got = { .n = 0 };
	struct txt_answer a;
	const char *error = NULL;
	bool ok = false, forbid = false;
	size_t j, k;

	if (snprintf(name, sizeof(name), "%s._report._dmarc.%s", domain,
	    host) >= (int)sizeof(name))
		return 0;
	txt_lookup(r, name, &a);
	if (a.status == DNS_TEMPFAIL) {
		log_warnx("event=dmarc-report-deferred domain=%s reason=\"%s: "
		    "temporary DNS failure\"", domain, name);
		txt_free(&a);
		return -1;
	}
	for (j = 0; j < a.n; j++) {
		if (!dmarc_report_authorizes(a.txt[j].s, a.txt[j].len))
			continue;
		ok = true;
		/* "v=DMARC1; rua=..." parses (p= implied by rua=). */
		if (dmarc_record_parse(a.txt[j].s, a.txt[j].len, &over,
		    &error) != 0)
			continue;
		for (k = 0; k < over.nrua; k++) {
			struct dest y;

			if (dmarc_report_mailto(over.rua[k], y.addr,
			    sizeof(y.addr), &y.limit) != 0)
				continue;
			if (!ascii_ieq(strchr(y.addr, '@') + 1, host))
				forbid = true;
			else
				add_dest(&got, &y);
		}
	}
	txt_free(&a);
	if (!ok || forbid) {
		log_info("event=dmarc-report-uri-skipped domain=%s rua=%s "
		    "reason=\"%s\"", domain, x->addr, forbid ? "the "
		    "destination's record names another host" : "external "
		    "destination not authorized");
		return 0;
	}
	if (got.n == 0)
		add_dest(d, x);
	for (k = 0; k < got.n; k++)
		add_dest(d, &got.v[k]);
	return 1;
}

/* The usable rua destinations of rec (found at domain): 0, or 1 when a
 * verification lookup failed temporarily (try the domain again later). */
static int
destinations(struct run *r, const char *domain,
    const struct dmarc_record *rec, struct dests *d)
{
	char org[DMARC_DOMAIN_MAX + 1], horg[DMARC_DOMAIN_MAX + 1];
	size_t i;

	d->n = 0;
	if (dmarc_org_domain(domain, org, sizeof(org)) < 0)
		return 0;
	for (i = 0; i < rec->nrua; i++) {
		struct dest x;
		const char *host;
		int rc;

		rc = dmarc_report_mailto(rec->rua[i], x.addr, sizeof(x.addr),
		    &x.limit);
		if (rc != 0) {
			if (rc < 0)
				log_info("event=dmarc-report-uri-skipped "
				    "domain=%s reason=\"not a usable "
				    "mailto\"", domain);
			continue;
		}
		host = strchr(x.addr, '@') + 1;
		if (dmarc_org_domain(host, horg, sizeof(horg)) < 0)
			continue;
		if (strcmp(org, horg) == 0)
			add_dest(d, &x);
		else if (verify_external(r, domain, host, d, &x) < 0)
			return 1;
	}
	return 0;
}

struct grow {
	char		*col[STORE_DMARC_GROUP_KEY];
	uint64_t	 count;
	time_t		 tmin, tmax;
};

struct groups {
	struct grow	*v;
	size_t		 n;
};

static void
group_row(void *ctx, const char *const *cols, int ncols)
{
	struct groups *g = ctx;
	struct grow *x;
	size_t i;

	if (ncols < REPORT_GROUP_COLS - 1)
		return;
	g->v = xreallocarray(g->v, g->n + 1, sizeof(*g->v));
	x = &g->v[g->n++];
	for (i = 0; i < STORE_DMARC_GROUP_KEY; i++)
		x->col[i] = xstrdup(cols[i] != NULL ? cols[i] : "");
	x->count = strtoull(cols[10] ? cols[10] : "0", NULL, 10);
	x->tmin = (time_t)strtoll(cols[11] ? cols[11] : "0", NULL, 10);
	x->tmax = (time_t)strtoll(cols[12] ? cols[12] : "0", NULL, 10);
}

static void
groups_free(struct groups *g)
{
	size_t i, j;

	for (i = 0; i < g->n; i++)
		for (j = 0; j < STORE_DMARC_GROUP_KEY; j++)
			free(g->v[i].col[j]);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

/* t in UTC: an RFC 5322 date, or "YYYY-MM-DD HH:MM:SS". */
static void
utc_text(time_t t, bool rfc5322, char *out, size_t outlen)
{
	struct tm tm;
	size_t n = 0;

	if (gmtime_r(&t, &tm) != NULL)
		n = rfc5322 ? strftime(out, outlen,
		    "%a, %d %b %Y %H:%M:%S +0000", &tm) :
		    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		out[0] = '\0';
}

/* The report mail: headers, a text part, the gzip'd document. */
static int
build_mail(struct run *r, const struct dmarc_report_meta *m,
    const struct dests *d, const bool *use, const char *filename,
    const struct buf *gz, struct buf *b)
{
	const char *host = r->cfg->hostname;
	char date[64], from[32], to[32];
	size_t i;
	int rc = 0, first = 1;

	utc_text(time(NULL), true, date, sizeof(date));
	utc_text(m->begin, false, from, sizeof(from));
	utc_text(m->end, false, to, sizeof(to));
	rc |= buf_printf(b, "From: <%s>\r\nTo: ", m->email);
	for (i = 0; i < d->n; i++) {
		if (!use[i])
			continue;
		rc |= buf_printf(b, "%s<%s>", first ? "" : ",\r\n ",
		    d->v[i].addr);
		first = 0;
	}
	/* RFC 7489 7.2.1.1: the Subject's ABNF, folded. */
	rc |= buf_printf(b, "\r\nSubject: Report Domain: %s\r\n"
	    " Submitter: %s\r\n Report-ID: <%s@%s>\r\n", m->domain, host,
	    m->report_id, host);
	rc |= buf_printf(b, "Date: %s\r\nMessage-ID: <%s@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed;\r\n"
	    "\tboundary=\"=_moat_dmarc_%s\"\r\n\r\n", date, m->report_id,
	    host, m->report_id);
	rc |= buf_printf(b, "--=_moat_dmarc_%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is a DMARC aggregate report (RFC 7489) from %s\r\n"
	    "for mail with From domains under the policy of %s,\r\n"
	    "received from %s to %s UTC.\r\n\r\n", m->report_id, host,
	    m->domain, from, to);
	rc |= buf_printf(b, "--=_moat_dmarc_%s\r\n"
	    "Content-Type: application/gzip; name=\"%s\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", m->report_id,
	    filename, filename);
	if (rc == 0)
		rc = base64_lines(b, gz->data, gz->len);
	rc |= buf_printf(b, "\r\n--=_moat_dmarc_%s--\r\n", m->report_id);
	return rc ? -1 : 0;
}

/* Queue the mail to the destinations in use, durably. 0 or -1. */
static int
queue_mail(struct run *r, const char *id, const struct dests *d,
    const bool *use, const struct buf *mail)
{
	struct queue_envelope env;
	char *rcpts[DMARC_URIS_MAX];
	struct buf eb;
	size_t i;
	int rc;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, id, sizeof(env.id));
	env.time = time(NULL);
	env.from = r->email;
	for (i = 0; i < d->n; i++)
		if (use[i])
			rcpts[env.nrcpts++] = (char *)d->v[i].addr;
	env.rcpts = rcpts;
	env.client_ip = "127.0.0.1";
	env.helo = (char *)r->cfg->hostname;
	env.service = "dmarc-report";
	env.session = "-";
	buf_init(&eb, QUEUE_ENVELOPE_MAX);
	rc = queue_envelope_format(&env, &eb) < 0 ||
	    queue_write_durable(r->cfg->data_dir, env.id, &eb, mail) < 0 ?
	    -1 : 0;
	buf_deinit(&eb);
	return rc;
}

static void
report_domain(struct run *r, const char *domain)
{
	char name[DNS_QNAME_MAX + 1], id[QUEUE_ID_LEN + 1];
	char filename[REPORT_NAME_MAX * 2 + 64];
	struct dmarc_report_group *g = NULL;
	struct dmarc_report_meta m;
	struct dmarc_record rec;
	struct txt_answer a;
	struct groups rows = { NULL, 0 };
	struct dests d;
	struct buf xml, gz, mail;
	bool use[DMARC_URIS_MAX];
	const char *error = NULL;
	time_t tmin = 0, tmax = 0;
	uint64_t b64len, deleted = 0;
	size_t i, nuse = 0;
	enum dmarc_select sel;

	r->stats.domains++;
	/* It goes into a query, the Subject and a file name. */
	if (!is_ldh_name(domain, strlen(domain)) ||
	    snprintf(name, sizeof(name), "_dmarc.%s", domain) >=
	    (int)sizeof(name)) {
		r->stats.skipped++;
		return;
	}
	txt_lookup(r, name, &a);
	if (a.status == DNS_TEMPFAIL) {
		log_warnx("event=dmarc-report-deferred domain=%s "
		    "reason=\"temporary DNS failure\"", domain);
		r->stats.deferred++;
		txt_free(&a);
		return;
	}
	sel = dmarc_record_select(a.txt, a.n, &rec, &error);
	txt_free(&a);
	if (sel != DMARC_SELECT_FOUND) {
		log_info("event=dmarc-report-skipped domain=%s reason=\"no "
		    "DMARC record now\"", domain);
		r->stats.skipped++;
		return;
	}
	if (destinations(r, domain, &rec, &d) != 0) {
		r->stats.deferred++;
		return;
	}
	if (d.n == 0 && r->mode == DMARC_REPORT_SEND) {
		log_info("event=dmarc-report-skipped domain=%s reason=\"no "
		    "usable rua\"", domain);
		r->stats.skipped++;
		return;
	}
	if (store_dmarc_groups(r->st, domain, r->end, r->max_id,
	    STORE_DMARC_GROUPS_MAX, group_row, &rows) < 0) {
		r->stats.deferred++;
		groups_free(&rows);
		return;
	}
	if (rows.n == 0) {
		groups_free(&rows);
		return;
	}
	g = xcalloc(rows.n, sizeof(*g));
	for (i = 0; i < rows.n; i++) {
		struct grow *x = &rows.v[i];

		g[i] = (struct dmarc_report_group){ .source_ip = x->col[0],
		    .header_from = x->col[1], .envelope_from = x->col[2],
		    .disposition = x->col[3],
		    .dkim_aligned = strcmp(x->col[4], "1") == 0,
		    .spf_aligned = strcmp(x->col[5], "1") == 0,
		    .dkim = x->col[6], .dkim_domain = x->col[7],
		    .spf = x->col[8], .spf_domain = x->col[9],
		    .count = x->count };
		if (i == 0 || x->tmin < tmin)
			tmin = x->tmin;
		if (i == 0 || x->tmax > tmax)
			tmax = x->tmax;
	}
	queue_id_new(id);
	memset(&m, 0, sizeof(m));
	m.org_name = r->org;
	m.email = r->email;
	m.report_id = id;
	m.domain = domain;
	/* The periods are aligned; rows a failed run left start earlier. */
	m.begin = tmin - tmin % (time_t)r->cfg->dmarc_report_interval;
	m.end = r->end - 1 > tmax ? r->end - 1 : tmax;
	m.rec = &rec;
	snprintf(filename, sizeof(filename), "%s!%s!%lld!%lld.xml.gz",
	    r->cfg->hostname, domain, (long long)m.begin, (long long)m.end);
	buf_init(&xml, DMARC_REPORT_XML_MAX);
	buf_init(&gz, DMARC_REPORT_MAIL_MAX);
	buf_init(&mail, DMARC_REPORT_MAIL_MAX);
	if (dmarc_report_xml(&m, g, rows.n, &xml) < 0 ||
	    dmarc_report_gzip(xml.data, xml.len, &gz) < 0) {
		log_warnx("event=dmarc-report-failed domain=%s reason=\"the "
		    "report is too large\"", domain);
		r->stats.skipped++;
		goto out;
	}
	if (r->mode == DMARC_REPORT_PRINT) {
		for (i = 0; i < d.n; i++)
			log_info("event=dmarc-report-destination domain=%s "
			    "rua=%s", domain, d.v[i].addr);
		if (d.n == 0)
			log_info("event=dmarc-report-destination domain=%s "
			    "rua=none (it would not be sent)", domain);
		if (fwrite(xml.data, 1, xml.len, r->out) != xml.len)
			log_warn("event=dmarc-report-print-failed");
		r->stats.sent++;
		goto out;
	}
	/* 7.2.1: a URI whose limit the report exceeds (compressed and
	 * encoded) is not used. */
	b64len = (gz.len + 2) / 3 * 4;
	b64len += b64len / REPORT_B64_LINE * 2 + 2;
	for (i = 0; i < d.n; i++) {
		use[i] = d.v[i].limit == 0 || b64len <= d.v[i].limit;
		if (!use[i])
			log_info("event=dmarc-report-uri-skipped domain=%s "
			    "rua=%s reason=\"report larger than %" PRIu64
			    " octets\"", domain, d.v[i].addr, d.v[i].limit);
		nuse += use[i];
	}
	if (nuse == 0) {
		r->stats.skipped++;
		goto out;
	}
	if (build_mail(r, &m, &d, use, filename, &gz, &mail) < 0 ||
	    queue_mail(r, id, &d, use, &mail) < 0) {
		log_warn("event=dmarc-report-deferred domain=%s "
		    "reason=\"queueing failed\"", domain);
		r->stats.deferred++;
		goto out;
	}
	/* Queued and synced: the rows are reported. A report cut short at
	 * the group limit covered the groups up to its last (in key order):
	 * the rows of the others stay for the next run. */
	if (rows.n >= STORE_DMARC_GROUPS_MAX)
		log_warnx("event=dmarc-report-truncated domain=%s records=%zu "
		    "reason=\"the rest in the next report\"", domain,
		    rows.n);
	if (store_dmarc_delete(r->st, domain, r->end, r->max_id,
	    rows.n >= STORE_DMARC_GROUPS_MAX ?
	    (const char *const *)rows.v[rows.n - 1].col : NULL,
	    &deleted) < 0)
		log_warnx("event=dmarc-report-delete-failed domain=%s",
		    domain);
	log_info("event=dmarc-report-queued domain=%s id=%s records=%zu "
	    "rows=%" PRIu64 " rua=%zu", domain, id, rows.n, deleted, nuse);
	r->stats.sent++;
out:
	buf_deinit(&xml);
	buf_deinit(&gz);
	buf_deinit(&mail);
	free(g);
	groups_free(&rows);
}

/* ---- the run ------------------------------------------------------------- */

struct names {
	char	**v;
	size_t	  n;
};

static void
name_row(void *ctx, const char *const *cols, int ncols)
{
	struct names *n = ctx;

	if (ncols < 1 || cols[0] == NULL)
		return;
	n->v = xreallocarray(n->v, n->n + 1, sizeof(*n->v));
	n->v[n->n++] = xstrdup(cols[0]);
}

time_t
dmarc_report_period_end(const struct config *cfg, time_t now)
{
	time_t iv = cfg->dmarc_report_interval > 0 ?
	    (time_t)cfg->dmarc_report_interval : DMARC_RI_DEFAULT;

	return now - now % iv;
}

int
dmarc_report_run(const struct config *cfg, struct store *st, time_t end,
    const char *domain, enum dmarc_report_mode mode, FILE *out,
    struct dmarc_report_stats *stats_r)
{
	struct run *r;
	struct names names = { NULL, 0 };
	char err[256], org[DMARC_DOMAIN_MAX + 1];
	size_t i;
	int ret = 0;

	memset(stats_r, 0, sizeof(*stats_r));
	r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->st = st;
	r->end = end;
	r->mode = mode;
	r->out = out;
	moat_strlcpy(r->org, cfg->dmarc_report_org[0] != '\0' ?
	    cfg->dmarc_report_org : cfg->hostname, sizeof(r->org));
	if (cfg->dmarc_report_email[0] != '\0')
		moat_strlcpy(r->email, cfg->dmarc_report_email,
		    sizeof(r->email));
	else if (snprintf(r->email, sizeof(r->email), "postmaster@%s",
	    dmarc_org_domain(cfg->hostname, org, sizeof(org)) == 0 ? org :
	    cfg->hostname) >= (int)sizeof(r->email))
		r->email[0] = '\0';
	if (store_dmarc_max_id(st, &r->max_id) < 0 ||
	    store_dmarc_domains(st, end, domain, name_row, &names) < 0) {
		free(r);
		return -1;
	}
	if (names.n > 0) {
		if (uv_loop_init(&r->loop) != 0) {
			ret = -1;
			goto out;
		}
		r->dns = dns_new_from_config(&r->loop, cfg, err, sizeof(err));
		if (r->dns == NULL) {
			log_warnx("event=dmarc-report-failed error=\"dns: %s\"",
			    err);
			ret = -1;
		}
		for (i = 0; r->dns != NULL && i < names.n; i++)
			report_domain(r, names.v[i]);
		dns_free(&r->dns);
		(void)uv_run(&r->loop, UV_RUN_DEFAULT);	/* closes */
		(void)uv_loop_close(&r->loop);
	}
out:
	for (i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	*stats_r = r->stats;
	free(r);
	return ret;
}
